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
import platform
import sys
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

# the team of threads (below) needs Linux's futex and x86's pause
TEAM_ENABLED = sys.platform == "linux" and platform.machine() == "x86_64"


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

    @intrinsic
    def _bits_of(typingctx: Any, x: Any) -> Any:
        """The bit pattern of a float32 (an int32) or a float64 (an int64): an LLVM bitcast."""
        width = {types.float32: 32, types.float64: 64}.get(x)
        if width is None:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.IntType(width))

        return (types.int32 if width == 32 else types.int64)(x), codegen

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
        _relu_sums_columns(delta, z, sums, 0, delta.shape[1])

    @_jit
    def _relu_sums_columns(
        delta: np.ndarray, z: np.ndarray, sums: np.ndarray, lo: int, hi: int
    ) -> None:
        """relu_backward_sums on columns ``lo:hi`` only. The loop runs over one-dimensional
        slices of each row: indexed by ``c`` in ``range(lo, hi)`` on the 2-D arrays, LLVM did
        not vectorise it (runtime bounds; 4x slower on wide's 1024 x 2048 layers)."""
        one, zero = delta.dtype.type(1.0), delta.dtype.type(0.0)
        acc = sums[lo:hi]
        acc[:] = 0
        for r in range(delta.shape[0]):
            dr, zr = delta[r, lo:hi], z[r, lo:hi]
            for c in range(hi - lo):
                v = dr[c] * (one if zr[c] > 0 else zero)
                dr[c] = v
                acc[c] += v

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
        """``z += b; out = max(z, 0)``: in one pass along rows wide enough to vectorise. ``out``
        may be ``z`` itself (a ReLU layer of a training stack: layers.DenseStack), which then
        ends up holding ``max(z + b, 0)``; on wide rows that case gets a loop over one array,
        since with ``out`` an alias of ``z`` LLVM does not vectorise the two-array one."""
        if z.shape[1] >= 64:
            if out.ctypes.data == z.ctypes.data:
                for r in range(z.shape[0]):
                    zr = z[r]
                    for c in range(z.shape[1]):
                        zr[c] = _relu(zr[c] + b[c])
                return out
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

    @_jit
    def all_finite(a: np.ndarray) -> bool:
        """Whether every value of the C-contiguous float ``a`` is finite: the largest exponent
        field of its bit patterns is not all ones (an integer maximum: it vectorises, where a
        float test with an early exit does not). The maximum is cast back to the values' width:
        numba widens ``int32 & int32`` to int64, and a loop of 64-bit maxima copies and compares
        a quarter as many values per instruction."""
        if a.itemsize == 4:
            bits32 = a.reshape(-1).view(np.int32)
            m32 = np.int32(0)
            for i in range(bits32.size):
                m32 = max(m32, np.int32(bits32[i] & np.int32(0x7F800000)))
            return m32 != np.int32(0x7F800000)
        bits64 = a.reshape(-1).view(np.int64)
        m64 = np.int64(0)
        for i in range(bits64.size):
            m64 = max(m64, bits64[i] & np.int64(0x7FF0000000000000))
        return m64 != np.int64(0x7FF0000000000000)

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
NOT_FINITE = -2  # a training pass's result for data with a NaN or infinity (less the step)
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

    # -- the team: threads that OpenBLAS's parallel jobs and the pass's own work share -----------
    # OpenBLAS runs its parallel jobs on threads of its own, which spin for a while after each
    # call; the pass's elementwise work (the gather, Adam's update) runs on one thread between
    # the products. On two cores whose time the host shares with other guests, OpenBLAS's idle
    # thread spinning beside that one thread slows the epoch by half again (benchmarks/README).
    # With OpenBLAS's ``set_threads_callback_function`` (0.3.27+) its jobs run on these threads
    # instead (``_blas_threads``), and the stack hands them part of its own work too: Adam's
    # update and the gather in parts, a big layer's bias and activation by rows and its ReLU
    # backward by columns, each value computed as one thread computes it. A
    # product's jobs are the ones OpenBLAS would have run on its threads, in the same split, so
    # every product is OpenBLAS's own to the bit. fused/team.py installs the callback; the
    # threads are started here, with pthread_create (they run no Python), as many as a call
    # needs: a product's jobs wait on each other, so each must have a thread of its own.
    # Linux on x86-64 only (futex, pause).
    #
    # ``team`` is an int64 array of words, each hot one on a cache line of its own. LOCK
    # serialises the posters (the pass, or any thread calling BLAS meanwhile); WIDTH is the
    # number of threads, SPLIT the parts the pass cuts its own work into (fused/team.py sets
    # it: OpenBLAS's thread count). A task (KIND, PARTS, the ARGS words) goes to threads
    # ``0 .. PARTS - 2`` by bumping each one's MAIL word; each says it is done by copying MAIL
    # to its DONE word. A thread with nothing to do spins for SPIN_CYCLES (or until REST is
    # set), then sleeps on its MAIL's futex (its SLEEP word set). The caller does part 0 of
    # every task itself.
    TEAM_SUPPORTED = TEAM_ENABLED and blas.CONTROL is not None
    LOCK, WIDTH, READY, SPLIT, START, KIND, PARTS, ARGS, LINES = 0, 8, 16, 24, 32, 40, 41, 42, 64
    REST = 33  # set: the threads stop spinning and sleep now (fused/team.py rest); a post clears it
    MAIL, DONE, SLEEP, TID, RESULT = 0, 1, 2, 3, 4  # thread w's line, at LINES + 8 * w
    TEAM_MAX = 63  # threads besides the caller (OpenBLAS's wheels: MAX_THREADS=64)
    TEAM_WORDS = LINES + 8 * TEAM_MAX
    TASK_JOBS, TASK_ADAM, TASK_GATHER, TASK_ACTIVATE, TASK_RELU_SUMS = 1, 2, 3, 4, 5  # tasks
    SPIN_CYCLES = 1 << 26  # about 20-30 ms of spinning before a thread sleeps (OpenBLAS: 2^28)
    ADAM_SPLIT, GATHER_SPLIT = 1 << 15, 1 << 16  # smaller updates (values), gathers (bytes): inline
    LAYER_SPLIT = 1 << 17  # a layer's ReLU backward splits from this many values
    # and its bias and activation from this many: rows, as OpenBLAS's threads wrote them (the
    # product's rows in two halves on two threads), each thread reading what is in its cache.
    # On mnist (128 x 256 and 128 x 128) 27 -> 18 and 13 -> 10 us a step, side by side
    ACTIVATE_SPLIT = 1 << 14
    _SYS_FUTEX, _SYS_SCHED_YIELD, _FUTEX_WAIT, _FUTEX_WAKE = 202, 24, 128, 129  # x86-64, private
    if TEAM_SUPPORTED:
        TEAM = np.zeros(TEAM_WORDS, dtype=np.int64)  # the one team of the process
        IDLE = np.zeros(TEAM_WORDS, dtype=np.int64)  # SPLIT 0: a pass without a team

        import ctypes

        _libc = ctypes.CDLL(None)
        for _name in ("syscall", "pthread_create"):
            _address_of = ctypes.cast(getattr(_libc, _name), ctypes.c_void_p).value
            ll.add_symbol(f"xpnn_{_name}", _address_of)
        # syscall(number, ...): the futex and sched_yield calls below (Linux x86-64)
        _syscall = types.ExternalFunction("xpnn_syscall", _i64(_i64, _i64, _i64, _i64, _i64))
        # pthread_create(&id, attributes, start, argument)
        _pthread_create = types.ExternalFunction(
            "xpnn_pthread_create", types.int32(_i64, _i64, _i64, _i64)
        )
        ll.add_symbol("xpnn_team", TEAM.ctypes.data)  # _team_address

        _I64 = ir.IntType(64)

        @intrinsic
        def _load(typingctx: Any, address: Any) -> Any:
            """The int64 at ``address`` (sequentially consistent)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                return builder.load_atomic(
                    builder.inttoptr(args[0], _I64.as_pointer()), "seq_cst", 8
                )

            return types.int64(types.int64), codegen

        @intrinsic
        def _store(typingctx: Any, address: Any, value: Any) -> Any:
            """``*address = value`` (sequentially consistent)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                ptr = builder.inttoptr(args[0], _I64.as_pointer())
                builder.store_atomic(args[1], ptr, "seq_cst", 8)
                return context.get_dummy_value()

            return types.void(types.int64, types.int64), codegen

        @intrinsic
        def _add(typingctx: Any, address: Any, value: Any) -> Any:
            """``*address += value`` atomically; the value before."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                ptr = builder.inttoptr(args[0], _I64.as_pointer())
                return builder.atomic_rmw("add", ptr, args[1], "seq_cst")

            return types.int64(types.int64, types.int64), codegen

        @intrinsic
        def _claim(typingctx: Any, address: Any) -> Any:
            """Swap ``*address`` from 0 to 1 atomically; whether it was 0."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                ptr = builder.inttoptr(args[0], _I64.as_pointer())
                zero, one = ir.Constant(_I64, 0), ir.Constant(_I64, 1)
                pair = builder.cmpxchg(ptr, zero, one, "seq_cst", "seq_cst")
                return builder.extract_value(pair, 1)

            return types.boolean(types.int64), codegen

        @intrinsic
        def _pause(typingctx: Any) -> Any:
            """The spin-wait hint (x86 ``pause``)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                fn = builder.module.declare_intrinsic(
                    "llvm.x86.sse2.pause", fnty=ir.FunctionType(ir.VoidType(), [])
                )
                builder.call(fn, [])
                return context.get_dummy_value()

            return types.void(), codegen

        @intrinsic
        def _cycles(typingctx: Any) -> Any:
            """The time-stamp counter (``rdtsc``)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                fn = builder.module.declare_intrinsic(
                    "llvm.readcyclecounter", fnty=ir.FunctionType(_I64, [])
                )
                return builder.call(fn, [])

            return types.int64(), codegen

        @intrinsic
        def _address(typingctx: Any, a: Any) -> Any:
            """The address of an array's first element."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                data = context.make_array(signature.args[0])(context, builder, args[0]).data
                return builder.ptrtoint(data, _I64)

            return types.int64(a), codegen

        @intrinsic
        def _team_address(typingctx: Any) -> Any:
            """``TEAM``'s address, as the symbol ``xpnn_team`` (the callback takes no argument of
            ours, and a constant would not survive numba's cache)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                module = builder.module
                try:
                    gv = module.get_global("xpnn_team")
                except KeyError:
                    gv = ir.GlobalVariable(module, _I64, "xpnn_team")
                    gv.linkage = "external"
                return builder.ptrtoint(gv, _I64)

            return types.int64(), codegen

        def _pointer_to(dtype: Any) -> Any:
            @intrinsic
            def pointer(typingctx: Any, address: Any) -> Any:
                def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                    return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

                return types.CPointer(dtype)(types.int64), codegen

            return pointer

        _f32_at, _f64_at = _pointer_to(types.float32), _pointer_to(types.float64)
        _u8_at, _i64_at = _pointer_to(types.uint8), _pointer_to(types.int64)

        @intrinsic
        def _run_job(typingctx: Any, dojob: Any, job: Any, data: Any, extra: Any) -> Any:
            """OpenBLAS's ``dojob(job, data, extra)`` (``void (*)(int, void *, int)``)."""

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                i32, ptr = ir.IntType(32), ir.IntType(8).as_pointer()
                fnty = ir.FunctionType(ir.VoidType(), [i32, ptr, i32])
                fn = builder.inttoptr(args[0], fnty.as_pointer())
                builder.call(fn, [args[1], builder.inttoptr(args[2], ptr), args[3]])
                return context.get_dummy_value()

            return types.void(types.int64, types.int32, types.int64, types.int32), codegen

        @_jit
        def _part(n: int, part: int, parts: int) -> Any:
            """Part ``part`` of ``range(n)`` in ``parts`` near-equal parts, cut at multiples of 16
            (a cache line of float32)."""
            lo = n * part // parts // 16 * 16
            hi = n if part == parts - 1 else n * (part + 1) // parts // 16 * 16
            return lo, hi

        @_jit
        def _lock(base: int) -> None:
            """Take the lock of the team at ``base`` (spinning, yielding the core now and then)."""
            spins = 0
            while not _claim(base + 8 * LOCK):
                spins += 1
                if spins % 1024 == 0:
                    _syscall(_SYS_SCHED_YIELD, 0, 0, 0, 0)
                else:
                    _pause()

        @_jit
        def _line(base: int, w: int) -> int:
            """The address of thread ``w``'s line."""
            return base + 8 * (LINES + 8 * w)

        @_jit
        def _post(base: int, kind: int, parts: int) -> int:
            """Post the task of ``kind`` (its ARGS written; the lock held) to threads
            ``0 .. parts - 2``, starting threads up to that many first; the parts it is cut
            into (fewer only where the system would start no more threads)."""
            if parts - 1 > _load(base + 8 * WIDTH):
                parts = _grow(base, parts - 1) + 1
            if _load(base + 8 * REST) != 0:
                _store(base + 8 * REST, 0)
            _store(base + 8 * KIND, kind)
            _store(base + 8 * PARTS, parts)
            for w in range(parts - 1):
                line = _line(base, w)
                _store(line, _load(line) + 1)
                if _load(line + 8 * SLEEP) != 0:
                    _syscall(_SYS_FUTEX, line, _FUTEX_WAKE, 1, 0)
            return parts

        @_jit
        def _post_task(base: int, kind: int, parts: int, args: Any) -> int:
            """Take the lock, write ``args`` (int64s) to the ARGS words and post the task of
            ``kind`` in ``parts`` parts; the parts it is cut into (``_post``)."""
            _lock(base)
            for i in range(len(args)):
                _store(base + 8 * (ARGS + i), args[i])
            return _post(base, kind, parts)

        @_jit
        def _wait(base: int, parts: int) -> None:
            """Wait until threads ``0 .. parts - 2`` have done the task (the lock still held)."""
            for w in range(parts - 1):
                line = _line(base, w)
                gen = _load(line)
                while _load(line + 8 * DONE) != gen:
                    _pause()

        @_jit
        def _finish(base: int, parts: int) -> None:
            """Wait until threads ``0 .. parts - 2`` have done the task, then release the lock."""
            _wait(base, parts)
            _store(base + 8 * LOCK, 0)

        @_jit
        def _grow(base: int, wanted: int) -> int:
            """Start threads until there are ``wanted`` (the lock held), or until the system
            refuses one; how many there are."""
            have = _load(base + 8 * WIDTH)
            for w in range(have, wanted):
                line = _line(base, w)
                _store(line + 8 * DONE, _load(line))
                if _pthread_create(line + 8 * TID, 0, _load(base + 8 * START), w) != 0:
                    break
                have = w + 1
            while _load(base + 8 * READY) < have:
                _pause()
            _store(base + 8 * WIDTH, have)
            return have

        @_jit
        def team_grow(team: np.ndarray, wanted: int) -> int:
            """Start threads until ``team`` has ``wanted`` (at most TEAM_MAX); how many it has."""
            base = _address(team)
            _lock(base)
            have = _load(base + 8 * WIDTH)
            if wanted > have:
                have = _grow(base, min(wanted, TEAM_MAX))
            _store(base + 8 * LOCK, 0)
            return have

        @_jit
        def _blas_jobs(base: int, first: int, step: int) -> None:
            """OpenBLAS's jobs ``first, first + step, ...`` of the posted call."""
            dojob, data = _load(base + 8 * ARGS), _load(base + 8 * ARGS + 8)
            size, jobs = _load(base + 8 * ARGS + 16), _load(base + 8 * ARGS + 24)
            extra = np.int32(_load(base + 8 * ARGS + 32))
            for j in range(first, jobs, step):
                _run_job(dojob, np.int32(j), data + j * size, extra)

        def _blas_threads(
            sync: int, dojob: int, jobs: int, size: int, data: int, extra: int
        ) -> None:
            """OpenBLAS's threads callback (``openblas_threads_callback``): run ``jobs`` jobs at
            once, ``dojob(j, data + j * size, extra)``, job 0 on the calling thread and job
            ``j`` on thread ``j - 1``, and return when all are done."""
            if jobs <= 1:
                for j in range(jobs):
                    _run_job(dojob, np.int32(j), data + j * size, extra)
                return
            base = _team_address()
            parts = min(np.int64(jobs), TEAM_MAX + 1)  # OpenBLAS runs at most 64 (MAX_THREADS)
            args = (dojob, data, size, np.int64(jobs), np.int64(extra))
            # fewer parts only if threads could not start: then jobs wrap around (and may wait
            # on each other)
            parts = _post_task(base, TASK_JOBS, parts, args)
            _blas_jobs(base, 0, parts)
            _finish(base, parts)

        @_jit
        def _adam_part(base: int, part: int, parts: int) -> None:
            """Part ``part`` of the posted Adam update (``TASK_ADAM`` ARGS: the addresses of
            params, grads, m, v, t, lr, hyper, then the count and the item size)."""
            a = [_load(base + 8 * (ARGS + i)) for i in range(9)]
            n, size = a[7], a[8]
            lo, hi = _part(n, part, parts)
            t, lr = numba.carray(_f64_at(a[4]), 1), numba.carray(_f64_at(a[5]), 1)
            hyper = numba.carray(_f64_at(a[6]), 4)
            if size == 4:
                w, g = numba.carray(_f32_at(a[0]), n), numba.carray(_f32_at(a[1]), n)
                m, v = numba.carray(_f32_at(a[2]), n), numba.carray(_f32_at(a[3]), n)
                adam_update(
                    w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], t, lr, hyper[1], hyper[2], hyper[3]
                )
            else:
                w64, g64 = numba.carray(_f64_at(a[0]), n), numba.carray(_f64_at(a[1]), n)
                m64, v64 = numba.carray(_f64_at(a[2]), n), numba.carray(_f64_at(a[3]), n)
                b1, b2, e = hyper[1], hyper[2], hyper[3]
                adam_update(w64[lo:hi], g64[lo:hi], m64[lo:hi], v64[lo:hi], t, lr, b1, b2, e)

        @_jit
        def _copy_rows(
            src: int, rb: int, dst: int, order: int, start: int, lo: int, hi: int
        ) -> None:
            """Rows ``order[start + lo:start + hi]`` of ``rb`` bytes each from ``src`` to rows
            ``lo:hi`` at ``dst`` (addresses)."""
            for i in range(lo, hi):
                j = numba.carray(_i64_at(order + 8 * (start + i)), 1)[0]
                s = numba.carray(_u8_at(src + j * rb), rb)
                d = numba.carray(_u8_at(dst + i * rb), rb)
                for c in range(rb):
                    d[c] = s[c]

        @_jit
        def _gather_part(base: int, part: int, parts: int) -> int:
            """Part ``part`` of the posted gather (``TASK_GATHER`` ARGS: X, its row bytes, x, Y,
            its row bytes, y, order, start, rows, X's rows, X's item size if it is a float type
            (else 0)); 1 if every value of X it copied is finite (``_gather_x``), else 0."""
            a = [_load(base + 8 * (ARGS + i)) for i in range(11)]
            lo, hi = _part(a[8], part, parts)
            _copy_rows(a[3], a[4], a[5], a[6], a[7], lo, hi)
            size, rows, n = a[10], a[8], a[7] + a[8]
            if size == 0:
                _copy_rows(a[0], a[1], a[2], a[6], a[7], lo, hi)
                return 1
            order = numba.carray(_i64_at(a[6]), n)
            cols = a[1] // size
            if size == 4:
                X = numba.carray(_f32_at(a[0]), (a[9], cols))
                x = numba.carray(_f32_at(a[2]), (rows, cols))
                return 1 if _gather_x(X, order, a[7], x, lo, hi) else 0
            X64 = numba.carray(_f64_at(a[0]), (a[9], cols))
            x64 = numba.carray(_f64_at(a[2]), (rows, cols))
            return 1 if _gather_x(X64, order, a[7], x64, lo, hi) else 0

        def _thread(w: int) -> int:
            """Thread ``w`` of the team (a pthread start routine): its part of each task posted
            to it, as long as the process runs."""
            base = _team_address()
            line = _line(base, w)
            seen = _load(line)
            _add(base + 8 * READY, 1)
            since = _cycles()
            while True:
                gen = _load(line)
                if gen == seen:
                    if _cycles() - since < SPIN_CYCLES and _load(base + 8 * REST) == 0:
                        _pause()
                        continue
                    _store(line + 8 * SLEEP, 1)  # then MAIL is read again, by the kernel
                    _syscall(_SYS_FUTEX, line, _FUTEX_WAIT, seen & 0xFFFFFFFF, 0)
                    _store(line + 8 * SLEEP, 0)
                    since = _cycles()
                    continue
                seen = gen
                kind, parts = _load(base + 8 * KIND), _load(base + 8 * PARTS)
                if kind == TASK_JOBS:
                    _blas_jobs(base, w + 1, parts)
                elif kind == TASK_ADAM:
                    _adam_part(base, w + 1, parts)
                elif kind == TASK_GATHER:
                    _store(line + 8 * RESULT, _gather_part(base, w + 1, parts))
                elif kind == TASK_ACTIVATE:
                    _activate_part(base, w + 1, parts)
                elif kind == TASK_RELU_SUMS:
                    _relu_sums_part(base, w + 1, parts)
                _store(line + 8 * DONE, gen)
                since = _cycles()

        _CALLBACKS: list[Any] = []

        def team_callbacks() -> int:
            """Compile (or load from numba's cache) the two C functions above, OpenBLAS's
            callback and the threads' start routine, the first time the team is wanted rather
            than at import; the callback's address."""
            if not _CALLBACKS:
                i32, i64 = types.int32, types.int64
                callback = types.void(i32, i64, i32, i64, i64, i32)
                options = {"nopython": True, "cache": True}
                _CALLBACKS.append(numba.cfunc(callback, **options)(_blas_threads))
                _CALLBACKS.append(numba.cfunc(types.int64(types.int64), **options)(_thread))
                TEAM[START] = _CALLBACKS[1].address
            return _CALLBACKS[0].address

        def _copyable(src: Any, dst: Any) -> bool:
            """Whether ``dst``'s rows can take ``src``'s bytes as they are (one dtype, one rank)."""

        @overload(_copyable, jit_options={"cache": True})
        def _copyable_typed(src: Any, dst: Any) -> Any:
            same = src.dtype == dst.dtype and src.ndim == dst.ndim

            def copyable(src: Any, dst: Any) -> bool:
                return same

            return copyable

        def _splittable(w: Any, g: Any, m: Any, v: Any) -> bool:
            """Whether the team's Adam parts take these arrays (float32 or float64, all one)."""

        @overload(_splittable, jit_options={"cache": True})
        def _splittable_typed(w: Any, g: Any, m: Any, v: Any) -> Any:
            ok = (
                w.dtype in (types.float32, types.float64)
                and w.dtype == g.dtype == m.dtype == v.dtype
            )

            def splittable(w: Any, g: Any, m: Any, v: Any) -> bool:
                return ok

            return splittable

        @_jit
        def _rows_of(a: Any) -> bool:
            """Whether ``a``'s rows lie whole and in order, ``a.strides[0]`` bytes apart."""
            if a.ndim == 1:
                return a.strides[0] == a.itemsize
            return a.strides[1] == a.itemsize and a.strides[0] == a.shape[1] * a.itemsize

        @_jit
        def _team_gather(team: Any, X: Any, Y: Any, order: Any, start: int, x: Any, y: Any) -> bool:
            """``_gather`` of the batch's X and Y rows, in parts across the team; whether every
            value of X's rows is finite (``_gather_x``)."""
            base = _address(team)
            parts, rows = _load(base + 8 * SPLIT), x.shape[0]
            split = parts > 1 and x.size * x.itemsize >= GATHER_SPLIT and order.itemsize == 8
            split = split and _copyable(X, x) and _copyable(Y, y) and rows >= 32 * parts
            if not (split and _rows_of(X) and _rows_of(Y)):
                _gather(Y, order, start, y)
                return _gather_x(X, order, start, x, 0, rows)
            xr, yr = x.size // rows * x.itemsize, y.size // rows * y.itemsize
            args = (_address(X), xr, _address(x), _address(Y), yr, _address(y), _address(order))
            more = (np.int64(start), rows, X.shape[0], np.int64(_float_size(X)))
            parts = _post_task(base, TASK_GATHER, parts, (*args, *more))
            lo, hi = _part(rows, 0, parts)
            _gather(Y, order, start + lo, y[lo:hi])
            finite = _gather_x(X, order, start, x, lo, hi)
            _wait(base, parts)
            for w in range(parts - 1):
                finite = finite and _load(_line(base, w) + 8 * RESULT) != 0
            _store(base + 8 * LOCK, 0)
            return finite

        @_jit
        def _team_adam(
            team: Any, w: Any, g: Any, m: Any, v: Any, t: Any, lr: Any, hyper: Any
        ) -> None:
            """``adam_update`` in parts across the team (elementwise: the same values)."""
            base = _address(team)
            parts = _load(base + 8 * SPLIT)
            if parts <= 1 or w.size < ADAM_SPLIT or not _splittable(w, g, m, v):
                adam_update(w, g, m, v, t, lr, hyper[1], hyper[2], hyper[3])
                return
            args = (_address(w), _address(g), _address(m), _address(v), _address(t), _address(lr))
            parts = _post_task(base, TASK_ADAM, parts, (*args, _address(hyper), w.size, w.itemsize))
            lo, hi = _part(w.size, 0, parts)
            adam_update(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], t, lr, hyper[1], hyper[2], hyper[3])
            _finish(base, parts)

        @_jit
        def _activate_part(base: int, part: int, parts: int) -> None:
            """Rows ``part`` of ``parts`` of the posted ``_bias_activate`` (``TASK_ACTIVATE``
            ARGS: the addresses of z, a and b, b's length, the rows, columns, activation code
            and item size)."""
            a = [_load(base + 8 * (ARGS + i)) for i in range(8)]
            rows, cols, size = a[4], a[5], a[7]
            lo, hi = _part(rows, part, parts)
            if hi <= lo:
                return
            at, shape = lo * cols * size, (hi - lo, cols)
            if size == 4:
                z, out = (
                    numba.carray(_f32_at(a[0] + at), shape),
                    numba.carray(_f32_at(a[1] + at), shape),
                )
                _bias_activate(z, numba.carray(_f32_at(a[2]), a[3]), a[6], out)
            else:
                z64 = numba.carray(_f64_at(a[0] + at), shape)
                out64 = numba.carray(_f64_at(a[1] + at), shape)
                _bias_activate(z64, numba.carray(_f64_at(a[2]), a[3]), a[6], out64)

        @_jit
        def _relu_sums_part(base: int, part: int, parts: int) -> None:
            """Columns ``part`` of ``parts`` of the posted ``relu_backward_sums``
            (``TASK_RELU_SUMS`` ARGS: the addresses of delta, z and the sums, the rows, columns
            and item size): each column summed over all rows in order, as one thread would."""
            a = [_load(base + 8 * (ARGS + i)) for i in range(6)]
            rows, cols, size = a[3], a[4], a[5]
            lo, hi = _part(cols, part, parts)
            if size == 4:
                d, z = (
                    numba.carray(_f32_at(a[0]), (rows, cols)),
                    numba.carray(_f32_at(a[1]), (rows, cols)),
                )
                _relu_sums_columns(d, z, numba.carray(_f32_at(a[2]), cols), lo, hi)
            else:
                d64 = numba.carray(_f64_at(a[0]), (rows, cols))
                z64 = numba.carray(_f64_at(a[1]), (rows, cols))
                _relu_sums_columns(d64, z64, numba.carray(_f64_at(a[2]), cols), lo, hi)

        @_jit
        def _team_activate(team: Any, z: Any, b: Any, code: int, a: Any) -> None:
            """``_bias_activate`` in row parts across the team (each row as one thread does it).
            One call of each kernel on the caller's side, on the caller's own array types: each
            call site is compiled into every pass that reaches it."""
            base = _address(team)
            parts = _load(base + 8 * SPLIT)
            idle = code == LINEAR and b.shape[0] == 0  # nothing to do
            split = parts > 1 and z.size >= ACTIVATE_SPLIT and not idle
            split = split and _splittable(z, a, b, z)
            lo, hi = 0, z.shape[0]
            if split:
                arrays = (_address(z), _address(a), _address(b), b.shape[0])
                shape = (z.shape[0], z.shape[1], np.int64(code), z.itemsize)
                parts = _post_task(base, TASK_ACTIVATE, parts, (*arrays, *shape))
                lo, hi = _part(z.shape[0], 0, parts)
            _bias_activate(z[lo:hi], b, code, a[lo:hi])
            if split:
                _finish(base, parts)

        @_jit
        def _team_relu_sums(team: Any, delta: Any, z: Any, sums: Any) -> None:
            """``relu_backward_sums`` in column parts across the team (the same sums)."""
            base = _address(team)
            parts = _load(base + 8 * SPLIT)
            split = parts > 1 and delta.size >= LAYER_SPLIT and _splittable(delta, z, sums, delta)
            lo, hi = 0, delta.shape[1]
            if split:
                arrays = (_address(delta), _address(z), _address(sums))
                shape = (delta.shape[0], delta.shape[1], delta.itemsize)
                parts = _post_task(base, TASK_RELU_SUMS, parts, (*arrays, *shape))
                lo, hi = _part(delta.shape[1], 0, parts)
            _relu_sums_columns(delta, z, sums, lo, hi)
            if split:
                _finish(base, parts)

    else:
        TEAM = IDLE = np.zeros(TEAM_WORDS, dtype=np.int64)

        @_jit
        def _team_gather(team: Any, X: Any, Y: Any, order: Any, start: int, x: Any, y: Any) -> bool:
            _gather(Y, order, start, y)
            return _gather_x(X, order, start, x, 0, x.shape[0])

        @_jit
        def _team_adam(
            team: Any, w: Any, g: Any, m: Any, v: Any, t: Any, lr: Any, hyper: Any
        ) -> None:
            adam_update(w, g, m, v, t, lr, hyper[1], hyper[2], hyper[3])

        @_jit
        def _team_activate(team: Any, z: Any, b: Any, code: int, a: Any) -> None:
            _bias_activate(z, b, code, a)

        @_jit
        def _team_relu_sums(team: Any, delta: Any, z: Any, sums: Any) -> None:
            relu_backward_sums(delta, z, sums)

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
    def stack_forward(
        x: np.ndarray, Ws: Any, bs: Any, codes: Any, zs: Any, As: Any, team: Any
    ) -> None:
        """Every layer's ``z = a_prev @ W + b`` and ``a = g(z)`` into ``zs`` and ``As`` (big
        layers' activations in parts across the team, fused/team.py: ``IDLE`` for none)."""
        matmul(x, _flag(False), Ws[0], _flag(False), zs[0])
        _team_activate(team, zs[0], bs[0], codes[0], As[0])
        for i in range(1, len(Ws)):
            matmul(As[i - 1], _flag(False), Ws[i], _flag(False), zs[i])
            _team_activate(team, zs[i], bs[i], codes[i], As[i])

    @_jit
    def _layer_backward(
        d: np.ndarray,
        inp: Any,
        code: int,
        a: np.ndarray,
        dW: np.ndarray,
        db: np.ndarray,
        team: Any,
    ) -> None:
        """``d`` becomes ``dL/dz`` (in place), then ``dW = inp.T @ d`` and ``db`` its column sums
        (kernels.dense_backward_into, less the input gradient)."""
        # ReLU's mask from ``a = max(z, 0)``: ``a > 0`` exactly where ``z > 0`` (NaN, -0.0
        # and 0 give 0 or NaN, neither above 0). ``a`` is still in cache, read by the layer
        # above's weight gradient (``dW = a.T @ d``) a product ago; ``z`` was last touched in
        # the forward pass (stack_backward's order)
        summed = code == RELU and db.shape[0] > 0  # ReLU's backward and db in one pass
        if summed:
            _team_relu_sums(team, d, a, db)
        elif code == RELU:
            relu_backward_inplace(d, a)
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
        As: Any,
        dWs: Any,
        dbs: Any,
        dxs: Any,
        shortcut: bool,
        team: Any,
    ) -> None:
        """The gradients of every layer from ``delta``, the output's ``dL/da`` (``dL/dz`` when
        ``shortcut``: the loss took the output activation's derivative already). ``delta``
        and every ``dxs[i]`` are overwritten with ``dL/dz`` of their layer."""
        last = len(Ws) - 1
        d = delta
        for i in range(last, 0, -1):
            code = LINEAR if shortcut and i == last else codes[i]
            _layer_backward(d, As[i - 1], code, As[i], dWs[i], dbs[i], team)
            matmul(d, _flag(False), Ws[i], _flag(True), dxs[i])
            d = dxs[i]
        code = LINEAR if shortcut and last == 0 else codes[0]
        _layer_backward(d, x, code, As[0], dWs[0], dbs[0], team)

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

    def _gather_x(source: Any, order: Any, start: Any, out: Any, lo: Any, hi: Any) -> bool:
        """Rows ``lo:hi`` of ``_gather(source, order, start, out)``; whether every value they
        hold is finite. The training data's search for NaN and infinity (inputs.scan_x) in the
        copy itself: the largest exponent field of the values' bits, an integer maximum that
        vectorises with the copy (as ``all_finite``)."""

    @overload(_gather_x, jit_options={"cache": True})
    def _gather_x_typed(source: Any, order: Any, start: Any, out: Any, lo: Any, hi: Any) -> Any:
        floats = isinstance(out.dtype, types.Float)
        if floats and source.ndim == 2 and source.dtype == out.dtype:
            single = out.dtype == types.float32
            bits = np.int32 if single else np.int64  # kept to the values' width (see all_finite)
            top, none = bits(0x7F800000 if single else 0x7FF0000000000000), bits(0)

            def checked(source: Any, order: Any, start: Any, out: Any, lo: Any, hi: Any) -> bool:
                seen = none
                for i in range(lo, hi):
                    src, dst = source[order[start + i]], out[i]
                    for c in range(dst.shape[0]):
                        v = src[c]
                        dst[c] = v
                        seen = max(seen, bits(_bits_of(v) & top))
                return seen != top

            return checked

        def converted(source: Any, order: Any, start: Any, out: Any, lo: Any, hi: Any) -> bool:
            _gather(source, order, start + lo, out[lo:hi])
            if floats:
                for v in out[lo:hi].flat:
                    if not np.isfinite(v):
                        return False
            return True

        return converted

    def _float_size(a: Any) -> int:
        """``a``'s item size if it holds float32 or float64, else 0."""

    @overload(_float_size, jit_options={"cache": True})
    def _float_size_typed(a: Any) -> Any:
        size = a.dtype.bitwidth // 8 if a.dtype in (types.float32, types.float64) else 0

        def float_size(a: Any) -> int:
            return size

        return float_size

    # ``bufs = (x, y, delta)``: the workspace's batch, targets and output gradient;
    # ``stack = (Ws, bs, codes, zs, As, dWs, dbs, dxs)``: the layers, the arrays stack_forward and
    # stack_backward take;
    # ``update = (params, grads, m, v, t, lr, hyper)``: the optimizer's update after each step,
    # ``hyper = [code, beta_1, beta_2, epsilon]`` with code NO_UPDATE (the caller updates) or
    # ADAM (optimizers.Adam.fused_update: its one-pass kernel, after ``t += 1``);
    # ``totals``: the epoch's float64 sums, whose first holds the loss times the batch size;
    # ``metrics``: one row ``[code, index, threshold]`` per metric the pass adds up itself into
    # ``totals[index:index + 2]`` (metrics.MeanMetric's sums), none when the caller does.
    @_jit_inline
    def _stack_forward_on(bufs: Any, stack: Any, team: Any) -> Any:
        """Run the stack forward on the batch; the output."""
        Ws, bs, codes, zs, As = stack[:5]
        stack_forward(bufs[0], Ws, bs, codes, zs, As, team)
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
        bufs: Any, stack: Any, team: Any, update: Any, totals: Any, metrics: Any, value: float
    ) -> bool:
        """After a step's forward and loss: the metrics, the stack's backward from ``delta``
        (which the loss made ``dL/dz``), the update, the loss into ``totals``; whether the
        loss sum is finite."""
        x, y, delta = bufs
        Ws, _, codes, _, As, dWs, dbs, dxs = stack
        _add_metrics(As[len(As) - 1], y, metrics, totals)
        stack_backward(delta, x, Ws, codes, As, dWs, dbs, dxs, True, team)
        params, grads, m, v, t, lr, hyper = update
        if hyper[0] == ADAM:
            t[0] += 1.0
            _team_adam(team, params, grads, m, v, t, lr, hyper)
        totals[0] += value * x.shape[0]
        return np.isfinite(totals[0])

    # Each runs ``steps`` training steps on consecutive batches of the shuffled ``order`` from
    # ``start`` (several only with an update: the caller has nothing to do between them) and
    # returns the first step after which the loss sum is not finite, -1 when there is none;
    # ``NOT_FINITE - k`` (-2 or less) when the batch of step ``k`` holds a NaN or infinity (the
    # gather finds it: steps ``0 .. k - 1`` were made, step ``k`` and those after it were not).
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
        team: Any,
        update: Any,
        totals: Any,
        metrics: Any,
        eps: float,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            if not _team_gather(team, X, Y, order, start + k * b, bufs[0], bufs[1]):
                return NOT_FINITE - k  # a NaN or infinity in the batch: stop before its step
            a = _stack_forward_on(bufs, stack, team)
            value = bce_sigmoid(a, bufs[1], bufs[2], eps)
            if not _stack_finish(bufs, stack, team, update, totals, metrics, value) and bad < 0:
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
        team: Any,
        update: Any,
        totals: Any,
        metrics: Any,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            if not _team_gather(team, X, Y, order, start + k * b, bufs[0], bufs[1]):
                return NOT_FINITE - k  # a NaN or infinity in the batch: stop before its step
            a = _stack_forward_on(bufs, stack, team)
            value = bce_logits(a, bufs[1], bufs[2])
            if not _stack_finish(bufs, stack, team, update, totals, metrics, value) and bad < 0:
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
        team: Any,
        update: Any,
        totals: Any,
        metrics: Any,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            if not _team_gather(team, X, Y, order, start + k * b, bufs[0], bufs[1]):
                return NOT_FINITE - k  # a NaN or infinity in the batch: stop before its step
            a = _stack_forward_on(bufs, stack, team)
            value = mse(a, bufs[1], bufs[2])
            if not _stack_finish(bufs, stack, team, update, totals, metrics, value) and bad < 0:
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
        team: Any,
        update: Any,
        totals: Any,
        metrics: Any,
        from_logits: bool,
        eps: float,
    ) -> int:
        bad, b = -1, bufs[0].shape[0]
        for k in range(steps):
            if not _team_gather(team, X, Y, order, start + k * b, bufs[0], bufs[1]):
                return NOT_FINITE - k  # a NaN or infinity in the batch: stop before its step
            a = _stack_forward_on(bufs, stack, team)
            value = _softmax_loss(a, bufs[1], bufs[2], from_logits, eps)
            if not _stack_finish(bufs, stack, team, update, totals, metrics, value) and bad < 0:
                bad = k
        return bad

    # both categorical losses: the targets' layout picks the loss kernel
    stack_train_softmax_ce = stack_train_softmax_ce_sparse = stack_train_softmax
