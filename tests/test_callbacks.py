"""Callbacks: EarlyStopping stops and restores as Keras 3 does (NaN never counts as best);
TerminateOnNaN stops a diverging run; check_monitors refuses a key the logs will not have
before training; custom callbacks see every epoch with host floats; a callback can stop
training; ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler and CSVLogger act on real
fits (their decisions against Keras's own are in test_callbacks_keras.py); wants_batch_hooks
asks fit for the per-batch hooks only when a callback has one."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential
from xpnn.callbacks import (
    CSVLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    wants_batch_hooks,
)

from helpers import blobs


def _setup(seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = Sequential([Input((3,)), Dense(4, "tanh"), Dense(1, "sigmoid")], seed=seed)
    model.compile(
        optimizer=xpnn.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model, x, y


class Recorder(xpnn.Callback):
    """Keeps every hook call, and the weights and logs at each epoch's end."""

    def on_train_begin(self, logs: Any = None) -> None:
        self.calls: list[tuple[Any, ...]] = [("train_begin",)]
        self.weights: list[list[np.ndarray]] = []
        self.logs: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.calls.append(("epoch_end", epoch))
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))

    def on_train_end(self, logs: Any = None) -> None:
        self.calls.append(("train_end",))


class Scripted(xpnn.Callback):
    """Puts a scripted value under ``key`` in the logs, so EarlyStopping's decisions are exact.
    It must come before the EarlyStopping in the callbacks list."""

    def __init__(self, key: str, values: Iterable[float]) -> None:
        super().__init__()
        self.key, self.values = key, iter(values)
        self.adds_to_logs = (key,)  # so that check_monitors knows the key will be there

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs[self.key] = next(self.values)


def _fit(model: Sequential, x: Any, y: Any, epochs: int, *callbacks: xpnn.Callback) -> Any:
    return model.fit(x, y, epochs=epochs, verbose=0, callbacks=list(callbacks))


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a, b))


