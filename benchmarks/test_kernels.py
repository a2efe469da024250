"""The per-neuron loop against batched matmul: forward, and forward + backward, of the seed
network (400-25-15-1, sigmoid) on a batch of 1,000, on every backend at hand.

The table's groups put the two forms side by side; the ratio loop / matrix is the point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations
from xpnn.kernels import KERNELS

UNITS = [400, 25, 15, 1]
BACKENDS = ["numpy"]
try:
    with xpnn.use_backend("cupy"):
        BACKENDS.append("cupy")
except xpnn.BackendError:
    pass


def _network(batch: int):
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
    if xpnn.get_backend().name == "cupy":
        xpnn.get_xp().cuda.Device().synchronize()


def forward(form: str, x: Any, params: list) -> list:
    fwd = KERNELS[form][0]
    cache, a = [], x
    for W, b in params:
        z, a_next = fwd(a, W, b, activations.sigmoid)
        cache.append((a, z, a_next))
        a = a_next
    _sync()
    return cache


def forward_backward(form: str, x: Any, params: list) -> None:
    bwd = KERNELS[form][1]
    cache = forward(form, x, params)
    delta = cache[-1][2] * 0 + 1.0  # dL/da of the output
    for i in range(len(params) - 1, -1, -1):
        a_in, z, a = cache[i]
        _, _, delta = bwd(delta, a_in, params[i][0], z, a, activations.sigmoid, need_dx=i > 0)
    _sync()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", ["loop", "matrix"])
@pytest.mark.parametrize("what", [forward, forward_backward], ids=["forward", "forward+backward"])
def test_seed_network(benchmark: Any, backend: str, form: str, what: Any, small: bool) -> None:
    batch = 20 if small else 1000
    with xpnn.use_backend(backend):
        x, params = _network(batch)
        benchmark.group = f"seed network {what.__name__}, batch {batch}, {backend}"
        benchmark.extra_info["form"] = form
        rounds = 3 if form == "loop" else 50
        benchmark.pedantic(what, args=(form, x, params), rounds=rounds, warmup_rounds=1)
