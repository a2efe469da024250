"""Callbacks, as Keras 3's ``keras.callbacks``: History, EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback, and the
progress display.

Write your own by subclassing ``Callback`` and overriding any of Keras's hooks:
``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
``on_train_batch_begin/end(batch, logs)`` (``on_batch_begin/end`` are Keras's older names for
the same two), and ``on_test_*`` / ``on_predict_*``. ``self.model`` is the model being
trained (set ``self.model.stop_training = True`` to stop) and ``self.params`` what ``fit``
passes to ``set_params`` (``verbose``, ``epochs``, ``steps``). ``logs`` hold host floats:
``loss``, the metrics and their ``val_`` twins at an epoch's end; the running means of the
epoch so far at a batch's end.

The per-batch hooks cost a device sync each step (the running figures are read home), so
``fit`` calls them only when ``wants_batch_hooks`` says a callback has its own.

A callback that watches a key of the epoch logs names it in ``monitor``; ``fit`` calls
``check_monitors`` before training so that a key the logs will never have (``val_loss``
without validation data, a misspelt metric) is refused at once rather than after an epoch.

One difference from Keras, shared by every callback that watches a key: a NaN is never an
improvement (Keras takes a NaN first value as the best, and then nothing ever beats it).

In a data-parallel job (``xpnn.distributed``) every rank runs the callbacks on the same epoch
logs, so all decide alike; only rank 0 writes files (checkpoints, CSV) and prints.
"""

from __future__ import annotations

import csv
import difflib
import functools
import importlib.util
import inspect
import math
import numbers
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import distributed

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "CSVLogger",
    "TerminateOnNaN",
    "LambdaCallback",
    "ProgressBar",
    "check_monitors",
    "wants_batch_hooks",
]

Logs = dict[str, Any] | None


class Callback:
    """Base class; every hook does nothing by default (Keras 3's ``keras.callbacks.Callback``).

    ``on_train_batch_begin/end`` call ``on_batch_begin/end``, as in Keras, so a callback
    written against either name works.

    ``adds_to_logs`` names the keys a subclass writes into the epoch logs in its
    ``on_epoch_end`` (say, a metric computed on extra data); a callback later in the list may
    then ``monitor`` them, and ``check_monitors`` counts them as present.
    """

    adds_to_logs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] | None = None

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model
        _direction_from_model(self, model)

    def on_train_begin(self, logs: Logs = None) -> None: ...

    def on_train_end(self, logs: Logs = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Before each training batch (``batch`` counts from 0 in each epoch)."""
        self.on_batch_begin(batch, logs)  # Keras keeps the old name working the same way

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """After each training batch, with the epoch's running means so far in ``logs``."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None: ...

    def on_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    def on_test_begin(self, logs: Logs = None) -> None: ...

    def on_test_end(self, logs: Logs = None) -> None: ...

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None: ...

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    def on_predict_begin(self, logs: Logs = None) -> None: ...

    def on_predict_end(self, logs: Logs = None) -> None: ...

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None: ...

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    def _wants_batch_hooks(self) -> bool:
        """Whether ``fit`` must call this callback's training-batch hooks: it has its own,
        as a method of a subclass or (``LambdaCallback``) as a function given to it."""
        return _has_own_batch_hook(self, Callback)

    def _watched(self) -> str | None:
        """The epoch-log key this callback needs (``check_monitors`` checks it), if any."""
        return getattr(self, "monitor", None)


_TRAIN_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_batch_begin",
    "on_batch_end",
)
_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


def _has_own_batch_hook(callback: Callback, base: type) -> bool:
    """A training-batch hook on ``callback`` that is not ``base``'s: set on the instance, or
    defined by a class below ``base``."""
    return any(
        hook in vars(callback) or getattr(type(callback), hook) is not getattr(base, hook)
        for hook in _TRAIN_BATCH_HOOKS
    )


def wants_batch_hooks(callbacks: list[Any]) -> bool:
    """True when some callback has its own training-batch hook, so ``fit`` must call
    ``on_train_batch_begin``/``on_train_batch_end`` (and read the running logs home, a device
    sync per step). ``ModelCheckpoint`` wants them only with a numeric ``save_freq``."""
    return any(cb._wants_batch_hooks() for cb in callbacks)


def _main_rank() -> bool:
    """Whether this process writes files and prints: always, but in a data-parallel job only
    rank 0 (every rank gets the same epoch logs, so every rank still decides the same)."""
    job = distributed.current()
    return job is None or job.is_main


