"""Callbacks decide as Keras 3 does: ReduceLROnPlateau's sequence of rates, ModelCheckpoint's
choice of epochs and file names, CSVLogger's bytes and LearningRateScheduler's rates, for the
same monitored values.

The literals were recorded from Keras 3.15.1 (JAX backend) by the ``_keras_*`` functions
below, which drive a one-layer Keras model through ``fit`` with a callback that scripts the
monitored value. Where Keras is importable the ``keras``-marked tests run those functions
again and check that Keras still gives the literals (skipped otherwise, as in CI):
``KERAS_BACKEND=jax python -m pytest tests/test_callbacks_keras.py`` beside Keras and JAX.

Keras stores the learning rate as a float32 variable, so its rates are 0.1 rounded to float32
(0.10000000149011612) and every product after; xpnn keeps the rate the callback set, a
float. The rates are compared to a relative 1e-6, far below any difference a decision makes.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential

from helpers import blobs

NAN = math.nan

# -- the scenarios and what Keras 3.15.1 did ------------------------------------------------------
# ReduceLROnPlateau, from a rate of 0.1: (monitored values, monitor, arguments) -> the rate each
# epoch trained with (Keras's logs["learning_rate"]) and the rate after the last epoch.
REDUCE_LR = {
    # patience 2, factor 0.1, min_delta 1e-4: 0.84995 misses 0.85 by less than min_delta
    "patience": (
        [1.0, 0.9, 0.9, 0.9, 0.85, 0.8999, 0.84995, 0.8, 0.8, 0.8, 0.8, 0.8],
        "val_loss",
        {"patience": 2},
        [0.1] * 4 + [0.01] * 3 + [0.001] * 3 + [1e-4] * 2,
        1e-5,
    ),
    "cooldown_min_lr_min_delta": (
        [1.0, 0.9, 0.95, 0.895, 0.89, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92],
        "val_loss",
        {"factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.02, "min_delta": 0.01},
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025] + [0.02] * 6,
        0.02,
    ),
    "auto_is_max_for_accuracy": (
        [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7],
        "val_accuracy",
        {"patience": 1, "factor": 0.5},
        [0.1, 0.1, 0.1, 0.05, 0.025, 0.025, 0.0125],
        0.00625,
    ),
    "mode_min_overrides_auto": (
        [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7],
        "val_accuracy",
        {"patience": 1, "factor": 0.5, "mode": "min"},
        [0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125],
        0.0015625,
    ),
    "patience_0_stops_at_min_lr": (
        [1.0, 1.0, 1.0, 1.0, 1.0],
        "val_loss",
        {"patience": 0, "factor": 0.5, "min_lr": 0.02},
        [0.1, 0.1, 0.05, 0.025, 0.02],
        0.02,
    ),
    "defaults": ([1.0] * 25, "val_loss", {}, [0.1] * 11 + [0.01] * 10 + [0.001] * 4, 0.001),
}

# ModelCheckpoint with filepath "{epoch:02d}.keras": (monitored values, monitor, arguments)
# -> the files Keras wrote.
_VALUES = [0.5, 0.6, 0.4, 0.4, 0.3, 0.7]
CHECKPOINT = {
    "min": (_VALUES, "score", {"save_best_only": True, "mode": "min"}, [1, 3, 5]),
    "max": (_VALUES, "score", {"save_best_only": True, "mode": "max"}, [1, 2, 6]),
    "auto_loss": (_VALUES, "val_loss", {"save_best_only": True}, [1, 3, 5]),
    "auto_accuracy": (_VALUES, "val_accuracy", {"save_best_only": True}, [1, 2, 6]),
    "threshold": (
        _VALUES,
        "score",
        {"save_best_only": True, "mode": "min", "initial_value_threshold": 0.45},
        [3, 5],
    ),
    "every_epoch": (_VALUES, "score", {"mode": "min"}, [1, 2, 3, 4, 5, 6]),
}
# Keras's file names for "w-{epoch:02d}-{score:.3f}.keras" (every epoch).
CHECKPOINT_NAMES = [
    "w-01-0.500.keras",
    "w-02-0.600.keras",
    "w-03-0.400.keras",
    "w-04-0.400.keras",
    "w-05-0.300.keras",
    "w-06-0.700.keras",
]
# save_best_only, verbose=1, filepath "m.keras", scores 0.5, 0.6, 0.4 ("{path}" is the path).
CHECKPOINT_VERBOSE = (
    "\nEpoch 1: score improved from None to 0.50000, saving model to {path}\n"
    "\nEpoch 1: finished saving model to {path}\n"
    "\nEpoch 2: score did not improve from 0.50000\n"
    "\nEpoch 3: score improved from 0.50000 to 0.40000, saving model to {path}\n"
    "\nEpoch 3: finished saving model to {path}\n"
)
# save_freq in batches, 6 samples in batches of 2 (3 a epoch), 3 epochs, filepath
# "{epoch:02d}-{batch:02d}.keras": the files Keras wrote.
CHECKPOINT_PER_BATCH = {
    2: ["01-02.keras", "02-01.keras", "02-03.keras", "03-02.keras"],
    4: ["02-01.keras", "03-02.keras"],
}

# CSVLogger: the epoch logs of each run (a callback before the logger replaces them) ->
# the file's bytes after each run.
_WITH_VAL = [
    {"val_loss": 0.75, "loss": 0.5, "accuracy": 0.25, "val_accuracy": 0.125},
    {"val_loss": 0.1 + 0.2, "loss": 1e-5, "accuracy": 1.0, "val_accuracy": 2.5e20},
]
_NO_VAL = [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.375, "accuracy": 1 / 3}]
_HEADER = b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
_ROWS_WITH_VAL = b"0,0.25,0.5,0.125,0.75\r\n1,1.0,1e-05,2.5e+20,0.30000000000000004\r\n"
_ROWS_NO_VAL = b"0,0.25,0.5,NA,NA\r\n1,0.3333333333333333,0.375,NA,NA\r\n"
CSV = {
    "with_validation": ([_WITH_VAL], {}, [_HEADER + _ROWS_WITH_VAL]),
    # no val_ key: Keras adds a val_ twin of each column, written NA
    "without_validation": ([_NO_VAL], {}, [_HEADER + _ROWS_NO_VAL]),
    # the first epoch's keys fix the columns: a later extra key is dropped, a missing one NA
    "keys_fixed_by_the_first_epoch": (
        [[{"loss": 0.5, "mae": 0.25}, {"loss": 0.375, "mae": 0.125, "extra": 9.0}, {"loss": 0.25}]],
        {},
        [
            b"epoch,loss,mae,val_loss,val_mae\r\n0,0.5,0.25,NA,NA\r\n1,0.375,0.125,NA,NA\r\n"
            b"2,0.25,NA,NA,NA\r\n"
        ],
    ),
    "separator": (
        [_WITH_VAL],
        {"separator": ";"},
        [_HEADER.replace(b",", b";") + _ROWS_WITH_VAL.replace(b",", b";")],
    ),
    "append": (
        [_NO_VAL, _NO_VAL],
        {"append": True},
        [_HEADER + _ROWS_NO_VAL, _HEADER + _ROWS_NO_VAL + _ROWS_NO_VAL],
    ),
    "overwrite": ([_WITH_VAL, _NO_VAL], {}, [_HEADER + _ROWS_WITH_VAL, _HEADER + _ROWS_NO_VAL]),
    "not_finite": (
        [[{"loss": NAN, "val_loss": math.inf}]],
        {},
        [b"epoch,loss,val_loss\r\n0,nan,inf\r\n"],
    ),
}


def _doc_schedule(epoch: int, lr: float) -> float:
    """The schedule of Keras's LearningRateScheduler docstring (with math.exp)."""
    return lr if epoch < 10 else lr * math.exp(-0.1)


