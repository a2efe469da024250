"""Layers behind one protocol (base.py): ``Dense``, ``Dropout``, ``BatchNormalization``,
``Activation``, and ``Input`` to declare the features.

``deserialize(config)`` rebuilds a layer from its ``get_config()``; a user's own layer class
is found through ``custom_objects={"MyLayer": MyLayer}``, as in Keras.
"""

from __future__ import annotations

from typing import Any

from .activation import Activation
from .base import Input, Layer
from .batch_norm import BatchNormalization
from .dense import KERNEL_FORMS, Dense
from .dropout import Dropout

__all__ = [
    "Layer",
    "Input",
    "Dense",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "KERNEL_FORMS",
    "deserialize",
]

_BUILTIN: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Dense, Dropout, BatchNormalization, Activation)
}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """The layer ``config`` describes (nothing is allocated or drawn)."""
    if not isinstance(config, dict):
        raise ValueError(f"A layer config must be a dict, received {type(config).__name__}.")
    known = {**_BUILTIN, **(custom_objects or {})}
    name = config.get("class_name")
    cls = known.get(name) if isinstance(name, str) else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(
            f"Unknown layer class_name {name!r}: expected one of {', '.join(sorted(known))} "
            "(pass your own layer classes with custom_objects={'Name': cls})."
        )
    return cls.from_config(config)
