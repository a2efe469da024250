"""What only a GPU can check about the CUDA kernels (fused/cuda.py).

Each kernel against its reference is in test_fused.py (its ``cuda`` cases); that every kernel
compiles is checked without a GPU in test_cuda_compile.py. Skipped without CuPy and a GPU;
`benchmarks/gpu_check.sh` runs them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations, losses
from xpnn.fused import cuda

from helpers import GPU

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not GPU, reason="CuPy is not installed or sees no CUDA device"),
]


@pytest.fixture
def cupy() -> Iterator[Any]:
    with xpnn.use_backend("cupy"):
        yield xpnn.get_xp()


@pytest.mark.parametrize("from_logits", [False, True], ids=["softmax", "logits"])
def test_a_label_out_of_range_on_the_device_gives_nan_not_a_wild_read(
    cupy: Any, from_logits: bool
) -> None:
    a = cupy.full((3, 4), 0.25, dtype=cupy.float32)
    y = cupy.asarray([0, 9, 1])
    delta = cupy.empty_like(a)
    value = cuda.softmax_ce_sparse(a, y, delta, from_logits, losses.EPSILON)
    assert np.isnan(xpnn.to_numpy(value))
    np.testing.assert_array_equal(xpnn.to_numpy(delta)[1], 0.0)


def test_adam_update_replays_from_a_cuda_graph(cupy: Any) -> None:
    """The step count and the rate are read on the device: a recorded update, replayed after
    they change, gives what the update run each time gives."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=4096).astype(np.float32)
    g = cupy.asarray(rng.normal(size=4096).astype(np.float32))
    rates = [0.01, 0.01, 0.002]

    def state() -> list[Any]:
        """w, m, v, and the step count and rate"""
        w = cupy.asarray(w0)
        return [w, cupy.zeros_like(w), cupy.zeros_like(w), cupy.zeros(1), cupy.zeros(1)]

    def step(s: list[Any]) -> None:
        w, m, v, t, lr = s
        cuda.adam_update(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7)

    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        eager, replayed, warm_up = state(), state(), state()
        for rate in rates:
            eager[3] += 1.0
            eager[4][...] = rate
            step(eager)
        warm_up[3] += 1.0
        step(warm_up)  # the kernels are built and the step-size buffer allocated before recording
        stream.begin_capture()
        step(replayed)
        graph = stream.end_capture()
        for rate in rates:
            replayed[3] += 1.0
            replayed[4][...] = rate
            graph.launch(stream)
        stream.synchronize()
    for a, b in zip(eager[:3], replayed[:3]):
        np.testing.assert_array_equal(xpnn.to_numpy(a), xpnn.to_numpy(b))


def test_cupy_compiles_the_source_that_is_checked_without_a_gpu(cupy: Any) -> None:
    """test_cuda_compile.py rebuilds each launch's source from CuPy's private functions; here
    the kernels run, and CuPy's own record of what it compiled must be that source."""
    source = pytest.importorskip("test_cuda_compile").kernel_source
    z = cupy.asarray(np.random.default_rng(1).normal(size=(33, 10)).astype(np.float32))
    b, y = z[0].copy(), cupy.asarray(np.arange(33) % 10)
    out, delta = cupy.empty_like(z), cupy.empty_like(z)
    cuda.sigmoid_forward(z, out)
    cuda.bias_sigmoid(z.copy(), b, out)
    cuda.bias_relu(z.copy(), b, out)
    cuda.sigmoid_backward_inplace(delta, out)
    cuda.relu_backward_inplace(delta, z)
    cuda.bce_sigmoid(activations.sigmoid.forward(z), (z > 0).astype(z.dtype), delta, 1e-7)
    cuda.bce_logits(z, (z > 0).astype(z.dtype), delta)
    cuda.softmax_ce_sparse(z, y, delta, True, 1e-7)
    cuda.softmax_ce_sparse(activations.softmax.forward(z), y, delta, False, 1e-7)
    w = z.reshape(-1).copy()
    cuda.adam_update(w, w.copy(), w * 0, w * 0, cupy.ones(1), cupy.full(1, 1e-3), 0.9, 0.999, 1e-7)
    assert set(cuda._built) == set(cuda.KERNELS)  # every kernel ran
    for name, built in cuda._built.items():
        kernel = cuda.KERNELS[name]
        label = "int64" if kernel.labels else None
        ndim = 2 if kernel.broadcast else 1  # a broadcast row keeps the loop 2-D
        expected = source(kernel, "float32", label, ndim)
        assert any(expected.endswith(code) for code in built.cached_codes.values()), name
