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

The float32 ``exp`` of sigmoid and of the softmax cross-entropy is ``_expf`` below rather than
the C library's: the library call keeps LLVM from vectorising the loop (no SIMD math library
comes with numba's wheels), and a sigmoid layer's forward is most of a small network's
elementwise time. ``_expf`` is within
1 ulp of the correctly rounded value over float32's whole range (NumPy's own AVX-512 ``exp``
is within 3; tests/test_fused.py checks both bounds), and 4x faster per value here.

The compiled stack of Dense layers (``stack_forward``, ``stack_backward``: a whole all-Dense
model's forward or backward in one call, layers.DenseStack) is here too, with the ``matmul``
it calls through NumPy's own OpenBLAS (blas.py finds it), and the training passes built on it
(``stack_train_*``: whole training steps, from the gather to Adam's update, in one call): every
numba kernel lives in this one file, because numba's on-disk cache checks only the file of the
function it compiles, not the files of the functions it calls.

Each kernel takes C-contiguous NumPy arrays only (``accepts``); device and strict arrays never
come here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import blas

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
    _jit_inline = numba.njit(
        cache=True, nogil=True, fastmath=False, error_model="numpy", inline="always"
    )

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

    # Softmax's exps come apart from its row sums, which keep their order (the reference's
    # ``exp`` is elementwise, its sums per row): over the whole buffer in one flat loop, LLVM
    # vectorises the exp; row by row, a handful of classes wide, it would not.
    @_jit_inline
    def _row_max(z: np.ndarray, r: int) -> Any:
        m = z[r, 0]
        for c in range(1, z.shape[1]):
            m = max(m, z[r, c])
        return m

    @_jit_inline
    def _row_sum(a: np.ndarray, r: int) -> Any:
        s = a.dtype.type(0.0)
        for c in range(a.shape[1]):
            s += a[r, c]
        return s

    @_jit_inline
    def _exp_shifted(z: np.ndarray, out: np.ndarray) -> None:
        """``out = exp(z - the row's largest value)`` (``out`` may be ``z``)."""
        for r in range(z.shape[0]):
            m = _row_max(z, r)
            for c in range(z.shape[1]):
                out[r, c] = z[r, c] - m
        of = out.reshape(-1)
        for i in range(of.size):
            of[i] = _exp(of[i])

    @_jit
    def softmax_forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = softmax(z)`` along the rows of a 2-D ``z`` (``out`` may be ``z``), as
        activations._softmax: subtract the row's largest value, exp, divide by the row sum
        (added in order, where NumPy adds pairwise)."""
        _exp_shifted(z, out)
        for r in range(z.shape[0]):
            s = _row_sum(out, r)
            for c in range(z.shape[1]):
                out[r, c] = out[r, c] / s
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
    def softmax_backward_inplace(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``delta = a (delta - sum(delta a))`` per row of a 2-D ``delta`` (softmax's
        vector-Jacobian product), as activations._softmax_backward: the products summed in
        order (NumPy: pairwise), then ``(delta - dot) * a``."""
        for r in range(delta.shape[0]):
            dot = delta.dtype.type(0.0)
            for c in range(delta.shape[1]):
                dot += delta[r, c] * a[r, c]
            for c in range(delta.shape[1]):
                delta[r, c] = (delta[r, c] - dot) * a[r, c]
        return delta

    @_jit
    def relu_backward_sums(delta: np.ndarray, z: np.ndarray, sums: np.ndarray) -> None:
        """relu_backward_inplace and column_sums of its result in one pass: the same products,
        and the same sums (rows added in order from 0)."""
        one, zero = delta.dtype.type(1.0), delta.dtype.type(0.0)
        sums[:] = 0
        for r in range(delta.shape[0]):
            for c in range(delta.shape[1]):
                v = delta[r, c] * (one if z[r, c] > 0 else zero)
                delta[r, c] = v
                sums[c] += v

    # A layer's rows are short (the seed net's are 25, 15 and 1 wide): vectorised along a row,
    # most of the work would fall in the scalar remainder. So the bias goes in row by row and
    # the activation runs over the whole buffer as one flat loop. Each value sees the same
    # operations as in one pass (z + b, then g), so the results are the same.
    @_jit
    def _add_bias(z: np.ndarray, b: np.ndarray) -> None:
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                z[r, c] += b[c]

    @_jit
    def bias_relu(z: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``z += b; out = max(z, 0)``: in one pass along rows wide enough to vectorise."""
        if z.shape[1] >= 64:
            for r in range(z.shape[0]):
                for c in range(z.shape[1]):
                    v = z[r, c] + b[c]
                    z[r, c] = v
                    out[r, c] = _relu(v)
            return out
        _add_bias(z, b)
        zf, of = z.reshape(-1), out.reshape(-1)
        for i in range(zf.size):
            of[i] = _relu(zf[i])
        return out

    @_jit
    def bias_sigmoid(z: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``z += b; out = sigmoid(z)``."""
        _add_bias(z, b)
        return sigmoid_forward(z, out)

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
    def mse(a: np.ndarray, y: np.ndarray, delta: np.ndarray) -> float:
        """Mean squared error and ``delta = 2 (a - y) / size`` after a linear output, as
        losses.MeanSquaredError: ``e = a - y``, ``e * e``; ``e * 2``, then divided by the size."""
        af, yf, df = a.reshape(-1), y.reshape(-1), delta.reshape(-1)
        n = af.size
        two, nf = af.dtype.type(2.0), af.dtype.type(n)
        total = 0.0
        for i in range(n):
            e = af[i] - yf[i]
            total += e * e
            df[i] = e * two / nf
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
        if from_logits:  # softmax: subtract the row max, exp, then (below) divide by the sum
            _exp_shifted(z, delta)
        for r in range(batch):
            label = y[r]
            if from_logits:
                s = _row_sum(delta, r)
                total += np.log(s) - (z[r, label] - _row_max(z, r))
            else:
                s = _row_sum(z, r)
                total -= np.log(_clip(z[r, label] / s, lo, hi))
            for c in range(classes):
                p = delta[r, c] / s if from_logits else z[r, c]
                if c == label:
                    p -= one
                delta[r, c] = p / nb
        return total / batch

    @_jit
    def softmax_ce(
        z: np.ndarray, y: np.ndarray, delta: np.ndarray, from_logits: bool, eps: float
    ) -> float:
        """Mean categorical CE against target rows ``y`` (one-hot or probabilities) and
        ``delta = (softmax(z) - y) / batch``; for softmax outputs ``z`` (not ``from_logits``)
        the probabilities are ``z`` over its row sum, clipped as Keras clips them, and delta is
        ``(z - y) / batch``. Per element in the reference's order, as softmax_ce_sparse."""
        batch, classes = z.shape
        t = z.dtype.type
        nb, lo, hi = t(batch), t(eps), t(1.0 - eps)
        total = 0.0
        if from_logits:
            _exp_shifted(z, delta)
        for r in range(batch):
            if from_logits:  # log softmax: (z - max) - log(sum of exp(z - max))
                m, s = _row_max(z, r), _row_sum(delta, r)
                log_s = np.log(s)
                for c in range(classes):
                    total += y[r, c] * (log_s - (z[r, c] - m))
                for c in range(classes):
                    delta[r, c] = (delta[r, c] / s - y[r, c]) / nb
            else:
                s = _row_sum(z, r)
                for c in range(classes):
                    total -= y[r, c] * np.log(_clip(z[r, c] / s, lo, hi))
                for c in range(classes):
                    delta[r, c] = (z[r, c] - y[r, c]) / nb
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


# -- NumPy's BLAS, called from here (blas.py finds it) ---------------------------------------
# ``matmul(a, ta, b, tb, out)`` writes ``op(a) @ op(b)`` into ``out`` (``op`` transposes when
# its flag is set) and follows NumPy's ``matmul`` loop (numpy/_core/src/umath/matmul.c.src)
# for C-contiguous 2-D operands: ``dot`` for a 1x1 result, a plain loop for an outer product
# (inner dimension 1), ``gemv`` when one side is a vector, ``gemm`` otherwise, with the same
# order, transpose flags and leading dimensions, so the results are NumPy's to the last bit
# (tests/test_stack.py). One exception, never met here: NumPy computes ``a.T @ a`` of one
# array with ``syrk``; this always uses ``gemm``.
STACK_ENABLED = ENABLED and blas.ADDRESSES is not None
LINEAR, RELU, SIGMOID, SOFTMAX = 0, 1, 2, 3  # the activation codes of the stack kernels
NO_UPDATE, ADAM = 0.0, 1.0  # the update codes of the training passes (hyper[0])
# the metrics a training pass adds up itself (metrics.Metric.fused_kernel)
BINARY_ACCURACY, SPARSE_CATEGORICAL_ACCURACY, CATEGORICAL_ACCURACY = 1.0, 2.0, 3.0

if STACK_ENABLED:
    import llvmlite.binding as ll

    for _name, _address in blas.ADDRESSES.items():
        ll.add_symbol(f"xpnn_cblas_{_name}", _address)

    # Pointers are passed as 64-bit integers (the same registers on x86-64 and arm64), and the
    # CBLAS enums as 32-bit ints; sizes are 64-bit (ILP64).
    _i32, _i64, _f32, _f64 = types.int32, types.int64, types.float32, types.float64

    def _gemm(name: str, f: Any) -> Any:
        args = (_i32, _i32, _i32, _i64, _i64, _i64, f, _i64, _i64, _i64, _i64, f, _i64, _i64)
        return types.ExternalFunction(f"xpnn_cblas_{name}", types.void(*args))

    def _gemv(name: str, f: Any) -> Any:
        args = (_i32, _i32, _i64, _i64, f, _i64, _i64, _i64, _i64, f, _i64, _i64)
        return types.ExternalFunction(f"xpnn_cblas_{name}", types.void(*args))

    def _dot(name: str, f: Any) -> Any:
        return types.ExternalFunction(f"xpnn_cblas_{name}", f(_i64, _i64, _i64, _i64, _i64))

    _sgemm, _dgemm = _gemm("sgemm", _f32), _gemm("dgemm", _f64)
    _sgemv, _dgemv = _gemv("sgemv", _f32), _gemv("dgemv", _f64)
    _sdot, _ddot = _dot("sdot", _f32), _dot("ddot", _f64)

    _ROW_MAJOR, _COL_MAJOR, _NO_TRANS, _TRANS = 101, 102, 111, 112
    _MAXSIZE = 2**31 - 1  # NumPy's BLAS_MAXSIZE: beyond it, its own loop (never here)

    @_jit
    def _blasable(s1: int, s2: int, d1: int, d2: int, size: int) -> bool:
        """NumPy's ``is_blasable2d``: unit stride in the second dimension, a usable first."""
        if s2 != size:
            return False
        return s1 % size == 0 and d2 <= s1 // size <= _MAXSIZE

    @_jit
    def _layout(s1: int, s2: int, d1: int, d2: int, size: int, yes: int, no: int) -> Any:
        """NumPy's choice for an operand with byte strides ``s1, s2``: ``(yes, s1 / size)``
        when it is blasable as it stands, else ``(no, s2 / size)`` (transposed, or the other
        order), as ``(flag, leading dimension)``."""
        if _blasable(s1, s2, d1, d2, size):
            return yes, s1 // size
        return no, s2 // size

    @_jit
    def _gemv_call(
        p1: int,
        s1m: int,
        s1n: int,
        p2: int,
        s2n: int,
        po: int,
        som: int,
        m: int,
        n: int,
        size: int,
        one: Any,
    ) -> None:
        """NumPy's ``gemv``: ``out (m) = A (m, n) @ v (n)`` with A's byte strides ``s1m, s1n``."""
        order, lda = _layout(s1m, s1n, m, n, size, _COL_MAJOR, _ROW_MAJOR)
        zero = one - one
        if size == 4:
            _sgemv(order, _TRANS, n, m, one, p1, lda, p2, s2n // size, zero, po, som // size)
        else:
            _dgemv(order, _TRANS, n, m, one, p1, lda, p2, s2n // size, zero, po, som // size)

    @_jit
    def matmul(a: np.ndarray, ta: bool, b: np.ndarray, tb: bool, out: np.ndarray) -> None:
        """``out = op(a) @ op(b)`` for C-contiguous 2-D arrays of one float dtype, as NumPy's
        ``np.matmul(a.T if ta else a, b.T if tb else b, out=out)`` computes it."""
        size = a.itemsize
        one = out.dtype.type(1.0)
        # shapes and byte strides of the operands as matmul sees them: (dm, dn) @ (dn, dp)
        r1, c1 = a.shape
        r2, c2 = b.shape
        dm, dn = (c1, r1) if ta else (r1, c1)
        dp = r2 if tb else c2
        s1m, s1n = (size, c1 * size) if ta else (c1 * size, size)
        s2n, s2p = (size, c2 * size) if tb else (c2 * size, size)
        som, sop = dp * size, size
        p1, p2, po = a.ctypes.data, b.ctypes.data, out.ctypes.data
        if dm == 0 or dn == 0 or dp == 0 or max(dm, dn, dp) > _MAXSIZE:
            _noblas(a, ta, b, tb, out)
        elif dm == 1 or dn == 1 or dp == 1:
            i1 = _blasable(s1m, s1n, dm, dn, size) or _blasable(s1n, s1m, dn, dm, size)
            i2 = _blasable(s2n, s2p, dn, dp, size) or _blasable(s2p, s2n, dp, dn, size)
            if dm == 1 and dp == 1:  # a scalar: dot, summed in double as NumPy's FLOAT_dot
                if size == 4:
                    s = np.float64(_sdot(dn, p1, s1n // size, p2, s2n // size))
                else:
                    s = _ddot(dn, p1, s1n // size, p2, s2n // size)
                out[0, 0] = s
            elif dn == 1 and (dp == 1 or dm == 1):
                _noblas(a, ta, b, tb, out)
            elif dm == 1 and i2 and _blasable(s1n, size, dn, 1, size):  # vector @ matrix
                _gemv_call(p2, s2p, s2n, p1, s1n, po, sop, dp, dn, size, one)
            elif dp == 1 and i1 and _blasable(s2n, size, dn, 1, size):  # matrix @ vector
                _gemv_call(p1, s1m, s1n, p2, s2n, po, som, dm, dn, size, one)
            else:  # column @ row
                _noblas(a, ta, b, tb, out)
        else:
            t1, lda = _layout(s1m, s1n, dm, dn, size, _NO_TRANS, _TRANS)
            t2, ldb = _layout(s2n, s2p, dn, dp, size, _NO_TRANS, _TRANS)
            zero = one - one
            if size == 4:
                _sgemm(_ROW_MAJOR, t1, t2, dm, dp, dn, one, p1, lda, p2, ldb, zero, po, som // size)
            else:
                _dgemm(_ROW_MAJOR, t1, t2, dm, dp, dn, one, p1, lda, p2, ldb, zero, po, som // size)

    @_jit
    def _noblas(a: np.ndarray, ta: bool, b: np.ndarray, tb: bool, out: np.ndarray) -> None:
        """NumPy's loop without BLAS: each output starts at 0 and adds the products in order."""
        A = a.T if ta else a
        B = b.T if tb else b
        for m in range(out.shape[0]):
            for p in range(out.shape[1]):
                acc = out.dtype.type(0.0)
                for n in range(A.shape[1]):
                    acc += A[m, n] * B[n, p]
                out[m, p] = acc

    @intrinsic
    def _flag(typingctx: Any, value: Any) -> Any:
        """``value`` typed as a runtime bool rather than a constant: numba compiles a function
        once per distinct argument type, and a constant ``True`` or ``False`` is a type of its
        own, so ``matmul`` called with each combination of constant flags would be compiled
        (with everything it calls) once per combination, about a second each."""

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return context.cast(builder, args[0], signature.args[0], signature.return_type)

        return types.unliteral(value)(value), codegen

    # -- a stack of Dense layers, forward or backward in one call (layers.DenseStack) -----------
    # On a small network the step's arithmetic is cheap and its calls are not: the seed net
    # (400-25-15-1, batch 32) spends more time passing from Python to NumPy and numba, a dozen
    # times per layer, than in its matrix products. These two kernels run the same operations
    # for every layer of an all-Dense model in one call each, through ``matmul`` above and the
    # kernels of this file: every value is the layer-by-layer step's to the last bit.
    # Layers go in as tuples of arrays (numba passes a tuple of arrays cheaply), activations as
    # codes (LINEAR, RELU, SIGMOID, SOFTMAX); a layer without a bias has a bias of length 0.
    # The first layer's input comes apart from the rest (the data, perhaps a read-only view),
    # and its input gradient is never computed.
    @_jit
    def _bias_activate(z: np.ndarray, b: np.ndarray, code: int, a: np.ndarray) -> None:
        """``z += b`` then ``a = g(z)``, as kernels._add_bias_and_activate does it (``a`` is
        ``z`` itself for a linear layer)."""
        if code == RELU:
            if b.shape[0] == 0:
                zf, af = z.reshape(-1), a.reshape(-1)
                for i in range(zf.size):
                    af[i] = _relu(zf[i])
            else:
                bias_relu(z, b, a)
        elif code == SIGMOID:
            if b.shape[0] == 0:
                sigmoid_forward(z, a)
            else:
                bias_sigmoid(z, b, a)
        else:
            if b.shape[0] > 0:
                _add_bias(z, b)
            if code == SOFTMAX:
                softmax_forward(z, a)

    @_jit
    def stack_forward(x: np.ndarray, Ws: Any, bs: Any, codes: Any, zs: Any, As: Any) -> None:
        """Every layer's ``z = a_prev @ W + b`` and ``a = g(z)`` into ``zs`` and ``As``."""
        matmul(x, _flag(False), Ws[0], _flag(False), zs[0])
        _bias_activate(zs[0], bs[0], codes[0], As[0])
        for i in range(1, len(Ws)):
            matmul(As[i - 1], _flag(False), Ws[i], _flag(False), zs[i])
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
        summed = code == RELU and db.shape[0] > 0  # ReLU's backward and db in one pass
        if summed:
            relu_backward_sums(d, z, db)
        elif code == RELU:
            relu_backward_inplace(d, z)
        elif code == SIGMOID:
            sigmoid_backward_inplace(d, a)
        elif code == SOFTMAX:
            softmax_backward_inplace(d, a)
        matmul(inp, _flag(True), d, _flag(False), dW)
        if db.shape[0] > 0 and not summed:
            column_sums(d, db)

    @_jit
    def stack_backward(
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
            matmul(d, _flag(False), Ws[i], _flag(True), dxs[i])
            d = dxs[i]
        code = LINEAR if shortcut and last == 0 else codes[0]
        _layer_backward(d, x, code, zs[0], As[0], dWs[0], dbs[0])

    # -- the training pass of a stack: gather, forward, loss, backward in one call ---------------
    # One kernel per fused loss (numba types every branch, and the losses' targets differ:
    # float arrays for the binary ones, integer labels for the sparse one), named
    # ``stack_train_`` + the loss kernel's name (losses.Loss.fused_kernel); the two categorical
    # losses share one, whose loss kernel the targets' layout picks (an overload).
    def _gather(source: Any, order: Any, start: Any, out: Any) -> None:
        """Rows ``order[start:start + len(out)]`` of ``source`` into ``out`` (``take``)."""

    @overload(_gather, jit_options={"cache": True})
    def _gather_typed(source: Any, order: Any, start: Any, out: Any) -> Any:
        if source.ndim == 1:

            def values(source: Any, order: Any, start: Any, out: Any) -> None:
                for i in range(out.shape[0]):
                    out[i] = source[order[start + i]]

            return values

        def rows(source: Any, order: Any, start: Any, out: Any) -> None:
            for i in range(out.shape[0]):
                j = order[start + i]
                for c in range(out.shape[1]):
                    out[i, c] = source[j, c]

        return rows

    # ``bufs = (x, y, delta)``: the workspace's batch, targets and output gradient;
    # ``stack = (Ws, bs, codes, zs, As, dWs, dbs, dxs)``: the layers, as stack_backward takes them;
    # ``update = (params, grads, m, v, t, lr, hyper)``: the optimizer's update after each step,
    # ``hyper = [code, beta_1, beta_2, epsilon]`` with code NO_UPDATE (the caller updates) or
    # ADAM (optimizers.Adam.fused_update: its one-pass kernel, after ``t += 1``);
    # ``totals``: the epoch's float64 sums, whose first holds the loss times the batch size;
    # ``metrics``: one row ``[code, index, threshold]`` per metric the pass adds up itself into
    # ``totals[index:index + 2]`` (metrics.MeanMetric's sums), none when the caller does.
    @_jit_inline
    def _stack_forward_on(X: Any, Y: Any, order: Any, start: int, bufs: Any, stack: Any) -> Any:
        """Gather the batch, run the stack forward; the output."""
        x, y, _ = bufs
        Ws, bs, codes, zs, As = stack[:5]
        _gather(X, order, start, x)
        _gather(Y, order, start, y)
        stack_forward(x, Ws, bs, codes, zs, As)
        return As[len(As) - 1]

    @_jit
    def _argmax_row(a: np.ndarray, r: int) -> int:
        """``np.argmax(a[r])``: the first largest, or the first NaN (NumPy's NaN is largest)."""
        best, top = 0, a[r, 0]
        if top != top:
            return 0
        for c in range(1, a.shape[1]):
            v = a[r, c]
            if v != v:
                return c
            if v > top:
                best, top = c, v
        return best

    def _label(y: Any, r: int) -> Any:
        """The class of sample ``r``: its label, or the argmax of its target row."""

    @overload(_label, jit_options={"cache": True})
    def _label_typed(y: Any, r: Any) -> Any:
        if y.ndim == 1:

            def label(y: Any, r: Any) -> Any:
                return y[r]

            return label

        def largest(y: Any, r: Any) -> Any:
            return _argmax_row(y, r)

        return largest

    @_jit
    def _add_metrics(a: np.ndarray, y: np.ndarray, metrics: np.ndarray, totals: Any) -> None:
        """Each metric's hits and the batch size into its two sums, as its ``update`` adds them
        (a count of 0/1 values: the same float64 sum in any order)."""
        yf = y.reshape(-1)
        for k in range(metrics.shape[0]):
            code, at = metrics[k, 0], int(metrics[k, 1])
            hits = 0
            if code == BINARY_ACCURACY:  # one output: (a > threshold) == y, compared as NumPy
                threshold = a.dtype.type(metrics[k, 2])
                af = a.reshape(-1)
                for i in range(af.size):
                    hits += yf[i] == (1 if af[i] > threshold else 0)
            elif code == SPARSE_CATEGORICAL_ACCURACY or code == CATEGORICAL_ACCURACY:
                for r in range(a.shape[0]):  # argmax(a) == the label (argmax of a target row)
                    hits += _argmax_row(a, r) == _label(y, r)
            totals[at] += hits
            totals[at + 1] += a.shape[0]

    @_jit_inline
    def _stack_finish(
        bufs: Any, stack: Any, update: Any, totals: Any, metrics: Any, value: float
    ) -> bool:
        """After a step's forward and loss: the metrics, the stack's backward from ``delta``
        (which the loss made ``dL/dz``), the update, the loss into ``totals``; whether the
        loss sum is finite."""
        x, y, delta = bufs
        Ws, _, codes, zs, As, dWs, dbs, dxs = stack
        _add_metrics(As[len(As) - 1], y, metrics, totals)
        stack_backward(delta, x, Ws, codes, zs, As, dWs, dbs, dxs, True)
        params, grads, m, v, t, lr, hyper = update
        if hyper[0] == ADAM:
            t[0] += 1.0
            adam_update(params, grads, m, v, t, lr, hyper[1], hyper[2], hyper[3])
        totals[0] += value * x.shape[0]
        return np.isfinite(totals[0])

    # Each runs ``steps`` training steps on consecutive batches of the shuffled ``order`` from
    # ``start`` (several only with an update: the caller has nothing to do between them) and
    # returns the first step after which the loss sum is not finite, -1 when there is none.
    # One entry point per loss, rather than one taking the loss kernel as an argument: numba
    # does not cache a function compiled for a function argument (it would recompile at every
    # start of Python).
    @_jit
    def stack_train_bce_sigmoid(
        X: Any,
        Y: Any,
        order: Any,
        start: int,
        steps: int,
        bufs: Any,
        stack: Any,
        update: Any,
        totals: Any,
        metrics: Any,
        eps: float,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            a = _stack_forward_on(X, Y, order, start + k * b, bufs, stack)
            value = bce_sigmoid(a, bufs[1], bufs[2], eps)
            if not _stack_finish(bufs, stack, update, totals, metrics, value) and bad < 0:
                bad = k
        return bad

    @_jit
    def stack_train_bce_logits(
        X: Any,
        Y: Any,
        order: Any,
        start: int,
        steps: int,
        bufs: Any,
        stack: Any,
        update: Any,
        totals: Any,
        metrics: Any,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            a = _stack_forward_on(X, Y, order, start + k * b, bufs, stack)
            value = bce_logits(a, bufs[1], bufs[2])
            if not _stack_finish(bufs, stack, update, totals, metrics, value) and bad < 0:
                bad = k
        return bad

    @_jit
    def stack_train_mse(
        X: Any,
        Y: Any,
        order: Any,
        start: int,
        steps: int,
        bufs: Any,
        stack: Any,
        update: Any,
        totals: Any,
        metrics: Any,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            a = _stack_forward_on(X, Y, order, start + k * b, bufs, stack)
            value = mse(a, bufs[1], bufs[2])
            if not _stack_finish(bufs, stack, update, totals, metrics, value) and bad < 0:
                bad = k
        return bad

    def _softmax_loss(z: Any, y: Any, delta: Any, from_logits: Any, eps: Any) -> Any:
        """softmax_ce_sparse for integer labels, softmax_ce for target rows."""

    @overload(_softmax_loss, jit_options={"cache": True})
    def _softmax_loss_typed(z: Any, y: Any, delta: Any, from_logits: Any, eps: Any) -> Any:
        if y.ndim == 1:

            def labels(z: Any, y: Any, delta: Any, from_logits: Any, eps: Any) -> Any:
                return softmax_ce_sparse(z, y, delta, from_logits, eps)

            return labels

        def rows(z: Any, y: Any, delta: Any, from_logits: Any, eps: Any) -> Any:
            return softmax_ce(z, y, delta, from_logits, eps)

        return rows

    @_jit
    def stack_train_softmax(
        X: Any,
        Y: Any,
        order: Any,
        start: int,
        steps: int,
        bufs: Any,
        stack: Any,
        update: Any,
        totals: Any,
        metrics: Any,
        from_logits: bool,
        eps: float,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            a = _stack_forward_on(X, Y, order, start + k * b, bufs, stack)
            value = _softmax_loss(a, bufs[1], bufs[2], from_logits, eps)
            if not _stack_finish(bufs, stack, update, totals, metrics, value) and bad < 0:
                bad = k
        return bad

    # both categorical losses: the targets' layout picks the loss kernel
    stack_train_softmax_ce = stack_train_softmax_ce_sparse = stack_train_softmax
