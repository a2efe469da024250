"""Benchmark set-up: two BLAS threads for everyone, the BLAS kernel on record, small data when
the run is only a smoke test (``--benchmark-disable``, as in CI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # workloads.py and peers.py sit beside us
os.environ.setdefault("OMP_NUM_THREADS", "2")

THREADS = 2


def blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


@pytest.fixture(scope="session", autouse=True)
def two_threads() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=THREADS):
        yield


@pytest.fixture
def small(request: pytest.FixtureRequest) -> bool:
    """True for a smoke run: shrink the data so every benchmark finishes at once."""
    return bool(request.config.getoption("benchmark_disable", default=False))


@pytest.fixture(autouse=True)
def record_blas(request: pytest.FixtureRequest) -> None:
    if "benchmark" in request.fixturenames:
        bench = request.getfixturevalue("benchmark")
        bench.extra_info["blas"] = blas_info()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"BLAS: {pool}" for pool in blas_info()]
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            lines.append(
                f"{name}={os.environ[name]} is set: OpenBLAS is pinned; unset both "
                "for figures as on a user's machine"
            )
    return lines
