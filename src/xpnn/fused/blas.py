"""Where NumPy's own BLAS is: the addresses of its ``gemm``, ``gemv`` and ``dot`` routines.

numba's ``np.dot`` needs SciPy; xpnn's compiled stack (fused/cpu.py) needs nothing beyond NumPy
and numba. NumPy's wheels carry OpenBLAS as ``scipy-openblas`` (64-bit integers, symbols such
as ``scipy_cblas_sgemm64_``); the library NumPy has already loaded is opened again here with
ctypes, which gives the same instance, so thread limits set for NumPy (threadpoolctl,
``OPENBLAS_NUM_THREADS``) apply to these calls too. Where NumPy was built against another BLAS
(MKL, Accelerate), ``ADDRESSES`` is None and the step keeps to NumPy's ``matmul``.

Plain Python on purpose: every numba kernel lives in cpu.py, because numba's on-disk cache
checks only the file of the function it compiles, not the files of the functions it calls.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["ADDRESSES", "ROUTINES"]

ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")


def _find() -> dict[str, int] | None:
    """The addresses of NumPy's scipy-openblas routines by name, or None."""
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
                for r in ROUTINES
            }
        except (OSError, AttributeError):
            continue
    return None


ADDRESSES = _find()
