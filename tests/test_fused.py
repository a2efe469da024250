"""The fused one-pass kernels (numba on the CPU) against the plain array code they replace."""

from __future__ import annotations

import numpy as np
import pytest

import xpnn
from xpnn import activations, fused, losses, optimizers

pytestmark = pytest.mark.skipif(not fused.cpu.ENABLED, reason="numba (the 'fast' extra) absent")


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch):
    """A context in which the fused kernels are switched off."""

    def switch_off() -> None:
        monkeypatch.setattr(fused.cpu, "ENABLED", False)

    return switch_off


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_one_pass_is_bit_identical_to_the_multi_pass_update(plain, dtype) -> None:
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=1000).astype(dtype), rng.normal(size=(5, 1000)).astype(dtype)
    results = []
    for use_fused in (True, False):
        if not use_fused:
            plain()
        w, opt = w0.copy(), optimizers.Adam(learning_rate=0.01)
        for g in grads:
            opt.step(w, g)
        results.append((w, opt.state["m"], opt.state["v"]))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sigmoid", "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_kernels_match(name, dtype, plain) -> None:
    rng = np.random.default_rng(1)
    z = (rng.normal(size=(33, 17)) * 30).astype(dtype)
    z[0, :3] = [0.0, 1e4, -1e4]
    delta = rng.normal(size=z.shape).astype(dtype)
    act = activations.get(name)
    a_fused = act.forward(z, out=np.empty_like(z))
    d_fused = act.backward(delta.copy(), z, a_fused, out=None)  # reference chain for a check
    inplace = delta.copy()
    act.backward(inplace, z, a_fused, out=inplace)
    plain()
    a_plain = act.forward(z, out=np.empty_like(z))
    np.testing.assert_allclose(a_fused, a_plain, rtol=2e-7 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(inplace, d_fused, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        (losses.BinaryCrossentropy(), "sigmoid"),
        (losses.BinaryCrossentropy(from_logits=True), "linear"),
        (losses.SparseCategoricalCrossentropy(), "softmax"),
        (losses.SparseCategoricalCrossentropy(from_logits=True), "linear"),
    ],
)
def test_output_loss_and_delta_match(loss, activation, plain) -> None:
    rng = np.random.default_rng(2)
    act = activations.get(activation)
    sparse = isinstance(loss, losses.SparseCategoricalCrossentropy)
    units = 4 if sparse else 3
    a = act.forward(rng.normal(size=(40, units)) * 5)
    y = rng.integers(0, units, 40) if sparse else (rng.random((40, units)) > 0.5).astype(float)
    value_f, delta_f = loss.value_and_delta(y, a, act, out=np.empty_like(a))
    plain()
    value_p, delta_p = loss.value_and_delta(y, a, act, out=np.empty_like(a))
    assert value_f == pytest.approx(float(value_p), rel=1e-12)
    np.testing.assert_allclose(delta_f, delta_p, rtol=1e-12, atol=1e-15)


def test_column_sums_match(plain) -> None:
    dz = np.random.default_rng(3).normal(size=(50, 7))
    fused_sum = xpnn.kernels._column_sums(dz, np.empty(7))
    np.testing.assert_allclose(fused_sum, dz.sum(axis=0), rtol=1e-12)


def test_training_with_and_without_fused_kernels_agrees(plain) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)

    def run() -> tuple[dict, list]:
        model = xpnn.Sequential(
            [
                xpnn.Input((20,)),
                xpnn.Dense(16, "relu"),
                xpnn.Dense(8, "sigmoid"),
                xpnn.Dense(1, "sigmoid"),
            ],
            seed=7,
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
        return history.history, model.get_weights()

    hist_fused, w_fused = run()
    plain()
    hist_plain, w_plain = run()
    np.testing.assert_allclose(hist_fused["loss"], hist_plain["loss"], rtol=1e-5)
    assert hist_fused["accuracy"] == pytest.approx(hist_plain["accuracy"], abs=1e-2)
    for a, b in zip(w_fused, w_plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
