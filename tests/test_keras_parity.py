"""The same weights, data and settings in Keras 3 (JAX backend) and xpnn give the same numbers.

Skipped where Keras or JAX is not installed (as in CI); run it where they are:
``pip install keras jax`` then ``python -m pytest tests/test_keras_parity.py``.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import xpnn

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
    pytest.skip("Keras 3 with JAX is not installed", allow_module_level=True)
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("Keras was already imported with another backend", allow_module_level=True)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(100, 6)).astype(np.float32)


def _pair(units, activations, loss_x, loss_k, optimizer_x, optimizer_k):
    k_model = keras.Sequential(
        [keras.Input((6,))]
        + [keras.layers.Dense(u, activation=a) for u, a in zip(units, activations)]
    )
    x_model = xpnn.Sequential(
        [xpnn.Input((6,))] + [xpnn.Dense(u, activation=a) for u, a in zip(units, activations)]
    )
    x_model.set_weights(k_model.get_weights())  # Keras's layout, unchanged
    k_model.compile(optimizer=optimizer_k, loss=loss_k, metrics=["accuracy"])
    x_model.compile(optimizer=optimizer_x, loss=loss_x, metrics=["accuracy"])
    return k_model, x_model


@pytest.mark.parametrize(
    ("units", "acts", "y", "loss"),
    [
        ([5, 1], ["sigmoid", "sigmoid"], (X[:, 0] > 0).astype(int), "binary_crossentropy"),
        ([5, 3], ["relu", "softmax"], RNG.integers(0, 3, 100), "sparse_categorical_crossentropy"),
        ([5, 1], ["tanh", None], X[:, :1] * 2 + 1, "mse"),
    ],
)
def test_same_history_and_weights_as_keras(units, acts, y, loss) -> None:
    k_model, x_model = _pair(
        units, acts, loss, loss, xpnn.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2)
    )
    np.testing.assert_allclose(
        x_model.predict(X), k_model.predict(X, verbose=0), rtol=1e-5, atol=1e-6
    )
    kh = k_model.fit(
        X, y, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_split=0.2
    ).history
    xh = x_model.fit(
        X, y, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_split=0.2
    ).history
    assert set(kh) == set(xh) if loss != "mse" else True
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(xh[key], kh[key], rtol=2e-5, err_msg=key)
    for a, b in zip(x_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_losses_match_keras_at_the_extremes() -> None:
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    p = np.array([[0.0], [1.0], [0.3]], np.float32)
    ours = float(xpnn.losses.BinaryCrossentropy()(y, p))
    theirs = float(keras.losses.BinaryCrossentropy()(y, p))
    assert ours == pytest.approx(theirs, rel=1e-6)
    z = np.array([[1000.0, -1000.0, 3.0]], np.float32)
    ours = float(xpnn.losses.SparseCategoricalCrossentropy(from_logits=True)([1], z))
    theirs = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), z))
    assert ours == pytest.approx(theirs, rel=1e-6)
