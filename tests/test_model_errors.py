"""Every check at the edge: each error's type and the words in its message that tell the user
what was wrong (the argument, the value received, what was expected)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses

dev = xpnn.to_device

X = np.ones((10, 3), dtype=np.float32)
Y = np.zeros(10)


def _model(**kwargs: Any) -> Sequential:
    m = Sequential([Input((3,)), Dense(4, "relu"), Dense(1, "sigmoid")], seed=0, **kwargs)
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def model() -> Sequential:
    return _model()


def _nan_at(row: int, col: int, value: float = np.nan) -> np.ndarray:
    x = np.ones((4, 3))
    x[row, col] = value
    return x


# -- data given to fit / evaluate / predict -------------------------------------------------
BAD_DATA = [
    pytest.param(
        _nan_at(0, 1), Y[:4], ValueError, r"NaN or infinity \(first at row 0, column 1\)", id="nan"
    ),
    pytest.param(
        _nan_at(2, 0, np.inf),
        Y[:4],
        ValueError,
        r"NaN or infinity \(first at row 2, column 0\)",
        id="inf",
    ),
    pytest.param(_nan_at(3, 2, -np.inf), Y[:4], ValueError, "NaN or infinity", id="-inf"),
    pytest.param(
        np.ones(10),
        Y,
        ValueError,
        r"shape \(samples, features\), received shape \(10,\)\. "
        r"The model takes 3 features per sample",
        id="1-D",
    ),
    pytest.param(np.ones((10, 3, 1)), Y, ValueError, r"received shape \(10, 3, 1\)", id="3-D"),
    pytest.param(np.float32(1.0), Y, ValueError, r"received shape \(\)", id="scalar"),
    pytest.param(
        X, np.zeros(9), ValueError, "10 samples in x but 9 in y; they must match", id="length"
    ),
    pytest.param(
        np.ones((0, 3)), np.zeros(0), ValueError, "empty data: x has 0 samples", id="empty"
    ),
    pytest.param(
        np.ones((10, 4)), Y, ValueError, "expects x with 3 features .*received 4", id="features"
    ),
    pytest.param(
        X,
        np.array([0.0, 2.0] * 5),
        ValueError,
        r"binary_crossentropy targets must lie in \[0, 1\], received values from 0 to 2",
        id="bce-2",
    ),
    pytest.param(X, -np.ones(10), ValueError, r"must lie in \[0, 1\]", id="bce-negative"),
    pytest.param(X, np.full(10, np.nan), ValueError, "targets contain NaN or infinity", id="y-nan"),
    pytest.param(
        X,
        np.zeros((10, 2)),
        ValueError,
        r"targets have shape \(10, 2\), but the model's output has shape \(10, 1\)",
        id="y-shape",
    ),
    pytest.param(np.array([["a", "b", "c"]]), [0], TypeError, "expects numeric x", id="strings"),
    pytest.param(
        [[1, 2], [3]], [0, 1], ValueError, "could not read x as a numeric array", id="ragged"
    ),
    pytest.param(None, Y, ValueError, r"needs input data x, received None", id="no-x"),
    pytest.param(X, None, ValueError, r"needs targets y, received None", id="no-y"),
]


@pytest.mark.parametrize(("x", "y", "error", "message"), BAD_DATA)
def test_fit_rejects_bad_data(model: Sequential, x: Any, y: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        model.fit(x, y, verbose=0)
    assert model.optimizer.iterations == 0  # nothing was trained on it


@pytest.mark.parametrize(("x", "y", "error", "message"), BAD_DATA)
def test_evaluate_rejects_bad_data(
    model: Sequential, x: Any, y: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        model.evaluate(x, y)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (_nan_at(1, 1), r"predict\(\) input x contains NaN or infinity"),
        (np.ones(3), r"predict\(\) expects x of shape \(samples, features\)"),
        (np.ones((2, 3, 1)), r"received shape \(2, 3, 1\)"),
        (np.ones((0, 3)), "empty data"),
        (
            np.ones((2, 5)),
            r"predict\(\) expects x with 3 features \(the model's input\), received 5",
        ),
    ],
)
def test_predict_rejects_bad_data(model: Sequential, x: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model.predict(x)


def test_validation_data_is_checked_too(model: Sequential) -> None:
    expected = (
        r"fit\(\) expects validation_data x with 3 features \(as the training x has\), "
        r"received 2"
    )
    with pytest.raises(ValueError, match=expected):
        model.fit(X, Y, validation_data=(np.ones((4, 2)), np.zeros(4)), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(x_val, y_val\)"):
        model.fit(X, Y, validation_data=(X, Y, Y, Y), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data expects sample_weight of shape \(10,\)"):
        model.fit(X, Y, validation_data=(X, Y, np.ones(3)), verbose=0)
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        model.fit(X, Y, validation_data=X, verbose=0)


# -- the same checks on device arrays (what a CuPy user passes) --------------------------------
def test_nan_in_device_x_is_rejected(xp: Any) -> None:
    model = _model()
    with pytest.raises(ValueError, match="input x contains NaN or infinity"):
        model.fit(dev(_nan_at(1, 2)), dev(np.zeros(4, dtype=np.float32)), verbose=0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.predict(dev(_nan_at(0, 0, np.inf)))


def test_device_x_of_the_wrong_rank_is_rejected(xp: Any) -> None:
    model = _model()
    with pytest.raises(ValueError, match=r"expects x of shape \(samples, features\)"):
        model.predict(dev(np.ones(3)))


def test_device_x_with_the_wrong_feature_count_is_rejected_clearly(xp: Any) -> None:
    """Device x must meet the same feature check as host x, not fail inside a matmul."""
    model = _model()
    x4 = dev(np.ones((5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"predict\(\) expects x with 3 features"):
        model.predict(x4)
    with pytest.raises(ValueError, match=r"fit\(\) expects x with 3 features"):
        model.fit(x4, dev(np.zeros(5, dtype=np.float32)), verbose=0)


def test_empty_device_data_is_rejected(xp: Any) -> None:
    model = _model()
    empty = dev(np.ones((0, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="empty data"):
        model.predict(empty)
    with pytest.raises(ValueError, match="empty data"):
        model.fit(empty, dev(np.zeros(0, dtype=np.float32)), verbose=0)


def test_device_labels_must_be_integers(xp: Any) -> None:
    if xp is np:
        pytest.skip("host labels are checked by value: whole-number floats are accepted")
    m = Sequential([Input((3,)), Dense(3, "softmax")], seed=0)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="labels must be integers"):
        m.fit(dev(X), dev(np.zeros(10, dtype=np.float32)), verbose=0)


# -- labels that do not fit the loss ------------------------------------------------------------
@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        (
            [0, 1, 2, 3, 0, 1, 2, 0, 1, 2],
            ValueError,
            r"labels must lie in \[0, 3\) for an output of 3 units, received values from 0 to 3",
        ),
        ([0, 1, 2, -1, 0, 1, 2, 0, 1, 2], ValueError, r"must lie in \[0, 3\)"),
        ([0.5] * 10, ValueError, "must be whole numbers"),
        (
            np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1, 2, 0]],
            ValueError,
            r"class labels of shape \(10,\), received shape \(10, 3\).*CategoricalCrossentropy",
        ),
        (np.array(["a"] * 10), TypeError, "labels must be integers"),
    ],
)
def test_sparse_labels_must_fit_the_output(labels: Any, error: type, message: str) -> None:
    m = Sequential([Input((3,)), Dense(3, "softmax")], seed=0)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(error, match=message):
        m.fit(X, labels, verbose=0)


def test_one_hot_targets_must_be_in_range() -> None:
    m = Sequential([Input((3,)), Dense(3, "softmax")], seed=0)
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="one-hot rows.*SparseCategoricalCrossentropy"):
        m.fit(X, np.full((10, 3), 2.0), verbose=0)
    with pytest.raises(ValueError, match=r"targets have shape \(10,\).*\(10, 3\)"):
        m.fit(X, np.zeros(10), verbose=0)


# -- fit's settings -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be a positive integer, received 0"),
        ({"epochs": 1.5}, ValueError, "epochs must be a positive integer, received 1.5"),
        ({"epochs": True}, ValueError, "epochs must be a positive integer, received True"),
        ({"epochs": "3"}, ValueError, "epochs must be a positive integer, received '3'"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, received 0"),
        ({"batch_size": -3}, ValueError, "batch_size must be a positive integer, received -3"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be a positive integer, received 2.5"),
        (
            {"validation_split": 1.0},
            ValueError,
            r"validation_split must be a number in \[0, 1\), received 1.0",
        ),
        ({"validation_split": -0.1}, ValueError, r"validation_split must be a number in \[0, 1\)"),
        ({"validation_split": "0.2"}, ValueError, r"validation_split must be a number"),
        ({"validation_split": 0.95}, ValueError, "leaves 0 of 10 samples for training"),
        ({"verbose": 3}, ValueError, "verbose must be 0, 1 or 2, received 3"),
        (
            {"epochs": 2, "initial_epoch": 2},
            ValueError,
            r"initial_epoch must be an integer in \[0, epochs=2\), received 2",
        ),
        ({"initial_epoch": -1}, ValueError, r"initial_epoch must be an integer"),
        (
            {"callbacks": [print]},
            TypeError,
            "callbacks must be Callback instances, received builtin_function_or_method",
        ),
    ],
)
def test_fit_rejects_nonsense_settings(
    model: Sequential, kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        model.fit(X, Y, **{"verbose": 0, **kwargs})
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_evaluate_and_predict_check_batch_size(model: Sequential, batch_size: Any) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.evaluate(X, Y, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.predict(X, batch_size=batch_size)


def test_batch_size_none_means_32(model: Sequential) -> None:
    model.fit(np.ones((70, 3)), np.zeros(70), batch_size=None, epochs=1, verbose=0)
    assert model.optimizer.iterations == 3


# -- order of calls -----------------------------------------------------------------------------
def test_fit_and_evaluate_before_compile() -> None:
    m = Sequential([Input((3,)), Dense(1)])
    with pytest.raises(RuntimeError, match=r"You must call compile\(\) before fit\(\)"):
        m.fit(X, Y)
    with pytest.raises(RuntimeError, match=r"You must call compile\(\) before evaluate\(\)"):
        m.evaluate(X, Y)
    assert m.predict(X).shape == (10, 1)  # predict needs no compile, as in Keras


def test_weights_before_build() -> None:
    m = Sequential([Dense(1)])
    for call in (m.get_weights, m.count_params, lambda: m.set_weights([])):
        with pytest.raises(ValueError, match=r"no weights yet.*build\(\(None, features\)\)"):
            call()


def test_build_with_another_shape_than_the_input_is_rejected() -> None:
    """Keras: "Sequential model ... has already been configured to use input shape (None, 3).
    You cannot build it with input_shape (None, 5)" -- not a silent re-initialisation."""
    m = _model()
    with pytest.raises(ValueError, match=r"input shape.*\(None, 3\)"):
        m.build((None, 5))
    assert m.get_weights()[0].shape == (3, 4)


