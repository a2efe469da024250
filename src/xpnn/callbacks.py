"""Callbacks: History, EarlyStopping, LambdaCallback, and the progress display.

Write your own by subclassing ``Callback`` and overriding any of ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
``self.model`` is the model being trained; set ``self.model.stop_training = True`` to stop.
``logs`` holds host floats (``loss``, metrics, and their ``val_`` twins).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Callback", "History", "EarlyStopping", "LambdaCallback", "ProgressBar"]


class Callback:
    """Base class; every hook does nothing by default."""

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...


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

    Args follow Keras: ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like
    names); ``restore_best_weights`` puts back the best epoch's weights when training ends;
    ``start_from_epoch`` waits that many epochs before counting.
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
        self.min_delta = abs(min_delta) if mode == "max" else -abs(min_delta)

    def _improved(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "max":
            return current - self.min_delta > reference
        return current - self.min_delta < reference

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping is monitoring {self.monitor!r}, which is not in the logs "
                f"(available: {', '.join(sorted(logs)) or 'none'}). Pass validation data for "
                "val_ metrics."
            )
        current = logs[self.monitor]
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # as in Keras: until something improves, the weights at hand are the best
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
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
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            if self.verbose:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )


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
