"""Fused kernels: the training step's elementwise work in one pass, per array library.

``pick(*arrays)`` returns the module whose kernels take these arrays — ``cpu`` (numba, for
NumPy arrays, when the ``fast`` extra is installed) or ``cuda`` (CuPy ElementwiseKernels) —
or None, in which case the plain array code in activations.py, losses.py and optimizers.py
runs. Both modules expose the same function names and follow that code's operation order.
"""

from __future__ import annotations

from typing import Any

from . import cpu, cuda

__all__ = ["pick", "cpu", "cuda"]


def pick(*arrays: Any) -> Any:
    """The fused-kernel module for these arrays, or None."""
    if cpu.accepts(*arrays):
        return cpu
    if cuda.accepts(*arrays):
        return cuda
    return None
