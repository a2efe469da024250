"""``Flatten``: one sample as one row of features.

xpnn's layers work on ``(batch, features)``. A ``Flatten`` first in the model (as Keras's MLP
scripts begin: ``Flatten(input_shape=(28, 28))``) makes the model take samples of the declared
shape and flatten them at the edge, where the data come in (a reshape, no copy); as a layer it
passes its input through unchanged.
"""

from __future__ import annotations

from typing import Any

from .base import Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flattens each sample (Keras's ``data_format`` is for images: outside the subset)."""

    rowwise = True

    def __init__(self, data_format: str | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name, **kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(
                f"Flatten(data_format={data_format!r}) is outside xpnn's subset: samples are "
                "flattened in their own (channels-last, C) order."
            )
        self.data_format = data_format

    def forward(self, x: Any, training: bool = False, ws: Any = None) -> Any:
        return x

    def backward(self, delta: Any, ws: Any, need_dx: bool = True) -> Any:
        return delta if need_dx else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}
