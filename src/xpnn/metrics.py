"""Metrics, accumulated on the device batch by batch and read once per epoch.

Each metric gives ``batch_sum(y, a)``: the sum over the batch's samples of the per-sample value
(for several outputs, the mean over outputs first, as Keras does). The epoch's figure is the
running sum divided by the samples seen, so no value crosses to the host per step.
"""

from __future__ import annotations

from typing import Any

from .backend import array_module
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    SparseCategoricalCrossentropy,
)

__all__ = ["Metric", "get"]


class Metric:
    """A named per-sample score; ``batch_sum`` returns a 0-d device array."""

    def __init__(self, name: str, kind: str, threshold: float = 0.5) -> None:
        self.name = name
        self.kind = kind
        self.threshold = threshold

    def batch_sum(self, y: Any, a: Any) -> Any:
        xp = array_module(a)
        if self.kind == "binary_accuracy":
            hits = (a > self.threshold) == y  # Keras compares with y exactly (0 or 1)
            return hits.mean(axis=-1).sum(dtype=a.dtype)
        if self.kind == "sparse_categorical_accuracy":
            return (xp.argmax(a, axis=-1) == y).sum(dtype=a.dtype)
        if self.kind == "categorical_accuracy":
            return (xp.argmax(a, axis=-1) == xp.argmax(y, axis=-1)).sum(dtype=a.dtype)
        d = a - y
        per = d * d if self.kind == "mean_squared_error" else xp.abs(d)
        return per.mean(axis=-1).sum()

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.kind!r})"


_ALIASES = {
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mean_absolute_error": "mean_absolute_error",
    "binary_accuracy": "binary_accuracy",
    "categorical_accuracy": "categorical_accuracy",
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
}


def get(identifier: str, loss: Loss, output_units: int) -> Metric:
    """Resolve a metric name. ``"accuracy"`` (or ``"acc"``) picks binary, categorical or
    sparse categorical accuracy from the loss and the output, as Keras does. Unlike Keras, a
    logit output (``from_logits=True``) is thresholded at 0, where sigmoid crosses 0.5."""
    if not isinstance(identifier, str):
        raise TypeError(f"Metrics are given by name, received {identifier!r}.")
    name = identifier.lower()
    if name in ("accuracy", "acc"):
        if isinstance(loss, SparseCategoricalCrossentropy):
            kind = "sparse_categorical_accuracy"
        elif isinstance(loss, CategoricalCrossentropy):
            kind = "categorical_accuracy"
        elif isinstance(loss, BinaryCrossentropy) or output_units == 1:
            kind = "binary_accuracy"
        else:
            kind = "categorical_accuracy"
    elif name in _ALIASES:
        kind = _ALIASES[name]
    else:
        raise ValueError(
            f"Unknown metric {identifier!r}: expected one of accuracy, "
            f"{', '.join(sorted(_ALIASES))}."
        )
    threshold = 0.0 if (kind == "binary_accuracy" and loss.from_logits) else 0.5
    return Metric(identifier, kind, threshold)
