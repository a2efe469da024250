#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, from the source tree, no install step.
# Runs the whole test suite (every backend-parametrised test then runs on CuPy too), then the
# GPU benchmarks, and prints one summary table.
#
#   bash benchmarks/gpu_check.sh [RESULTS.md]
#
# Assumes CuPy, NumPy, pytest and pytest-benchmark (PyTorch and JAX optional).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src
out="${1:-gpu-check.md}"

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || exit 2
python - <<'PY' || exit 2
import cupy
assert cupy.cuda.is_available(), "CuPy sees no CUDA device"
print("CuPy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())
PY

echo "== test suite (NumPy, strict and CuPy)"
python -m pytest tests -q -p no:cacheprovider -rs > gpu-tests.log 2>&1
tests=$?
tail -n 3 gpu-tests.log

echo "== benchmarks"
python benchmarks/gpu_bench.py --output "$out"
bench=$?

{
  echo
  echo "## GPU check $(date -u +%Y-%m-%d)"
  echo
  echo "| step | result |"
  echo "| --- | --- |"
  echo "| test suite | $(tail -n 1 gpu-tests.log) (exit $tests) |"
  echo "| benchmarks | exit $bench, table above |"
} | tee -a "$out"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
