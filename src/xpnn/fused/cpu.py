"""One-pass CPU kernels for the training step's elementwise work, compiled with numba.

NumPy runs an expression such as Adam's update as a chain of whole-array passes (about a dozen
for Adam) and a small layer's step as dozens of tiny calls, each with its own overhead. These
kernels do the same arithmetic in one pass per operation. They are an optional extra
(``pip install 'xpnn[fast]'``): without numba, or with ``XPNN_NUMBA=0``, the NumPy code in
activations.py, losses.py and optimizers.py runs instead. The tests hold the two equal; the
operations are written in the same order so that float32 results agree to the last bit where
no transcendental function is involved (numba's ``exp``/``log`` may differ from NumPy's SIMD
versions in the last place).

Each kernel takes C-contiguous NumPy arrays only (``accepts``); device and strict arrays never
come here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:  # numba is optional
    if os.environ.get("XPNN_NUMBA", "1") == "0":
        raise ImportError("disabled by XPNN_NUMBA=0")
    import numba

    ENABLED = True
except ImportError:  # without the fast extra, or with XPNN_NUMBA=0
    numba = None
    ENABLED = False

__all__ = ["ENABLED", "DEVICE_SCALARS", "accepts"]

DEVICE_SCALARS = False  # the host needs no kernels that read scalars from device memory


def accepts(*arrays: Any) -> bool:
    """True when the fused kernels can take these arrays (NumPy, C-contiguous, float)."""
    if not ENABLED:
        return False
    for a in arrays:  # a plain loop: this runs several times per training step
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return False
    return True


if ENABLED:
    _jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

    # -- activations ------------------------------------------------------------------------
    @_jit
    def sigmoid_forward(z, out):  # noqa: ANN001, ANN202
        zf, of = z.reshape(-1), out.reshape(-1)
        one = zf.dtype.type(1.0)
        for i in range(zf.size):
            e = np.exp(-abs(zf[i]))  # never overflows
            of[i] = (one if zf[i] >= 0 else e) / (one + e)
        return out

    # The backward kernels work in place on delta (the training step's layout). Writing to a
    # separate ``out`` that may alias delta would defeat LLVM's vectorisation.
    @_jit
    def sigmoid_backward_inplace(delta, a):  # noqa: ANN001, ANN202
        df, af = delta.reshape(-1), a.reshape(-1)
        for i in range(df.size):
            t = df[i] * af[i]
            df[i] = t - t * af[i]  # delta * a * (1 - a), in activations.py's order
        return delta

    @_jit
    def relu_backward_inplace(delta, z):  # noqa: ANN001, ANN202
        df, zf = delta.reshape(-1), z.reshape(-1)
        for i in range(df.size):
            if zf[i] <= 0:
                df[i] = 0
        return delta

    @_jit
    def bias_relu(z, b, out):  # noqa: ANN001, ANN202
        """``z += b; out = max(z, 0)`` in one pass."""
        zero = z.dtype.type(0.0)
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                v = z[r, c] + b[c]
                z[r, c] = v
                out[r, c] = v if v > zero else zero
        return out

    @_jit
    def bias_sigmoid(z, b, out):  # noqa: ANN001, ANN202
        """``z += b; out = sigmoid(z)`` in one pass (the form of sigmoid_forward)."""
        one = z.dtype.type(1.0)
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                v = z[r, c] + b[c]
                z[r, c] = v
                e = np.exp(-abs(v))
                out[r, c] = (one if v >= 0 else e) / (one + e)
        return out

    @_jit
    def column_sums(dz, out):  # noqa: ANN001, ANN202
        out[:] = 0
        for r in range(dz.shape[0]):
            for c in range(dz.shape[1]):
                out[c] += dz[r, c]
        return out

    # -- output layer: loss value and dL/dz in one pass --------------------------------------
    @_jit
    def bce_sigmoid(a, y, delta, eps):  # noqa: ANN001, ANN202
        """Mean clipped BCE of probabilities ``a``, and ``delta = (a - y) / size``."""
        af, yf, df = a.reshape(-1), y.reshape(-1), delta.reshape(-1)
        n = af.size
        lo, hi = af.dtype.type(eps), af.dtype.type(1.0) - af.dtype.type(eps)
        one, nf = af.dtype.type(1.0), af.dtype.type(n)
        total = 0.0
        for i in range(n):
            p = min(max(af[i], lo), hi)
            total += -(yf[i] * np.log(p) + (one - yf[i]) * np.log(one - p))
            df[i] = (af[i] - yf[i]) / nf
        return total / n

    @_jit
    def bce_logits(z, y, delta):  # noqa: ANN001, ANN202
        """Mean BCE of logits ``z`` (softplus form), and ``delta = (sigmoid(z) - y) / size``."""
        zf, yf, df = z.reshape(-1), y.reshape(-1), delta.reshape(-1)
        n = zf.size
        one, nf = zf.dtype.type(1.0), zf.dtype.type(n)
        total = 0.0
        for i in range(n):
            x = zf[i]
            e = np.exp(-abs(x))
            total += max(x, 0) - x * yf[i] + np.log1p(e)
            s = (one if x >= 0 else e) / (one + e)
            df[i] = (s - yf[i]) / nf
        return total / n

    @_jit
    def softmax_ce_sparse(z, y, delta, from_logits, eps):  # noqa: ANN001, ANN202
        """Mean sparse categorical CE and ``delta = (softmax(z) - onehot(y)) / batch``.

        With ``from_logits`` z are logits (log-sum-exp); otherwise z are softmax outputs
        (clipped probabilities, as Keras) and delta is ``(z - onehot) / batch``.
        """
        batch, classes = z.shape
        total = 0.0
        for r in range(batch):
            label = y[r]
            if from_logits:
                m = z[r, 0]
                for c in range(1, classes):
                    m = max(m, z[r, c])
                s = 0.0
                for c in range(classes):
                    e = np.exp(z[r, c] - m)
                    delta[r, c] = e
                    s += e
                total += np.log(s) - (z[r, label] - m)
                for c in range(classes):
                    delta[r, c] = delta[r, c] / s / batch
            else:
                s = 0.0
                for c in range(classes):
                    s += z[r, c]
                p = min(max(z[r, label] / s, eps), 1.0 - eps)
                total -= np.log(p)
                for c in range(classes):
                    delta[r, c] = z[r, c] / batch
            delta[r, label] -= 1.0 / batch
        return total / batch

    # -- optimizers --------------------------------------------------------------------------
    @_jit
    def adam_update(w, g, m, v, c1, c2, alpha, eps):  # noqa: ANN001, ANN202
        """One pass of optimizers.Adam's update, in its operation order."""
        for i in range(w.size):
            mi = m[i] + (g[i] - m[i]) * c1
            vi = v[i] + (g[i] * g[i] - v[i]) * c2
            m[i] = mi
            v[i] = vi
            w[i] -= alpha * (mi / (np.sqrt(vi) + eps))
