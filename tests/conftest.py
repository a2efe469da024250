"""The ``xp`` fixture: one test body, every backend.

NumPy and the strict stand-in (CuPy's host-boundary behaviour on top of NumPy) always run;
CuPy runs where it is installed and a CUDA device is visible, and is skipped cleanly otherwise.
The fixture makes the backend active for the test and hands over its array module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import xpnn


def _cupy_ready() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


GPU = _cupy_ready()

BACKEND_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("strict", id="strict"),
    pytest.param(
        "cupy",
        id="cupy",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not GPU, reason="no CuPy with a CUDA GPU")],
    ),
]


@pytest.fixture(params=BACKEND_PARAMS)
def xp(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The active backend's array module, for the duration of one test."""
    with xpnn.use_backend(request.param) as backend:
        xpnn.transfer_counts(reset=True)
        yield backend.xp
