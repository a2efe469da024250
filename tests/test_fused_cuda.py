"""The CUDA kernels (CuPy ElementwiseKernels) against the plain CuPy array code they replace.

Skipped without CuPy and a GPU; `benchmarks/gpu_check.sh` runs them there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import fused, losses, optimizers
from xpnn.activations import get as activation

from helpers import GPU

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not GPU, reason="CuPy is not installed or sees no CUDA device"),
]


@pytest.fixture
def cupy() -> Any:
    with xpnn.use_backend("cupy"):
        yield xpnn.get_xp()


def _both(monkeypatch: pytest.MonkeyPatch, run: Any) -> tuple[Any, Any]:
    """``run()`` with the CUDA kernels, then with them switched off (the plain array code)."""
    fast = run()
    with monkeypatch.context() as m:
        m.setattr(fused.cuda, "accepts", lambda *arrays: False)
        plain = run()
    return fast, plain


@pytest.mark.parametrize(
    ("loss", "act", "labels"),
    [
        (losses.BinaryCrossentropy(), "sigmoid", "binary"),
        (losses.BinaryCrossentropy(from_logits=True), "linear", "binary"),
        (losses.SparseCategoricalCrossentropy(), "softmax", "sparse"),
        (losses.SparseCategoricalCrossentropy(from_logits=True), "linear", "sparse"),
    ],
    ids=["bce", "bce-logits", "scce", "scce-logits"],
)
def test_loss_and_delta_kernels_match(
    cupy: Any, monkeypatch: pytest.MonkeyPatch, loss: Any, act: str, labels: str
) -> None:
    rng = np.random.default_rng(0)
    classes = 1 if labels == "binary" else 7
    z = (rng.normal(size=(65, classes)) * 4).astype(np.float32)
    z[0, 0] = 60.0  # saturated
    a = activation(act).forward(xpnn.to_device(z))
    if labels == "binary":
        y = xpnn.to_device(rng.integers(0, 2, (65, 1)).astype(np.float32))
    else:
        y = xpnn.to_device(rng.integers(0, classes, 65).astype(np.int64))

    def run() -> tuple[float, np.ndarray]:
        value, delta = loss.value_and_delta(y, a, activation(act), out=cupy.empty_like(a))
        assert delta is not None
        return float(xpnn.to_numpy(value)), xpnn.to_numpy(delta)

    (v_fast, d_fast), (v_plain, d_plain) = _both(monkeypatch, run)
    assert v_fast == pytest.approx(v_plain, rel=1e-5)
    np.testing.assert_allclose(d_fast, d_plain, rtol=1e-5, atol=1e-8)


def test_a_label_out_of_range_on_the_device_gives_nan_not_a_wild_read(cupy: Any) -> None:
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    a = xpnn.to_device(np.zeros((3, 4), dtype=np.float32))
    y = xpnn.to_device(np.array([0, 9, 1]))
    value, _ = loss.value_and_delta(y, a, activation("linear"), out=cupy.empty_like(a))
    assert np.isnan(xpnn.to_numpy(value))


def test_capturable_adam_kernels_match_the_host_step_size(cupy: Any) -> None:
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=4096).astype(np.float32)
    grads = rng.normal(size=(50, 4096)).astype(np.float32)
    results = []
    for capturable in (False, True):
        opt, w = optimizers.Adam(learning_rate=0.01), xpnn.to_device(w0)
        opt.build(w)
        if capturable:
            opt.make_capturable(w)
        for g in grads:
            opt.step(w, xpnn.to_device(g))
        results.append(xpnn.to_numpy(w))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)
