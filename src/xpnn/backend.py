"""The one place that knows which array library is in use.

``NN_BACKEND=numpy|cupy|strict`` names the backend, read when a backend is first needed;
:func:`set_backend` and :func:`use_backend` switch at run time. Everything else asks
:func:`get_xp` (or, inside kernels, the arrays themselves via :func:`array_module`) and moves
data with :func:`to_device` / :func:`to_numpy`.

``strict`` is the test stand-in of :mod:`xpnn.testing.strict`: NumPy underneath, with CuPy's
refusals at the host boundary. It is imported only when first asked for.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "array_module",
    "get_backend",
    "get_xp",
    "set_backend",
    "to_device",
    "to_numpy",
    "use_backend",
]

BACKENDS = ("numpy", "cupy", "strict")
_STRICT_MODULE = "xpnn.testing.strict"  # where the strict stand-in's arrays come from


class BackendError(RuntimeError):
    """A backend was asked for that does not exist or cannot run here."""


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """The active backend: its ``name`` and its array module ``xp``."""

    name: str
    xp: Any

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r})"


def _load(name: str) -> Backend:
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise BackendError(
            f"Unknown backend {name!r}: expected one of {', '.join(BACKENDS)} "
            "(set NN_BACKEND or call xpnn.set_backend)."
        )
    name = name.lower()
    if name == "numpy":
        return Backend("numpy", np)
    if name == "strict":
        from .testing import strict

        return Backend("strict", strict.xp)
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "The cupy backend needs CuPy, which is not installed: "
            "pip install 'xpnn[cuda12]' (CUDA 12) or 'xpnn[cuda13]' (CUDA 13)."
        ) from exc
    try:
        available = cupy.cuda.is_available()
    except Exception:  # older CuPy may raise instead of answering False
        available = False
    if not available:
        raise BackendError(
            "The cupy backend needs a CUDA GPU, and none is visible "
            "(check nvidia-smi and CUDA_VISIBLE_DEVICES), or use NN_BACKEND=numpy."
        )
    return Backend("cupy", cupy)


# NN_BACKEND is read on first use, not at import: a program (the ``xpnn`` command included) can
# import xpnn, parse its own options, override the environment (``--backend numpy``,
# ``set_backend``) and report an unusable backend in its own way. Failing inside ``import xpnn``
# would leave a command line tool only a traceback or a process-wide excepthook to say it with.
# A name that cannot load leaves this None, so every use raises the same BackendError again.
_active: Backend | None = None


def _current() -> Backend:
    global _active
    if _active is None:
        _active = _load(os.environ.get("NN_BACKEND") or "numpy")
    return _active


def get_backend() -> Backend:
    """Return the active backend (``.name`` and array module ``.xp``).

    Raises:
        BackendError: the first call, when ``NN_BACKEND`` names a backend that cannot run here.
    """
    return _current()


def get_xp() -> Any:
    """Return the active array module (``numpy``, ``cupy`` or the strict stand-in)."""
    return _current().xp


def set_backend(name: str) -> Backend:
    """Switch the active backend to ``name`` (``"numpy"``, ``"cupy"`` or ``"strict"``).

    Models keep the arrays they already hold; build new ones (or ``load_model``) after switching.
    """
    global _active
    _active = _load(name)
    return _active


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Context manager: run a block on backend ``name``, then restore the previous one."""
    global _active
    previous = _active
    _active = _load(name)
    try:
        yield _active
    finally:
        _active = previous


# --------------------------------------------------------------------------------------------
# Arrays and transfers
# --------------------------------------------------------------------------------------------


def array_module(*arrays: Any) -> Any:
    """The array module the given arrays belong to (kernels ask this, never the global)."""
    for a in arrays:
        kind = type(a)
        if kind is np.ndarray:  # the common case first: this sits in the hot loop
            continue
        module = kind.__module__
        if module == _STRICT_MODULE:  # a strict array exists, so its module is loaded
            return sys.modules[_STRICT_MODULE].xp
        if module.startswith("cupy"):
            import cupy

            return cupy
    return np


def to_device(x: Any, dtype: Any = None) -> Any:
    """Copy host data (lists, NumPy arrays) to the active backend; device arrays pass through."""
    active = _current()
    source = array_module(x)
    if source is not np:  # already a device array: it must be the active backend's
        if source is not active.xp:
            raise BackendError(
                f"Array belongs to another backend than the active one ({active.name})."
            )
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return active.xp.asarray(np.asarray(x), dtype=dtype)


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any backend to a NumPy array on the host (the explicit transfer)."""
    xp = array_module(x)
    return np.asarray(x) if xp is np else xp.asnumpy(x)
