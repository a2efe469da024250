"""Callbacks: History, EarlyStopping, TerminateOnNaN, LambdaCallback, and the progress display.

Write your own by subclassing ``Callback`` and overriding any of ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)`` and
``on_batch_end(batch, logs)``. ``self.model`` is the model being trained; set
``self.model.stop_training = True`` to stop. ``logs`` holds host floats (``loss``, metrics, and
their ``val_`` twins).

A callback that watches a key of the epoch logs names it in ``monitor``; ``fit`` calls
``check_monitors`` before training so that a key the logs will never have (``val_loss``
without validation data, a misspelt metric) is refused at once rather than after an epoch.
"""

from __future__ import annotations

import difflib
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "TerminateOnNaN",
    "LambdaCallback",
    "ProgressBar",
    "check_monitors",
]


class Callback:
    """Base class; every hook does nothing by default.

    ``adds_to_logs`` names the keys a subclass writes into the epoch logs in its
    ``on_epoch_end`` (say, a metric computed on extra data); a callback later in the list may
    then ``monitor`` them, and ``check_monitors`` counts them as present.
    """

    adds_to_logs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """After each training batch, with that batch's ``loss`` in ``logs``. ``fit`` hands
        callbacks per-epoch logs only and does not call this hook yet."""


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

    Any callback with a ``monitor`` attribute is checked (EarlyStopping and whatever else
    watches a key). Keys a callback earlier in the list declares in ``adds_to_logs`` count
    as present. Keras warns at each epoch's end and trains on; here the run would be wasted
    (EarlyStopping could never stop or restore), so it is a ``ValueError`` before the first
    epoch, naming the callback, the key, the keys the logs will hold and the fix.
    """
    available = list(log_keys)
    for cb in callbacks:
        monitor = getattr(cb, "monitor", None)
        if monitor is not None and monitor not in available:
            raise ValueError(_missing_monitor_message(cb, monitor, available))
        available += [k for k in getattr(cb, "adds_to_logs", ()) if k not in available]


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        for hook, fn in [
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
        ]:
            if fn is not None:
                setattr(self, hook, fn)


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list, one per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
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
      a NaN never improves. ``"auto"`` picks max for accuracy-like names (``acc``, ``auc``).
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
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer, received {patience!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', received {mode!r}.")
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.mode = mode
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
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if not self.restore_best_weights:
            return
        if self.best_weights is None:
            if self.verbose:
                print("No epoch had finite weights to restore: keeping the last weights.")
            return
        self.model.set_weights(self.best_weights)
        if self.verbose:
            which = "the best epoch"
            if self._weights_epoch != self.best_epoch:  # the best one diverged
                which += " with finite weights"
            print(f"Restoring model weights from the end of {which}: {self._weights_epoch + 1}.")


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite (Keras 3's ``TerminateOnNaN``).

    Granularity: Keras checks after every batch. xpnn's ``fit`` gives callbacks per-epoch logs,
    so here the check runs at the end of each epoch on the epoch's mean ``loss`` -- which is
    NaN or infinite as soon as one batch's loss was -- and training stops after that epoch.
    ``on_batch_end`` makes the same check per batch for a loop that calls it.

    Args:
        raise_error: ``False`` (default) sets ``model.stop_training``, so ``on_train_end``
            still runs for every callback and ``fit`` returns its History; ``True`` raises a
            ``RuntimeError`` at once instead.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error
        self._terminated = False

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._terminated = False

    def _check(self, where: str, logs: dict[str, float] | None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss) or self._terminated:
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at {where.lower()}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"{where}: Invalid loss, terminating training")
        self._terminated = True
        self.model.stop_training = True

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self._check(f"Batch {batch}", logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._check(f"Epoch {epoch + 1}", logs)


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    """The ``verbose`` display of ``fit``: 1 a bar per epoch (tqdm when installed, else a
    line), 2 a line per epoch, 0 nothing. It asks for the running loss at most ~5 times a
    second, so the device is synced no more often than the display needs."""

    def __init__(self, verbose: int, epochs: int, steps: int) -> None:
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._bar: Any = None
        self._last = 0.0
        try:
            import tqdm  # noqa: F401

            self._tqdm = True
        except ImportError:
            self._tqdm = False

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

    def step(self, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            if logs:
                self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(1)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = time.perf_counter() - self._start
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
        elif self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.2f}s - {_format_logs(logs)}")
