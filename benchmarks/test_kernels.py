"""The per-neuron loop against batched matrix products (``xpnn.kernels``): forward, and forward
+ backward, of the seed network (400-25-15-1, sigmoid) on a batch of 1,000, on NumPy and, where
a GPU is, on CuPy.

Each group of the table holds the two forms of one measurement, so pytest-benchmark's ratio
column reads loop / matrix directly; the run ends with the ratios spelled out (conftest.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations
from xpnn.kernels import KERNELS

UNITS = [400, 25, 15, 1]
BATCH = 1_000
ROUNDS = {"loop": 5, "matrix": 100}


def _network(batch: int) -> tuple[Any, list[tuple[Any, Any]]]:
    """Seeded float32 input and parameters, drawn on the host, on the active backend."""
    rng = np.random.default_rng(0)
    x = xpnn.to_device(rng.standard_normal((batch, UNITS[0]), dtype=np.float32))
    params = [
        (
            xpnn.to_device(rng.standard_normal((a, b), dtype=np.float32) * 0.1),
            xpnn.to_device(np.zeros(b, np.float32)),
        )
        for a, b in zip(UNITS, UNITS[1:])
    ]
    return x, params


def _sync() -> None:
    # CuPy returns before the GPU finishes: wait, so that the time is the work's
    if xpnn.get_backend().name == "cupy":
        xpnn.get_xp().cuda.Device().synchronize()


def _forward(form: str, x: Any, params: list) -> list:
    fwd = KERNELS[form][0]
    cache, a = [], x
    for W, b in params:
        z, a_next = fwd(a, W, b, activations.sigmoid)
        cache.append((a, z, a_next))
        a = a_next
    return cache


def forward(form: str, x: Any, params: list) -> None:
    _forward(form, x, params)
    _sync()


def forward_backward(form: str, x: Any, params: list) -> None:
    bwd = KERNELS[form][1]
    cache = _forward(form, x, params)
    delta = cache[-1][2] * 0 + 1.0  # dL/da of the output, (batch, 1)
    for i in range(len(params) - 1, -1, -1):
        a_in, z, a = cache[i]
        # the twins always return dx; the first layer's (of the input) is timed, then dropped
        _, _, delta = bwd(delta, a_in, params[i][0], z, a, activations.sigmoid)
    _sync()


@pytest.fixture(params=["numpy", "cupy"])
def backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "cupy":
        pytest.importorskip("cupy")
        try:
            with xpnn.use_backend("cupy"):
                pass
        except xpnn.BackendError as exc:  # CuPy installed, but no usable GPU
            pytest.skip(str(exc))
    with xpnn.use_backend(request.param):
        yield request.param


@pytest.mark.parametrize("what", [forward, forward_backward], ids=["forward", "forward+backward"])
@pytest.mark.parametrize("form", ["loop", "matrix"])
def test_seed_network(
    benchmark: Any, backend: str, form: str, what: Any, small: bool, kernel_medians: dict
) -> None:
    batch = 20 if small else BATCH
    x, params = _network(batch)
    label = what.__name__.replace("_", "+")
    benchmark.group = f"kernels {label}: 400-25-15-1 sigmoid, batch {batch:,}, {backend}"
    benchmark.extra_info.update(form=form, backend=backend, batch=batch)
    benchmark.pedantic(
        what, args=(form, x, params), rounds=ROUNDS[form], iterations=1, warmup_rounds=1
    )
    if not benchmark.disabled:
        kernel_medians.setdefault((label, backend), {})[form] = benchmark.stats.stats.median
