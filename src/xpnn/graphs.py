"""Recording a step function once and replaying it: CUDA graphs on CuPy.

Run eagerly, a small network's step on a GPU is dozens of kernel launches, each costing the
host more time than the GPU spends on it. CUDA stream capture records the launches of one step
into a graph; replaying the graph submits them all in one call (CuPy's ``Stream.begin_capture``
/ ``end_capture`` and ``Graph.launch``, CuPy 11 and later). A replay repeats the recorded
kernels on the recorded addresses with the recorded scalar arguments, so a recordable step

- reads its inputs from fixed buffers (the caller fills them before each call),
- takes nothing that changes between calls from the host (the optimizer keeps its step count
  and learning rate in device arrays),
- never waits for the GPU or copies to or from the host (CuPy refuses both while capturing),
- and allocates its temporaries from a memory pool of its own, kept alive with the graph and
  used by nothing else, so no later allocation can take their addresses.

``Replayed(step, xp)`` wraps any such function of one argument (the workspace of a batch size):
the first call per workspace runs eagerly (it compiles kernels and sets up cuBLAS, which cannot
happen during a capture), the second is recorded and launched, and every later call is one
launch. If a step cannot be recorded, it warns once and calls the function eagerly from then
on. The caller does the eager work around the calls (filling the buffers) inside
``replayed.stream()``, so that it orders itself with the replays.

On the ``strict`` test backend the same calls record a tape of NumPy operations instead
(xpnn.testing.strict) with the same rules, so CPU-only tests check that a step is recordable.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from .backend import BackendError

__all__ = ["Replayed", "supported"]


def _strict_xp() -> Any:
    from .testing import strict

    return strict.xp


def supported(xp: Any) -> bool:
    """True where steps can be recorded: CuPy with stream capture, and the strict backend."""
    if xp is _strict_xp():
        return True
    cuda = getattr(xp, "cuda", None)
    return cuda is not None and hasattr(getattr(cuda, "Stream", None), "begin_capture")


class Replayed:
    """``step(ws)`` recorded once per ``ws`` and replayed (see the module's docstring)."""

    def __init__(self, step: Callable[[Any], None], xp: Any) -> None:
        if not supported(xp):
            raise BackendError(
                f"Recording a step as a graph needs CuPy 11 or later (or the strict test "
                f"backend); the active array module is {getattr(xp, '__name__', xp)!r}."
            )
        self.step = step
        self.xp = xp
        self.failed = False  # recording failed once: the step runs eagerly from then on
        self._graphs: dict[int, Any] = {}  # id(ws) -> graph; the caller keeps ws alive
        self._warm: set[int] = set()
        self._stream: Any = None
        self._pool: Any = None
        if xp is not _strict_xp():
            # Capture cannot run on the legacy default stream; a private pool keeps the
            # recorded temporaries' addresses out of everybody else's reach.
            self._stream = xp.cuda.Stream(non_blocking=True)
            self._pool = xp.cuda.MemoryPool()

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Make the replay stream current, so eager work orders itself with the replays."""
        if self._stream is None:
            yield
            return
        with self._stream:
            yield

    def __call__(self, ws: Any) -> None:
        key = id(ws)
        graph = self._graphs.get(key)
        if graph is not None:
            graph.launch()
            return
        if self.failed or key not in self._warm:
            self.step(ws)
            self._warm.add(key)
            return
        try:
            graph = self._record(lambda: self.step(ws))
        except Exception as exc:  # the step could not be recorded: go on eagerly
            self.failed = True
            warnings.warn(
                f"xpnn could not record the training step as a graph ({type(exc).__name__}: "
                f"{exc}); training goes on without jit_compile.",
                RuntimeWarning,
                stacklevel=3,
            )
            self.step(ws)
            return
        self._graphs[key] = graph
        graph.launch()  # recording ran no kernel: run the step now

    def _record(self, step: Callable[[], Any]) -> Any:
        """Record ``step()`` and return the graph; its ``launch()`` runs the step. Raises
        whatever the recording met (a host copy, a sync)."""
        if self._stream is None:  # the strict backend's tape
            from .testing import strict

            return strict.record_tape(step)
        s = self._stream
        with s, self.xp.cuda.using_allocator(self._pool.malloc):
            s.begin_capture()
            try:
                step()
            except BaseException:
                with contextlib.suppress(Exception):
                    s.end_capture()
                raise
            graph = s.end_capture()
        return _Launch(graph, s, self._pool)


class _Launch:
    """A recorded CUDA graph with what it needs kept alive: its stream and its pool."""

    def __init__(self, graph: Any, stream: Any, pool: Any) -> None:
        self.graph, self.stream, self.pool = graph, stream, pool

    def launch(self) -> None:
        self.graph.launch(stream=self.stream)
