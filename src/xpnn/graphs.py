"""Recording a training step once and replaying it: CUDA graphs on CuPy.

Run eagerly, a small network's step on a GPU is dozens of kernel launches, each costing the
host more time than the GPU spends on it. CUDA stream capture records the launches of one step
into a graph; replaying the graph submits them all in one call (CuPy's ``Stream.begin_capture``
/ ``end_capture`` and ``Graph.launch``, CuPy 11 and later). A replay repeats the recorded
kernels on the recorded addresses with the recorded scalar arguments, so a recordable step

- reads its batch from fixed buffers (the batch is gathered into them before each replay),
- takes nothing that changes between steps from the host: the optimizer keeps its step count
  and learning rate in device memory (``Optimizer.make_capturable``),
- never waits for the GPU or copies to or from the host (CuPy refuses both while capturing),
- and allocates its temporaries from a memory pool of its own, kept alive with the graph and
  used by nothing else, so no later allocation can take their addresses.

The eager work around the replays (gathering batches, zeroing the sums) must run on the
stream the graph replays on, so ``fit`` runs its epochs inside ``recorder.stream()``.

On the ``strict`` test backend the same calls record a tape of NumPy operations instead
(``backend._Tape``) with the same rules, so CPU-only tests check that a step is recordable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from . import backend

__all__ = ["Recorder", "supported"]


def supported(xp: Any) -> bool:
    """True where steps can be recorded: CuPy with stream capture, and the strict backend."""
    if xp is backend.strict:
        return True
    cuda = getattr(xp, "cuda", None)
    return cuda is not None and hasattr(getattr(cuda, "Stream", None), "begin_capture")


class Recorder:
    """Records steps as graphs on one backend and gives the stream they replay on."""

    def __init__(self, xp: Any) -> None:
        if not supported(xp):
            raise backend.BackendError(
                f"Recording a step as a graph needs CuPy 11 or later (or the strict test "
                f"backend); the active array module is {getattr(xp, '__name__', xp)!r}."
            )
        self.xp = xp
        self._stream: Any = None
        self._pool: Any = None
        if xp is not backend.strict:
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

    def record(self, step: Callable[[], Any]) -> Any:
        """Record ``step()`` (not run: recording runs nothing) and return the graph; its
        ``launch()`` runs the step. Raises whatever the recording met (a host copy, a sync)."""
        if self._stream is None:  # the strict backend's tape
            return backend._record_tape(step)
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
        return _Replay(graph, s, self._pool)


class _Replay:
    """A recorded CUDA graph with what it needs kept alive: its stream and its pool."""

    def __init__(self, graph: Any, stream: Any, pool: Any) -> None:
        self.graph, self.stream, self.pool = graph, stream, pool

    def launch(self) -> None:
        self.graph.launch(stream=self.stream)
