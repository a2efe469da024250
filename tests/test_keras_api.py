"""Keras's namespaces and the edges of the subset: what `import xpnn as keras` offers, and the
clear refusals for what it does not."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn as keras
from xpnn.layers import Layer


def _images(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6, 5)).astype(np.float32)
    return x, (x[:, 0, 0] + x[:, 3, 2] > 0).astype(np.int64)


def test_the_namespaces_a_keras_mlp_script_uses() -> None:
    assert keras.models.Sequential is keras.Sequential
    assert keras.models.load_model is keras.load_model
    assert keras.layers.Input is keras.Input
    for name in ("Dense", "Dropout", "BatchNormalization", "Activation", "Flatten"):
        assert issubclass(getattr(keras.layers, name), Layer)
    assert keras.regularizers.l2 is keras.regularizers.L2
    assert keras.optimizers.schedules.ExponentialDecay
    assert keras.callbacks.ModelCheckpoint and keras.metrics.AUC and keras.losses.Huber


@pytest.mark.parametrize("name", ["Conv2D", "LSTM", "Embedding", "MaxPooling2D", "Lambda"])
def test_layers_outside_the_subset_say_so(name: str) -> None:
    with pytest.raises(NotImplementedError, match=f"keras.layers.{name} is outside"):
        getattr(keras.layers, name)
    assert not hasattr(keras.layers, "NoSuchLayer")  # other names stay AttributeErrors


def test_the_functional_api_and_keras_style_subclasses_say_so() -> None:
    with pytest.raises(NotImplementedError, match="functional API"):
        keras.Model(inputs=None, outputs=None)
    with pytest.raises(NotImplementedError, match="Subclassing keras.Model"):

        class Mine(keras.Model):  # noqa: F841
            pass

    class KerasStyle(Layer):
        def call(self, x: Any) -> Any:
            return x

    with pytest.raises(NotImplementedError, match="Keras Layer subclass.*forward/backward"):
        keras.Sequential([keras.Input((3,)), KerasStyle()])


def test_flatten_first_takes_samples_of_any_shape(xp: Any, tmp_path: Path) -> None:
    x, y = _images()
    model = keras.Sequential(
        [
            keras.layers.Flatten(input_shape=(6, 5)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert model.built and model.input_dim == 30 and model.sample_shape == (6, 5)
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.2)
    flat = keras.Sequential(
        [keras.Input((30,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(2, "softmax")]
    )
    flat.set_weights(model.get_weights())  # Flatten has no weights
    np.testing.assert_array_equal(model.predict(x), flat.predict(x.reshape(len(x), -1)))
    with pytest.raises(ValueError, match=r"samples of shape \(6, 5\).*received x of shape"):
        model.predict(x.reshape(len(x), -1))
    model.save(tmp_path / "m.xpnn")
    loaded = keras.load_model(tmp_path / "m.xpnn")
    assert loaded.sample_shape == (6, 5)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert keras.gradcheck(model, x[:4], y[:4])["dense"]["kernel"] < 1e-4


def test_flatten_takes_its_shape_from_fit_too() -> None:
    x, y = _images()
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(2, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.sample_shape == (6, 5) and model.predict(x).shape == (120, 2)


def test_a_sample_shape_without_flatten_is_refused() -> None:
    with pytest.raises(NotImplementedError, match=r"shape \(6, 5\) reaches Dense.*Flatten"):
        keras.Sequential([keras.Input((6, 5)), keras.layers.Dense(3)])


def test_keras_layer_keywords() -> None:
    model = keras.Sequential([keras.layers.Dense(4, input_shape=(5,)), keras.layers.Dense(1)])
    assert model.built and model.input_dim == 5
    assert keras.Sequential([keras.layers.Dense(2, input_dim=3)]).input_dim == 3
    keras.Sequential([keras.layers.Dense(2, dtype="float32", input_shape=(3,))])
    with pytest.raises(ValueError, match="one dtype, Sequential"):
        keras.Sequential([keras.layers.Dense(2, dtype="float64", input_shape=(3,))])
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense"):
        keras.layers.Dense(2, units_per_group=3)
    with pytest.raises(NotImplementedError, match="trainable=False"):
        keras.layers.Dense(2, trainable=False)


def test_compiling_again_with_the_same_optimizer_keeps_its_state() -> None:
    x, y = _images()
    model = keras.Sequential([keras.layers.Flatten(input_shape=(6, 5)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.Adam()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    moments = keras.to_numpy(optimizer.state["m"]).copy()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["acc"])
    assert optimizer.iterations == 4
    np.testing.assert_array_equal(keras.to_numpy(optimizer.state["m"]), moments)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # a new one: fresh
    assert model.optimizer.iterations == 0


def test_to_categorical_as_keras() -> None:
    out = keras.utils.to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert keras.utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    with pytest.raises(ValueError, match="does not fit num_classes=2"):
        keras.utils.to_categorical([0, 3], num_classes=2)
    with pytest.raises(ValueError, match=">= 0"):
        keras.utils.to_categorical([-1, 0])


def test_set_random_seed_seeds_every_generator_a_script_uses() -> None:
    keras.utils.set_random_seed(7)
    first = (
        random.random(),
        np.random.random(),
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).get_weights()[0],
    )
    keras.utils.set_random_seed(7)
    second = (
        random.random(),
        np.random.random(),
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).get_weights()[0],
    )
    assert first[:2] == second[:2]
    np.testing.assert_array_equal(first[2], second[2])


def test_a_keras_style_loss_subclass_says_what_xpnn_needs() -> None:
    class Mine(keras.losses.Loss):
        def call(self, y_true: Any, y_pred: Any) -> Any:
            return (y_true - y_pred) ** 2

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(NotImplementedError, match="per_sample.*_gradient"):
        model.compile(optimizer="adam", loss=Mine())
