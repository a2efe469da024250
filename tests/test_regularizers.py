"""Regularizers: Keras 3's L1, L2 and L1L2 (names, defaults, penalties), their gradients, and
their place in a training step that is recorded and replayed."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, optimizers, regularizers
from xpnn.backend import array_module
from xpnn.regularizers import L1, L1L2, L2, Regularizer

from helpers import BACKEND_PARAMS, blobs


def _x() -> np.ndarray:
    return np.random.default_rng(14).normal(size=(3, 4)).astype(np.float32)


def _cases() -> dict[str, Any]:
    return {"L1(0.3)": L1(0.3), "L2(0.1)": L2(0.1), "L1L2(0.01,0.02)": L1L2(0.01, 0.02)}


# Keras 3.15.1 (JAX): float(keras.regularizers.<case>(_x()))
KERAS_PENALTIES = {
    "L1(0.3)": 4.126136779785156,
    "L2(0.1)": 2.4047605991363525,
    "L1L2(0.01,0.02)": 0.6184899806976318,
}


def test_penalties_equal_keras_s_on_every_backend(xp: Any) -> None:
    x = xpnn.to_device(_x())
    for name, reg in _cases().items():
        value = reg.penalty(x)
        assert array_module(value) is xp or isinstance(value, np.floating)  # stays on device
        assert value.dtype == np.float32
        assert float(xpnn.to_numpy(value)) == pytest.approx(KERAS_PENALTIES[name], rel=1e-6)
        assert float(xpnn.to_numpy(reg(x))) == float(xpnn.to_numpy(value))  # Keras's call


def test_keras_penalties_are_current() -> None:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    R = keras.regularizers  # noqa: N806
    theirs = {"L1(0.3)": R.L1(0.3), "L2(0.1)": R.L2(0.1), "L1L2(0.01,0.02)": R.L1L2(0.01, 0.02)}
    for name, reg in theirs.items():
        assert float(reg(_x())) == pytest.approx(KERAS_PENALTIES[name], rel=1e-7)
        # (Keras's L1 keeps its factor as a float32 tensor: its config says 0.30000001...)
        assert reg.get_config() == pytest.approx(_cases()[name].get_config(), rel=1e-7)


def test_formulas_have_no_half_and_gradients_are_their_derivatives(xp: Any) -> None:
    x64 = _x().astype(np.float64)
    x64[0, 0] = 0.0  # sign(0) = 0
    x = xpnn.to_device(x64)
    l1_l2 = L1L2(l1=0.5, l2=0.25)
    assert float(xpnn.to_numpy(l1_l2.penalty(x))) == pytest.approx(
        0.5 * np.abs(x64).sum() + 0.25 * (x64**2).sum(), rel=1e-12
    )
    np.testing.assert_allclose(
        xpnn.to_numpy(l1_l2.gradient(x)), 0.5 * np.sign(x64) + 2 * 0.25 * x64, rtol=1e-12
    )
    np.testing.assert_allclose(xpnn.to_numpy(L2(0.1).gradient(x)), 0.2 * x64, rtol=1e-12)
    np.testing.assert_allclose(xpnn.to_numpy(L1(0.1).gradient(x)), 0.1 * np.sign(x64))
    # central differences away from 0 (where |x| has no derivative)
    h = 1e-6
    for reg in (L1(0.3), L2(0.7), L1L2(0.2, 0.4)):
        grad = xpnn.to_numpy(reg.gradient(x))
        for i, j in [(0, 1), (1, 2), (2, 3)]:
            up, down = x64.copy(), x64.copy()
            up[i, j] += h
            down[i, j] -= h
            fd = (float(reg.penalty(up)) - float(reg.penalty(down))) / (2 * h)
            assert grad[i, j] == pytest.approx(fd, rel=1e-6)


def test_names_defaults_and_get_as_in_keras() -> None:
    assert regularizers.l1 is L1 and regularizers.l2 is L2 and regularizers.l1_l2 is L1L2
    assert L1().l1 == 0.01 and L2().l2 == 0.01
    assert L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert L1(None).l1 == 0.01 and L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get("l2") == L2(0.01) and regularizers.get("L1") == L1(0.01)
    assert regularizers.get("l1l2") == L1L2() == regularizers.get("l1_l2")
    assert regularizers.get(None) is None
    reg = L2(0.3)
    assert regularizers.get(reg) is reg and regularizers.get(L1) == L1()
    assert regularizers.serialize(reg) == {"class_name": "L2", "config": {"l2": 0.3}}
    assert regularizers.get(regularizers.serialize(reg)) == reg
    assert regularizers.serialize(None) is None
    assert L1L2.from_config(L1L2(0.1, 0.2).get_config()) == L1L2(0.1, 0.2)
    assert repr(L1L2(0.1, 0.2)) == "L1L2(l1=0.1, l2=0.2)"


def test_bad_values_and_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="argument l2: expected a non-negative float.*l2=-1"):
        L2(-1)
    with pytest.raises(ValueError, match="argument l1: .*l1=inf"):
        L1L2(l1=float("inf"))
    with pytest.raises(ValueError, match="argument l1: .*l1=True"):
        L1(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier 'l3': expected one of L1, L1L2, L2"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="plain function.*subclass xpnn.regularizers.Regularizer"):
        regularizers.get(lambda w: 0.0)
    with pytest.raises(ValueError, match="Unknown regularizer config"):
        regularizers.get({"class_name": "L7", "config": {}})
    with pytest.raises(ValueError, match="identifier 'l3'"):
        Dense(3, kernel_regularizer="l3")


class Quartic(Regularizer):
    """``c * sum(x**4)``: a regularizer of the user's own."""

    def __init__(self, c: float = 0.1) -> None:
        self.c = c

    def penalty(self, x: Any) -> Any:
        return self.c * (x**4).sum()

    def gradient(self, x: Any) -> Any:
        return 4 * self.c * x**3

    def get_config(self) -> dict[str, Any]:
        return {"c": self.c}


