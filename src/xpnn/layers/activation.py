"""``Activation``: a layer that applies an activation to its input, as Keras's.

It ends in its activation, so the loss shortcut applies to it as to a Dense that ends in the
same one: ``Dense(10) + Activation("softmax")`` trains exactly as ``Dense(10, "softmax")``.
"""

from __future__ import annotations

from typing import Any

from .. import activations
from ..backend import array_module
from .base import Layer

__all__ = ["Activation"]


class _Buffers:
    __slots__ = ("x", "a")

    def __init__(self, batch: int, dim: int, xp: Any, dtype: Any) -> None:
        self.x: Any = None  # the input of the last forward (a buffer of the layer before)
        self.a = xp.empty((batch, dim), dtype=dtype)


class Activation(Layer):
    """Applies ``activation`` elementwise (softmax: over each row).

    Args:
        activation: a name (``"relu"``, ``"softmax"``, ...), an ``xpnn.activations.Activation``
            or None (linear).
        name: the layer's name.
    """

    rowwise = True

    def __init__(self, activation: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.activation = activations.get(activation)

    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> _Buffers:
        return _Buffers(batch, self.input_dim, xp, dtype)

    def forward(self, x: Any, training: bool = False, ws: _Buffers | None = None) -> Any:
        if ws is None:
            ws = self.workspace(x.shape[0], array_module(x), x.dtype, need_dx=False)
        ws.x = x
        return self.activation.forward(x, out=ws.a)

    def backward(self, delta: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        # dL/dx = dL/da * g'(x): the activation's own backward, written over delta
        return self.activation.backward(delta, ws.x, ws.a, out=delta)

    def backward_z(self, delta_z: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        # the loss shortcut already gives dL/dz, and z is this layer's input
        return delta_z if need_dx else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation.name}

    def __repr__(self) -> str:
        return f"Activation({self.activation.name!r}, name={self.name!r})"