def test_building_or_compiling_an_empty_model() -> None:
    with pytest.raises(ValueError, match="no layers to build"):
        Sequential().build((None, 3))
    with pytest.raises(ValueError, match="Add layers to the model before compiling"):
        Sequential().compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="The input feature count must be a positive integer"):
        Sequential([Dense(1)]).build((None, 0))


def test_a_model_stays_on_its_backend(xp: Any) -> None:
    m = _model()
    other = "numpy" if xpnn.get_backend().name != "numpy" else "strict"
    with xpnn.use_backend(other):
        with pytest.raises(RuntimeError, match="weights live on another backend"):
            m.predict(X)
        with pytest.raises(RuntimeError, match="save and load_model it on the new backend"):
            m.fit(X, Y, verbose=0)


# -- names and constructor arguments ------------------------------------------------------------
def test_unknown_names() -> None:
    m = Sequential([Input((3,)), Dense(1)])
    expected = "Unknown optimizer 'lion'.*adagrad, adam, adamax, adamw, nadam, rmsprop, sgd"
    with pytest.raises(ValueError, match=expected):
        m.compile(optimizer="lion", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss 'poisson'.*binary_crossentropy"):
        m.compile(optimizer="adam", loss="poisson")
    with pytest.raises(ValueError, match="Unknown metric 'f1_score'.*accuracy"):
        m.compile(optimizer="adam", loss="mse", metrics=["f1_score"])
    with pytest.raises(ValueError, match="Unknown activation 'sigmpid'.*relu, sigmoid"):
        Dense(3, activation="sigmpid")
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'.*glorot_uniform"):
        Dense(3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match=r"kernel_form must be one of 'loop', 'matrix'"):
        Dense(3, kernel_form="vector")


def test_compile_needs_a_loss() -> None:
    m = Sequential([Input((3,)), Dense(1)])
    with pytest.raises(ValueError, match=r"compile\(\) needs a loss, e.g. loss="):
        m.compile(optimizer="adam")
    with pytest.raises(TypeError, match="metrics must be a list of metric names or Metric"):
        m.compile(optimizer="adam", loss="mse", metrics="accuracy")


@pytest.mark.parametrize("units", [0, -1, 2.5, "3", True, None])
def test_dense_units_must_be_a_positive_integer(units: Any) -> None:
    with pytest.raises(
        ValueError,
        match=rf"invalid value for `units`, expected a positive integer. Received: units={units!r}",
    ):
        Dense(units)


def test_dense_accepts_numpy_integers() -> None:
    assert Dense(np.int64(3)).units == 3


def test_other_constructor_errors() -> None:
    with pytest.raises(ValueError, match=r"Input shape must be a tuple of positive integers"):
        Input((28, 0))
    with pytest.raises(ValueError, match=r"Input shape must be a tuple of positive integers"):
        Input(())
    with pytest.raises(ValueError, match=r"received \(0,\)"):
        Input((0,))
    with pytest.raises(ValueError, match="kernel must be one of 'loop', 'matrix'"):
        Sequential([Dense(1)], kernel="vector")
    with pytest.raises(
        ValueError, match="dtype must be 'float32' or 'float64', received 'float16'"
    ):
        Sequential([Dense(1)], dtype="float16")
    with pytest.raises(TypeError, match="seed must be an integer or None, received 1.5"):
        Sequential([Dense(1)], seed=1.5)
    with pytest.raises(TypeError, match="Sequential takes Input and xpnn layers, received str"):
        Sequential([Dense(1), "relu"])
    with pytest.raises(TypeError, match="layers must be a list of layers, received Dense"):
        Sequential(Dense(1))
    with pytest.raises(ValueError, match="Input can only be the first entry"):
        Sequential([Dense(1), Input((2,))])
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Dense(1, name="")


def test_from_logits_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="from_logits must be True or False, received 'yes'"):
        losses.BinaryCrossentropy(from_logits="yes")