def test_a_regularizer_of_the_user_s_own_trains(xp: Any) -> None:
    x, y = blobs(12, 3, 2, seed=1)
    model = Sequential(
        [Input((3,)), Dense(2, "softmax", kernel_regularizer=Quartic(0.5))], seed=1, dtype="float64"
    )
    model.compile(optimizer=optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    kernel = model.get_weights()[0]
    plain = Sequential([Input((3,)), Dense(2, "softmax")], dtype="float64")
    plain.set_weights(model.get_weights())
    plain.compile(optimizer=optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    gap = model.evaluate(x, y, batch_size=12) - plain.evaluate(x, y, batch_size=12)
    assert gap == pytest.approx(0.5 * np.sum(kernel**4), rel=1e-12)
    model.fit(x, y, batch_size=12, epochs=1, verbose=0)
    plain.fit(x, y, batch_size=12, epochs=1, verbose=0)
    step_gap = plain.get_weights()[0] - model.get_weights()[0]  # the extra gradient, rate 1
    np.testing.assert_allclose(step_gap, 4 * 0.5 * kernel**3, rtol=1e-10, atol=1e-14)


@pytest.fixture(params=[p for p in BACKEND_PARAMS if p.id in ("strict", "cupy")])
def gx(request: pytest.FixtureRequest) -> Any:
    with xpnn.use_backend(request.param):
        yield xpnn.get_xp()


def test_replayed_training_with_regularizers_equals_eager(gx: Any) -> None:
    """Penalties and their gradients are device work with constant factors: the recorded step
    replays them, and its losses (penalties included) equal the eager step's."""
    x, y = blobs(70, 5, 3, seed=2)
    runs = []
    for jit in (False, True):
        model = Sequential(
            [
                Input((5,)),
                Dense(8, "relu", kernel_regularizer=L1L2(1e-3, 1e-2), bias_regularizer="l2"),
                Dense(3, "softmax", activity_regularizer=L2(0.01), kernel_regularizer="l1"),
            ],
            seed=3,
        )
        model.compile(
            optimizer=optimizers.Adam(0.01),
            loss="sparse_categorical_crossentropy",
            jit_compile=jit,
        )
        h = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append((h.history["loss"], model.get_weights()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    for a, b in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