def _diverging(seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    """A model whose weights overflow to NaN within the first epoch (learning rate 1e10)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.full(3, 1e3, dtype=np.float32)
    model = Sequential([Input((3,)), Dense(4, "relu"), Dense(1)], seed=seed)
    model.compile(optimizer=xpnn.optimizers.SGD(1e10), loss="mse")
    return model, x, y


class FakeModel:
    """Just what EarlyStopping touches: weights to get and set (refusing NaN, as the model
    does) and the stop flag."""

    def __init__(self) -> None:
        self.weights = [np.zeros(2)]
        self.stop_training = False
        self.restored: list[np.ndarray] | None = None

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError("Weight 0 must be finite numbers.")
        self.weights = self.restored = weights


def _drive(stop: xpnn.Callback, epochs: list[tuple[float, float]], key: str = "s") -> FakeModel:
    """Run ``stop`` over epochs of (monitored value, weight value) on a FakeModel."""
    model = FakeModel()
    stop.set_model(model)
    stop.on_train_begin()
    for epoch, (value, weight) in enumerate(epochs):
        model.weights = [np.full(2, weight)]
        stop.on_epoch_end(epoch, {key: value})
        if model.stop_training:
            break
    stop.on_train_end()
    return model


# -- EarlyStopping ------------------------------------------------------------------------------
def test_early_stopping_defaults_are_keras() -> None:
    stop = xpnn.EarlyStopping()
    assert (stop.monitor, stop.patience, stop.restore_best_weights, stop.start_from_epoch) == (
        "val_loss",
        0,
        False,
        0,
    )
    assert stop.mode == "min" and stop.baseline is None


def test_early_stopping_stops_and_restores_the_best_weights(xp: Any) -> None:
    model, x, y = _setup()
    recorder = Recorder()
    stop = xpnn.EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    values = [0.5, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]  # best at epoch 1, then worse
    history = _fit(model, x, y, 8, Scripted("score", values), recorder, stop)
    assert len(history.history["loss"]) == 4 < 8  # epoch 1 best, then two without improvement
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 0.4
    assert model.stop_training
    assert _same(model.get_weights(), recorder.weights[1])
    assert not _same(model.get_weights(), recorder.weights[-1])


def test_early_stopping_without_restore_keeps_the_last_weights(xp: Any) -> None:
    model, x, y = _setup()
    recorder = Recorder()
    stop = xpnn.EarlyStopping(monitor="score", patience=1)
    _fit(model, x, y, 8, Scripted("score", [0.5, 0.4, 0.6, 0.7, 0.8]), recorder, stop)
    assert len(recorder.weights) == 3
    assert _same(model.get_weights(), recorder.weights[-1])


def test_restore_best_weights_on_real_validation_loss(xp: Any) -> None:
    model, x, y = _setup(3)
    model.compile(optimizer=xpnn.optimizers.SGD(3.0), loss="binary_crossentropy")  # erratic
    recorder = Recorder()
    stop = xpnn.EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=40, validation_split=0.3, verbose=0, callbacks=[recorder, stop]
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert stop.best_epoch == best and stop.best == val[best]
    assert 0 < stop.stopped_epoch < 39 and len(val) == stop.stopped_epoch + 1
    assert stop.stopped_epoch == best + 2  # patience 2: two epochs without improvement
    assert _same(model.get_weights(), recorder.weights[best])


def test_restore_best_weights_also_when_training_runs_to_the_end() -> None:
    """Keras 3 restores the best weights in on_train_end whenever it has them, not only after
    an early stop (keras/src/callbacks/early_stopping.py)."""
    model, x, y = _setup()
    recorder = Recorder()
    stop = xpnn.EarlyStopping(monitor="score", patience=10, restore_best_weights=True)
    _fit(model, x, y, 4, Scripted("score", [0.5, 0.3, 0.6, 0.7]), recorder, stop)
    assert stop.stopped_epoch == 0  # never stopped: patience outlasts the run
    assert _same(model.get_weights(), recorder.weights[1])


def test_mode_auto_picks_max_for_accuracy(xp: Any) -> None:
    for monitor, mode in [
        ("val_accuracy", "max"),
        ("accuracy", "max"),
        ("acc", "max"),
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mae", "min"),
    ]:
        assert xpnn.EarlyStopping(monitor=monitor).mode == mode, monitor
    # rising accuracy is improvement: no stop while it rises, a stop once it falls
    model, x, y = _setup()
    stop = xpnn.EarlyStopping(monitor="score_accuracy", patience=0)
    history = _fit(model, x, y, 6, Scripted("score_accuracy", [0.5, 0.6, 0.7, 0.65, 0.9, 1]), stop)
    assert len(history.epoch) == 4 and stop.best == 0.7
    # the same numbers under mode="min" stop at the first rise
    model, x, y = _setup()
    stop = xpnn.EarlyStopping(monitor="score_accuracy", patience=0, mode="min")
    history = _fit(model, x, y, 6, Scripted("score_accuracy", [0.5, 0.6, 0.7, 0.65, 0.9, 1]), stop)
    assert len(history.epoch) == 2


def test_min_delta(xp: Any) -> None:
    model, x, y = _setup(1)
    stop = xpnn.EarlyStopping(monitor="loss", min_delta=10.0, patience=1)
    history = _fit(model, x, y, 10, stop)
    assert len(history.history["loss"]) == 2  # no epoch improves the loss by 10
    model, x, y = _setup(1)
    stop = xpnn.EarlyStopping(monitor="s", min_delta=0.05, patience=0)
    history = _fit(model, x, y, 10, Scripted("s", [1.0, 0.9, 0.87, 0.5]), stop)
    assert len(history.epoch) == 3  # 0.9 improves by 0.1; 0.87 by only 0.03


def test_baseline_and_start_from_epoch(xp: Any) -> None:
    values = [0.5, 0.4, 0.45, 0.44, 0.43, 0.42]
    model, x, y = _setup()
    history = _fit(model, x, y, 6, Scripted("s", values), xpnn.EarlyStopping("s", patience=2))
    assert len(history.epoch) == 4  # best at 1, patience 2
    model, x, y = _setup()
    stop = xpnn.EarlyStopping("s", patience=2, baseline=0.1)
    history = _fit(model, x, y, 6, Scripted("s", values), stop)
    assert len(history.epoch) == 3  # improvements that miss the baseline do not reset the wait
    model, x, y = _setup()
    stop = xpnn.EarlyStopping("s", patience=0, start_from_epoch=2)
    history = _fit(model, x, y, 6, Scripted("s", [1.0, 2.0, 3.0, 0.5, 0.6, 0.1]), stop)
    assert len(history.epoch) == 5 and stop.best_epoch == 3  # epochs 0 and 1 are not counted


def test_an_early_stopping_callback_can_be_reused(xp: Any) -> None:
    model, x, y = _setup()
    stop = xpnn.EarlyStopping(monitor="s", patience=0)
    assert len(_fit(model, x, y, 5, Scripted("s", [1, 2, 3]), stop).epoch) == 2
    # a second fit starts afresh: the old best (1) does not stop it at once
    assert len(_fit(model, x, y, 5, Scripted("s", [5, 4, 3, 4]), stop).epoch) == 4


def test_early_stopping_verbose_says_so(xp: Any, capsys: pytest.CaptureFixture) -> None:
    model, x, y = _setup()
    stop = xpnn.EarlyStopping(monitor="s", patience=0, verbose=1)
    _fit(model, x, y, 5, Scripted("s", [1, 2, 3]), stop)
    assert "Epoch 2: early stopping" in capsys.readouterr().out


def test_best_starts_at_infinity_so_nan_never_improves() -> None:
    """Keras 3 starts best at +inf (min) or -inf (max); NaN compares False to both."""
    assert xpnn.EarlyStopping("loss").best == np.inf
    assert xpnn.EarlyStopping("val_accuracy").best == -np.inf
    stop = xpnn.EarlyStopping("s", patience=1)
    _drive(stop, [(np.nan, 0.0), (np.nan, 0.0), (0.5, 0.0)])
    assert stop.stopped_epoch == 1 and stop.best == np.inf  # stopped before the 0.5
    stop = xpnn.EarlyStopping("s", patience=5, mode="max")
    _drive(stop, [(np.nan, 0.0), (0.1, 0.0), (np.nan, 0.0), (0.05, 0.0)])
    assert stop.best == 0.1 and stop.best_epoch == 1 and stop.wait == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow; fit may warn of divergence
def test_restore_best_weights_survives_a_run_that_is_nan_from_the_first_epoch(xp: Any) -> None:
    """The loss is NaN from epoch 0: nothing is best, nothing is restored, and fit returns its
    History (it used to count NaN as best and raise from set_weights at the end)."""
    model, x, y = _diverging()
    stop = xpnn.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True, verbose=1)
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[stop])
    assert np.isnan(history.history["loss"]).all() and len(history.epoch) == 2
    assert stop.best == np.inf and stop.best_weights is None and stop.stopped_epoch == 1


def test_restore_keeps_the_last_finite_weights_when_the_best_epoch_diverged(
    capsys: pytest.CaptureFixture,
) -> None:
    """An accuracy can be finite on NaN weights; those weights are not recorded, the last
    finite ones are restored, and the message says which epoch they are from."""
    stop = xpnn.EarlyStopping("val_accuracy", patience=1, restore_best_weights=True, verbose=1)
    model = _drive(stop, [(0.6, 1.0), (0.7, 2.0), (0.8, np.nan), (0.8, np.nan)], "val_accuracy")
    assert stop.best_epoch == 2 and stop.stopped_epoch == 3
    assert model.restored is not None and model.restored[0].tolist() == [2.0, 2.0]
    assert "the best epoch with finite weights: 2." in capsys.readouterr().out


def test_restore_records_the_first_weights_until_something_improves() -> None:
    """Keras 3: when the first monitored value is no improvement (here +inf), the weights at
    hand stand in as the best; they are restored if nothing better comes."""
    stop = xpnn.EarlyStopping("s", patience=1, restore_best_weights=True)
    model = _drive(stop, [(np.inf, 3.0), (np.inf, 4.0), (np.inf, 5.0)])
    assert model.restored is not None and model.restored[0].tolist() == [3.0, 3.0]
    stop = xpnn.EarlyStopping("s", patience=1, restore_best_weights=True, start_from_epoch=1)
    model = _drive(stop, [(0.1, 3.0), (np.inf, 4.0), (np.inf, 5.0)])
    assert model.restored is not None and model.restored[0].tolist() == [4.0, 4.0]


def test_no_restore_without_recorded_weights(capsys: pytest.CaptureFixture) -> None:
    stop = xpnn.EarlyStopping("s", patience=0, restore_best_weights=True, verbose=1)
    model = _drive(stop, [(np.nan, np.nan), (np.nan, np.nan)])
    assert model.restored is None and stop.best_weights is None
    assert "No epoch had finite weights to restore" in capsys.readouterr().out


def test_min_delta_counts_against_the_direction() -> None:
    """Keras: an improvement must beat best by more than |min_delta|, whatever its sign."""
    for min_delta in (0.1, -0.1):
        low = xpnn.EarlyStopping("s", min_delta=min_delta, patience=0)
        _drive(low, [(1.0, 0.0), (0.95, 0.0)])
        assert low.stopped_epoch == 1 and low.min_delta == -0.1
        high = xpnn.EarlyStopping("s", min_delta=min_delta, patience=0, mode="max")
        _drive(high, [(1.0, 0.0), (1.05, 0.0)])
        assert high.stopped_epoch == 1 and high.min_delta == 0.1


# -- check_monitors -----------------------------------------------------------------------------
def test_check_monitors_refuses_val_loss_without_validation_before_training() -> None:
    with pytest.raises(
        ValueError,
        match=r"^EarlyStopping monitors 'val_loss', which the epoch logs will not have \(they "
        r"will hold: loss, accuracy\); pass validation_data or validation_split to fit\(\), or "
        r"monitor 'loss'\.$",
    ):
        xpnn.callbacks.check_monitors([xpnn.EarlyStopping()], ["loss", "accuracy"])
    with pytest.raises(ValueError, match=r"monitors 'val_accuracy'.*or monitor 'accuracy'"):
        xpnn.callbacks.check_monitors([xpnn.EarlyStopping("val_accuracy")], ["loss", "accuracy"])


def test_check_monitors_suggests_the_key_meant() -> None:
    keys = ["loss", "accuracy", "val_loss", "val_accuracy"]
    with pytest.raises(ValueError, match=r"monitors 'val_acc'.*did you mean 'val_accuracy'\?"):
        xpnn.callbacks.check_monitors([xpnn.EarlyStopping("val_acc")], keys)
    xpnn.callbacks.check_monitors([xpnn.EarlyStopping("val_accuracy")], keys)  # fine


def test_check_monitors_is_generic_and_knows_what_callbacks_add() -> None:
    class WatchesSomething(xpnn.Callback):
        monitor = "val_f1"

    with pytest.raises(ValueError, match=r"^WatchesSomething monitors 'val_f1'.*adds_to_logs"):
        xpnn.callbacks.check_monitors([WatchesSomething()], ["loss", "val_loss"])
    scorer = Scripted("val_f1", [])
    xpnn.callbacks.check_monitors([scorer, WatchesSomething()], ["loss", "val_loss"])
    with pytest.raises(ValueError, match="must come before this one"):  # order matters
        xpnn.callbacks.check_monitors([WatchesSomething(), scorer], ["loss", "val_loss"])
    # callbacks that watch nothing pass, as does an empty list
    xpnn.callbacks.check_monitors([xpnn.History(), xpnn.TerminateOnNaN()], ["loss"])
    xpnn.callbacks.check_monitors([], [])


def test_a_missing_key_at_epoch_end_is_the_same_clear_error() -> None:
    """fit checks before training; a key missing anyway (a callback that promised it and did
    not add it) gets the same message, not a KeyError."""
    stop = xpnn.EarlyStopping()
    stop.set_model(FakeModel())
    stop.on_train_begin()
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*validation_data"):
        stop.on_epoch_end(0, {"loss": 0.5})


# -- TerminateOnNaN -----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow; fit may warn of divergence
def test_terminate_on_nan_stops_a_diverging_fit_after_the_first_epoch(
    xp: Any, capsys: pytest.CaptureFixture
) -> None:
    model, x, y = _diverging()
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[xpnn.TerminateOnNaN()])
    assert history.epoch == [0] and model.stop_training
    # at the first NaN batch where fit calls the batch hooks (test_callbacks_keras.py), else
    # at the end of the epoch
    out = capsys.readouterr().out
    assert re.fullmatch(r"(Batch \d|Epoch 1): Invalid loss, terminating training\n", out), out


def test_terminate_on_nan_leaves_a_healthy_run_alone(xp: Any) -> None:
    model, x, y = _setup()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[xpnn.TerminateOnNaN()])
    assert history.epoch == [0, 1, 2]


@pytest.mark.parametrize("loss", [np.nan, np.inf, -np.inf])
def test_terminate_on_nan_per_batch_and_per_epoch(loss: float) -> None:
    stop = xpnn.callbacks.TerminateOnNaN()
    model = FakeModel()
    stop.set_model(model)
    stop.on_train_begin()
    stop.on_batch_end(0, {"loss": 1.0})
    stop.on_batch_end(1, {})  # no loss: nothing to judge
    assert not model.stop_training
    stop.on_batch_end(2, {"loss": loss})
    assert model.stop_training
    raising = xpnn.TerminateOnNaN(raise_error=True)
    raising.set_model(FakeModel())
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at epoch 4\. Loss"):
        raising.on_epoch_end(3, {"loss": loss})
    with pytest.raises(RuntimeError, match=r"at batch 7\."):
        raising.on_batch_end(7, {"loss": loss})


def test_terminate_on_nan_reports_once(capsys: pytest.CaptureFixture) -> None:
    stop = xpnn.TerminateOnNaN()
    stop.set_model(FakeModel())
    stop.on_train_begin()
    stop.on_batch_end(5, {"loss": np.nan})
    stop.on_epoch_end(0, {"loss": np.nan})  # the same divergence, seen again at epoch end
    assert capsys.readouterr().out == "Batch 5: Invalid loss, terminating training\n"


def test_the_base_callback_has_a_batch_hook() -> None:
    assert xpnn.Callback().on_batch_end(0, {"loss": 1.0}) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patience": -1}, "patience must be a non-negative integer"),
        ({"patience": 1.5}, "patience must be a non-negative integer"),
        ({"mode": "up"}, "mode must be 'auto', 'min' or 'max'"),
    ],
)
def test_early_stopping_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xpnn.EarlyStopping(**kwargs)


# -- custom callbacks ---------------------------------------------------------------------------
def test_a_custom_callback_sees_every_hook_in_order(xp: Any) -> None:
    model, x, y = _setup()
    recorder = Recorder()
    model.fit(x, y, epochs=3, validation_split=0.2, verbose=0, callbacks=[recorder])
    assert recorder.model is model
    assert recorder.calls == [
        ("train_begin",),
        ("epoch_begin", 0),
        ("epoch_end", 0),
        ("epoch_begin", 1),
        ("epoch_end", 1),
        ("epoch_begin", 2),
        ("epoch_end", 2),
        ("train_end",),
    ]
    assert [list(logs) for logs in recorder.logs] == [
        ["loss", "accuracy", "val_loss", "val_accuracy"]
    ] * 3
    assert all(type(v) is float for logs in recorder.logs for v in logs.values())
    # the logs a callback sees are the History's numbers
    assert [logs["loss"] for logs in recorder.logs] == model.history.history["loss"]


def test_lambda_callback_receives_epoch_and_float_logs(xp: Any) -> None:
    model, x, y = _setup()
    seen: list[tuple[int, dict[str, float]]] = []
    began: list[int] = []
    ends: list[str] = []
    hook = xpnn.LambdaCallback(
        on_epoch_begin=lambda epoch, logs=None: began.append(epoch),
        on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))),
        on_train_begin=lambda logs=None: ends.append("begin"),
        on_train_end=lambda logs=None: ends.append("end"),
    )
    history = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0, callbacks=[hook])
    assert began == [1, 2] and [e for e, _ in seen] == [1, 2] and ends == ["begin", "end"]
    assert all(type(v) is float for _, logs in seen for v in logs.values())
    assert [logs["loss"] for _, logs in seen] == history.history["loss"]


def test_a_callback_can_stop_training(xp: Any) -> None:
    model, x, y = _setup()

    class StopAfterTwo(xpnn.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:
                self.model.stop_training = True

    recorder = Recorder()
    history = model.fit(x, y, epochs=9, verbose=0, callbacks=[StopAfterTwo(), recorder])
    assert history.epoch == [0, 1] and recorder.calls[-1] == ("train_end",)
    # the flag is cleared for the next fit
    assert len(model.fit(x, y, epochs=3, verbose=0).epoch) == 3


def test_callbacks_on_the_device_backends_see_host_numbers(xp: Any) -> None:
    """logs hold Python floats even where the loss was summed on the device."""
    model, x, y = _setup()
    seen: list[Any] = []
    model.fit(
        xpnn.to_device(x),
        xpnn.to_device(y.astype(np.float32)),
        epochs=2,
        verbose=0,
        callbacks=[xpnn.LambdaCallback(on_epoch_end=lambda e, logs: seen.extend(logs.values()))],
    )
    assert seen and all(type(v) is float for v in seen)


def test_history_plot_draws_or_says_what_to_install(tmp_path: Any) -> None:
    model, x, y = _setup()
    history = model.fit(x, y, epochs=2, verbose=0)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'xpnn\[plots\]'"):
            history.plot(path=str(tmp_path / "h.png"))
        return
    history.plot(path=str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").stat().st_size > 0


# -- the Callback base and the per-batch hooks ----------------------------------------------------
def test_the_base_callback_has_every_keras_hook_and_params() -> None:
    cb = xpnn.Callback()
    assert cb.model is None and cb.params is None
    cb.set_params({"epochs": 3, "steps": 2, "verbose": 0})
    assert cb.params == {"epochs": 3, "steps": 2, "verbose": 0}
    for hook in ["on_train_begin", "on_train_end", "on_test_begin", "on_test_end"]:
        assert getattr(cb, hook)({}) is None
    for hook in ["on_predict_begin", "on_predict_end"]:
        assert getattr(cb, hook)({}) is None
    for hook in [
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_batch_begin",
        "on_batch_end",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
    ]:
        assert getattr(cb, hook)(0, {}) is None


def test_the_old_batch_names_are_what_the_train_batch_hooks_call() -> None:
    """Keras: on_train_batch_begin/end call on_batch_begin/end, so a callback written with the
    old names (TerminateOnNaN's on_batch_end) runs when fit calls the new ones."""
    seen: list[tuple[str, int, Any]] = []

    class Old(xpnn.Callback):
        def on_batch_begin(self, batch: int, logs: Any = None) -> None:
            seen.append(("begin", batch, logs))

        def on_batch_end(self, batch: int, logs: Any = None) -> None:
            seen.append(("end", batch, logs))

    Old().on_train_batch_begin(3, {})
    Old().on_train_batch_end(3, {"loss": 0.5})
    assert seen == [("begin", 3, {}), ("end", 3, {"loss": 0.5})]
    stop = xpnn.TerminateOnNaN()
    stop.set_model(FakeModel())
    stop.on_train_batch_end(4, {"loss": np.nan})
    assert stop.model.stop_training


def _batch_callback(hook: str) -> xpnn.Callback:
    cls = type("Own", (xpnn.Callback,), {hook: lambda self, batch, logs=None: None})
    return cls()


class OwnCheckpoint(ModelCheckpoint):
    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        super().on_train_batch_end(batch, logs)


def test_wants_batch_hooks_only_where_a_callback_has_one(tmp_path: Path) -> None:
    path = str(tmp_path / "m.xpnn")
    quiet = [
        xpnn.History(),
        xpnn.EarlyStopping(),
        ReduceLROnPlateau(),
        LearningRateScheduler(lambda epoch, lr: lr),
        CSVLogger(str(tmp_path / "log.csv")),
        ModelCheckpoint(path),  # per epoch: no batch logs needed, no sync per step
        xpnn.LambdaCallback(on_epoch_end=print, on_train_end=print, on_test_end=print),
        _batch_callback("on_test_batch_end"),
    ]
    assert not wants_batch_hooks(quiet) and not wants_batch_hooks([])
    for wanting in [
        xpnn.TerminateOnNaN(),  # Keras checks every batch
        _batch_callback("on_train_batch_begin"),
        _batch_callback("on_train_batch_end"),
        _batch_callback("on_batch_begin"),
        _batch_callback("on_batch_end"),
        xpnn.LambdaCallback(on_train_batch_begin=print),
        xpnn.LambdaCallback(on_train_batch_end=print),
        xpnn.LambdaCallback(on_batch_end=print),
        ModelCheckpoint(path, save_freq=5),
        OwnCheckpoint(path),
    ]:
        assert wants_batch_hooks([*quiet, wanting]), wanting


# -- LambdaCallback -----------------------------------------------------------------------------
def test_lambda_callback_takes_every_keras_hook() -> None:
    seen: list[tuple[Any, ...]] = []
    hook = xpnn.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("b", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("e", batch, logs["loss"])),
        on_test_end=lambda logs: seen.append(("test_end",)),
    )
    hook.on_train_batch_begin(0, {})
    hook.on_train_batch_end(0, {"loss": 0.25})
    hook.on_test_end({})
    hook.on_epoch_end(0, {})  # not given: the base's, which does nothing
    assert seen == [("b", 0), ("e", 0, 0.25), ("test_end",)]


def test_lambda_callback_refuses_an_unknown_hook_or_a_non_function() -> None:
    with pytest.raises(TypeError, match=r"unknown hook\(s\) on_epoch_ends; the hooks are: "):
        xpnn.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match=r"on_epoch_end must be callable, received 3"):
        xpnn.LambdaCallback(on_epoch_end=3)


