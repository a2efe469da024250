"""One-pass CPU twins of the training step's elementwise work, compiled with numba.

NumPy runs an expression such as Adam's update as a chain of whole-array passes (about a dozen
for Adam) and a small layer's step as dozens of tiny calls, each with its own overhead. These
kernels do the same arithmetic in one pass per operation. numba comes with a plain install
where it has wheels (pyproject.toml); without numba, or with ``XPNN_NUMBA=0``, the NumPy code
in activations.py, losses.py, optimizers.py and kernels.py runs instead.

That NumPy code is the reference. Each kernel here performs its operations in the same order
and in the same dtype, so that results agree to the last bit where no transcendental function
is involved (``exp``/``log`` here may differ from NumPy's SIMD versions in the last place,
and a loss's mean is accumulated in float64 here, pairwise in the array's dtype there);
tests/test_fused.py holds each twin to that; benchmarks/test_fused.py times each against its
reference.

Sigmoid's float32 ``exp`` is ``_expf`` below rather than the C library's: the library call
keeps LLVM from vectorising the loop (no SIMD math library comes with numba's wheels), and a
sigmoid layer's forward is most of a small network's elementwise time. ``_expf`` is within
1 ulp of the correctly rounded value over float32's whole range (NumPy's own AVX-512 ``exp``
is within 3; tests/test_fused.py checks both bounds), and 4x faster per value here.

Each kernel takes C-contiguous NumPy arrays only (``accepts``); device and strict arrays never
come here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:  # numba is a dependency where it has wheels, absent elsewhere
    if os.environ.get("XPNN_NUMBA", "1") == "0":
        raise ImportError("disabled by XPNN_NUMBA=0")
    import numba

    ENABLED = True
except ImportError:  # without the fast extra, or with XPNN_NUMBA=0
    numba = None
    ENABLED = False

__all__ = ["ENABLED", "accepts"]


def accepts(*arrays: Any) -> bool:
    """True when the fused kernels can take these arrays (NumPy, C-contiguous)."""
    if not ENABLED:
        return False
    for a in arrays:  # a plain loop: this runs several times per training step
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return False
    return True


if ENABLED:
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic, overload

    _jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

    # -- exp in float32, vectorisable --------------------------------------------------------
    @intrinsic
    def _float32_from_bits(typingctx: Any, bits: Any) -> Any:
        """The float32 whose bit pattern is the int32 ``bits`` (an LLVM bitcast)."""

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.FloatType())

        return types.float32(types.int32), codegen

    _EXP_LO, _EXP_HI = -103.972084, 88.7228394  # below: 0 (under the least subnormal); above: inf

    @_jit
    def _expf(x: Any) -> Any:
        """``exp`` of a float32, branch-free: ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (ln2 in
        two parts, so ``r`` is exact), ``e^r`` by Cephes's ``expf`` polynomial (Moshier,
        1984), times ``2^n`` built from exponent bits in two halves so that subnormal results
        come out right. NaN gives NaN, ``-inf`` 0, ``inf`` inf."""
        f = np.float32
        xc = min(max(x, f(_EXP_LO)), f(_EXP_HI))
        n = np.floor(xc * f(1.44269504088896341) + f(0.5))
        r = xc - n * f(0.693359375)
        r = r - n * f(-2.12194440e-4)
        p = f(1.9875691500e-4)
        p = p * r + f(1.3981999507e-3)
        p = p * r + f(8.3334519073e-3)
        p = p * r + f(4.1665795894e-2)
        p = p * r + f(1.6666665459e-1)
        p = p * r + f(5.0000001201e-1)
        p = p * (r * r) + r + f(1.0)
        k = np.int32(n)
        half = k >> 1
        y = p * _float32_from_bits(np.int32((half + 127) << 23))
        y = y * _float32_from_bits(np.int32((k - half + 127) << 23))
        y = f(0.0) if x < f(_EXP_LO) else y
        y = f(np.inf) if x > f(_EXP_HI) else y
        return x if x != x else y

    def _exp(x: Any) -> Any:
        """``np.exp`` of a scalar: ``_expf`` for float32, the C library's otherwise."""
        return np.exp(x)

    @overload(_exp, jit_options={"cache": True})
    def _exp_typed(x: Any) -> Any:
        def float32_exp(x: Any) -> Any:
            return _expf(x)

        def library_exp(x: Any) -> Any:
            return np.exp(x)

        return float32_exp if x == types.float32 else library_exp

    # -- scalar forms of the reference's ufuncs (NaN in, NaN out, as NumPy) ---------------------
    @_jit
    def _relu(x: Any) -> Any:
        """``np.maximum(x, 0.0)``: NaN stays NaN, and -0.0 gives +0.0 as NumPy's does."""
        return type(x)(0.0) if x <= 0 else x

    @_jit
    def _clip(x: Any, lo: Any, hi: Any) -> Any:
        """``np.clip(x, lo, hi)``."""
        return x if np.isnan(x) else min(max(x, lo), hi)

    @_jit
    def _sigmoid(z: Any) -> Any:
        """activations._sigmoid: ``where(z >= 0, 1, e) / (1 + e)`` with ``e = exp(-|z|)``."""
        one = type(z)(1.0)
        e = _exp(-abs(z))  # never overflows
        return (one if z >= 0 else e) / (one + e)

    # -- activations ----------------------------------------------------------------------------
    @_jit
    def sigmoid_forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = sigmoid(z)``."""
        zf, of = z.reshape(-1), out.reshape(-1)
        for i in range(zf.size):
            of[i] = _sigmoid(zf[i])
        return out

    # The backward kernels work in place on delta (the training step's layout). Writing to a
    # separate ``out`` that may alias delta would defeat LLVM's vectorisation.
    @_jit
    def sigmoid_backward_inplace(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``delta *= a (1 - a)``, as activations._sigmoid_backward: ``t = delta a; t - t a``."""
        df, af = delta.reshape(-1), a.reshape(-1)
        for i in range(df.size):
            t = df[i] * af[i]
            df[i] = t - t * af[i]
        return delta

    @_jit
    def relu_backward_inplace(delta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``delta *= (z > 0)``: a product, as the reference, so -0.0 and NaN come out alike."""
        df, zf = delta.reshape(-1), z.reshape(-1)
        one, zero = df.dtype.type(1.0), df.dtype.type(0.0)
        for i in range(df.size):
            df[i] = df[i] * (one if zf[i] > 0 else zero)
        return delta

    @_jit
    def bias_relu(z: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``z += b; out = max(z, 0)`` in one pass."""
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                v = z[r, c] + b[c]
                z[r, c] = v
                out[r, c] = _relu(v)
        return out

    @_jit
    def bias_sigmoid(z: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``z += b; out = sigmoid(z)`` in one pass."""
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                v = z[r, c] + b[c]
                z[r, c] = v
                out[r, c] = _sigmoid(v)
        return out

    @_jit
    def column_sums(dz: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``dz.sum(axis=0)``: NumPy adds the rows in order from 0, and so does this."""
        out[:] = 0
        for r in range(dz.shape[0]):
            for c in range(dz.shape[1]):
                out[c] += dz[r, c]
        return out

    # -- output layer: loss value and dL/dz in one pass -----------------------------------------
    @_jit
    def bce_sigmoid(a: np.ndarray, y: np.ndarray, delta: np.ndarray, eps: float) -> float:
        """Mean clipped BCE of probabilities ``a``, and ``delta = (a - y) / size``."""
        af, yf, df = a.reshape(-1), y.reshape(-1), delta.reshape(-1)
        n = af.size
        t = af.dtype.type
        lo, hi, one, nf = t(eps), t(1.0 - eps), t(1.0), t(n)
        total = 0.0
        for i in range(n):
            p = _clip(af[i], lo, hi)
            total += -(yf[i] * np.log(p) + (one - yf[i]) * np.log(one - p))
            df[i] = (af[i] - yf[i]) / nf
        return total / n

    @_jit
    def bce_logits(z: np.ndarray, y: np.ndarray, delta: np.ndarray) -> float:
        """Mean BCE of logits ``z`` (softplus form), and ``delta = (sigmoid(z) - y) / size``."""
        zf, yf, df = z.reshape(-1), y.reshape(-1), delta.reshape(-1)
        n = zf.size
        nf = zf.dtype.type(n)
        total = 0.0
        for i in range(n):
            x = zf[i]
            total += _relu(x) - x * yf[i] + np.log1p(np.exp(-abs(x)))
            df[i] = (_sigmoid(x) - yf[i]) / nf
        return total / n

    @_jit
    def softmax_ce_sparse(
        z: np.ndarray, y: np.ndarray, delta: np.ndarray, from_logits: bool, eps: float
    ) -> float:
        """Mean sparse categorical CE and ``delta = (softmax(z) - onehot(y)) / batch``.

        With ``from_logits`` z are logits (log-sum-exp); otherwise z are softmax outputs
        (clipped probabilities, as Keras) and delta is ``(z - onehot) / batch``. Per element
        in the reference's order: the probability, minus 1 at the label, divided by the batch.
        """
        batch, classes = z.shape
        t = z.dtype.type
        one, nb, lo, hi = t(1.0), t(batch), t(eps), t(1.0 - eps)
        total = 0.0
        for r in range(batch):
            label = y[r]
            s = t(0.0)
            if from_logits:  # softmax: subtract the row max, exp, then (below) divide by the sum
                m = z[r, 0]
                for c in range(1, classes):
                    m = max(m, z[r, c])
                for c in range(classes):
                    e = np.exp(z[r, c] - m)
                    delta[r, c] = e
                    s += e
                total += np.log(s) - (z[r, label] - m)
            else:
                for c in range(classes):
                    s += z[r, c]
                total -= np.log(_clip(z[r, label] / s, lo, hi))
            for c in range(classes):
                p = delta[r, c] / s if from_logits else z[r, c]
                if c == label:
                    p -= one
                delta[r, c] = p / nb
        return total / batch

    # -- optimizers -----------------------------------------------------------------------------
    @_jit
    def adam_update(
        w: np.ndarray,
        g: np.ndarray,
        m: np.ndarray,
        v: np.ndarray,
        t: np.ndarray,
        lr: np.ndarray,
        beta_1: float,
        beta_2: float,
        eps: float,
    ) -> None:
        """optimizers.Adam's update in one pass: ``t`` (the step count, this step's) and ``lr``
        are one-element float64 arrays; ``w``, ``m``, ``v`` are updated in place."""
        alpha64 = lr[0] * np.sqrt(1.0 - beta_2 ** t[0]) / (1.0 - beta_1 ** t[0])
        d = w.dtype.type
        alpha, c1, c2, e = d(alpha64), d(1.0 - beta_1), d(1.0 - beta_2), d(eps)
        for i in range(w.size):
            mi = m[i] + (g[i] - m[i]) * c1
            vi = v[i] + (g[i] * g[i] - v[i]) * c2
            m[i] = mi
            v[i] = vi
            w[i] -= alpha * (mi / (np.sqrt(vi) + e))
