#!/usr/bin/env bash
# The GPU check, one command on a machine with an NVIDIA GPU, from the source tree, offline
# (no install step): it assumes CuPy, NumPy, pytest and pytest-benchmark; PyTorch and JAX are
# used where installed.
#
#   bash benchmarks/gpu_check.sh [REPORT.md]        (default: gpu-check.md)
#
# 1. records the device, NVIDIA driver, CUDA, CuPy, PyTorch and JAX versions;
# 2. runs the whole test suite with NN_BACKEND=cupy (the tests' `xp` fixture adds CuPy when a
#    GPU is present, so every backend-parametrised test runs on it too);
# 3. times the loop and matrix kernels on CuPy (benchmarks/test_kernels.py);
# 4. runs benchmarks/gpu_bench.py: xpnn (CuPy) against PyTorch CUDA eager and JAX, seconds per
#    epoch on seed, mnist, wide and large, and the large workload's FLOP/s against SGEMM;
# 5. runs benchmarks/gpu_nccl_check.py: xpnn.distributed's NCCL allreduce with one rank, eager
#    and recorded in a CUDA graph (skipped, not failed, without NCCL).
# The report (markdown) is printed and written to REPORT.md; full logs go beside it in
# REPORT-logs/. Exit status: 2 when there is no usable GPU, else 0 only if every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
report="$(realpath -m "${1:-gpu-check.md}")"
logs="${report%.md}-logs"
py="${PYTHON:-python}"
export PYTHONPATH=src

fail() {
    echo "gpu_check: $*" >&2
    exit 2
}

command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this check needs an NVIDIA GPU"
gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)" ||
    fail "nvidia-smi failed: is the driver loaded?"
cuda="$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)"
mkdir -p "$logs" || fail "cannot create $logs"
"$py" - >"$logs/versions.txt" 2>&1 <<'PY' || fail "$(tail -n 1 "$logs/versions.txt")"
import platform

import numpy

try:
    import cupy
except ImportError as exc:
    raise SystemExit(f"CuPy is not installed ({exc})")
if not cupy.cuda.is_available():
    raise SystemExit("CuPy sees no CUDA device")
rt = cupy.cuda.runtime.runtimeGetVersion()
print(f"CuPy {cupy.__version__} (CUDA runtime {rt // 1000}.{rt % 1000 // 10}), "
      f"NumPy {numpy.__version__}, Python {platform.python_version()}")
try:
    import torch
    print(f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, "
          f"device seen: {torch.cuda.is_available()})")
except ImportError:
    print("PyTorch: not installed")
try:
    import jax
    print(f"JAX {jax.__version__}")
except ImportError:
    print("JAX: not installed")
PY

echo "== $gpu, CUDA (driver) $cuda"
cat "$logs/versions.txt"

echo "== test suite on CuPy (log: $logs/tests.log)"
NN_BACKEND=cupy "$py" -m pytest tests -q -p no:cacheprovider -rs >"$logs/tests.log" 2>&1
tests=$?
tail -n 1 "$logs/tests.log"

echo "== loop vs matrix kernels on CuPy (log: $logs/kernels.log)"
NN_BACKEND=cupy "$py" -m pytest benchmarks/test_kernels.py -k cupy --benchmark-only \
    --benchmark-columns=median,iqr,rounds -p no:cacheprovider >"$logs/kernels.log" 2>&1
kernels=$?
grep -E '^forward.*cupy:' "$logs/kernels.log"

echo "== GPU benchmarks (log: $logs/bench.log)"
"$py" benchmarks/gpu_bench.py "$logs/bench.md" 2>&1 | tee "$logs/bench.log"
bench=${PIPESTATUS[0]}

echo "== NCCL allreduce, one rank (log: $logs/nccl.log)"
"$py" benchmarks/gpu_nccl_check.py >"$logs/nccl.log" 2>&1
nccl=$?
tail -n 1 "$logs/nccl.log"
[ "$nccl" -eq 2 ] && nccl=0 # NCCL not installed: reported, not a failure

{
    echo "# GPU check, $(date -u +%Y-%m-%d)"
    echo
    echo "- GPU: $gpu; CUDA (driver): $cuda"
    sed 's/^/- /' "$logs/versions.txt"
    echo
    echo "| step | result | exit |"
    echo "| --- | --- | --- |"
    echo "| NN_BACKEND=cupy pytest tests | $(tail -n 1 "$logs/tests.log") | $tests |"
    echo "| loop / matrix kernels, CuPy | $(grep -E '^forward.*cupy:' "$logs/kernels.log" |
        paste -sd ';' -) | $kernels |"
    echo "| NCCL allreduce, one rank | $(tail -n 1 "$logs/nccl.log") | $nccl |"
    echo "| gpu_bench.py | table below | $bench |"
    echo
    [ -f "$logs/bench.md" ] && cat "$logs/bench.md"
} >"$report"
echo
cat "$report"
[ "$tests" -eq 0 ] && [ "$kernels" -eq 0 ] && [ "$bench" -eq 0 ] && [ "$nccl" -eq 0 ]
