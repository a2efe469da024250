"""Edges of training a user meets: a diverging run, a learning rate set from NumPy, one optimizer
in two models, validation data of the wrong width, and fit's and evaluate's loss agreeing."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, optimizers

from helpers import blobs


def _model(lr: float = 1e-3, **kwargs: Any) -> Sequential:
    kwargs.setdefault("seed", 0)
    model = Sequential([Input((4,)), Dense(8, "relu"), Dense(1, "sigmoid")], **kwargs)
    model.compile(optimizer=optimizers.SGD(lr), loss="binary_crossentropy")
    return model


def _binary(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x, labels = blobs(n, 4, 2, seed=7)
    return x, labels.astype(np.float32)


def test_a_diverging_run_warns_once_naming_epoch_and_step(xp: Any) -> None:
    x, y = _binary()
    model = Sequential([Input((4,)), Dense(8, "relu"), Dense(1, "linear")], seed=0)
    model.compile(optimizer=optimizers.SGD(1e6), loss="mse")
    with pytest.warns(RuntimeWarning, match=r"NaN or infinite at epoch 1, step \d+") as record:
        history = model.fit(x, y * 1e3, epochs=3, batch_size=8, verbose=0)
    assert len([w for w in record if "NaN or infinite" in str(w.message)]) == 1
    assert np.isnan(history.history["loss"][-1]) or np.isinf(history.history["loss"][-1])


def test_the_warning_names_the_first_bad_step(xp: Any) -> None:
    """The step named is the first whose loss is not finite: a weight poisoned before the
    epoch makes the first step's loss NaN."""
    x, y = _binary(40)
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # builds, nothing wrong
    # set_weights refuses NaN, so poison the buffer the way a diverging step would
    model._params[0:1] = xpnn.to_device(np.array([np.nan], dtype=np.float32))
    with pytest.warns(RuntimeWarning, match=r"at epoch 1, step 1\b"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)


def test_a_finite_run_does_not_warn(xp: Any) -> None:
    x, y = _binary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model().fit(x, y, epochs=2, batch_size=8, verbose=0)


def test_a_numpy_learning_rate_is_a_float_and_saves(tmp_path: Path) -> None:
    x, y = _binary()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    model.optimizer.learning_rate = np.float32(1e-4)  # as a schedule callback would
    assert type(model.optimizer.learning_rate) is float
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert loaded.optimizer.learning_rate == pytest.approx(1e-4)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "fast", None])
def test_a_bad_learning_rate_is_refused_when_set(bad: Any) -> None:
    opt = optimizers.Adam()
    with pytest.raises((TypeError, ValueError), match="learning_rate"):
        opt.learning_rate = bad
    assert opt.learning_rate == 1e-3


def test_one_optimizer_in_two_models_is_refused() -> None:
    opt = optimizers.Adam()
    first = Sequential([Input((4,)), Dense(1, "sigmoid")], name="first")
    first.compile(optimizer=opt, loss="binary_crossentropy")
    first.compile(optimizer=opt, loss="binary_crossentropy")  # the same model again is fine
    second = Sequential([Input((4,)), Dense(1, "sigmoid")], name="second")
    with pytest.raises(ValueError, match=r"already compiled into model 'first'.*own optimizer"):
        second.compile(optimizer=opt, loss="binary_crossentropy")


def test_fit_and_evaluate_agree_on_the_loss_to_the_last_digit(xp: Any) -> None:
    """A batch's loss comes from one function in fit and evaluate: with the learning rate at
    its smallest, fit's epoch loss (one batch) equals evaluate's on the weights it started
    from."""
    x, y = _binary(32)
    for loss, last in [("binary_crossentropy", "sigmoid"), ("mse", "linear")]:
        model = Sequential([Input((4,)), Dense(5, "tanh"), Dense(1, last)], seed=1)
        model.compile(optimizer=optimizers.SGD(1e-30), loss=loss)
        before = model.evaluate(x, y, batch_size=32)
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
        assert history.history["loss"][0] == before


def test_epoch_sums_are_float64(xp: Any) -> None:
    x, y = _binary()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    assert model._trainer.totals.dtype == np.float64


def test_loading_a_seedless_model_draws_nothing_from_the_global_sequence(tmp_path: Path) -> None:
    """Models built after a load get the weights they would have got without it."""
    xpnn.set_random_seed(123)
    _model(seed=None).save(tmp_path / "m.xpnn")
    xpnn.set_random_seed(5)
    expected = Sequential([Input((4,)), Dense(3)]).get_weights()
    xpnn.set_random_seed(5)
    xpnn.load_model(tmp_path / "m.xpnn")
    got = Sequential([Input((4,)), Dense(3)]).get_weights()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_monitoring_val_loss_without_validation_is_refused_before_training() -> None:
    x, y = _binary()
    model = _model()
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*validation_data"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[xpnn.EarlyStopping()])
    assert model.optimizer.iterations == 0  # nothing was trained
    model.fit(x, y, epochs=1, verbose=0, callbacks=[xpnn.EarlyStopping()], validation_split=0.25)


def test_validation_data_of_the_wrong_width_is_refused_before_training() -> None:
    """A model built by fit itself (no Input) checks validation_data against the training x."""
    x, y = _binary()
    model = Sequential([Dense(8, "relu"), Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"validation_data x with 4 features.*received 3"):
        model.fit(x, y, validation_data=(x[:, :3], y), epochs=1, verbose=0)
    assert model.optimizer.iterations == 0


def test_terminate_on_nan_stops_a_diverging_fit(xp: Any) -> None:
    x, y = _binary()
    model = Sequential([Input((4,)), Dense(8, "relu"), Dense(1, "linear")], seed=0)
    model.compile(optimizer=optimizers.SGD(1e6), loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x, y * 1e3, epochs=20, batch_size=8, verbose=0, callbacks=[xpnn.TerminateOnNaN()]
        )
    assert len(history.history["loss"]) < 20
