"""Every input check at the edge: the error's type and what its message says."""

from __future__ import annotations

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential


@pytest.fixture
def model() -> Sequential:
    m = Sequential([Input((3,)), Dense(4, "relu"), Dense(1, "sigmoid")], seed=0)
    m.compile(optimizer="adam", loss="binary_crossentropy")
    return m


X = np.ones((10, 3), dtype=np.float32)
Y = np.zeros(10)


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        (
            np.array([[1.0, np.nan, 0.0]] * 4),
            Y[:4],
            ValueError,
            r"NaN or infinity \(first at row 0, column 1\)",
        ),
        (np.array([[1.0, 0.0, np.inf]] * 4), Y[:4], ValueError, "NaN or infinity"),
        (np.ones(10), Y, ValueError, r"shape \(samples, features\).*reshape\(-1, 1\)"),
        (np.ones((10, 3, 1)), Y, ValueError, r"received shape \(10, 3, 1\)"),
        (X, np.zeros(9), ValueError, "10 samples in x but 9 in y"),
        (np.ones((0, 3)), np.zeros(0), ValueError, "empty data"),
        (np.ones((10, 4)), Y, ValueError, "expects x with 3 features"),
        (X, np.full(10, 2.0), ValueError, r"must lie in \[0, 1\]"),
        (np.array([["a", "b", "c"]]), [0], TypeError, "expects numeric x"),
        (None, Y, ValueError, "needs input data x"),
        (X, None, ValueError, "needs targets y"),
    ],
)
def test_fit_rejects_bad_data(model, x, y, error, message) -> None:
    with pytest.raises(error, match=message):
        model.fit(x, y, verbose=0)


def test_sparse_labels_must_fit_the_output() -> None:
    m = Sequential([Input((3,)), Dense(3, "softmax")], seed=0)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\) for an output of 3 units"):
        m.fit(X, np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2]), verbose=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer, received 0"),
        ({"epochs": 1.5}, "epochs must be a positive integer, received 1.5"),
        ({"batch_size": 0}, "batch_size must be a positive integer, received 0"),
        ({"batch_size": -3}, "batch_size must be a positive integer, received -3"),
        ({"validation_split": 1.0}, r"validation_split must be a number in \[0, 1\)"),
        ({"validation_split": 0.95}, "leaves 0 of 10 samples"),
        ({"verbose": 3}, "verbose must be 0, 1 or 2"),
        ({"epochs": 2, "initial_epoch": 2}, r"initial_epoch must be an integer in \[0, epochs=2\)"),
        ({"callbacks": [print]}, "callbacks must be Callback instances"),
    ],
)
def test_fit_rejects_nonsense_settings(model, kwargs, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(X, Y, verbose=kwargs.pop("verbose", 0), **kwargs)


def test_predict_checks_the_feature_count(model) -> None:
    with pytest.raises(ValueError, match="expects x with 3 features.*received 5"):
        model.predict(np.ones((2, 5)))


def test_fit_and_evaluate_before_compile() -> None:
    m = Sequential([Input((3,)), Dense(1)])
    with pytest.raises(RuntimeError, match=r"must call compile\(\) before fit\(\)"):
        m.fit(X, Y)
    with pytest.raises(RuntimeError, match=r"before evaluate\(\)"):
        m.evaluate(X, Y)


def test_unknown_names() -> None:
    m = Sequential([Input((3,)), Dense(1)])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamax'"):
        m.compile(optimizer="adamax", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        m.compile(optimizer="adam", loss="hinge")
    with pytest.raises(ValueError, match="Unknown metric 'auc'"):
        m.compile(optimizer="adam", loss="mse", metrics=["auc"])
    with pytest.raises(ValueError, match="compile\\(\\) needs a loss"):
        m.compile(optimizer="adam")
    with pytest.raises(ValueError, match="Unknown activation 'sigmpid'"):
        Dense(3, activation="sigmpid")


@pytest.mark.parametrize("units", [0, -1, 2.5, "3", True])
def test_dense_units_must_be_a_positive_integer(units) -> None:
    with pytest.raises(ValueError, match=f"expected a positive integer. Received: units={units!r}"):
        Dense(units)


def test_other_constructor_errors() -> None:
    with pytest.raises(ValueError, match="Input shape must be a tuple with one positive integer"):
        Input((28, 28))
    with pytest.raises(ValueError, match="kernel must be one of 'loop', 'matrix'"):
        Sequential([Dense(1)], kernel="vector")
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        Sequential([Dense(1)], dtype="float16")
    with pytest.raises(TypeError, match="Sequential takes Input and Dense layers"):
        Sequential([Dense(1), "relu"])
    with pytest.raises(ValueError, match="Input can only be the first entry"):
        Sequential([Dense(1), Input((2,))])


def test_set_weights_checks_count_and_shapes(model) -> None:
    with pytest.raises(ValueError, match="expects a list of 4 arrays"):
        model.set_weights([np.ones((3, 4))])
    with pytest.raises(
        ValueError, match=r"Weight 0 should have shape \(3, 4\), received shape \(4, 3\)"
    ):
        model.set_weights([np.ones((4, 3)), np.ones(4), np.ones((4, 1)), np.ones(1)])


def test_lists_and_integer_arrays_are_accepted_and_cast(model) -> None:
    x_list = [[1, 2, 3], [0, 1, 0], [3, 2, 1], [1, 1, 1]]
    history = model.fit(x_list, [0, 1, 0, 1], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(np.array(x_list, dtype=np.int16)).dtype == np.float32
    with xpnn.use_backend("strict"):
        m = Sequential([Input((3,)), Dense(1)], dtype="float64")
        m.compile(optimizer="sgd", loss="mse")
        m.fit(np.array(x_list, dtype=np.uint8), [1, 2, 3, 4], epochs=1, verbose=0)
