"""Fused kernels: one-pass twins of the training step's elementwise work, per array library.

``pick(*arrays)`` returns the module whose kernels take these arrays — ``cpu`` (numba, for
NumPy arrays, when the ``fast`` extra is installed) or ``cuda`` (CuPy ElementwiseKernels) —
or None, in which case the plain array code in activations.py, losses.py, kernels.py and
optimizers.py runs. That code is the reference: both modules expose the same functions with
the same signatures, follow its order of operations, and are tested equal to it
(tests/test_fused.py).
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
