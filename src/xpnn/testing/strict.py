"""The strict stand-in backend: CuPy's host-boundary behaviour on top of NumPy.

Selected as ``NN_BACKEND=strict`` or ``xpnn.set_backend("strict")``. Its arrays
(:class:`StrictArray`) refuse implicit conversion to NumPy (``np.asarray``, ``float()``,
``bool()``, printing) exactly as CuPy's do, and reject host arrays in device operations; its
namespace :data:`xp` plays the array module and counts host-to-device and device-to-host
copies (:func:`transfer_counts`). The test suite runs on it, so that CPU-only CI catches what
would break, or silently synchronise, on a GPU. :func:`record_tape` stands in for CUDA graph
capture, with CUDA's rules (see :class:`_Tape`).

This module needs nothing from the rest of xpnn, so ``backend.py`` imports it only when the
strict backend is first asked for.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["StrictArray", "record_tape", "transfer_counts", "xp"]

_IMPLICIT = (
    "Implicit conversion of a strict (device) array to NumPy is not allowed, as on CuPy; "
    "use xpnn.to_numpy(x) to copy it to the host explicitly."
)


class _Counts:
    def __init__(self) -> None:
        self.h2d = 0
        self.d2h = 0


_counts = _Counts()


def _unwrap(x: Any) -> Any:
    if isinstance(x, StrictArray):
        return x._a
    if isinstance(x, tuple):
        return tuple(_unwrap(v) for v in x)
    if isinstance(x, list):
        return [_unwrap(v) for v in x]
    if isinstance(x, np.ndarray) and x.ndim > 0:
        # CuPy rejects host arrays in device operations ("Unsupported type").
        raise TypeError(
            "A NumPy array was passed to a strict (device) operation; CuPy would reject it. "
            "Move it with xpnn.to_device() first."
        )
    return x


def _wrap(x: Any) -> Any:
    if isinstance(x, np.ndarray | np.generic):
        return StrictArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class _Tape:
    """The strict backend's stand-in for CUDA graph capture (see xpnn/graphs.py).

    While a tape records, every operation on strict arrays is run *and* written down with the
    very array objects and scalar arguments it got, and every write into an array is undone
    when the recording ends: as on CUDA, recording changes nothing. ``launch`` replays the
    operations in order on the same objects, the way a graph replays its kernels on the same
    addresses with the same baked-in scalars: a step that takes a changing value from the host
    (a Python float, a transfer) replays with a stale one, and the tests see it. Transfers
    while recording raise, as CuPy's do during capture.
    """

    def __init__(self) -> None:
        self.ops: list[tuple[Any, tuple[Any, ...], dict[str, Any], Any, bool]] = []
        self._undo: list[tuple[StrictArray, np.ndarray]] = []
        self._saved: set[int] = set()

    def will_write(self, target: Any) -> None:
        for t in target if isinstance(target, tuple | list) else (target,):
            if isinstance(t, StrictArray) and id(t) not in self._saved:
                self._saved.add(id(t))
                self._undo.append((t, t._a.copy()))

    def record(self, fn: Any, args: tuple, kwargs: dict, result: Any, in_place: bool) -> None:
        self.ops.append((fn, args, kwargs, result, in_place))

    def rollback(self) -> None:
        for target, before in reversed(self._undo):
            target._a[...] = before
        self._undo.clear()
        self._saved.clear()

    def launch(self) -> None:
        """Replay every recorded operation on the recorded arrays."""
        for fn, args, kwargs, result, in_place in self.ops:
            value = fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
            if in_place:
                continue
            if isinstance(result, tuple):
                for r, v in zip(result, value):
                    if isinstance(r, StrictArray):
                        r._a[...] = v
            elif isinstance(result, StrictArray):
                result._a[...] = value


_tape: _Tape | None = None  # set while a strict "graph" records


def record_tape(step: Callable[[], Any]) -> _Tape:
    """Record ``step()`` on strict arrays, as CUDA stream capture would.

    The step runs once, written down, and its writes are undone at the end (recording changes
    nothing). Returns the tape; its ``launch()`` replays the step. Raises whatever the
    recording met: a transfer, or a recording already running.
    """
    global _tape
    if _tape is not None:
        raise RuntimeError("A graph is already being recorded.")
    tape = _tape = _Tape()
    try:
        step()
    finally:
        _tape = None
        tape.rollback()
    return tape


def _check_not_recording(what: str) -> None:
    if _tape is not None:
        raise RuntimeError(
            f"{what} while a graph is being recorded: the current stream is capturing "
            "(CuPy raises the same); move it out of the recorded step."
        )


_MUTATING_METHODS = frozenset({"fill", "sort", "put", "partition", "itemset", "resize"})
_MUTATING_FUNCTIONS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal"})


def _call(fn: Any, args: tuple, kwargs: dict, writes: Any = None) -> Any:
    """Run ``fn`` on the arrays behind strict ``args``; record it if a tape is running.

    ``writes``: the strict arrays ``fn`` writes into (``out=``, a setitem's target, ...)."""
    out = kwargs.get("out")
    tape = _tape
    if tape is not None:
        tape.will_write(out)
        if writes is not None:
            tape.will_write(writes)
    result = _wrap_result(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}), out)
    if tape is not None:
        tape.record(fn, args, kwargs, result, in_place=out is not None or writes is not None)
    return result