# -- lenient inputs: lists and integer arrays are cast to the model's dtype --------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lists_and_integer_arrays_are_accepted_and_cast(xp: Any, dtype: str) -> None:
    x_int = np.array([[1, 2, 3], [0, 1, 0], [3, 2, 1], [1, 1, 1]], dtype=np.int16)
    y_int = np.array([0, 1, 0, 1])

    def run(x: Any, y: Any) -> tuple[list[float], np.ndarray]:
        m = _model(dtype=dtype)
        history = m.fit(x, y, epochs=2, batch_size=2, verbose=0).history["loss"]
        return history, m.predict(x)

    reference = run(x_int.astype(dtype), y_int.astype(dtype))
    for x, y in [
        (x_int.tolist(), y_int.tolist()),
        (x_int, y_int),
        (x_int.astype(np.uint8), y_int.astype(np.int8)),
        (x_int.astype(np.float64), y_int.astype(dtype)),
    ]:
        history, predicted = run(x, y)
        assert history == reference[0]
        assert predicted.dtype == dtype
        np.testing.assert_array_equal(predicted, reference[1])
    m = _model(dtype=dtype)
    assert m.predict([[1, 2, 3]]).dtype == dtype
    assert type(m.evaluate([[1, 2, 3]], [1])) is list


def test_float64_targets_are_cast_to_a_float32_model(xp: Any) -> None:
    """NumPy's default float64 targets train a float32 model exactly as float32 targets do
    (Keras casts y_true to the loss's float32); left as float64 they make the loss run in
    mixed precision -- other numbers, and float64 work on a GPU."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.uniform(size=16)  # float64
    histories = []
    for targets in (y, y.astype(np.float32)):
        m = _model()
        histories.append(m.fit(x, targets, epochs=2, batch_size=4, verbose=0).history["loss"])
    assert histories[0] == histories[1]


def test_integer_targets_keep_their_value_in_a_float64_model(xp: Any) -> None:
    """Integer targets are cast to the model's float dtype; in a float64 model 2**24 + 1 must
    stay 2**24 + 1, not round to float32's 2**24."""
    m = Sequential([Input((1,)), Dense(1)], dtype="float64", seed=0)
    m.set_weights([np.zeros((1, 1)), np.zeros(1)])
    m.compile(optimizer="sgd", loss="mse")
    target = 2**24 + 1
    assert m.evaluate(np.zeros((1, 1)), np.array([target])) == float(target) ** 2
    assert m.evaluate(np.zeros((1, 1)), [target]) == float(target) ** 2


