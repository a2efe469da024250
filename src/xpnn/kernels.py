"""Dense-layer kernels, written twice: the textbook per-neuron loop and batched matrix products.

The twins take the same arguments and give the same numbers; diff them to see what
vectorisation is. Shapes: ``x`` is ``(batch, inputs)``, ``W`` is ``(inputs, units)`` as in
Keras, ``b`` is ``(units,)`` or ``None``.

Forward:  ``z = x @ W + b``, ``a = g(z)``.
Backward, given ``delta_a = dL/da``:
    ``delta_z = delta_a * g'(z)`` (a vector-Jacobian product for softmax),
    ``dW = x.T @ delta_z``, ``db = sum over the batch of delta_z``, ``dx = delta_z @ W.T``.
(The seed notes multiply only ``db`` by ``g'(z)``; every gradient needs it.)

When the loss already gives ``dL/dz`` (sigmoid + BCE, softmax + cross-entropy), pass it as
``delta_a`` with ``activation=linear``: linear's backward is the identity.

``out`` buffers are optional; when given the kernel writes into them and allocates nothing
for the matrix twin's products (the training step reuses them every batch).
"""

from __future__ import annotations

from typing import Any

from . import fused
from .activations import Activation
from .backend import array_module

__all__ = [
    "KERNELS",
    "dense_forward_loop",
    "dense_forward_matrix",
    "dense_backward_loop",
    "dense_backward_matrix",
]


# -- forward ------------------------------------------------------------------------------------
def dense_forward_loop(
    x: Any, W: Any, b: Any, activation: Activation, out: tuple[Any, Any] | None = None
) -> tuple[Any, Any]:
    """Per-neuron forward: for each sample and each unit j, ``z_j = w_j . x + b_j``."""
    xp = array_module(x, W)
    batch, units = x.shape[0], W.shape[1]
    z = xp.empty((batch, units), dtype=x.dtype) if out is None else out[0]
    for i in range(batch):
        for j in range(units):
            w = W[:, j]  # the weights of unit j
            z[i, j] = xp.dot(w, x[i]) + (b[j] if b is not None else 0.0)
    # g is applied to the layer's z vector: softmax needs all of it, the others act per unit.
    a = activation.forward(z, out=None if out is None else out[1])
    return z, a


def dense_forward_matrix(
    x: Any, W: Any, b: Any, activation: Activation, out: tuple[Any, Any] | None = None
) -> tuple[Any, Any]:
    """Batched forward: ``z = x @ W + b`` for the whole batch at once."""
    xp = array_module(x, W)
    z = xp.matmul(x, W, out=None if out is None else out[0])  # (batch, units)
    a = _add_bias_and_activate(z, b, activation, None if out is None else out[1])
    return z, a


# -- backward -----------------------------------------------------------------------------------
def dense_backward_loop(
    delta_a: Any,
    x: Any,
    W: Any,
    z: Any,
    a: Any,
    activation: Activation,
    need_dx: bool = True,
    out: tuple[Any, Any, Any] | None = None,
) -> tuple[Any, Any, Any]:
    """Per-neuron backward. Returns ``(dW, db, dx)``; ``dx`` is None when not needed."""
    xp = array_module(x, W)
    batch, units = z.shape
    dW = xp.zeros_like(W) if out is None else _zero(out[0])
    db = xp.zeros(units, dtype=W.dtype) if out is None else _zero(out[1])
    dx = None
    if need_dx:
        dx = xp.zeros_like(x) if out is None else _zero(out[2])
    for i in range(batch):
        # delta_z for this sample's units (softmax couples them, so take the row at once)
        dz = activation.backward(delta_a[i : i + 1], z[i : i + 1], a[i : i + 1])[0]
        for j in range(units):
            dW[:, j] += dz[j] * x[i]  # dL/dw_j = delta_z_j * x
            if db is not None:
                db[j] += dz[j]  # dL/db_j = delta_z_j
            if dx is not None:
                dx[i] += dz[j] * W[:, j]  # unit j sends delta_z_j * w_j back to the inputs
    return dW, db, dx


def dense_backward_matrix(
    delta_a: Any,
    x: Any,
    W: Any,
    z: Any,
    a: Any,
    activation: Activation,
    need_dx: bool = True,
    out: tuple[Any, Any, Any] | None = None,
) -> tuple[Any, Any, Any]:
    """Batched backward. Returns ``(dW, db, dx)``; ``dx`` is None when not needed."""
    xp = array_module(x, W)
    o_dW, o_db, o_dx = (None, None, None) if out is None else out
    # delta_z may overwrite delta_a: nothing reads delta_a afterwards.
    dz = activation.backward(delta_a, z, a, out=None if out is None else delta_a)
    dW = xp.matmul(x.T, dz, out=o_dW)  # (inputs, units)
    db = _column_sums(dz, o_db) if (out is None or o_db is not None) else None  # (units,)
    dx = xp.matmul(dz, W.T, out=o_dx) if need_dx else None  # (batch, inputs)
    return dW, db, dx


_BIAS_FUSED = {"relu": "bias_relu", "sigmoid": "bias_sigmoid"}  # one-pass kernels in fused/


def _add_bias_and_activate(z: Any, b: Any, activation: Activation, out: Any) -> Any:
    """``z += b``, then ``a = g(z)``: one pass over z where a fused kernel exists for g."""
    if b is not None and out is not None and activation.name in _BIAS_FUSED:
        kernels = fused.pick(z, b, out)
        if kernels is not None:
            return getattr(kernels, _BIAS_FUSED[activation.name])(z, b, out)
    if b is not None:
        z += b
    return activation.forward(z, out=out)


def _column_sums(dz: Any, out: Any) -> Any:
    """``dz.sum(axis=0)``; NumPy's reduction machinery costs more than the sum on small
    batches, so the fused module (when installed) does it in one plain loop."""
    if out is not None and (kernels := fused.pick(dz, out)):
        return kernels.column_sums(dz, out)
    return dz.sum(axis=0, out=out)


def _zero(buffer: Any) -> Any:
    if buffer is not None:
        buffer[...] = 0
    return buffer


KERNELS = {
    "loop": (dense_forward_loop, dense_backward_loop),
    "matrix": (dense_forward_matrix, dense_backward_matrix),
}