def _old_schedule(epoch: int) -> float:
    """The older one-argument form, which Keras still accepts."""
    return 0.5 / (epoch + 1)


def _by_epoch(epoch: int, lr: float) -> float:
    return 0.1 * (epoch + 1)


# LearningRateScheduler: (schedule, starting rate, epochs, initial_epoch) -> the rate each
# epoch trained with and the rate at the end.
SCHEDULER = {
    "docstring": (
        _doc_schedule,
        0.01,
        15,
        0,
        [0.01] * 10
        + [0.009048374369740486, 0.008187307976186275, 0.007408182602375746]
        + [0.006703200750052929, 0.006065306719392538],
        0.006065306719392538,
    ),
    "one_argument": (
        _old_schedule,
        0.01,
        3,
        0,
        [0.5, 0.25, 0.1666666716337204],
        0.1666666716337204,
    ),
    "initial_epoch": (_by_epoch, 0.1, 4, 2, [0.30000001192092896, 0.4000000059604645], 0.4),
}


# -- xpnn's side -------------------------------------------------------------------------------
class Scripted(xpnn.Callback):
    """Puts the next scripted value under ``key`` in the epoch logs."""

    def __init__(self, key: str, values: list[float]) -> None:
        super().__init__()
        self.key, self.values = key, iter(values)
        self.adds_to_logs = (key,)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs[self.key] = next(self.values)