def _wrap_result(result: Any, out: Any) -> Any:
    """Wrap a result; where it is the array behind ``out``, give back ``out`` itself, as NumPy
    and CuPy return the very ``out`` object from ``f(..., out=out)``."""
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if isinstance(out, StrictArray) and result is out._a:
        return out
    if isinstance(out, tuple) and isinstance(result, tuple):
        return tuple(
            o if isinstance(o, StrictArray) and r is o._a else _wrap(r) for r, o in zip(result, out)
        )
    return _wrap(result)


def _getitem(a: np.ndarray, key: Any) -> Any:
    return a[key]


def _setitem(a: np.ndarray, key: Any, value: Any) -> None:
    a[key] = value


class StrictArray(np.lib.mixins.NDArrayOperatorsMixin):
    """A NumPy array that behaves like a CuPy array at the host boundary."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    # The boundary: every implicit route to the host raises, as on CuPy.
    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(_IMPLICIT)

    def __float__(self) -> float:
        raise TypeError(_IMPLICIT)

    def __int__(self) -> int:
        raise TypeError(_IMPLICIT)

    def __index__(self) -> int:
        raise TypeError(_IMPLICIT)

    def __bool__(self) -> bool:
        raise TypeError(_IMPLICIT)

    def __repr__(self) -> str:
        raise TypeError(_IMPLICIT)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        raise TypeError(_IMPLICIT)

    def item(self) -> Any:
        raise TypeError(_IMPLICIT)

    def tolist(self) -> Any:
        raise TypeError(_IMPLICIT)

    # Device-side behaviour: NumPy underneath, results stay strict.
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        writes = args[0] if func.__name__ in _MUTATING_FUNCTIONS and args else None
        return _call(func, args, kwargs, writes)

    def __getitem__(self, key: Any) -> Any:
        if _tape is None:
            return _wrap(self._a[_unwrap(key)])
        return _call(_getitem, (self, key), {})

    def __setitem__(self, key: Any, value: Any) -> None:
        if _tape is None:
            self._a[_unwrap(key)] = _unwrap(value)
        else:
            _call(_setitem, (self, key, value), {}, writes=self)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Iterator[Any]:
        return (_wrap(row) for row in self._a)

    @property
    def T(self) -> StrictArray:  # noqa: N802 - NumPy's name
        return StrictArray(self._a.T)

    def __getattr__(self, name: str) -> Any:
        # _a is unset while copy/pickle probe; and forwarding dunders such as
        # __array_interface__ would hand NumPy the data behind the boundary's back.
        if name == "_a" or name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr) if isinstance(attr, np.ndarray) else attr

        def method(*args: Any, **kwargs: Any) -> Any:
            writes = self if name in _MUTATING_METHODS else None
            return _call(getattr(np.ndarray, name), (self, *args), kwargs, writes)

        return method


class _StrictNamespace(types.ModuleType):
    """``xp`` for the strict backend: NumPy's functions, taking and giving strict arrays."""

    ndarray = StrictArray

    def asarray(self, a: Any, dtype: Any = None) -> StrictArray:
        if isinstance(a, StrictArray):
            return _call(np.asarray, (a,), {"dtype": dtype})
        _check_not_recording("A host-to-device copy")
        _counts.h2d += 1  # like cupy.asarray(host_array): a host-to-device copy
        return StrictArray(np.array(a, dtype=dtype))

    array = asarray

    def asnumpy(self, a: Any) -> np.ndarray:
        if isinstance(a, StrictArray):
            _check_not_recording("A device-to-host copy")
            _counts.d2h += 1
            return a._a.copy()
        return np.asarray(a)

    def get_array_module(self, *args: Any) -> types.ModuleType:
        return self

    def __getattr__(self, name: str) -> Any:
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr

        def function(*args: Any, **kwargs: Any) -> Any:
            writes = args[0] if name in _MUTATING_FUNCTIONS and args else None
            return _call(attr, args, kwargs, writes)

        return function


xp = _StrictNamespace("strict")
"""The strict backend's array module: ``xpnn.get_xp()`` while the strict backend is active."""


def transfer_counts(reset: bool = False) -> dict[str, int]:
    """Host-to-device and device-to-host copies made on the strict backend so far.

    Args:
        reset: zero the counters after reading them.

    Returns:
        ``{"h2d": ..., "d2h": ...}``, the counts before any reset.
    """
    counts = {"h2d": _counts.h2d, "d2h": _counts.d2h}
    if reset:
        _counts.h2d = _counts.d2h = 0
    return counts
