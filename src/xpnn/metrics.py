"""Metrics, accumulated on the device batch by batch and read once per epoch.

A metric owns ``size`` float64 accumulators, a slice of the epoch's sums on the device:
``update(acc, y, a, w)`` adds a batch into them (``w``: per-sample weights, or None) and
``result(acc)`` turns the host copy into the figure. Nothing crosses to the host per step, and
every update is device work on fixed buffers (recordable as a graph).

Mean metrics (accuracies, errors) keep ``[sum of w * value, sum of w]``: the per-sample value is
the mean over outputs first, as Keras's ``MeanMetricWrapper`` does, so the epoch's figure is the
weighted mean over samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import array_module
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    SparseCategoricalCrossentropy,
)

__all__ = [
    "Metric",
    "MeanMetric",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "get",
    "register",
]


class Metric:
    """Base class: ``size`` accumulators, ``update`` adds a batch, ``result`` reads them."""

    size = 2
    default_name = "metric"

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"A metric's name must be a non-empty string, received {name!r}.")
        self.name = name or self.default_name

    def prepare(self, loss: Loss, output_units: int) -> None:
        """Called by ``compile`` with the model's loss and output width (for metrics that pick
        their form from them)."""

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        raise NotImplementedError

    def result(self, acc: np.ndarray) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class MeanMetric(Metric):
    """The weighted mean over samples of ``values(y, a)`` (one value per sample)."""

    def values(self, y: Any, a: Any) -> Any:
        raise NotImplementedError

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        v = self.values(y, a)  # (batch,)
        if w is None:
            acc[0] += v.sum(dtype=np.float64)
            acc[1] += v.shape[0]
        else:
            acc[0] += (v * w).sum(dtype=np.float64)
            acc[1] += w.sum(dtype=np.float64)

    def result(self, acc: np.ndarray) -> float:
        return float(acc[0] / acc[1]) if acc[1] else 0.0


class BinaryAccuracy(MeanMetric):
    """Share of outputs on the right side of ``threshold`` (Keras compares with y exactly)."""

    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float | None = None) -> None:
        super().__init__(name)
        self._auto = threshold is None
        self.threshold = 0.5 if threshold is None else float(threshold)

    def prepare(self, loss: Loss, output_units: int) -> None:
        # Unlike Keras, a logit output (from_logits=True) is thresholded at 0, where sigmoid
        # crosses 0.5, unless a threshold was given.
        if self._auto:
            self.threshold = 0.0 if loss.from_logits else 0.5

    def values(self, y: Any, a: Any) -> Any:
        return ((a > self.threshold) == y).mean(axis=-1, dtype=a.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetric):
    default_name = "categorical_accuracy"

    def values(self, y: Any, a: Any) -> Any:
        xp = array_module(a)
        return xp.argmax(a, axis=-1) == xp.argmax(y, axis=-1)


class SparseCategoricalAccuracy(MeanMetric):
    default_name = "sparse_categorical_accuracy"

    def values(self, y: Any, a: Any) -> Any:
        return array_module(a).argmax(a, axis=-1) == y


class MeanSquaredError(MeanMetric):
    default_name = "mean_squared_error"

    def values(self, y: Any, a: Any) -> Any:
        d = a - y
        return (d * d).mean(axis=-1)


class MeanAbsoluteError(MeanMetric):
    default_name = "mean_absolute_error"

    def values(self, y: Any, a: Any) -> Any:
        return array_module(a).abs(a - y).mean(axis=-1)


class _Accuracy(MeanMetric):
    """``"accuracy"``: binary, categorical or sparse categorical accuracy, chosen at compile
    from the loss and the output (``prepare``)."""

    default_name = "accuracy"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.inner: MeanMetric | None = None

    def prepare(self, loss: Loss, output_units: int) -> None:
        if isinstance(loss, SparseCategoricalCrossentropy):
            self.inner = SparseCategoricalAccuracy()
        elif isinstance(loss, CategoricalCrossentropy):
            self.inner = CategoricalAccuracy()
        elif isinstance(loss, BinaryCrossentropy) or output_units == 1:
            self.inner = BinaryAccuracy()
        else:
            self.inner = CategoricalAccuracy()
        self.inner.prepare(loss, output_units)

    def values(self, y: Any, a: Any) -> Any:
        return self.inner.values(y, a)


_REGISTRY: dict[str, type[Metric]] = {}


def register(cls: type[Metric], *names: str) -> type[Metric]:
    """Make ``cls`` resolvable by its class name, its default name and ``names``."""
    for key in (cls.__name__, cls.default_name, *names):
        _REGISTRY[key.lower()] = cls
    return cls


register(_Accuracy, "acc")
register(BinaryAccuracy)
register(CategoricalAccuracy)
register(SparseCategoricalAccuracy)
register(MeanSquaredError, "mse")
register(MeanAbsoluteError, "mae")


def names() -> list[str]:
    return sorted(k for k in _REGISTRY if k != "_accuracy")


def get(identifier: str | Metric, loss: Loss, output_units: int) -> Metric:
    """Resolve a metric from a name (``"accuracy"``, ``"mae"``, ...), a class or an instance,
    prepared for ``loss`` and an output of ``output_units``. A name becomes the History key
    as given (``"acc"`` logs as ``acc``); an instance logs under its ``name``."""
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        metric = identifier()
    elif isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        metric = _REGISTRY[identifier.lower()](name=identifier)
    else:
        raise ValueError(
            f"Unknown metric {identifier!r}: expected a Metric or one of {', '.join(names())}."
        )
    metric.prepare(loss, output_units)
    return metric
