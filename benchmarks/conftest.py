"""Benchmark set-up: the same number of threads for every contestant, the BLAS library and
kernel on record, the workloads' data made once, and small data for a smoke run.

Threads (2 unless ``XPNN_BENCH_THREADS`` says otherwise), three ways, because no one switch
reaches every library:
- ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` are set here, before the
  peers load their libraries (scikit-learn's SciPy OpenBLAS, PyTorch's OpenMP and MKL), and
  ``threadpoolctl.threadpool_limits`` caps the pools already loaded (NumPy's OpenBLAS);
  PyTorch also gets ``torch.set_num_threads`` (``peers.make_torch``, the Keras worker).
- JAX (XLA:CPU) reads none of those. ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
  intra_op_parallelism_threads=N`` is the recipe usually quoted, but it makes XLA's matrix
  products single-threaded whatever N is (a 2048^3 product here: 45 ms by default, 76 ms with
  it, 95 ms under ``taskset -c 0``), which would handicap JAX. JAX sizes its CPU thread pool
  from the process's CPU affinity (jax-ml/jax#1539), so when more CPUs are allowed than
  threads wanted, the session pins itself to the first N before any benchmark runs; the Keras
  worker processes inherit the mask.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # workloads.py, peers.py, gpu_bench.py

from workloads import WORKLOADS  # noqa: E402

THREADS = int(os.environ.get("XPNN_BENCH_THREADS", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_KERNEL_MEDIANS = pytest.StashKey[dict]()
_FLOOR_PAIRS = pytest.StashKey[dict]()


def blas_info() -> list[dict[str, Any]]:
    """The thread pools loaded in this process, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "prefix", "version", "architecture", "num_threads")
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.fixture(scope="session", autouse=True)
def two_threads() -> Iterator[None]:
    """Cap every thread pool at THREADS for the benchmark session (see the module's doc)."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if allowed is not None and len(allowed) > THREADS:
        os.sched_setaffinity(0, sorted(allowed)[:THREADS])
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = None
    else:
        limits = threadpool_limits(limits=THREADS)
    yield
    if limits is not None:
        limits.restore_original_limits()
    if allowed is not None:
        os.sched_setaffinity(0, allowed)


@pytest.fixture(autouse=True)
def record_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    """Store the BLAS pools (library, version, kernel, threads) in each benchmark's
    extra_info, read after the test body so that the pools its contestant loaded are in."""
    bench = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    yield
    if bench is not None:
        bench.extra_info["threads"] = THREADS
        bench.extra_info["cpus_allowed"] = _cpus()
        bench.extra_info["blas"] = blas_info()
        bench.extra_info["openblas_pinning"] = {k: os.environ.get(k) for k in PINNING}


@pytest.fixture
def small(benchmark: Any) -> bool:
    """True when the benchmarks are disabled (a smoke run, as in CI): shrink the data so that
    each contestant runs one short epoch."""
    return bool(benchmark.disabled)


@pytest.fixture(scope="session")
def workload_data() -> Callable[[str, bool], tuple[np.ndarray, np.ndarray]]:
    """``workload_data(name, small)`` -> ``(x, y)``, made once per session (mnist's x is
    188 MB and takes a second to draw; every contestant gets the same arrays)."""
    cache: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}

    def get(name: str, small: bool) -> tuple[np.ndarray, np.ndarray]:
        if (name, small) not in cache:
            cache[name, small] = WORKLOADS[name].data(small)
        return cache[name, small]

    return get


@pytest.fixture
def kernel_medians(request: pytest.FixtureRequest) -> dict:
    """{(what, backend): {form: median seconds}}, printed as loop/matrix ratios at the end."""
    return request.config.stash.setdefault(_KERNEL_MEDIANS, {})


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [
        f"benchmarks: {THREADS} threads per contestant; {_cpus()} CPUs allowed "
        f"(pinned to {THREADS} for the session when more: JAX sizes its pool from them)"
    ]
    lines += [f"BLAS pool: {pool}" for pool in blas_info()]
    pinned = [f"{k}={os.environ[k]}" for k in PINNING if k in os.environ]
    if pinned:
        lines.append(
            f"{' '.join(pinned)} is set: OpenBLAS is pinned to old kernels; for figures as on "
            f"a user's machine run with `env -u {' -u '.join(PINNING)}`"
        )
    return lines


@pytest.fixture
def floor_pairs(request: pytest.FixtureRequest) -> dict[str, dict[str, list[float]]]:
    """Seconds of contestants taking turns, per workload (test_workloads.py: xpnn, the floor
    and the rivals' epochs) or per prediction case (test_inference.py), for the summary at
    the end of the run."""
    return request.config.stash.setdefault(_FLOOR_PAIRS, {})


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    pairs = config.stash.get(_FLOOR_PAIRS, {})
    if pairs:
        terminalreporter.write_sep(
            "-", "xpnn / BLAS floor and xpnn / each rival, taking turns in rounds (medians)"
        )
        for name, t in pairs.items():
            if "floor" in t:
                ratios = [a / b for a, b in zip(t["xpnn"], t["floor"])]
                lo, mid, hi = _quartiles(ratios)
                terminalreporter.write_line(
                    # three places: a goal such as 1.05x is judged on the digit after it
                    f"{name}: median ratio {mid:.3f}x (quartiles {lo:.3f}-{hi:.3f}, "
                    f"{len(ratios)} pairs); medians xpnn {statistics.median(t['xpnn']):.6f} s, "
                    f"floor {statistics.median(t['floor']):.6f} s"
                )
            else:
                terminalreporter.write_line(
                    f"{name}: {len(t['xpnn'])} rounds; median xpnn "
                    f"{statistics.median(t['xpnn']):.6f} s"
                )
            rivals = [key for key in t if key not in ("xpnn", "floor")]
            for rival in rivals:  # the same rounds: xpnn's time over the rival's
                lo, mid, hi = _quartiles([a / b for a, b in zip(t["xpnn"], t[rival])])
                terminalreporter.write_line(
                    f"{name}: xpnn / {rival} median {mid:.3f}x (quartiles {lo:.3f}-{hi:.3f}); "
                    f"median {rival} {statistics.median(t[rival]):.6f} s"
                )
    medians = config.stash.get(_KERNEL_MEDIANS, {})
    ratios = [
        f"{what}, {backend}: loop {m['loop'] * 1e3:.3f} ms / matrix {m['matrix'] * 1e3:.3f} ms"
        f" = {m['loop'] / m['matrix']:.0f}x"
        for (what, backend), m in sorted(medians.items())
        if {"loop", "matrix"} <= m.keys()
    ]
    if ratios:
        terminalreporter.write_sep("-", "per-neuron loop / batched matrix (medians)")
        for line in ratios:
            terminalreporter.write_line(line)
    if medians or getattr(config.option, "benchmark_only", False):
        terminalreporter.write_sep("-", "thread pools at the end of the run (threadpoolctl)")
        for pool in blas_info():
            terminalreporter.write_line(str(pool))