def _say(text: str) -> None:
    if _main_rank():
        print(text)


def _missing_monitor_message(callback: Any, monitor: str, available: list[str]) -> str:
    base = monitor.removeprefix("val_")
    if monitor != base and base in available and not any(k.startswith("val_") for k in available):
        fix = f"pass validation_data or validation_split to fit(), or monitor {base!r}"
    else:
        close = difflib.get_close_matches(monitor, available, n=1)
        fix = (f"did you mean {close[0]!r}? " if close else "") + (
            "A key that a callback adds to the logs must be named in its adds_to_logs, and "
            "that callback must come before this one"
        )
    return (
        f"{type(callback).__name__} monitors {monitor!r}, which the epoch logs will not have "
        f"(they will hold: {', '.join(available) or 'none'}); {fix}."
    )


def check_monitors(callbacks: list[Any], log_keys: list[str]) -> None:
    """Refuse, before training, a callback whose ``monitor`` names a key the logs will lack.

    Args:
        callbacks: the callbacks in the order ``fit`` calls them.
        log_keys: the keys each epoch's logs will hold, e.g. ``["loss", "accuracy",
            "val_loss", "val_accuracy"]``.

    Any callback with a ``monitor`` attribute is checked (EarlyStopping, ReduceLROnPlateau,
    and whatever else watches a key; ModelCheckpoint only with ``save_best_only``, the one
    case where it reads the key). Keys a callback earlier in the list declares in
    ``adds_to_logs`` count as present. Keras warns at each epoch's end and trains on; here
    the run would be wasted (EarlyStopping could never stop or restore), so it is a
    ``ValueError`` before the first epoch, naming the callback, the key, the keys the logs
    will hold and the fix.
    """
    available = list(log_keys)
    for cb in callbacks:
        watched = cb._watched() if isinstance(cb, Callback) else getattr(cb, "monitor", None)
        if watched is not None and watched not in available:
            raise ValueError(_missing_monitor_message(cb, watched, available))
        available += [k for k in getattr(cb, "adds_to_logs", ()) if k not in available]


def _resolve_mode(monitor: str, mode: str, model: Any = None) -> str:
    """``"min"`` or ``"max"``. ``"auto"`` takes the direction from the monitored metric object
    when the model is known, as Keras 3 does (``monitor_callback.py``: ``_direction``; the
    loss is min; accuracies, Precision, Recall, AUC are max), else from the name
    (accuracy-like names, ``acc`` or ``auc``, are max)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', received {mode!r}.")
    if mode != "auto":
        return mode
    key = monitor.removeprefix("val_")
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == key:
            return "max" if getattr(metric, "direction", "down") == "up" else "min"
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


def _direction_from_model(callback: Any, model: Any) -> None:
    """Re-resolve an ``"auto"`` mode from the model's metric objects (see _resolve_mode)."""
    if getattr(callback, "_auto_mode", False):
        mode = _resolve_mode(callback.monitor, "auto", model)
        if mode != callback.mode:
            callback.mode = mode
            callback.min_delta = abs(callback.min_delta) * (1 if mode == "max" else -1)


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, received {value!r}.")
    return int(value)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{name} must be a number, received {value!r}.")
    return float(value)


