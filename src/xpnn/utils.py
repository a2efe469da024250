"""``keras.utils``'s names that MLP scripts use: ``to_categorical`` and ``set_random_seed``.

(Keras's namespace, mirrored so that ``import xpnn as keras`` runs such scripts; xpnn's own
helpers live in the modules of their concept.)
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from .model import set_random_seed as _seed_models

__all__ = ["to_categorical", "set_random_seed"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows for integer class labels, as Keras's: labels of shape ``(n,)`` or
    ``(n, 1)`` give ``(n, num_classes)`` float rows; ``num_classes`` defaults to the largest
    label plus one."""
    labels = np.asarray(x)
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical expects integer class labels, received {labels.dtype}.")
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError("to_categorical expects whole-number class labels, received fractions.")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical expects labels >= 0, received {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise TypeError(f"num_classes must be an integer, received {num_classes!r}.")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"to_categorical: label {labels.max()} does not fit num_classes={num_classes}."
        )
    out = np.zeros((labels.size, int(num_classes)))
    out[np.arange(labels.size), labels] = 1.0
    return out.reshape(*shape, int(num_classes))


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and the generator that xpnn models
    without an explicit ``seed`` draw from, as ``keras.utils.set_random_seed`` seeds every
    generator a script may use. (``xpnn.set_random_seed`` seeds only xpnn's.)"""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, received {seed!r}.")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _seed_models(int(seed))
