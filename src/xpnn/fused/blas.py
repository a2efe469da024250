"""Where NumPy's own BLAS is: the addresses of its ``gemm``, ``gemv`` and ``dot`` routines.

numba's ``np.dot`` needs SciPy; xpnn's compiled stack (fused/cpu.py) needs nothing beyond NumPy
and numba. NumPy's wheels carry OpenBLAS as ``scipy-openblas`` (64-bit integers, symbols such
as ``scipy_cblas_sgemm64_``); the library NumPy has already loaded is opened again here with
ctypes, which gives the same instance, so thread limits set for NumPy (threadpoolctl,
``OPENBLAS_NUM_THREADS``) apply to these calls too. Where NumPy was built against another BLAS
(MKL, Accelerate), ``ADDRESSES`` is None and the step keeps to NumPy's ``matmul``.

``CONTROL`` holds the same library's thread controls (``get_num_threads`` and, from OpenBLAS
0.3.27, ``set_threads_callback_function``, by which its parallel jobs run on a caller's threads:
fused/team.py), as ctypes functions; None where they are missing.

Plain Python on purpose: every numba kernel lives in cpu.py, because numba's on-disk cache
checks only the file of the function it compiles, not the files of the functions it calls.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["ADDRESSES", "CONTROL", "ROUTINES"]

ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")


def _library() -> ctypes.CDLL | None:
    """NumPy's scipy-openblas (64-bit integers), or None."""
    here = os.path.dirname(np.__file__)
    patterns = [
        os.path.join(here, os.pardir, "numpy.libs", "*scipy_openblas64_*"),  # Linux, Windows
        os.path.join(here, ".dylibs", "*scipy_openblas64_*"),  # macOS
    ]
    for path in sorted(p for pattern in patterns for p in glob.glob(pattern)):
        try:
            lib = ctypes.CDLL(path)
            getattr(lib, f"scipy_cblas_{ROUTINES[0]}64_")
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _find(lib: ctypes.CDLL | None) -> dict[str, int] | None:
    """The addresses of the routines by name, or None."""
    try:
        return {
            r: ctypes.cast(getattr(lib, f"scipy_cblas_{r}64_"), ctypes.c_void_p).value
            for r in ROUTINES
        }
    except AttributeError:
        return None


def _control(lib: ctypes.CDLL | None) -> dict[str, object] | None:
    """``get_num_threads() -> int`` and ``set_threads_callback_function(address or None)``."""
    try:
        get = lib.scipy_openblas_get_num_threads64_
        put = lib.scipy_openblas_set_threads_callback_function64_
    except AttributeError:
        return None
    get.argtypes, get.restype = [], ctypes.c_int
    put.argtypes, put.restype = [ctypes.c_void_p], None
    return {"get_num_threads": get, "set_threads_callback_function": put}


_LIB = _library()
ADDRESSES = _find(_LIB)
CONTROL = None if ADDRESSES is None else _control(_LIB)