class _Monitor(Callback):
    """What ModelCheckpoint and ReduceLROnPlateau share with Keras 3's ``MonitorCallback``:
    a key, a direction, and ``best`` starting at ``None`` (the first value is an improvement).
    """

    def __init__(self, monitor: str, mode: str, min_delta: float, best: float | None) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key (a string), received {monitor!r}.")
        self.monitor = monitor
        self._auto_mode = mode == "auto"
        self.mode = _resolve_mode(monitor, mode)
        # Keras: a positive margin to beat, subtracted in max mode and added in min mode
        min_delta = _number(min_delta, "min_delta")
        self.min_delta = abs(min_delta) if self.mode == "max" else -abs(min_delta)
        self.best = best

    def _is_improvement(self, current: float, reference: float | None) -> bool:
        if math.isnan(current):  # see the module docstring: Keras would take it as the best
            return False
        if reference is None:
            return True
        if self.mode == "max":
            return current - self.min_delta > reference
        return current - self.min_delta < reference

    def _current(self, logs: Logs) -> float:
        logs = logs or {}
        if self.monitor not in logs:  # fit's check_monitors refuses this before training
            raise ValueError(_missing_monitor_message(self, self.monitor, list(logs)))
        return float(logs[self.monitor])


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Keras 3's arguments (``on_epoch_begin/end(epoch, logs)``, ``on_train_begin/end(logs)``,
    ``on_train_batch_begin/end(batch, logs)``); any other hook of ``Callback`` may be given by
    name too (``on_test_end=...``), as Keras allows. An unknown name is refused (Keras would
    store it silently, and a misspelt hook would never run).
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **hooks: Callable[..., Any],
    ) -> None:
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback got unknown hook(s) {', '.join(unknown)}; the hooks are: "
                f"{', '.join(_HOOKS)}."
            )
        hooks.update(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for hook, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback {hook} must be callable, received {fn!r}.")
            setattr(self, hook, fn)


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list, one per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: str | None = None, title: str | None = None) -> Any:
        """Plot the loss (and accuracy, when recorded) per epoch; save to ``path`` if given.

        Needs matplotlib (``pip install 'xpnn[plots]'``). Returns the figure.
        """
        from .plotting import plot_history

        return plot_history(self.history, path=path, title=title)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    The semantics are Keras 3's (``keras/src/callbacks/early_stopping.py``):

    - ``best`` starts at +inf (``mode="min"``) or -inf (``"max"``); an epoch improves when
      ``current - min_delta`` beats it, with ``min_delta`` counted against the direction, so
      a NaN never improves. (Keras 3.15 starts at None, which the first value beats whatever
      it is: the same decisions but for a first value that is NaN or infinite.) ``"auto"``
      picks max for accuracy-like names (``acc``, ``auc``).
    - ``baseline``: an improvement resets the wait only if it also beats the baseline.
    - ``start_from_epoch``: epochs before it are not looked at.
    - ``restore_best_weights``: the first epoch looked at records the weights (as Keras: until
      something improves, the weights at hand are the best), each improvement records them
      again, and ``on_train_end`` puts them back whether or not training stopped early.

    Two differences, both where Keras would fail or surprise: weights holding NaN or
    infinity are never recorded (there is nothing to restore from a diverged model, and
    ``set_weights`` refuses them), so a run that diverges from the first epoch keeps its last
    weights and ``fit`` returns its History; and ``best`` is reset by ``on_train_begin`` with
    the rest, so a reused callback starts afresh (Keras keeps the old best).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.patience = _non_negative_int(patience, "patience")
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._auto_mode = mode == "auto"
        self.mode = mode = _resolve_mode(monitor, mode)
        # as in Keras: a positive margin to beat, subtracted in max mode and added in min mode
        self.min_delta = abs(min_delta) if mode == "max" else -abs(min_delta)
        self._reset()

    def _improved(self, current: float, reference: float) -> bool:
        # Comparisons with NaN are False: a NaN is never an improvement.
        if self.mode == "max":
            return current - self.min_delta > reference
        return current - self.min_delta < reference

    def _record_weights(self, epoch: int) -> None:
        weights = self.model.get_weights()
        if all(np.isfinite(w).all() for w in weights):
            self.best_weights, self._weights_epoch = weights, epoch

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0
        self._weights_epoch = 0

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:  # fit's check_monitors refuses this before training
            raise ValueError(_missing_monitor_message(self, self.monitor, list(logs)))
        if epoch < self.start_from_epoch:
            return
        current = logs[self.monitor]
        improved = self._improved(current, self.best)
        if self.restore_best_weights and (improved or self.best_weights is None):
            self._record_weights(epoch)
        self.wait += 1
        if improved:
            self.best, self.best_epoch = current, epoch
            # Only restart the wait when both the previous best and the baseline are beaten.
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        # Keras 3 restores the best weights at the end of training whether or not it stopped
        # early: the model fit() hands back is the best one seen.
        if self.stopped_epoch > 0 and self.verbose:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if not self.restore_best_weights:
            return
        if self.best_weights is None:
            if self.verbose:
                _say("No epoch had finite weights to restore: keeping the last weights.")
            return
        self.model.set_weights(self.best_weights)
        if self.verbose:
            which = "the best epoch"
            if self._weights_epoch != self.best_epoch:  # the best one diverged
                which += " with finite weights"
            _say(f"Restoring model weights from the end of {which}: {self._weights_epoch + 1}.")


_MODEL_SUFFIXES = (".keras", ".xpnn")
_WEIGHTS_SUFFIXES = (".weights.h5", ".weights.npz")


