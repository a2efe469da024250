"""Callbacks: EarlyStopping stops and restores as Keras 3 does (NaN never counts as best);
TerminateOnNaN stops a diverging run; check_monitors refuses a key the logs will not have
before training; custom callbacks see every epoch with host floats; a callback can stop
training."""

from __future__ import annotations

from collections.abc import Iterable
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
    assert "Epoch 1: Invalid loss, terminating training" in capsys.readouterr().out


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