# predict leaves the search for NaN and infinity to the blocks: a compiled Dense stack searches
# only when a block's first product is not finite (training.predict_arrays); the messages and
# the cases that are not errors stay those of the full search, wherever the value sits
BIG = np.random.default_rng(5).normal(size=(3_000, 40))


@pytest.mark.parametrize("at", [(0, 0), (1_100, 7), (2_999, 39)])  # first, middle, last block
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("batch_size", [32, 3_000])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_predict_finds_a_non_finite_value_in_any_block(
    at: tuple[int, int], value: float, batch_size: int, activation: str
) -> None:
    model = Sequential([Input((40,)), Dense(8, activation), Dense(2, activation)], seed=0)
    x = BIG.copy()
    x[at] = value
    message = (
        rf"predict\(\) input x contains NaN or infinity \(first at row {at[0]}, column {at[1]}\)"
    )
    with pytest.raises(ValueError, match=message):
        model.predict(x, batch_size=batch_size)


def test_predict_reports_a_float64_value_beyond_float32() -> None:
    model = Sequential([Input((40,)), Dense(8, "relu"), Dense(1)], seed=0)
    x = BIG.copy()
    x[2_000, 3] = 1e300  # finite in float64, inf once cast to the model's float32
    with pytest.raises(ValueError, match=r"beyond the range of the model's dtype float32"):
        model.predict(x, batch_size=3_000)


