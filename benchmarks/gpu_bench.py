"""GPU benchmarks: seconds per epoch of xpnn on CuPy against PyTorch (CUDA, eager) and JAX
(whole step jitted, where installed with GPU support), on seed, mnist, wide and large; for
every row the matrix products' FLOP/s, set against a plain cuBLAS SGEMM measured here.

    PYTHONPATH=src python benchmarks/gpu_bench.py [REPORT.md] [--only large] [--tf32]

Needs CuPy and a CUDA device (exits 2 with a message otherwise); PyTorch and JAX are optional.
Prints one markdown table and, given a path, writes it there.

Fairness: every contestant gets the same data, network, Adam(1e-3) and batches, and does its
matrix products in true FP32 unless ``--tf32`` (then all of them, and the SGEMM, use TF32):
CuPy through ``CUPY_TF32`` (read at the first float32 product, so set here before any),
PyTorch through ``torch.set_float32_matmul_precision``, JAX through
``jax_default_matmul_precision`` (JAX's GPU default would use TF32). An epoch is timed from a
synchronised device to a synchronised device; one warm-up epoch comes first.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

import peers  # noqa: E402
from workloads import LARGE, WORKLOADS, Workload  # noqa: E402

ALL = {**WORKLOADS, "large": LARGE}
ROUNDS = {"seed": 10, "mnist": 5, "wide": 5, "large": 3}
SGEMM_SHAPE = (8192, 4096, 4096)  # m, n, k: the large workload's forward product
REFERENCE = "PyTorch (CUDA, eager)"


@dataclass(frozen=True)
class Row:
    workload: str
    contestant: str
    seconds: float  # median per epoch
    rounds: int
    flops: float  # of the epoch's matrix products
    error: str = ""  # why this contestant has no figure (the run goes on without it)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", help="also write the markdown table to this file")
    parser.add_argument(
        "--only", nargs="+", choices=list(ALL), metavar="NAME", help="workloads (default: all)"
    )
    parser.add_argument("--rounds", type=int, help="timed epochs (default: 10, 5, 5, 3)")
    parser.add_argument("--tf32", action="store_true", help="TF32 products for every contestant")
    return parser.parse_args(argv)


# -- the report (no GPU needed: tested on the CPU) ----------------------------------------
def format_report(env: list[str], rows: list[Row], sgemm_flops: float | None, tf32: bool) -> str:
    """The summary: environment lines, then one table row per contestant and workload."""
    precision = "TF32" if tf32 else "FP32"
    lines = [f"## GPU: seconds per epoch (median), {precision} products", "", *env, ""]
    if sgemm_flops:
        m, n, k = SGEMM_SHAPE
        lines += [
            f"cuBLAS SGEMM reference (cupy.matmul {m}x{k} @ {k}x{n}, {precision}): "
            f"{sgemm_flops / 1e12:.1f} TFLOP/s",
            "",
        ]
    lines += [
        "| workload | contestant | s/epoch | rounds | vs PyTorch | matmul TFLOP/s | of SGEMM |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    reference = {r.workload: r.seconds for r in rows if r.contestant == REFERENCE and not r.error}
    for r in rows:
        if r.error:
            lines.append(f"| {r.workload} | {r.contestant} | failed: {r.error} | | | | |")
            continue
        ref = reference.get(r.workload)
        ratio = f"{r.seconds / ref:.2f}x" if ref else "-"
        rate = r.flops / r.seconds
        share = f"{rate / sgemm_flops:.0%}" if sgemm_flops else "-"
        lines.append(
            f"| {r.workload} | {r.contestant} | {r.seconds:.4g} | {r.rounds} | {ratio} "
            f"| {rate / 1e12:.2f} | {share} |"
        )
    lines += [
        "",
        "FLOPs count the epoch's matrix products exactly: forward and dW for every layer, dX "
        "for all but the first (workloads.Workload.matmul_flops).",
    ]
    return "\n".join(lines) + "\n"


# -- the measurements ---------------------------------------------------------------------
def median_epoch(epoch: Callable[[], object], rounds: int, sync: Callable[[], None]) -> float:
    epoch()  # warm-up: compilation, cuBLAS handles, memory pools
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        epoch()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sgemm_flops(cp, repeat: int = 20) -> float:
    """FLOP/s of a plain float32 ``cupy.matmul`` (cuBLAS SGEMM) at SGEMM_SHAPE."""
    m, n, k = SGEMM_SHAPE
    rng = cp.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=cp.float32)
    b = rng.standard_normal((k, n), dtype=cp.float32)
    c = cp.empty((m, n), dtype=cp.float32)
    for _ in range(3):
        cp.matmul(a, b, out=c)
    cp.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        cp.matmul(a, b, out=c)
    cp.cuda.Device().synchronize()
    return 2.0 * m * n * k * repeat / (time.perf_counter() - start)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _jax():
    try:
        import jax

        jax.devices("gpu")
    except (ImportError, RuntimeError):
        return None
    return jax


def makers(cp, tf32: bool) -> dict[str, Callable[[Workload, np.ndarray, np.ndarray], object]]:
    """Contestant name -> maker of its epoch function on the GPU."""

    def xpnn_cupy(jit: bool) -> Callable[[Workload, np.ndarray, np.ndarray], object]:
        def make(w: Workload, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
            # the active backend is cupy: the data go there
            epoch = peers.make_xpnn(w, x, y, jit_compile=jit)

            def run() -> None:
                epoch()
                cp.cuda.Device().synchronize()

            return run

        return make

    # eager, and the step replayed as a CUDA graph (compile(jit_compile=True))
    out = {"xpnn (CuPy)": xpnn_cupy(False), "xpnn (CuPy, graph)": xpnn_cupy(True)}
    torch = _torch()
    if torch is not None:
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        out[REFERENCE] = lambda w, x, y: peers.make_torch(w, x, y, device="cuda")
    jax = _jax()
    if jax is not None:
        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
        out["JAX (jit)"] = peers.make_jax  # its epoch ends in block_until_ready
    return out


def environment(cp) -> list[str]:
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else name
    lines = [
        f"- device: {name}, compute capability {props['major']}.{props['minor']}, "
        f"{props['totalGlobalMem'] / 2**30:.0f} GiB",
    ]
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        lines.append(f"- NVIDIA driver {smi.stdout.strip().splitlines()[0] if smi.stdout else '?'}")
    runtime, driver = cp.cuda.runtime.runtimeGetVersion(), cp.cuda.runtime.driverGetVersion()
    lines += [
        f"- CUDA runtime {runtime // 1000}.{runtime % 1000 // 10} (driver supports "
        f"{driver // 1000}.{driver % 1000 // 10}); CuPy {cp.__version__}; NumPy {np.__version__};"
        f" Python {platform.python_version()}",
    ]
    try:
        import torch

        seen = "" if torch.cuda.is_available() else ", sees no device"
        lines.append(f"- PyTorch {torch.__version__} (CUDA {torch.version.cuda}{seen})")
    except ImportError:
        lines.append("- PyTorch: not installed")
    jax = _jax()
    lines.append(f"- JAX {jax.__version__} (GPU)" if jax is not None else "- JAX: no GPU backend")
    return lines


def _release(cp) -> None:
    gc.collect()
    cp.get_default_memory_pool().free_all_blocks()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # before CuPy's first float32 product, and before JAX is imported
    os.environ["CUPY_TF32"] = "1" if args.tf32 else "0"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU's memory
    try:
        import cupy as cp

        if not cp.cuda.is_available():
            raise RuntimeError("CuPy sees no CUDA device (check nvidia-smi, CUDA_VISIBLE_DEVICES)")
    except (ImportError, RuntimeError) as exc:
        print(f"gpu_bench: needs CuPy and a CUDA GPU: {exc}", file=sys.stderr)
        return 2
    import xpnn

    xpnn.set_backend("cupy")

    def sync() -> None:
        cp.cuda.Device().synchronize()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize()

    env = environment(cp)
    reference = sgemm_flops(cp)
    print(f"cuBLAS SGEMM: {reference / 1e12:.1f} TFLOP/s", flush=True)
    contestants = makers(cp, args.tf32)
    rows: list[Row] = []
    for name in args.only or list(ALL):
        w = ALL[name]
        x, y = w.data()
        rounds = args.rounds or ROUNDS[name]
        for contestant, make in contestants.items():
            flops = w.matmul_flops(x.shape[0])
            try:
                # a graph that could not be recorded would quietly time the eager step
                with warnings.catch_warnings():
                    warnings.simplefilter("error", RuntimeWarning)
                    seconds = median_epoch(make(w, x, y), rounds, sync)
            except Exception as exc:  # one contestant's failure must not lose the others
                message = f"{type(exc).__name__}: {exc}".replace("|", "/").splitlines()[0][:160]
                rows.append(Row(name, contestant, float("nan"), rounds, flops, message))
                print(f"{name:6} {contestant:24} failed: {message}", flush=True)
            else:
                rows.append(Row(name, contestant, seconds, rounds, flops))
                print(f"{name:6} {contestant:24} {seconds:.4g} s/epoch", flush=True)
            _release(cp)
    report = format_report(env, rows, reference, args.tf32)
    print(report)
    if args.report:
        Path(args.report).write_text(report)
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
