"""Every loss against Keras 3 itself: values, per-sample losses, sample weights and gradients
(JAX's autodiff of Keras's loss) on the inputs of tests/test_losses.py, and the figures
committed there still what Keras gives.

Skipped where Keras or JAX is not installed (as in CI); run it where they are:
``pip install keras jax`` then ``python -m pytest tests/test_losses_keras.py``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pytest
from test_losses import KERAS_LOSSES, LOSS_CASES, NEW_LOSSES, W

from xpnn import losses

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
    pytest.skip("Keras 3 with JAX is not installed", allow_module_level=True)
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
if keras.backend.backend() != "jax":
    pytest.skip("Keras was already imported with another backend", allow_module_level=True)


def _pair(name: str) -> tuple[losses.Loss, Any, np.ndarray, np.ndarray]:
    factory, (class_name, kwargs), y, p = LOSS_CASES[name]
    loss = factory()
    p = np.asarray(p, dtype=np.float32)
    y_keras = np.asarray(y, dtype=np.int64 if class_name.startswith("Sparse") else np.float32)
    return loss, (class_name, kwargs), y_keras, p


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_values_per_sample_and_weights_match_keras(name: str) -> None:
    loss, (class_name, kwargs), y, p = _pair(name)
    k_loss = getattr(keras.losses, class_name)(**kwargs)
    k_each = getattr(keras.losses, class_name)(**kwargs, reduction=None)
    w = np.asarray(W, dtype=np.float32)
    mean, weighted = float(k_loss(y, p)), float(k_loss(y, p, sample_weight=w))
    per_sample = np.asarray(k_each(y, p))
    yx = loss.prepare_targets(y, p.shape, p.dtype)
    assert float(loss.value(yx, p)) == pytest.approx(mean, rel=1e-6)
    assert float(loss(y, p, sample_weight=w)) == pytest.approx(weighted, rel=1e-6)
    np.testing.assert_allclose(loss.per_sample(yx, p), per_sample, rtol=1e-6)
    # the figures committed in test_losses.py are still Keras's
    assert KERAS_LOSSES[name][0] == pytest.approx(mean, rel=1e-6)
    assert KERAS_LOSSES[name][1] == pytest.approx(weighted, rel=1e-6)
    np.testing.assert_allclose(KERAS_LOSSES[name][2], per_sample, rtol=1e-6)


@pytest.mark.parametrize("name", list(LOSS_CASES))
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_gradients_match_keras_autodiff(name: str, weighted: bool) -> None:
    loss, (class_name, kwargs), y, p = _pair(name)
    k_loss = getattr(keras.losses, class_name)(**kwargs)
    w = np.asarray(W, dtype=np.float32) if weighted else None
    expected = np.asarray(jax.grad(lambda q: k_loss(y, q, sample_weight=w))(jax.numpy.asarray(p)))
    yx = loss.prepare_targets(y, p.shape, p.dtype)
    got = loss.gradient(yx, p, None, w)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-7 * np.abs(expected).max())


# Keras's function name for each class: keras.losses.get gives the function for a function
# name or an alias, an instance for a class name.
FUNCTIONS = {
    losses.MeanAbsoluteError: "mean_absolute_error",
    losses.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
    losses.Huber: "huber",
    losses.LogCosh: "log_cosh",
    losses.Hinge: "hinge",
    losses.CategoricalHinge: "categorical_hinge",
    losses.KLDivergence: "kl_divergence",
}


def test_keras_names_resolve_to_the_same_losses() -> None:
    for cls, function in FUNCTIONS.items():
        aliases = {"mae", "mape", "kld"} & {n for n in losses.names() if losses._lookup(n) is cls}
        for name in (function, cls.__name__, *aliases):
            k_loss = keras.losses.get(name)
            k_name = type(k_loss).__name__ if isinstance(k_loss, keras.losses.Loss) else None
            assert (k_name or k_loss.__name__) in (cls.__name__, function), name
            assert type(losses.get(name)) is cls, name


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_default_names_are_keras_s(name: str) -> None:
    cls = NEW_LOSSES[name]
    assert cls().name == getattr(keras.losses, cls.__name__)().name