class ModelCheckpoint(_Monitor):
    """Save the model, or its weights, after each epoch or every ``save_freq`` batches
    (Keras 3's ``ModelCheckpoint``, same arguments and defaults).

    Args:
        filepath: where to save; ``str.format`` fields are filled from ``epoch`` (counting
            from 1), ``batch`` (from 1, when saving per batch) and the logs' keys, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``. A whole model is written by
            ``model.save`` and the path ends in ``.keras`` (Keras 3's format) or ``.xpnn``
            (xpnn's own); weights only (``save_weights_only=True``) by ``model.save_weights``,
            ending in ``.weights.h5`` (Keras 3's HDF5 layout, needs h5py) or ``.weights.npz``
            (the same arrays in a NumPy archive). A missing folder is created.
        monitor: the log key that decides ``save_best_only``.
        verbose: 1 prints each decision, with Keras's messages.
        save_best_only: save only when ``monitor`` improves on the best so far (a NaN never
            does); a path without fields then always holds the best model. As in Keras the
            best is kept across ``fit`` calls, so resuming never overwrites it with worse.
        save_weights_only: see ``filepath``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
        save_freq: ``"epoch"``, or a positive integer: save every that many training batches,
            counted across epochs (``fit`` then calls the per-batch hooks, a device sync each
            step), judging ``save_best_only`` on the running logs of the epoch so far.
        initial_value_threshold: the best to beat at first (with ``save_best_only``).
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        if initial_value_threshold is not None:
            initial_value_threshold = _number(initial_value_threshold, "initial_value_threshold")
        super().__init__(monitor, mode, 0.0, initial_value_threshold)
        if not isinstance(filepath, str | os.PathLike):
            raise TypeError(f"filepath must be a path (str or PathLike), received {filepath!r}.")
        self.filepath = os.fspath(filepath)
        if not isinstance(self.filepath, str):
            raise TypeError(f"filepath must be a text path, received {filepath!r}.")
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (
            isinstance(save_freq, bool)
            or not isinstance(save_freq, numbers.Integral)
            or save_freq < 1
        ):
            raise ValueError(
                f"save_freq must be 'epoch' or a positive integer (a number of batches), "
                f"received {save_freq!r}."
            )
        self.save_freq = save_freq
        suffixes, what = (
            (_WEIGHTS_SUFFIXES, "weights (save_weights_only=True)")
            if self.save_weights_only
            else (_MODEL_SUFFIXES, "a whole model")
        )
        if not self.filepath.endswith(suffixes):
            raise ValueError(
                f"ModelCheckpoint filepath for {what} must end in "
                f"{' or '.join(repr(s) for s in suffixes)}, received filepath={self.filepath!r}."
            )
        if self.save_best_only and save_freq != "epoch" and monitor.startswith("val_"):
            raise ValueError(
                f"ModelCheckpoint with save_freq={save_freq!r} judges save_best_only on the "
                f"training batches' logs, which hold no validation figures: monitor={monitor!r} "
                "would never be there. Monitor a training key (e.g. 'loss') or save per epoch."
            )
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None

    def _watched(self) -> str | None:
        # Without save_best_only the monitor is never read: nothing to check (a checkpoint
        # with the default "val_loss" must not need validation data).
        return self.monitor if self.save_best_only and self.save_freq == "epoch" else None

    def _wants_batch_hooks(self) -> bool:
        # Saving per epoch needs no batch logs: do not make fit sync each step for them.
        return self.save_freq != "epoch" or _has_own_batch_hook(self, ModelCheckpoint)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        """Count batches across epochs as Keras does: a batch index not above the last one
        seen starts a new epoch."""
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _file_path(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> str:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as e:
            raise KeyError(
                f"Failed to format this callback filepath: {self.filepath!r}: it names {e}, "
                f"and the fields are: {', '.join(fields)}."
            ) from None

    def _should_save(self, epoch: int, logs: dict[str, Any], filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = self._current(logs)
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _say(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: Logs) -> None:
        logs = logs or {}
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath) or not _main_rank():
            return  # every rank keeps the same best; rank 0 writes the file
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}"
            )
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs (Keras 3's ``ReduceLROnPlateau``, same
    arguments, defaults and sequence of rates).

    After a reduction, ``cooldown`` epochs pass before the wait counts again; the rate never
    goes below ``min_lr``, and once there nothing more happens. It sets
    ``model.optimizer.learning_rate`` (which writes the device copies the step reads), and
    puts the rate the epoch trained with in the logs as ``learning_rate``, as Keras does.
    """

    adds_to_logs = ("learning_rate",)

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(monitor, mode, min_delta, None)
        factor = _number(factor, "factor")
        if not 0.0 < factor < 1.0:
            # Keras refuses factor >= 1; a factor <= 0 would leave no positive rate
            raise ValueError(
                "ReduceLROnPlateau needs a factor in (0, 1) (the new rate is lr * factor), "
                f"received factor={factor!r}."
            )
        self.factor = factor
        self.min_lr = _number(min_lr, "min_lr")
        if self.min_lr < 0:
            raise ValueError(f"min_lr must be a non-negative number, received {min_lr!r}.")
        self.patience = _non_negative_int(patience, "patience")
        self.cooldown = _non_negative_int(cooldown, "cooldown")
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._current(logs)
        # The order of Keras 3 (reduce_lr_on_plateau.py): a cooldown epoch clears the wait,
        # then an improvement is recorded even in cooldown, and only outside it does the
        # wait grow and, at patience, reduce.
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, optimizer: Any, epoch: int) -> bool:
        old = float(optimizer.learning_rate)
        # Keras compares in float32 (the dtype of its rate variable); the rate here is the
        # float last set, which is exactly min_lr once clamped there.
        if not old > self.min_lr:
            return False
        new = max(old * self.factor, self.min_lr)
        optimizer.learning_rate = new
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True