def test_predict_of_finite_data_that_overflows_or_nan_weights_is_not_an_input_error() -> None:
    """A product can be infinite without a bad input (huge values, or a NaN weight):
    predict then returns what the network computes, as without the deferred search."""
    model = Sequential([Input((40,)), Dense(8, "relu"), Dense(1)], seed=0, dtype="float32")
    x = BIG.copy()
    x[1_500] = 3e38  # finite in float32; its row of the first product overflows
    out = model.predict(x, batch_size=3_000)
    assert np.isfinite(out[:1_500]).all() and np.isfinite(out[1_501:]).all()
    model.layers[0].kernel[0, 0] = np.nan  # (set_weights refuses it)
    assert np.isnan(model.predict(BIG, batch_size=3_000)).all()


# fit searches x whole the first time it sees an array; given the same array again, it leaves
# the search to the compiled pass, which checks each batch as it gathers it (model.fit,
# training.Trainer.run). A value changed in place since is still found, before the step that
# would use it: the weights stay finite and the error is the full search's.
FIT_X = np.random.default_rng(6).normal(size=(1_000, 40)).astype(np.float32)
FIT_Y = (FIT_X[:, 0] > 0).astype(np.float32)


def _fit_model(units: int) -> Sequential:
    model = Sequential([Input((40,)), Dense(units, "relu"), Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count fit's whole searches of x (inputs.scan_x, wherever it is called from)."""
    calls: list[int] = []
    search = xpnn.inputs.scan_x

    def counted(*args: Any) -> None:
        calls.append(1)
        search(*args)

    monkeypatch.setattr(xpnn.inputs, "scan_x", counted)
    return calls


# batches of 10 KB on one thread; of 80 KB, gathered in parts across the team (fused/team.py)
@pytest.mark.parametrize("batch", [64, 512])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("at", [(0, 0), (517, 13), (999, 39)])
def test_a_value_made_non_finite_between_fits_is_still_found(
    batch: int, value: float, at: tuple[int, int]
) -> None:
    model = _fit_model(8)
    x = FIT_X.copy()
    model.fit(x, FIT_Y, epochs=1, batch_size=batch, verbose=0)
    model.fit(x, FIT_Y, epochs=1, batch_size=batch, verbose=0)
    x[at] = value
    message = rf"^fit\(\) input x contains NaN or infinity \(first at row {at[0]}, column {at[1]}\)"
    with pytest.raises(ValueError, match=message):
        model.fit(x, FIT_Y, epochs=2, batch_size=batch, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):  # now searched whole, before any step
        model.fit(x, FIT_Y, epochs=1, batch_size=batch, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.skipif(not xpnn.fused.cpu.STACK_ENABLED, reason="no compiled pass: x searched whole")
def test_a_second_fit_on_the_same_array_leaves_the_search_to_the_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _searches(monkeypatch)
    model = _fit_model(8)
    x = FIT_X.copy()
    model.fit(x, FIT_Y, epochs=1, batch_size=64, verbose=0)
    assert len(calls) == 1
    model.fit(x, FIT_Y, epochs=2, batch_size=64, verbose=0)
    assert len(calls) == 1
    # a new array, a converted copy, data held out for validation, weighted samples (no
    # compiled pass): each searched whole
    model.fit(x.copy(), FIT_Y, epochs=1, batch_size=64, verbose=0)
    assert len(calls) == 2
    model.fit(x.astype(np.float64), FIT_Y, epochs=1, batch_size=64, verbose=0)
    assert len(calls) == 3
    model.fit(x, FIT_Y, epochs=1, batch_size=64, verbose=0)  # x was not the last one searched
    assert len(calls) == 4
    model.fit(x, FIT_Y, epochs=1, batch_size=64, verbose=0, validation_split=0.2)
    assert len(calls) == 5
    model.fit(x, FIT_Y, epochs=1, batch_size=64, verbose=0, sample_weight=np.ones(1_000))
    assert len(calls) == 6


def test_a_pass_finding_no_value_behind_its_alarm_still_refuses() -> None:
    """Where the pass saw a NaN that the whole search no longer finds (x changed from another
    thread meanwhile), fit raises naming the step rather than going on."""
    model = _fit_model(8)
    with pytest.raises(ValueError, match=r"batch of step 3 of epoch 2 \(x changed during"):
        xpnn.training._refuse_batch(model, FIT_X, 1, 3)
