"""GPU benchmarks: seconds per epoch of xpnn on CuPy against PyTorch (CUDA, eager) and JAX
(whole step jitted, when installed), and the large workload's FLOP/s against cuBLAS SGEMM.

    PYTHONPATH=src python benchmarks/gpu_bench.py --output gpu-results.md

Runs from the source tree; needs CuPy and a CUDA device (PyTorch and JAX are optional).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

import peers  # noqa: E402
from workloads import LARGE, WORKLOADS, Workload  # noqa: E402

ROUNDS = {"seed": 10, "mnist": 5, "wide": 5, "large": 3}


def median_epoch(epoch: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        epoch()  # each contestant synchronises its device before returning
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sgemm_rate(cp, m: int = 8192, n: int = 4096, k: int = 4096, repeat: int = 20) -> float:
    """FLOP/s of a plain float32 cupy.matmul (cuBLAS SGEMM) at the large workload's shape."""
    a = cp.random.standard_normal((m, k), dtype=cp.float32)
    b = cp.random.standard_normal((k, n), dtype=cp.float32)
    c = cp.empty((m, n), dtype=cp.float32)
    cp.matmul(a, b, out=c)
    cp.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        cp.matmul(a, b, out=c)
    cp.cuda.Device().synchronize()
    return 2.0 * m * n * k * repeat / (time.perf_counter() - start)


def contestants(w: Workload, x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], object]]:
    import xpnn

    out: dict[str, Callable[[], object]] = {}
    with xpnn.use_backend("cupy"):
        out["xpnn (CuPy)"] = peers.make_xpnn(w, x, y)
    try:
        import torch

        if torch.cuda.is_available():
            out["PyTorch (CUDA, eager)"] = peers.make_torch(w, x, y, device="cuda")
    except ImportError:
        pass
    try:
        import jax

        if any(d.platform == "gpu" for d in jax.devices()):
            out["JAX (jit)"] = peers.make_jax(w, x, y)
    except (ImportError, RuntimeError):
        pass
    return out


def environment(cp) -> list[str]:
    props = cp.cuda.runtime.getDeviceProperties(0)
    lines = [
        f"- device: {props['name'].decode()}",
        f"- driver: {cp.cuda.runtime.driverGetVersion()}, CUDA runtime "
        f"{cp.cuda.runtime.runtimeGetVersion()}",
        f"- CuPy {cp.__version__}, NumPy {np.__version__}, Python {platform.python_version()}",
    ]
    try:
        import torch

        lines.append(f"- PyTorch {torch.__version__} (CUDA {torch.version.cuda})")
    except ImportError:
        lines.append("- PyTorch: not installed")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="write the markdown table there too")
    parser.add_argument("--only", nargs="*", help="workload names (default: all four)")
    args = parser.parse_args(argv)
    try:
        import cupy as cp

        if not cp.cuda.is_available():
            raise RuntimeError("no CUDA device is visible")
    except (ImportError, RuntimeError) as exc:
        print(f"gpu_bench: needs CuPy and a CUDA GPU: {exc}", file=sys.stderr)
        return 2

    workloads = {**WORKLOADS, "large": LARGE}
    names = args.only or list(workloads)
    lines = ["## GPU: seconds per epoch (medians)", "", *environment(cp), ""]
    lines += [
        "| workload | contestant | s/epoch | vs PyTorch | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    rate = sgemm_rate(cp)
    for name in names:
        w = workloads[name]
        x, y = w.data()
        results = {k: median_epoch(fn, ROUNDS[name]) for k, fn in contestants(w, x, y).items()}
        torch_time = results.get("PyTorch (CUDA, eager)")
        for contestant, seconds in results.items():
            ratio = f"{seconds / torch_time:.2f}x" if torch_time else "-"
            note = ""
            if name == "large":
                achieved = w.matmul_flops(x.shape[0]) / seconds
                note = (
                    f"{achieved / 1e12:.1f} TFLOP/s = {achieved / rate:.0%} of SGEMM "
                    f"({rate / 1e12:.1f} TFLOP/s)"
                )
            lines.append(f"| {name} | {contestant} | {seconds:.4f} | {ratio} | {note} |")
        print("\n".join(lines[-len(results) :]), flush=True)
    table = "\n".join(lines)
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
