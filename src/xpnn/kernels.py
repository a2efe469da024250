"""Dense-layer kernels, written twice: the textbook per-neuron loop and batched matrix products.

The twins are pure functions with the same arguments and the same results; they allocate their
outputs and modify no input. Diff them to see what vectorisation is. Shapes: ``x`` is
``(batch, inputs)``, ``W`` is ``(inputs, units)`` as in Keras, ``b`` is ``(units,)`` or
``None``.

Forward:  ``z = x @ W + b``, ``a = g(z)``.
Backward, given ``delta_a = dL/da``:
    ``delta_z = delta_a * g'(z)`` (a vector-Jacobian product for softmax),
    ``dW = x.T @ delta_z``, ``db = sum over the batch of delta_z``, ``dx = delta_z @ W.T``.
(The seed notes multiply only ``db`` by ``g'(z)``; every gradient needs it.)

When the loss already gives ``dL/dz`` (sigmoid + BCE, softmax + cross-entropy), pass it as
``delta_a`` with ``activation=linear``: linear's backward is the identity.

The training step uses the ``_into`` forms below the twins: the matrix twin's arithmetic
written into buffers allocated once per batch size (and, for the backward, overwriting
``delta`` with ``delta_z``, since nothing reads it afterwards).
"""

from __future__ import annotations

from typing import Any

from . import fused
from .activations import Activation, relu, sigmoid
from .backend import array_module

__all__ = [
    "KERNELS",
    "dense_forward_loop",
    "dense_forward_matrix",
    "dense_backward_loop",
    "dense_backward_matrix",
    "dense_forward_into",
    "dense_backward_into",
]


# -- forward ------------------------------------------------------------------------------------
def dense_forward_loop(x: Any, W: Any, b: Any, activation: Activation) -> tuple[Any, Any]:
    """Per-neuron forward: for each sample and each unit j, ``z_j = w_j . x + b_j``."""
    xp = array_module(x, W)
    batch, units = x.shape[0], W.shape[1]
    z = xp.empty((batch, units), dtype=x.dtype)
    for i in range(batch):
        for j in range(units):
            w = W[:, j]  # the weights of unit j
            z[i, j] = xp.dot(w, x[i]) + (b[j] if b is not None else 0.0)
    # g is applied to the layer's z vector: softmax needs all of it, the others act per unit.
    return z, activation.forward(z)


def dense_forward_matrix(x: Any, W: Any, b: Any, activation: Activation) -> tuple[Any, Any]:
    """Batched forward: ``z = x @ W + b`` for the whole batch at once."""
    z = x @ W  # (batch, units)
    if b is not None:
        z += b
    return z, activation.forward(z)


# -- backward -----------------------------------------------------------------------------------
def dense_backward_loop(
    delta_a: Any, x: Any, W: Any, z: Any, a: Any, activation: Activation
) -> tuple[Any, Any, Any]:
    """Per-neuron backward. Returns ``(dW, db, dx)``."""
    xp = array_module(x, W)
    batch, units = z.shape
    dW = xp.zeros_like(W)
    db = xp.zeros(units, dtype=W.dtype)
    dx = xp.zeros_like(x)
    for i in range(batch):
        # delta_z for this sample's units (softmax couples them, so take the row at once)
        dz = activation.backward(delta_a[i : i + 1], z[i : i + 1], a[i : i + 1])[0]
        for j in range(units):
            dW[:, j] += dz[j] * x[i]  # dL/dw_j = delta_z_j * x
            db[j] += dz[j]  # dL/db_j = delta_z_j
            dx[i] += dz[j] * W[:, j]  # unit j sends delta_z_j * w_j back to the inputs
    return dW, db, dx


def dense_backward_matrix(
    delta_a: Any, x: Any, W: Any, z: Any, a: Any, activation: Activation
) -> tuple[Any, Any, Any]:
    """Batched backward. Returns ``(dW, db, dx)``."""
    dz = activation.backward(delta_a, z, a)
    return x.T @ dz, dz.sum(axis=0), dz @ W.T  # (inputs, units), (units,), (batch, inputs)


KERNELS = {
    "loop": (dense_forward_loop, dense_backward_loop),
    "matrix": (dense_forward_matrix, dense_backward_matrix),
}


# -- the training step's forms: the matrix twin into preallocated buffers -------------------------
def dense_forward_into(x: Any, W: Any, b: Any, activation: Activation, z: Any, a: Any) -> Any:
    """``dense_forward_matrix`` writing ``z`` and ``a`` (which may be ``z`` itself for a linear
    activation) into the given buffers; returns ``a``."""
    array_module(x, W).matmul(x, W, out=z)
    return _add_bias_and_activate(z, b, activation, a)


def dense_backward_into(
    delta: Any,
    x: Any,
    W: Any,
    z: Any,
    a: Any,
    activation: Activation,
    dW: Any,
    db: Any | None,
    dx: Any | None,
) -> Any | None:
    """``dense_backward_matrix`` into ``dW``, ``db`` (None without a bias) and ``dx`` (None
    when nobody needs it: the first layer). ``delta`` is overwritten with ``delta_z``."""
    xp = array_module(x, W)
    dz = activation.backward(delta, z, a, out=delta)
    xp.matmul(x.T, dz, out=dW)  # (inputs, units)
    if db is not None:
        _column_sums(dz, db)  # (units,)
    if dx is not None:
        xp.matmul(dz, W.T, out=dx)  # (batch, inputs)
    return dx


# one-pass kernels in fused/, chosen by the activation itself (a custom activation that merely
# shares a name does not get them)
_BIAS_FUSED = {id(relu): "bias_relu", id(sigmoid): "bias_sigmoid"}


def _add_bias_and_activate(z: Any, b: Any, activation: Activation, out: Any) -> Any:
    """``z += b``, then ``a = g(z)``: one pass over z where a fused kernel exists for g."""
    fused_name = _BIAS_FUSED.get(id(activation))
    if b is not None and fused_name is not None and (kernels := fused.pick(z, b, out)):
        return getattr(kernels, fused_name)(z, b, out)
    if b is not None:
        z += b
    return activation.forward(z, out=out)


def _column_sums(dz: Any, out: Any) -> Any:
    """``dz.sum(axis=0)``; NumPy's reduction machinery costs more than the sum on small
    batches, so the fused module (when installed) does it in one plain loop."""
    if out is not None and (kernels := fused.pick(dz, out)):
        return kernels.column_sums(dz, out)
    return dz.sum(axis=0, out=out)
