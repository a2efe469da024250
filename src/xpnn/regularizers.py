"""Weight and activity regularizers: Keras 3's ``L1``, ``L2`` and ``L1L2``, value and gradient.

As in Keras (``keras/src/regularizers/regularizers.py``) the penalties are
``l1 * sum(|x|)`` and ``l2 * sum(x**2)`` -- no 1/2 in front of the L2 term -- so their
gradients are ``l1 * sign(x)`` and ``2 * l2 * x``. ``l1``, ``l2`` and ``l1_l2`` are the same
classes as ``L1``, ``L2`` and ``L1L2`` (Keras exports each class under both names); the string
names default to 0.01 except ``"l1l2"``, which, like ``L1L2()``, is 0 and 0.

A layer adds ``penalty(W)`` to the loss and ``gradient(W)`` to ``dL/dW`` itself (layers/dense.py):
both take and give arrays of any backend and need no host value, so they run in a recorded step.
"""

from __future__ import annotations

import math
from typing import Any

from . import config as config_module
from .backend import array_module

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "l1",
    "l2",
    "l1_l2",
    "get",
    "serialize",
    "deserialize",
]


def _factor(value: Any, name: str) -> float:
    # Keras's validate_float_arg: a finite, non-negative number
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


class Regularizer(config_module.Configured):
    """Base class: ``penalty(x)`` (also ``regularizer(x)``, as in Keras) and ``gradient(x)``.

    A subclass defines both and ``get_config``; it can then be passed to a layer as an instance
    (or by class name through ``custom_objects`` when a model is loaded)."""

    def penalty(self, x: Any) -> Any:
        """The penalty of ``x`` as a 0-d array (a NumPy scalar on NumPy) in ``x``'s dtype."""
        raise NotImplementedError

    def gradient(self, x: Any) -> Any:
        """``d penalty / d x``, a new array shaped like ``x``."""
        raise NotImplementedError

    def __call__(self, x: Any) -> Any:
        return self.penalty(x)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0, as in Keras.

    Args:
        l1: the L1 factor (non-negative; None means 0).
        l2: the L2 factor (non-negative; None means 0).
    """

    def __init__(self, l1: float | None = 0.0, l2: float | None = 0.0) -> None:
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def penalty(self, x: Any) -> Any:
        xp = array_module(x)
        value = xp.zeros((), dtype=x.dtype)  # Keras starts from 0 and adds the terms it has
        if self.l1 != 0.0:
            value = value + self.l1 * xp.abs(x).sum()
        if self.l2 != 0.0:
            value = value + self.l2 * (x * x).sum()
        return value

    def gradient(self, x: Any) -> Any:
        xp = array_module(x)
        grad = x * (2.0 * self.l2)
        if self.l1 != 0.0:
            grad += self.l1 * xp.sign(x)  # sign(0) = 0: the subgradient autodiff gives
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Args:
        l1: the factor (non-negative; default 0.01, as in Keras; None means 0.01).
    """

    def __init__(self, l1: float | None = 0.01) -> None:
        self.l1 = _factor(0.01 if l1 is None else l1, "l1")

    def penalty(self, x: Any) -> Any:
        return self.l1 * array_module(x).abs(x).sum()

    def gradient(self, x: Any) -> Any:
        return self.l1 * array_module(x).sign(x)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)`` (no 1/2, as in Keras).

    Args:
        l2: the factor (non-negative; default 0.01, as in Keras; None means 0.01).
    """

    def __init__(self, l2: float | None = 0.01) -> None:
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def penalty(self, x: Any) -> Any:
        return self.l2 * (x * x).sum()

    def gradient(self, x: Any) -> Any:
        return x * (2.0 * self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


# Keras exports each class under its snake-case name too: keras.regularizers.l2 IS L2.
l1 = L1
l2 = L2
l1_l2 = L1L2

# Keras's ALL_OBJECTS_DICT: class names and their snake case ("l1l2"); "l1_l2" is what Keras's
# docstrings write and its get() refuses (3.15), accepted here as well.
_CLASSES: dict[str, type[Regularizer]] = {
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,
    "l1_l2": L1L2,
}


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """``{"class_name": ..., "config": ...}`` (None for None), as Keras writes it."""
    return None if regularizer is None else config_module.serialize(regularizer)


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Regularizer:
    """The regularizer a ``serialize`` dict describes."""
    known = {**_CLASSES, **(custom_objects or {})}
    return config_module.deserialize(config, known, Regularizer, "regularizer")


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from a name (``"l2"``), a ``serialize`` dict, a class, an instance or
    None (no regularization), as ``keras.regularizers.get``."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        raise ValueError(
            f"Regularizer {identifier!r} is a plain function; xpnn needs its gradient too: "
            "subclass xpnn.regularizers.Regularizer and define penalty() and gradient()."
        )
    raise ValueError(
        f"Could not interpret regularizer identifier {identifier!r}: expected one of "
        f"{', '.join(sorted(_CLASSES))}, a Regularizer, a config dict or None."
    )
