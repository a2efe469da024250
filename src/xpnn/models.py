"""``keras.models``'s names for Sequential MLPs: ``Sequential``, ``load_model``, ``save_model``.

``Model`` (Keras's functional and subclassing API) is outside xpnn's subset: using it raises a
``NotImplementedError`` that says so, never a silently different model.
"""

from __future__ import annotations

from typing import Any

from .model import Sequential
from .saving import load_model, save_model

__all__ = ["Sequential", "load_model", "save_model", "Model"]


class Model:
    """Keras's functional/subclassed ``Model``: not supported (xpnn builds Sequential MLPs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "keras.Model (the functional API and subclassed models) is outside xpnn's subset: "
            "xpnn builds Sequential stacks of layers. Write the network as "
            "Sequential([Input(shape), Dense(...), ...])."
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise NotImplementedError(
            f"Subclassing keras.Model ({cls.__name__}) is outside xpnn's subset: xpnn builds "
            "Sequential stacks of layers; a new layer type subclasses xpnn.layers.Layer."
        )
