"""A stack of Dense layers run forward, or backward, in one compiled call (numba, CPU).

On a small network the training step's arithmetic is cheap and its calls are not: the seed
net (400-25-15-1, batch 32) spends more time passing from Python to NumPy and numba, a dozen
times per layer, than in its matrix products. These two kernels run the same operations for
every layer of an all-Dense model in one call each: the products through NumPy's own BLAS
(blas.py, the routines and arguments NumPy's ``matmul`` would pick), the elementwise work
through the fused kernels of cpu.py. Each value is therefore computed exactly as the
layer-by-layer step computes it, to the last bit (tests/test_stack.py).

Layers go in as tuples of arrays (one per layer: numba passes a tuple of arrays cheaply) and
activations as codes: ``LINEAR``, ``RELU``, ``SIGMOID``. A layer without a bias has a bias of
length 0. The first layer's input is passed apart from the rest (the data, which may be a
read-only view), and its input gradient is never computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import blas, cpu

__all__ = ["ENABLED", "LINEAR", "RELU", "SIGMOID", "forward", "backward"]

ENABLED = blas.ENABLED
LINEAR, RELU, SIGMOID = 0, 1, 2

if ENABLED:
    _jit = cpu._jit

    @_jit
    def _bias_activate(z: np.ndarray, b: np.ndarray, code: int, a: np.ndarray) -> None:
        """``z += b`` then ``a = g(z)``, as kernels._add_bias_and_activate does it (``a`` is
        ``z`` itself for a linear layer)."""
        if b.shape[0] == 0:
            if code == RELU:
                zf, af = z.reshape(-1), a.reshape(-1)
                for i in range(zf.size):
                    af[i] = cpu._relu(zf[i])
            elif code == SIGMOID:
                cpu.sigmoid_forward(z, a)
        elif code == RELU:
            cpu.bias_relu(z, b, a)
        elif code == SIGMOID:
            cpu.bias_sigmoid(z, b, a)
        else:
            for r in range(z.shape[0]):
                for c in range(z.shape[1]):
                    z[r, c] += b[c]

    @_jit
    def forward(x: np.ndarray, Ws: Any, bs: Any, codes: Any, zs: Any, As: Any) -> None:
        """Every layer's ``z = a_prev @ W + b`` and ``a = g(z)`` into ``zs`` and ``As``."""
        blas.matmul(x, False, Ws[0], False, zs[0])
        _bias_activate(zs[0], bs[0], codes[0], As[0])
        for i in range(1, len(Ws)):
            blas.matmul(As[i - 1], False, Ws[i], False, zs[i])
            _bias_activate(zs[i], bs[i], codes[i], As[i])

    @_jit
    def _layer_backward(
        d: np.ndarray,
        inp: Any,
        code: int,
        z: np.ndarray,
        a: np.ndarray,
        dW: np.ndarray,
        db: np.ndarray,
    ) -> None:
        """``d`` becomes ``dL/dz`` (in place), then ``dW = inp.T @ d`` and ``db`` its column sums
        (kernels.dense_backward_into, less the input gradient)."""
        if code == RELU:
            cpu.relu_backward_inplace(d, z)
        elif code == SIGMOID:
            cpu.sigmoid_backward_inplace(d, a)
        blas.matmul(inp, True, d, False, dW)
        if db.shape[0] > 0:
            cpu.column_sums(d, db)

    @_jit
    def backward(
        delta: np.ndarray,
        x: np.ndarray,
        Ws: Any,
        codes: Any,
        zs: Any,
        As: Any,
        dWs: Any,
        dbs: Any,
        dxs: Any,
        shortcut: bool,
    ) -> None:
        """The gradients of every layer from ``delta``, the output's ``dL/da`` (``dL/dz`` when
        ``shortcut``: the loss took the output activation's derivative already). ``delta``
        and every ``dxs[i]`` are overwritten with ``dL/dz`` of their layer."""
        last = len(Ws) - 1
        d = delta
        for i in range(last, 0, -1):
            code = LINEAR if shortcut and i == last else codes[i]
            _layer_backward(d, As[i - 1], code, zs[i], As[i], dWs[i], dbs[i])
            blas.matmul(d, False, Ws[i], True, dxs[i])
            d = dxs[i]
        code = LINEAR if shortcut and last == 0 else codes[0]
        _layer_backward(d, x, code, zs[0], As[0], dWs[0], dbs[0])
