"""Callbacks: EarlyStopping stops and restores; custom callbacks see every epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential


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
    def on_train_begin(self, logs: Any = None) -> None:
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def test_early_stopping_stops_and_restores_the_best_weights(xp: Any) -> None:
    model, x, y = _setup()
    # a fake monitor that gets worse after epoch 1 makes the stop exact
    values = iter([0.5, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])

    class Fake(xpnn.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs["score"] = next(values)

    recorder = Recorder()
    stop = xpnn.EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=8, verbose=0, callbacks=[Fake(), recorder, stop])
    assert len(history.history["loss"]) == 4  # best at epoch 1, two without improvement
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), recorder.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_mode_auto_and_min_delta(xp: Any) -> None:
    assert xpnn.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert xpnn.EarlyStopping().mode == "min"
    model, x, y = _setup(1)
    stop = xpnn.EarlyStopping(monitor="loss", min_delta=10.0, patience=1)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 2  # no epoch improves by 10


def test_missing_monitor_is_a_clear_error(xp: Any) -> None:
    model, x, y = _setup()
    with pytest.raises(KeyError, match="'val_loss'.*Pass validation data"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[xpnn.EarlyStopping()])


def test_custom_and_lambda_callbacks_see_float_logs(xp: Any) -> None:
    model, x, y = _setup()
    seen = []
    recorder = Recorder()
    hook = xpnn.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)))
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[recorder, hook])
    assert [e for e, _ in seen] == [0, 1, 2]
    assert all(type(v) is float for _, logs in seen for v in logs.values())
    assert set(recorder.logs[0]) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_a_callback_can_stop_training(xp: Any) -> None:
    model, x, y = _setup()

    class StopAfterTwo(xpnn.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:
                self.model.stop_training = True

    assert len(model.fit(x, y, epochs=9, verbose=0, callbacks=[StopAfterTwo()]).epoch) == 2