def _takes_rate(schedule: Callable[..., Any]) -> bool:
    """Whether ``schedule`` takes ``(epoch, lr)`` (Keras 3's form) or only ``(epoch)`` (the
    older one, which Keras still accepts). Keras tries the new form and falls back on any
    TypeError, which also hides a TypeError raised inside the schedule; the signature says."""
    try:
        inspect.signature(schedule).bind(0, 0.1)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): the current form
        return True
    return True


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (Keras 3's
    ``LearningRateScheduler``).

    Args:
        schedule: a function of the epoch index (from 0, counting ``initial_epoch``) and the
            current rate (a float) returning the new rate; ``schedule(epoch)`` also works.
        verbose: 1 prints each rate set, as Keras does.

    The rate must be a positive finite number (Keras wants a float; an int is accepted
    here). The epoch's rate goes into the logs as ``learning_rate``.
    """

    adds_to_logs = ("learning_rate",)

    def __init__(self, schedule: Callable[..., Any], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "schedule must be a function (epoch, lr) -> new learning rate, received "
                f"{schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose
        self._with_rate = _takes_rate(schedule)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        new = self.schedule(epoch, lr) if self._with_rate else self.schedule(epoch)
        if isinstance(new, np.ndarray) and new.ndim == 0:
            new = new[()]
        call = f"schedule({epoch}, {lr})" if self._with_rate else f"schedule({epoch})"
        if (
            isinstance(new, bool)
            or not isinstance(new, numbers.Real)
            or not math.isfinite(new)
            or not new > 0
        ):
            raise ValueError(
                f"LearningRateScheduler: {call} returned {new!r}; the schedule must return a "
                "positive finite number, the new learning rate."
            )
        optimizer.learning_rate = float(new)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _pythonify(value: Any) -> Any:
    # Keras hands callbacks Python numbers (python_utils.pythonify_logs): a NumPy float32
    # is written with all its digits, as float() gives them
    return (
        value.item()
        if isinstance(value, np.generic | np.ndarray) and np.ndim(value) == 0
        else value
    )


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file, as Keras 3's ``CSVLogger``.

    The columns are ``epoch`` (from 0) and then the first epoch's keys, sorted; when those
    hold no ``val_`` key, a ``val_`` twin of each is added (Keras does, so that one header
    serves runs with and without validation), and a key an epoch lacks is written ``NA``.
    Rows end in ``\\r\\n`` (the csv module's excel dialect) and the file is flushed after
    each, so it can be read while training runs.

    Args:
        filename: the file to write.
        separator: the one character between fields.
        append: add to the file if it exists (writing the header only if it is empty)
            instead of overwriting it.
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(filename, str | os.PathLike):
            raise TypeError(f"filename must be a path (str or PathLike), received {filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n":
            raise ValueError(f"separator must be one character, received {separator!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file: Any = None
        self.writer: Any = None

    def on_train_begin(self, logs: Logs = None) -> None:
        self._close()
        self.writer, self.keys = None, None
        if not _main_rank():
            return  # rank 0 writes the file
        mode, self.append_header = "w", True
        if self.append:
            mode = "a"
            if os.path.exists(self.filename):
                with open(self.filename, newline="", encoding="utf-8") as f:
                    self.append_header = not f.readline()
        # newline="": the csv module writes its own \r\n (Keras's bytes, on any system); the
        # file is closed at the end of training
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if not _main_rank():
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            if self.csv_file is None:
                raise RuntimeError("CSVLogger.on_epoch_end before on_train_begin opened the file.")
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch, **{key: _pythonify(logs.get(key, "NA")) for key in self.keys}}
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        self._close()
        self.writer = None

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite (Keras 3's ``TerminateOnNaN``).

    As in Keras the check runs after every batch (``on_batch_end``), on the running mean
    ``loss`` of the epoch, which is NaN or infinite from the first batch whose loss was; so
    ``fit`` syncs the device each step while this callback is in the list. The same check
    runs at each epoch's end too, for a loop that does not call the batch hooks.

    Args:
        raise_error: ``False`` (default) sets ``model.stop_training``, so ``on_train_end``
            still runs for every callback and ``fit`` returns its History; ``True`` raises a
            ``RuntimeError`` at once instead.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error
        self._terminated = False

    def on_train_begin(self, logs: Logs = None) -> None:
        self._terminated = False

    def _check(self, where: str, logs: Logs) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss) or self._terminated:
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at {where.lower()}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        _say(f"{where}: Invalid loss, terminating training")
        self._terminated = True
        self.model.stop_training = True

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._check(f"Batch {batch}", logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._check(f"Epoch {epoch + 1}", logs)


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


@functools.cache
def _have_tqdm() -> bool:
    """Whether tqdm can be imported: looked up once (a failed import searches the whole of
    ``sys.path`` again each time, 0.15 ms, a tenth of a seed-net epoch)."""
    return importlib.util.find_spec("tqdm") is not None


class ProgressBar:
    """The ``verbose`` display of ``fit``: 1 a bar per epoch (tqdm when installed, else a
    line), 2 a line per epoch, 0 nothing. It asks for the running loss at most ~5 times a
    second, so the device is synced no more often than the display needs."""

    def __init__(self, verbose: int, epochs: int, steps: int) -> None:
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._bar: Any = None
        self._last = 0.0
        self._tqdm = verbose == 1 and _have_tqdm()

    def epoch_begin(self, epoch: int) -> None:
        self._start = time.perf_counter()
        if self.verbose == 1 and self._tqdm:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.steps,
                desc=f"Epoch {epoch + 1}/{self.epochs}",
                unit="step",
                leave=True,
                file=sys.stdout,
                dynamic_ncols=True,
            )
        elif self.verbose:
            self._epoch = epoch

    def wants_logs(self) -> bool:
        """True when the bar would like fresh running figures now (rate-limited)."""
        if self._bar is None:
            return False
        now = time.perf_counter()
        if now - self._last > 0.2:
            self._last = now
            return True
        return False

    def steps_per_update(self) -> int:
        """How many steps training may run between two ``step`` calls: a whole epoch when
        nothing is drawn per step, else a hundredth of one (the bar still moves smoothly)."""
        return self.steps if self._bar is None else max(1, self.steps // 100)

    def step(self, logs: dict[str, float] | None = None, count: int = 1) -> None:
        """``count`` more steps done; ``logs``: the running figures, when asked for."""
        if self._bar is not None:
            if logs:
                self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(count)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = time.perf_counter() - self._start
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
        elif self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.2f}s - {_format_logs(logs)}")


def begin_training(
    callbacks: list[Callback], model: Any, params: dict[str, Any], log_keys: list[str]
) -> tuple[list[Callback], History]:
    """What ``fit`` does before its first epoch: a new ``History`` appended after the user's
    callbacks (as Keras does, so it records what they add to the logs), each callback given
    the model and ``params``, every ``monitor`` checked against the keys the logs will have,
    and ``on_train_begin`` called. Returns the callbacks and the History."""
    history = History()
    callbacks = [*callbacks, history]
    for cb in callbacks:
        cb.set_model(model)
        cb.set_params(params)
    check_monitors(callbacks, log_keys)
    for cb in callbacks:
        cb.on_train_begin({})
    return callbacks, history
