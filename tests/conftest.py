"""Shared fixtures: one test body, every backend.

``xp`` runs a test once per backend: NumPy and the strict stand-in (CuPy's host-boundary
behaviour on top of NumPy) always, CuPy where it imports and sees a CUDA device (skipped with
a reason otherwise). It makes that backend active for the test, zeroes the transfer counters,
and hands over the backend's array module.

``to_dev`` / ``to_host`` move data explicitly, as the library's users do. Test modules that
prefer plain names write ``dev, host = xpnn.to_device, xpnn.to_numpy``: under the ``xp``
fixture both act on the active backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.backend import array_module

from helpers import BACKEND_PARAMS


@pytest.fixture(autouse=True)
def _restore_backend() -> Iterator[None]:
    """Whatever a test switches to, the next test starts on the backend this one started on."""
    before = xpnn.get_backend().name
    yield
    if xpnn.get_backend().name != before:
        xpnn.set_backend(before)


@pytest.fixture(params=BACKEND_PARAMS)
def xp(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The active backend's array module (``numpy``, the strict stand-in or ``cupy``)."""
    with xpnn.use_backend(request.param):
        xpnn.transfer_counts(reset=True)
        yield xpnn.get_xp()


def dev(a: Any, xp: Any, dtype: Any = None) -> Any:
    """Copy host data to the active backend and check it landed on ``xp``."""
    out = xpnn.to_device(a, dtype=dtype)
    assert array_module(out) is xp, f"to_device gave an array of {array_module(out).__name__}"
    return out


def host(a: Any) -> np.ndarray:
    """Copy an array of any backend to a NumPy array."""
    return xpnn.to_numpy(a)


@pytest.fixture
def to_dev(xp: Any) -> Callable[..., Any]:
    """``to_dev(a, dtype=None)``: host data onto the fixture's backend."""
    return lambda a, dtype=None: dev(a, xp, dtype)


@pytest.fixture
def to_host() -> Callable[[Any], np.ndarray]:
    """``to_host(a)``: any backend's array back to NumPy."""
    return host
