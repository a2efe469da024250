"""NumPy's own BLAS, called from numba: ``matmul`` with NumPy's choice of BLAS routine.

numba's ``np.dot`` needs SciPy; this module needs nothing beyond NumPy and numba. NumPy's
wheels carry OpenBLAS as ``scipy-openblas`` (64-bit integers, symbols such as
``scipy_cblas_sgemm64_``); the library NumPy has already loaded is opened again with ctypes (the
same instance, so thread limits set for NumPy apply here too) and its ``gemm``, ``gemv`` and
``dot`` are registered with LLVM under names of our own, so compiled functions call them
directly and numba can cache them.

``matmul(a, ta, b, tb, out)`` writes ``op(a) @ op(b)`` into ``out`` (``op`` transposes when its
flag is set) and follows NumPy's ``matmul`` loop (``numpy/_core/src/umath/matmul.c.src``) for
C-contiguous 2-D operands: ``dot`` for a 1x1 result, a plain loop for an outer product (inner
dimension 1), ``gemv`` when one side is a vector, ``gemm`` otherwise, with the same order, transpose
flags and leading dimensions. The results are therefore NumPy's to the last bit
(tests/test_stack.py). Where NumPy was built against another BLAS (MKL, Accelerate),
``ENABLED`` is False and the callers keep to NumPy's own ``matmul``.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

import numpy as np

from . import cpu

__all__ = ["ENABLED", "matmul"]

_ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")


def _find_library() -> dict[str, int] | None:
    """The addresses of NumPy's scipy-openblas routines, or None where there is no such
    library (another BLAS, an unusual layout)."""
    here = os.path.dirname(np.__file__)
    patterns = [
        os.path.join(here, os.pardir, "numpy.libs", "*scipy_openblas64_*"),  # Linux, Windows
        os.path.join(here, ".dylibs", "*scipy_openblas64_*"),  # macOS
    ]
    for path in sorted(p for pattern in patterns for p in glob.glob(pattern)):
        try:
            lib = ctypes.CDLL(path)
            return {
                r: ctypes.cast(getattr(lib, f"scipy_cblas_{r}64_"), ctypes.c_void_p).value
                for r in _ROUTINES
            }
        except (OSError, AttributeError):
            continue
    return None


_ADDRESSES = _find_library() if cpu.ENABLED else None
ENABLED = _ADDRESSES is not None

if ENABLED:
    import llvmlite.binding as ll
    from numba import types

    for _name, _address in _ADDRESSES.items():
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

    _jit = cpu._jit

    @_jit
    def _blasable(s1: int, s2: int, d1: int, d2: int, size: int) -> bool:
        """NumPy's ``is_blasable2d``: unit stride in the second dimension, a usable first."""
        if s2 != size:
            return False
        return s1 % size == 0 and d2 <= s1 // size <= _MAXSIZE

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
        if _blasable(s1m, s1n, m, n, size):
            order, lda = _COL_MAJOR, s1m // size
        else:
            order, lda = _ROW_MAJOR, s1n // size
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
            if _blasable(s1m, s1n, dm, dn, size):
                t1, lda = _NO_TRANS, s1m // size
            else:
                t1, lda = _TRANS, s1n // size
            if _blasable(s2n, s2p, dn, dp, size):
                t2, ldb = _NO_TRANS, s2n // size
            else:
                t2, ldb = _TRANS, s2p // size
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
