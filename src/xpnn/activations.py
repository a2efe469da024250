"""Activations: a value and its derivative, side by side, registered by name.

Every function takes arrays of any backend and asks them for their module. ``forward`` writes
into ``out`` when given (the training step's preallocated buffers); ``backward`` is the
vector-Jacobian product ``delta_z = delta_a * g'(z)``, which for softmax couples a row's units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import fused
from .backend import array_module

__all__ = ["Activation", "get", "names", "sigmoid", "relu", "linear", "tanh", "softmax"]


@dataclass(frozen=True)
class Activation:
    """An activation ``a = g(z)``: its value, its derivative, and its backward product."""

    name: str
    forward: Callable[..., Any]  # forward(z, out=None) -> a
    derivative: Callable[..., Any]  # derivative(z, a) -> g'(z); softmax: the Jacobian per row
    backward: Callable[..., Any]  # backward(delta_a, z, a, out=None) -> delta_z

    def __call__(self, z: Any) -> Any:
        return self.forward(z)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


# -- sigmoid: a = 1 / (1 + e^-z), g' = a (1 - a) ---------------------------------------------
def _sigmoid(z: Any, out: Any = None) -> Any:
    if out is not None and (kernels := fused.pick(z, out)):
        return kernels.sigmoid_forward(z, out)
    xp = array_module(z)
    # exp(-|z|) never overflows; for z < 0 use e^z / (1 + e^z), exact where 1/(1+e^-z) is not.
    e = xp.exp(-xp.abs(z))
    return xp.divide(xp.where(z >= 0, 1.0, e), 1.0 + e, out=out)


def _sigmoid_derivative(z: Any, a: Any) -> Any:
    return a * (1.0 - a)


def _sigmoid_backward(delta_a: Any, z: Any, a: Any, out: Any = None) -> Any:
    if out is delta_a and (kernels := fused.pick(delta_a, a)):
        return kernels.sigmoid_backward_inplace(delta_a, a)
    xp = array_module(delta_a)
    out = xp.multiply(delta_a, a, out=out)
    out -= out * a  # delta * a * (1 - a), written as delta*a - delta*a*a to reuse out
    return out


# -- relu: a = max(0, z), g' = 1 where z > 0 (0 at z = 0, as TensorFlow and PyTorch) -----------
def _relu(z: Any, out: Any = None) -> Any:
    return array_module(z).maximum(z, 0.0, out=out)


def _relu_derivative(z: Any, a: Any) -> Any:
    return (z > 0).astype(z.dtype)


def _relu_backward(delta_a: Any, z: Any, a: Any, out: Any = None) -> Any:
    if out is delta_a and (kernels := fused.pick(delta_a, z)):
        return kernels.relu_backward_inplace(delta_a, z)
    xp = array_module(delta_a)
    return xp.multiply(delta_a, z > 0, out=out)


# -- linear: a = z, g' = 1 ------------------------------------------------------------------
def _linear(z: Any, out: Any = None) -> Any:
    if out is None or out is z:
        return z
    out[...] = z
    return out


def _linear_derivative(z: Any, a: Any) -> Any:
    return array_module(z).ones_like(z)


def _linear_backward(delta_a: Any, z: Any, a: Any, out: Any = None) -> Any:
    return _linear(delta_a, out)


# -- tanh: g' = 1 - a^2 -----------------------------------------------------------------------
def _tanh(z: Any, out: Any = None) -> Any:
    return array_module(z).tanh(z, out=out)


def _tanh_derivative(z: Any, a: Any) -> Any:
    return 1.0 - a * a


def _tanh_backward(delta_a: Any, z: Any, a: Any, out: Any = None) -> Any:
    xp = array_module(delta_a)
    return xp.multiply(delta_a, 1.0 - a * a, out=out)  # out may be delta_a itself


# -- softmax over the last axis: a_j = e^{z_j} / sum_k e^{z_k} -------------------------------
def _softmax(z: Any, out: Any = None) -> Any:
    if out is not None and z.ndim == 2 and z.shape[1] and (kernels := fused.pick(z, out)):
        return kernels.softmax_forward(z, out)
    return softmax_rows(z, out)


def softmax_rows(z: Any, out: Any = None) -> Any:
    """Softmax over the last axis in array code: the reference of the fused twins."""
    xp = array_module(z)
    # Subtracting the row max leaves the result unchanged and keeps exp from overflowing.
    out = xp.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    xp.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_derivative(z: Any, a: Any) -> Any:
    """The Jacobian da_i/dz_j = a_i (delta_ij - a_j), shape (..., n, n)."""
    xp = array_module(a)
    return a[..., :, None] * (xp.eye(a.shape[-1], dtype=a.dtype) - a[..., None, :])


def _softmax_backward(delta_a: Any, z: Any, a: Any, out: Any = None) -> Any:
    if out is delta_a and delta_a.ndim == 2 and (kernels := fused.pick(delta_a, a)):
        return kernels.softmax_backward_inplace(delta_a, a)
    return softmax_rows_backward(delta_a, a, out)


def softmax_rows_backward(delta_a: Any, a: Any, out: Any = None) -> Any:
    """Softmax's vector-Jacobian product in array code: the reference of the fused twins."""
    xp = array_module(delta_a)
    # J^T delta = a * (delta - sum_j delta_j a_j), one row at a time, without forming J.
    dot = (delta_a * a).sum(axis=-1, keepdims=True)
    out = xp.subtract(delta_a, dot, out=out)
    out *= a
    return out


sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_derivative, _sigmoid_backward)
relu = Activation("relu", _relu, _relu_derivative, _relu_backward)
linear = Activation("linear", _linear, _linear_derivative, _linear_backward)
tanh = Activation("tanh", _tanh, _tanh_derivative, _tanh_backward)
softmax = Activation("softmax", _softmax, _softmax_derivative, _softmax_backward)

_REGISTRY: dict[str, Activation] = {a.name: a for a in (sigmoid, relu, linear, tanh, softmax)}


def names() -> list[str]:
    """The registered activation names."""
    return sorted(_REGISTRY)


def get(identifier: str | Activation | None) -> Activation:
    """Resolve an activation from its name (``None`` means linear, as in Keras) or itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]
    raise ValueError(
        f"Unknown activation {identifier!r}: expected one of {', '.join(names())} or None."
    )