class Replace(xpnn.Callback):
    """Replaces the whole epoch logs by the next scripted row."""

    def __init__(self, rows: list[dict[str, float]]) -> None:
        super().__init__()
        self.rows = iter(rows)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs.clear()
        logs.update(next(self.rows))


class Rates(xpnn.Callback):
    """Keeps ``logs["learning_rate"]`` at each epoch's end (History, first in fit's list,
    does not see what a later callback adds)."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.rates.append(logs["learning_rate"])


DATA = blobs(32, 2, 2)


def _model(lr: float = 0.1) -> Sequential:
    model = Sequential([Input((2,)), Dense(1, "sigmoid")], seed=0)
    model.compile(xpnn.optimizers.SGD(lr), "binary_crossentropy", metrics=["accuracy"])
    return model


def _fit(model: Sequential, epochs: int, *callbacks: xpnn.Callback, **kwargs: Any) -> Any:
    x, y = DATA
    return model.fit(
        x, y, epochs=epochs, verbose=0, validation_data=(x, y), callbacks=list(callbacks), **kwargs
    )


def _xpnn_reduce_lr(values: list[float], monitor: str, kwargs: dict) -> tuple[list, float]:
    model, rates = _model(), Rates()
    reduce = xpnn.callbacks.ReduceLROnPlateau(monitor=monitor, **kwargs)
    _fit(model, len(values), Scripted(monitor, values), reduce, rates)
    return rates.rates, model.optimizer.learning_rate


def _xpnn_checkpoint(
    folder: Path, values: list[float], monitor: str, kwargs: dict, pattern: str
) -> list[str]:
    checkpoint = xpnn.callbacks.ModelCheckpoint(str(folder / pattern), monitor=monitor, **kwargs)
    _fit(_model(), len(values), Scripted(monitor, values), checkpoint)
    return sorted(os.listdir(folder))


def _xpnn_csv(path: Path, runs: list[list[dict]], kwargs: dict) -> list[bytes]:
    files = []
    for rows in runs:
        _fit(_model(), len(rows), Replace(rows), xpnn.callbacks.CSVLogger(str(path), **kwargs))
        files.append(path.read_bytes())
    return files


def _xpnn_scheduler(schedule: Any, lr: float, epochs: int, initial_epoch: int) -> tuple:
    model, rates = _model(lr), Rates()
    scheduler = xpnn.callbacks.LearningRateScheduler(schedule)
    _fit(model, epochs, scheduler, rates, initial_epoch=initial_epoch)
    return rates.rates, model.optimizer.learning_rate


@pytest.mark.parametrize("case", list(REDUCE_LR))
def test_reduce_lr_on_plateau_gives_keras_rates(case: str) -> None:
    values, monitor, kwargs, rates, final = REDUCE_LR[case]
    got_rates, got_final = _xpnn_reduce_lr(values, monitor, kwargs)
    assert got_rates == pytest.approx(rates, rel=1e-6)
    assert got_final == pytest.approx(final, rel=1e-6)


@pytest.mark.parametrize("case", list(CHECKPOINT))
def test_model_checkpoint_saves_the_epochs_keras_saves(case: str, tmp_path: Path) -> None:
    values, monitor, kwargs, epochs = CHECKPOINT[case]
    saved = _xpnn_checkpoint(tmp_path, values, monitor, kwargs, "{epoch:02d}.xpnn")
    assert saved == [f"{epoch:02d}.xpnn" for epoch in epochs]


def test_model_checkpoint_fills_the_file_name_as_keras(tmp_path: Path) -> None:
    pattern = "w-{epoch:02d}-{score:.3f}.xpnn"
    saved = _xpnn_checkpoint(tmp_path, _VALUES, "score", {"mode": "min"}, pattern)
    assert saved == [name.replace(".keras", ".xpnn") for name in CHECKPOINT_NAMES]


def test_model_checkpoint_says_what_keras_says(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = str(tmp_path / "m.xpnn")
    checkpoint = xpnn.callbacks.ModelCheckpoint(path, "score", 1, save_best_only=True, mode="min")
    _fit(_model(), 3, Scripted("score", [0.5, 0.6, 0.4]), checkpoint)
    assert capsys.readouterr().out == CHECKPOINT_VERBOSE.format(path=path)


@pytest.mark.parametrize("case", list(CSV))
def test_csv_logger_writes_keras_bytes(case: str, tmp_path: Path) -> None:
    runs, kwargs, files = CSV[case]
    assert _xpnn_csv(tmp_path / "log.csv", runs, kwargs) == files


@pytest.mark.parametrize("case", list(SCHEDULER))
def test_learning_rate_scheduler_gives_keras_rates(case: str) -> None:
    schedule, lr, epochs, initial_epoch, rates, final = SCHEDULER[case]
    got_rates, got_final = _xpnn_scheduler(schedule, lr, epochs, initial_epoch)
    assert got_rates == pytest.approx(rates, rel=1e-6)
    assert got_final == pytest.approx(final, rel=1e-6)


# -- Keras's side: the same scenarios, where Keras is installed ---------------------------------
@pytest.fixture(scope="module")
def keras() -> Any:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (the literals were recorded from it)")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return importlib.import_module("keras")


def _keras_callbacks(keras: Any) -> tuple[type, type]:
    class KScripted(keras.callbacks.Callback):
        def __init__(self, key: str, values: list[float]) -> None:
            super().__init__()
            self.key, self.values = key, iter(values)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs[self.key] = next(self.values)

    class KReplace(keras.callbacks.Callback):
        def __init__(self, rows: list[dict[str, float]]) -> None:
            super().__init__()
            self.rows = iter(rows)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs.clear()
            logs.update(next(self.rows))

    return KScripted, KReplace


def _keras_fit(keras: Any, lr: float, epochs: int, callbacks: list, **kwargs: Any) -> Any:
    x, y = DATA
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(lr), "binary_crossentropy", metrics=["accuracy"])
    kwargs.setdefault("validation_data", (x, y))
    history = model.fit(x, y, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)
    return model, history


@pytest.mark.parametrize("case", list(REDUCE_LR))
def test_keras_still_gives_the_recorded_rates(keras: Any, case: str) -> None:
    values, monitor, kwargs, rates, final = REDUCE_LR[case]
    scripted, _ = _keras_callbacks(keras)
    reduce = keras.callbacks.ReduceLROnPlateau(monitor=monitor, **kwargs)
    model, history = _keras_fit(keras, 0.1, len(values), [scripted(monitor, values), reduce])
    assert history.history["learning_rate"] == pytest.approx(rates, rel=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(final, rel=1e-6)


@pytest.mark.parametrize("case", list(CHECKPOINT))
def test_keras_still_saves_the_recorded_epochs(keras: Any, case: str, tmp_path: Path) -> None:
    values, monitor, kwargs, epochs = CHECKPOINT[case]
    scripted, _ = _keras_callbacks(keras)
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "{epoch:02d}.keras"), monitor=monitor, **kwargs
    )
    _keras_fit(keras, 0.1, len(values), [scripted(monitor, values), checkpoint])
    assert sorted(os.listdir(tmp_path)) == [f"{epoch:02d}.keras" for epoch in epochs]


def test_keras_still_names_and_says_as_recorded(keras: Any, tmp_path: Path) -> None:
    scripted, _ = _keras_callbacks(keras)
    pattern = str(tmp_path / "names" / "w-{epoch:02d}-{score:.3f}.keras")
    checkpoint = keras.callbacks.ModelCheckpoint(pattern, monitor="score", mode="min")
    _keras_fit(keras, 0.1, len(_VALUES), [scripted("score", _VALUES), checkpoint])
    assert sorted(os.listdir(tmp_path / "names")) == CHECKPOINT_NAMES
    path = str(tmp_path / "m.keras")
    checkpoint = keras.callbacks.ModelCheckpoint(path, "score", 1, save_best_only=True, mode="min")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _keras_fit(keras, 0.1, 3, [scripted("score", [0.5, 0.6, 0.4]), checkpoint])
    assert out.getvalue() == CHECKPOINT_VERBOSE.format(path=path)


@pytest.mark.parametrize("save_freq", list(CHECKPOINT_PER_BATCH))
def test_keras_still_saves_per_batch_as_recorded(
    keras: Any, save_freq: int, tmp_path: Path
) -> None:
    x, y = DATA
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "{epoch:02d}-{batch:02d}.keras"), monitor="loss", save_freq=save_freq
    )
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    model.fit(x[:6], y[:6], batch_size=2, epochs=3, verbose=0, callbacks=[checkpoint])
    assert sorted(os.listdir(tmp_path)) == CHECKPOINT_PER_BATCH[save_freq]


@pytest.mark.parametrize("case", list(CSV))
def test_keras_still_writes_the_recorded_bytes(keras: Any, case: str, tmp_path: Path) -> None:
    runs, kwargs, files = CSV[case]
    _, replace = _keras_callbacks(keras)
    path = tmp_path / "log.csv"
    got = []
    for rows in runs:
        logger = keras.callbacks.CSVLogger(str(path), **kwargs)
        _keras_fit(keras, 0.1, len(rows), [replace(rows), logger])
        got.append(path.read_bytes())
    assert got == files


@pytest.mark.parametrize("case", list(SCHEDULER))
def test_keras_still_schedules_as_recorded(keras: Any, case: str) -> None:
    schedule, lr, epochs, initial_epoch, rates, final = SCHEDULER[case]
    scheduler = keras.callbacks.LearningRateScheduler(schedule)
    model, history = _keras_fit(keras, lr, epochs, [scheduler], initial_epoch=initial_epoch)
    assert history.history["learning_rate"] == pytest.approx(rates, rel=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(final, rel=1e-6)


def test_keras_takes_a_nan_first_value_as_its_best(keras: Any, tmp_path: Path) -> None:
    """The one place xpnn decides otherwise (test_callbacks.py holds xpnn's side): Keras
    saves the NaN epoch and then never another; it reduces the rate after every epoch that
    follows a NaN first value."""
    scripted, _ = _keras_callbacks(keras)
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "{epoch:02d}.keras"), "score", save_best_only=True, mode="min"
    )
    _keras_fit(keras, 0.1, 3, [scripted("score", [NAN, 0.5, 0.4]), checkpoint])
    assert os.listdir(tmp_path) == ["01.keras"]
    reduce = keras.callbacks.ReduceLROnPlateau("score", factor=0.5, patience=1, mode="min")
    values = [NAN, 1.0, 0.9, 0.9, 0.9, 0.9]
    _, history = _keras_fit(keras, 0.1, 6, [scripted("score", values), reduce])
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625], rel=1e-6
    )


# -- the per-batch hooks -----------------------------------------------------------------------
# What Keras 3.15.1's fit called on a callback overriding every training hook (2 epochs of 5
# samples in batches of 2, validation data given, metrics=["accuracy"]): the hook, the epoch or
# batch, and the log keys passed (Keras passes {} where it has nothing, never None).
KERAS_HOOKS = [
    ("on_train_begin", None, []),
    *[
        call
        for epoch in (0, 1)
        for call in [
            ("on_epoch_begin", epoch, []),
            *[
                call
                for batch in (0, 1, 2)
                for call in [
                    ("on_train_batch_begin", batch, []),
                    ("on_train_batch_end", batch, ["accuracy", "loss"]),
                ]
            ],
            ("on_epoch_end", epoch, ["accuracy", "loss", "val_accuracy", "val_loss"]),
        ]
    ],
    ("on_train_end", None, ["accuracy", "loss", "val_accuracy", "val_loss"]),
]
KERAS_PARAMS = {"verbose": 0, "epochs": 2, "steps": 3}


class Calls(xpnn.Callback):
    """Keeps each training hook's call (hook, epoch or batch, sorted log keys), ``params``,
    and the batch logs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int | None, list[str]]] = []
        self.batch_logs: list[dict[str, float]] = []

    def _keep(self, hook: str, index: int | None, logs: Any) -> None:
        assert logs is not None, f"{hook} was called without logs (Keras passes a dict)"
        self.calls.append((hook, index, sorted(logs)))

    def on_train_begin(self, logs: Any = None) -> None:
        self._keep("on_train_begin", None, logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._keep("on_epoch_begin", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._keep("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._keep("on_train_batch_end", batch, logs)
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._keep("on_epoch_end", epoch, logs)

    def on_train_end(self, logs: Any = None) -> None:
        self._keep("on_train_end", None, logs)


def drive_fit(
    model: Sequential, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, callbacks: list
) -> None:
    """The calls ``fit`` makes once it runs the per-batch hooks, simulated with one real
    ``fit`` step per batch (no shuffling, no validation): ``set_params``, then
    ``on_train_begin({})``; each epoch ``on_epoch_begin(epoch, {})``; each batch
    ``on_train_batch_begin(k, {})``, the step, ``on_train_batch_end(k, running)`` with the
    epoch's running mean loss, and a stop as soon as ``model.stop_training``; then
    ``on_epoch_end(epoch, logs)`` and ``on_train_end(last logs)``."""
    steps = math.ceil(len(x) / batch_size)
    for cb in callbacks:
        cb.set_model(model)
        cb.set_params({"verbose": 0, "epochs": epochs, "steps": steps})
    model.stop_training = False
    for cb in callbacks:
        cb.on_train_begin({})
    logs: dict[str, float] = {}
    for epoch in range(epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        total = seen = 0.0
        for k in range(steps):
            xb, yb = (
                x[k * batch_size : (k + 1) * batch_size],
                y[k * batch_size : (k + 1) * batch_size],
            )
            for cb in callbacks:
                cb.on_train_batch_begin(k, {})
            step = model.fit(xb, yb, batch_size=len(xb), shuffle=False, verbose=0)
            total, seen = total + step.history["loss"][0] * len(xb), seen + len(xb)
            logs = {"loss": total / seen}
            for cb in callbacks:
                cb.on_train_batch_end(k, logs)
            if model.stop_training:
                break
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(logs)


def test_fit_calls_the_batch_hooks() -> None:
    seen: list[int] = []
    model = Sequential([Input((1,)), Dense(1)], seed=0)
    model.compile(xpnn.optimizers.SGD(0.1), "mse")
    hook = xpnn.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    x = np.zeros((70, 1), np.float32)
    model.fit(x, x, epochs=1, verbose=0, callbacks=[hook])
    assert seen == [0, 1, 2]


def _six() -> tuple[Sequential, np.ndarray, np.ndarray]:
    x, y = DATA
    model = Sequential([Input((2,)), Dense(1, "sigmoid")], seed=0)
    model.compile(xpnn.optimizers.SGD(0.1), "binary_crossentropy")
    return model, x[:6], y[:6]


@pytest.mark.parametrize("save_freq", list(CHECKPOINT_PER_BATCH))
def test_model_checkpoint_per_batch_saves_where_keras_does(save_freq: int, tmp_path: Path) -> None:
    model, x, y = _six()
    pattern = str(tmp_path / "{epoch:02d}-{batch:02d}.xpnn")
    checkpoint = xpnn.callbacks.ModelCheckpoint(pattern, monitor="loss", save_freq=save_freq)
    assert xpnn.callbacks.wants_batch_hooks([checkpoint])
    drive_fit(model, x, y, 3, 2, [checkpoint])
    expected = [name.replace(".keras", ".xpnn") for name in CHECKPOINT_PER_BATCH[save_freq]]
    assert sorted(os.listdir(tmp_path)) == expected


@pytest.mark.parametrize("save_freq", list(CHECKPOINT_PER_BATCH))
def test_fit_saves_per_batch_where_keras_does(save_freq: int, tmp_path: Path) -> None:
    model, x, y = _six()
    pattern = str(tmp_path / "{epoch:02d}-{batch:02d}.xpnn")
    checkpoint = xpnn.callbacks.ModelCheckpoint(pattern, monitor="loss", save_freq=save_freq)
    model.fit(x, y, batch_size=2, epochs=3, verbose=0, callbacks=[checkpoint])
    expected = [name.replace(".keras", ".xpnn") for name in CHECKPOINT_PER_BATCH[save_freq]]
    assert sorted(os.listdir(tmp_path)) == expected


def test_the_simulated_fit_makes_keras_calls() -> None:
    """drive_fit, which the per-batch tests stand on, calls what Keras calls (without
    validation and metrics, which it does not simulate)."""
    model, x, y = _six()
    x5, y5 = x[:5], y[:5]
    calls = Calls()
    drive_fit(model, x5, y5, 2, 2, [calls])
    no_val = [(hook, index, [k for k in keys if k == "loss"]) for hook, index, keys in KERAS_HOOKS]
    assert calls.calls == no_val and calls.params == KERAS_PARAMS


def test_fit_makes_the_calls_keras_makes(xp: Any) -> None:
    x, y = DATA
    model = Sequential([Input((2,)), Dense(1, "sigmoid")], seed=0)
    # a rate too small to move a float32 weight: every batch is judged on the same weights
    model.compile(xpnn.optimizers.SGD(1e-30), "binary_crossentropy", metrics=["accuracy"])
    calls = Calls()
    x5, y5 = x[:5], y[:5]
    model.fit(
        x5, y5, batch_size=2, epochs=2, shuffle=False, verbose=0,
        validation_data=(x[:4], y[:4]), callbacks=[calls],
    )  # fmt: skip
    assert calls.calls == KERAS_HOOKS and calls.params == KERAS_PARAMS
    # the batch logs are the epoch's running means, weighted by batch size, as Keras's
    per_batch = [model.evaluate(x5[s : s + 2], y5[s : s + 2], verbose=0) for s in (0, 2, 4)]
    sizes = np.array([2, 2, 1])
    for k, logs in enumerate(calls.batch_logs[:3]):
        w = sizes[: k + 1]
        assert logs["loss"] == pytest.approx(
            np.dot(w, [p[0] for p in per_batch[: k + 1]]) / w.sum()
        )
        assert logs["accuracy"] == pytest.approx(
            np.dot(w, [p[1] for p in per_batch[: k + 1]]) / w.sum()
        )


def test_keras_makes_the_recorded_calls_with_running_means(keras: Any) -> None:
    x, y = DATA
    x5, y5 = x[:5], y[:5]
    calls: list[tuple[str, int | None, list[str]]] = []
    batch_logs: list[dict] = []
    params: list[dict] = []

    class KCalls(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            calls.append(("on_train_begin", None, sorted(logs)))
            params.append(dict(self.params))

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            calls.append(("on_epoch_begin", epoch, sorted(logs)))

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            calls.append(("on_train_batch_begin", batch, sorted(logs)))

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            calls.append(("on_train_batch_end", batch, sorted(logs)))
            batch_logs.append(dict(logs))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            calls.append(("on_epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs: Any = None) -> None:
            calls.append(("on_train_end", None, sorted(logs)))

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.0), "binary_crossentropy", metrics=["accuracy"])
    model.fit(
        x5, y5, batch_size=2, epochs=2, shuffle=False, verbose=0,
        validation_data=(x[:4], y[:4]), callbacks=[KCalls()],
    )  # fmt: skip
    assert calls == KERAS_HOOKS and params == [KERAS_PARAMS]
    per_batch = [model.evaluate(x5[s : s + 2], y5[s : s + 2], verbose=0) for s in (0, 2, 4)]
    sizes = np.array([2, 2, 1])
    for k, logs in enumerate(batch_logs[:3]):
        w = sizes[: k + 1]
        assert logs["loss"] == pytest.approx(
            np.dot(w, [p[0] for p in per_batch[: k + 1]]) / w.sum(), rel=1e-5
        )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow; fit may warn of divergence
def test_fit_stops_at_the_first_nan_batch_as_keras(xp: Any, capsys: pytest.CaptureFixture) -> None:
    """Keras's TerminateOnNaN checks each batch's running loss and fit stops within the
    epoch: no step runs after the batch that diverged."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    model = Sequential([Input((3,)), Dense(4, "relu"), Dense(1)], seed=0)
    model.compile(xpnn.optimizers.SGD(1e10), loss="mse")  # inf or NaN within a few steps
    history = model.fit(
        x, x @ np.full(3, 1e3, np.float32), epochs=5, batch_size=8, shuffle=False, verbose=0,
        callbacks=[xpnn.TerminateOnNaN()],
    )  # fmt: skip
    out = capsys.readouterr().out
    batch = int(out.removeprefix("Batch ").split(":")[0])
    assert out == f"Batch {batch}: Invalid loss, terminating training\n" and batch < 7
    assert model.optimizer.iterations == batch + 1 and history.epoch == [0]
    assert not math.isfinite(history.history["loss"][0])


def test_history_records_what_callbacks_add_as_in_keras() -> None:
    """Keras's History (appended after the user's callbacks) holds the learning_rate that
    LearningRateScheduler and ReduceLROnPlateau put in the logs."""
    model = _model()
    scheduler = xpnn.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = _fit(model, 3, scheduler)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