# -- ReduceLROnPlateau ---------------------------------------------------------------------------
def test_reduce_lr_on_plateau_defaults_are_keras() -> None:
    reduce = ReduceLROnPlateau()
    assert (reduce.monitor, reduce.factor, reduce.patience, reduce.verbose) == (
        "val_loss",
        0.1,
        10,
        0,
    )
    assert (reduce.mode, reduce.min_delta, reduce.cooldown, reduce.min_lr) == ("min", -1e-4, 0, 0.0)
    assert ReduceLROnPlateau("val_accuracy").mode == "max"
    assert reduce.adds_to_logs == ("learning_rate",)


def _blobs_model(lr: float = 0.1, seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    x, y = blobs(40, 3, 2, seed=seed)
    model = Sequential([Input((3,)), Dense(4, "tanh"), Dense(1, "sigmoid")], seed=seed)
    model.compile(xpnn.optimizers.SGD(lr), "binary_crossentropy", metrics=["accuracy"])
    return model, x, y


def test_reduce_lr_on_plateau_reaches_the_step(xp: Any) -> None:
    """The reduced rate is the one the training step uses: reduced to ~1e-31 after epoch 1,
    the float32 weights stop moving."""
    model, x, y = _blobs_model()
    recorder = Recorder()
    reduce = ReduceLROnPlateau("s", factor=1e-30, patience=0)  # reduces after epochs 1, 2, 3
    _fit(model, x, y, 4, Scripted("s", [1.0, 2.0, 3.0, 4.0]), reduce, recorder)
    rates = [logs["learning_rate"] for logs in recorder.logs]  # the rate each epoch used
    assert rates == pytest.approx([0.1, 0.1, 1e-31, 1e-61], rel=1e-9, abs=0)
    assert model.optimizer.learning_rate == pytest.approx(1e-91, rel=1e-9, abs=0)
    assert not _same(recorder.weights[0], recorder.weights[1])  # 0.1 moves the weights
    assert _same(recorder.weights[1], recorder.weights[2])


def test_reduce_lr_on_plateau_never_counts_nan_as_an_improvement() -> None:
    """Keras takes a NaN first value as the best, which nothing then beats, and reduces after
    every later epoch (test_callbacks_keras.py records it); here a NaN epoch is one without
    improvement and the values after it are judged as usual."""
    model, x, y = _blobs_model()
    recorder = Recorder()
    reduce = ReduceLROnPlateau("s", factor=0.5, patience=1)
    values = [np.nan, 1.0, 0.9, 0.9, 0.9, 0.9]
    _fit(model, x, y, 6, Scripted("s", values), reduce, recorder)
    rates = [logs["learning_rate"] for logs in recorder.logs]
    assert rates == pytest.approx([0.1, 0.05, 0.05, 0.05, 0.025, 0.0125])
    assert reduce.best == 0.9


def test_reduce_lr_on_plateau_says_so_and_starts_afresh(capsys: pytest.CaptureFixture) -> None:
    model, x, y = _blobs_model()
    reduce = ReduceLROnPlateau("s", patience=1, verbose=1, cooldown=3)
    _fit(model, x, y, 3, Scripted("s", [1.0, 2.0, 3.0]), reduce)
    expected = "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.010000000000000002.\n"
    assert capsys.readouterr().out == expected
    assert (reduce.best, reduce.wait, reduce.cooldown_counter) == (1.0, 0, 2)
    _fit(model, x, y, 1, Scripted("s", [5.0]), reduce)  # a new fit: no best, no cooldown
    assert (reduce.best, reduce.wait, reduce.cooldown_counter) == (5.0, 0, 0)


def test_reduce_lr_on_plateau_is_checked_before_training() -> None:
    model, x, y = _blobs_model()
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau monitors 'val_loss'.*validation"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ReduceLROnPlateau()])
    # the rate it puts in the logs may be watched by a callback after it
    watcher = xpnn.EarlyStopping("learning_rate", mode="max")
    xpnn.callbacks.check_monitors([ReduceLROnPlateau("loss"), watcher], ["loss"])
    with pytest.raises(ValueError, match="monitors 'learning_rate'"):
        xpnn.callbacks.check_monitors([watcher, ReduceLROnPlateau("loss")], ["loss"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": 1.0}, r"factor in \(0, 1\) .*received factor=1\.0\."),
        ({"factor": 0}, r"factor in \(0, 1\)"),
        ({"factor": "half"}, r"factor must be a number, received 'half'"),
        ({"patience": -1}, "patience must be a non-negative integer, received -1"),
        ({"cooldown": 1.5}, "cooldown must be a non-negative integer, received 1.5"),
        ({"min_lr": -0.1}, "min_lr must be a non-negative number, received -0.1"),
        ({"min_delta": None}, "min_delta must be a number, received None"),
        ({"mode": "down"}, "mode must be 'auto', 'min' or 'max', received 'down'"),
    ],
)
def test_reduce_lr_on_plateau_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReduceLROnPlateau(**kwargs)


# -- LearningRateScheduler -----------------------------------------------------------------------
def test_learning_rate_scheduler_reaches_the_step(xp: Any, capsys: pytest.CaptureFixture) -> None:
    """The scheduled rate is the one the training step uses: at 1e-30 the weights stop."""
    model, x, y = _blobs_model()
    initial = model.get_weights()
    recorder = Recorder()
    scheduler = LearningRateScheduler(lambda epoch, lr: 0.5 if epoch == 0 else 1e-30, verbose=1)
    _fit(model, x, y, 3, scheduler, recorder)
    assert not _same(initial, recorder.weights[0])
    assert _same(recorder.weights[0], recorder.weights[1])  # 1e-30 moves no float32 weight
    assert _same(recorder.weights[1], recorder.weights[2])
    assert [logs["learning_rate"] for logs in recorder.logs] == [0.5, 1e-30, 1e-30]
    assert capsys.readouterr().out == "".join(
        f"\nEpoch {e}: LearningRateScheduler setting learning rate to {r}.\n"
        for e, r in [(1, 0.5), (2, 1e-30), (3, 1e-30)]
    )


def test_learning_rate_scheduler_takes_either_form_of_schedule() -> None:
    model, x, y = _blobs_model()
    seen: list[tuple[Any, ...]] = []
    _fit(model, x, y, 2, LearningRateScheduler(lambda epoch: seen.append((epoch,)) or 0.25))
    assert seen == [(0,), (1,)] and model.optimizer.learning_rate == 0.25

    def schedule(epoch: int, lr: float) -> Any:
        seen.append((epoch, lr))
        return np.float32(0.5) if epoch == 0 else 2  # NumPy floats and ints are numbers too

    seen.clear()
    _fit(model, x, y, 2, LearningRateScheduler(schedule))
    assert seen == [(0, 0.25), (1, 0.5)] and model.optimizer.learning_rate == 2.0


def test_a_type_error_inside_the_schedule_is_not_hidden() -> None:
    """Keras calls schedule(epoch) after any TypeError from schedule(epoch, lr), which hides
    the schedule's own error behind a confusing second one; the signature decides here."""

    def schedule(epoch: int, lr: float) -> float:
        return lr * "0.5"  # type: ignore[operator]

    model, x, y = _blobs_model()
    with pytest.raises(TypeError, match="can't multiply sequence"):
        _fit(model, x, y, 1, LearningRateScheduler(schedule))


@pytest.mark.parametrize("value", [None, "0.1", 0, -0.1, np.nan, np.inf, True, [0.1]])
def test_learning_rate_scheduler_refuses_what_is_not_a_rate(value: Any) -> None:
    model, x, y = _blobs_model()
    scheduler = LearningRateScheduler(lambda epoch, lr: value)
    with pytest.raises(
        ValueError,
        match=r"^LearningRateScheduler: schedule\(0, 0\.1\) returned .*; the schedule must "
        r"return a positive finite number, the new learning rate\.$",
    ):
        _fit(model, x, y, 1, scheduler)
    assert model.optimizer.learning_rate == 0.1  # left as it was
    with pytest.raises(TypeError, match=r"schedule must be a function \(epoch, lr\)"):
        LearningRateScheduler(0.1)  # type: ignore[arg-type]


# -- ModelCheckpoint -----------------------------------------------------------------------------
def test_model_checkpoint_defaults_are_keras(tmp_path: Path) -> None:
    cb = ModelCheckpoint(tmp_path / "m.keras")
    assert cb.filepath == str(tmp_path / "m.keras")  # a PathLike becomes its string
    assert (cb.monitor, cb.verbose, cb.save_best_only, cb.save_weights_only) == (
        "val_loss",
        0,
        False,
        False,
    )
    assert (cb.mode, cb.save_freq, cb.best) == ("min", "epoch", None)
    assert ModelCheckpoint("m.xpnn", "val_accuracy").mode == "max"
    assert ModelCheckpoint("m.xpnn", initial_value_threshold=0.5).best == 0.5


def test_model_checkpoint_keeps_the_best_model(xp: Any, tmp_path: Path) -> None:
    """save_best_only on the real val_loss: the file holds the best epoch's model, which
    load_model gives back with its weights."""
    model, x, y = _blobs_model(lr=3.0, seed=3)  # erratic, so that some epochs are worse
    recorder = Recorder()
    path = tmp_path / "best.xpnn"
    checkpoint = ModelCheckpoint(path, save_best_only=True)
    history = model.fit(
        x, y, epochs=12, validation_split=0.3, verbose=0, callbacks=[checkpoint, recorder]
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert checkpoint.best == val[best]
    assert _same(xpnn.load_model(str(path)).get_weights(), recorder.weights[best])


@pytest.mark.parametrize("suffix", [".keras", ".xpnn"])
def test_model_checkpoint_saves_a_model_with_model_save(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both suffixes go to model.save, which picks the format by suffix."""
    model, x, y = _blobs_model()
    saved: list[str] = []
    monkeypatch.setattr(model, "save", saved.append)
    pattern = str(tmp_path / "new" / f"{{epoch}}-{{loss:.1f}}{suffix}")
    _fit(model, x, y, 2, Scripted("loss", [0.25, 0.5]), ModelCheckpoint(pattern))
    assert saved == [str(tmp_path / "new" / f"{n}{suffix}") for n in ("1-0.2", "2-0.5")]
    assert (tmp_path / "new").is_dir()  # a missing folder is made, as Keras does


@pytest.mark.parametrize("suffix", [".weights.h5", ".weights.npz"])
def test_model_checkpoint_saves_weights_with_save_weights(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, x, y = _blobs_model()
    saved: list[str] = []
    monkeypatch.setattr(model, "save_weights", saved.append, raising=False)
    monkeypatch.setattr(model, "save", lambda path: pytest.fail("save_weights_only saves weights"))
    checkpoint = ModelCheckpoint(
        str(tmp_path / f"w{{epoch}}{suffix}"), "s", save_best_only=True, save_weights_only=True
    )
    _fit(model, x, y, 3, Scripted("s", [0.3, 0.4, 0.2]), checkpoint)
    assert saved == [str(tmp_path / f"w{n}{suffix}") for n in (1, 3)]


@pytest.mark.parametrize("suffix", [".weights.npz", ".weights.h5"])
def test_weights_checkpoints_load_back(suffix: str, tmp_path: Path) -> None:
    if suffix.endswith(".h5"):
        pytest.importorskip("h5py")
    model, x, y = _blobs_model()
    recorder = Recorder()
    path = tmp_path / f"best{suffix}"
    checkpoint = ModelCheckpoint(path, "s", save_best_only=True, save_weights_only=True)
    _fit(model, x, y, 3, Scripted("s", [0.3, 0.2, 0.4]), checkpoint, recorder)
    fresh, _, _ = _blobs_model(seed=1)
    fresh.load_weights(str(path))
    assert _same(fresh.get_weights(), recorder.weights[1])


def test_model_checkpoint_never_takes_nan_as_the_best(tmp_path: Path) -> None:
    """Keras saves a NaN first epoch and then no better one (test_callbacks_keras.py)."""
    model, x, y = _blobs_model()
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.xpnn"), "s", save_best_only=True)
    _fit(model, x, y, 4, Scripted("s", [np.nan, 0.5, np.nan, 0.4]), checkpoint)
    assert sorted(os.listdir(tmp_path)) == ["2.xpnn", "4.xpnn"] and checkpoint.best == 0.4


def test_model_checkpoint_keeps_its_best_across_fits(tmp_path: Path) -> None:
    """As Keras: best is not reset by a new fit, so continuing training never overwrites the
    best checkpoint with a worse model."""
    model, x, y = _blobs_model()
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.xpnn"), "s", save_best_only=True)
    _fit(model, x, y, 2, Scripted("s", [0.5, 0.4]), checkpoint)
    _fit(model, x, y, 2, Scripted("s", [0.45, 0.3]), checkpoint)
    assert sorted(os.listdir(tmp_path)) == ["1.xpnn", "2.xpnn"]  # the second fit's 2 is 0.3
    assert checkpoint.best == 0.3


def test_model_checkpoint_is_checked_before_training_only_when_it_reads_the_key(
    tmp_path: Path,
) -> None:
    model, x, y = _blobs_model()
    path = str(tmp_path / "m.xpnn")
    _fit(model, x, y, 1, ModelCheckpoint(path))  # the default val_loss is never read: fine
    with pytest.raises(ValueError, match=r"^ModelCheckpoint monitors 'val_loss'.*validation"):
        _fit(model, x, y, 1, ModelCheckpoint(path, save_best_only=True))


def test_model_checkpoint_per_batch_judges_the_running_logs(tmp_path: Path) -> None:
    model, x, y = _blobs_model()
    checkpoint = ModelCheckpoint(
        str(tmp_path / "{epoch}-{batch}.xpnn"), "loss", save_best_only=True, save_freq=1
    )
    checkpoint.set_model(model)
    checkpoint.on_train_begin({})
    checkpoint.on_epoch_begin(0, {})
    for batch, loss in enumerate([0.5, 0.6, 0.4]):
        checkpoint.on_train_batch_begin(batch, {})
        checkpoint.on_train_batch_end(batch, {"loss": loss})
    checkpoint.on_epoch_end(0, {"loss": 0.1})  # saving per batch: the epoch's end saves nothing
    assert sorted(os.listdir(tmp_path)) == ["1-1.xpnn", "1-3.xpnn"]
    with pytest.raises(ValueError, match=r"monitors 'loss', which the epoch logs will not have"):
        checkpoint.on_train_batch_end(3, {"accuracy": 0.5})


def test_model_checkpoint_file_errors(tmp_path: Path) -> None:
    model, x, y = _blobs_model()
    with pytest.raises(
        KeyError, match=r"filepath: '.*\{val_f1\}\.xpnn': it names 'val_f1', and the fields"
    ):
        _fit(model, x, y, 1, ModelCheckpoint(str(tmp_path / "{val_f1}.xpnn")))
    (tmp_path / "taken.xpnn").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath for ModelCheckpoint"):
        _fit(model, x, y, 1, ModelCheckpoint(str(tmp_path / "taken.xpnn")))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"filepath": "m.h5"}, ValueError, r"a whole model must end in '\.keras' or '\.xpnn', "),
        ({"filepath": "m.weights.h5"}, ValueError, r"must end in '\.keras' or '\.xpnn'"),
        (
            {"filepath": "m.keras", "save_weights_only": True},
            ValueError,
            r"weights \(save_weights_only=True\) must end in '\.weights\.h5' or "
            r"'\.weights\.npz', received filepath='m\.keras'\.",
        ),
        ({"filepath": 3}, TypeError, r"filepath must be a path \(str or PathLike\), received 3"),
        ({"save_freq": "batch"}, ValueError, r"save_freq must be 'epoch' or a positive integer"),
        ({"save_freq": 0}, ValueError, "received 0"),
        ({"save_freq": True}, ValueError, "received True"),
        ({"mode": "best"}, ValueError, "mode must be 'auto', 'min' or 'max', received 'best'"),
        ({"initial_value_threshold": "low"}, ValueError, "initial_value_threshold must be a"),
        (
            {"save_best_only": True, "save_freq": 10},
            ValueError,
            r"save_freq=10 judges save_best_only on the training batches' logs.*'val_loss'",
        ),
    ],
)
def test_model_checkpoint_arguments_are_checked(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    kwargs.setdefault("filepath", "m.xpnn")
    with pytest.raises(error, match=message):
        ModelCheckpoint(**kwargs)


# -- CSVLogger -----------------------------------------------------------------------------------
def test_csv_logger_writes_the_epoch_logs(xp: Any, tmp_path: Path) -> None:
    model, x, y = _blobs_model()
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[logger])
    assert logger.csv_file.closed  # closed at the end of training
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for column, key in enumerate(rows[0][1:], start=1):
        assert [float(r[column]) for r in rows[1:]] == history.history[key]  # every digit


def test_csv_logger_appends_a_header_only_to_an_empty_file(tmp_path: Path) -> None:
    model, x, y = _blobs_model()
    path = tmp_path / "log.csv"
    path.write_text("")
    _fit(model, x, y, 1, CSVLogger(path, separator="\t", append=True))
    _fit(model, x, y, 1, CSVLogger(path, separator="\t", append=True))
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch\taccuracy\tloss\tval_accuracy\tval_loss"
    assert [line.split("\t")[:1] for line in lines[1:]] == [["0"], ["0"]]
    assert [line.split("\t")[-2:] for line in lines[1:]] == [["NA", "NA"]] * 2


@pytest.mark.parametrize("separator", ["", ";;", "\n", 1])
def test_csv_logger_separator_is_one_character(separator: Any) -> None:
    with pytest.raises(ValueError, match=r"separator must be one character, received"):
        CSVLogger("log.csv", separator=separator)


def test_reduce_lr_on_plateau_stops_at_min_lr(capsys: pytest.CaptureFixture) -> None:
    """Once the rate is min_lr nothing more happens: no message, no new cooldown (Keras:
    only a rate above min_lr is reduced)."""
    model, x, y = _blobs_model()
    reduce = ReduceLROnPlateau("s", factor=0.25, patience=0, min_lr=0.05, cooldown=1, verbose=1)
    _fit(model, x, y, 6, Scripted("s", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), reduce)
    expected = "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n"
    assert capsys.readouterr().out == expected and model.optimizer.learning_rate == 0.05
    assert reduce.cooldown_counter == 0 and reduce.wait == 4  # counting, nothing to cut


@pytest.mark.parametrize("main", [True, False])
def test_only_rank_0_writes_and_prints_but_every_rank_decides(
    main: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """In a data-parallel job every rank gets the same epoch logs: all keep the same best and
    the same rate, and rank 0 alone writes the checkpoint and the CSV file and prints."""
    model, _, _ = _blobs_model()
    monkeypatch.setattr(xpnn.distributed, "current", lambda: SimpleNamespace(is_main=main))
    callbacks = [
        ModelCheckpoint(tmp_path / "m.xpnn", "s", verbose=1, save_best_only=True),
        CSVLogger(tmp_path / "log.csv"),
        ReduceLROnPlateau("s", patience=0, verbose=1),
        xpnn.EarlyStopping("s", patience=0, verbose=1),
    ]
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin({})
    for epoch, value in enumerate([0.5, 0.6]):
        for cb in callbacks:
            cb.on_epoch_end(epoch, {"loss": 1.0, "s": value})
    for cb in callbacks:
        cb.on_train_end({})
    assert callbacks[0].best == 0.5 and model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.stop_training
    assert sorted(os.listdir(tmp_path)) == (["log.csv", "m.xpnn"] if main else [])
    out = capsys.readouterr().out
    assert ("reducing learning rate" in out and "early stopping" in out) if main else out == ""


def test_a_silent_fit_does_not_look_for_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only ``verbose=1`` draws a bar, so only it asks whether tqdm is installed, and the answer
    is kept: a failed import searches all of ``sys.path`` each time (0.15 ms, a tenth of a
    seed-net epoch, at every ``fit`` call)."""
    from xpnn import callbacks as module

    asked: list[int] = []
    lookups: list[str] = []
    real = module.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        lookups.append(name)
        return real(name, *args)

    def have_tqdm() -> bool:
        asked.append(1)
        return False

    monkeypatch.setattr(module, "_have_tqdm", have_tqdm)
    x, y = blobs(40, 3, 2)
    model = Sequential([Input((x.shape[1],)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.fit(x, y, epochs=1, verbose=2)
    assert asked == []
    model.fit(x, y, epochs=1, verbose=1)
    assert asked == [1]
    monkeypatch.undo()
    monkeypatch.setattr(module.importlib.util, "find_spec", find_spec)
    module._have_tqdm.cache_clear()
    for _ in range(3):
        module.ProgressBar(1, 1, 1)
    assert lookups == ["tqdm"]
    module._have_tqdm.cache_clear()
