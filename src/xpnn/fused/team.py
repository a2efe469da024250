"""The team: threads that run OpenBLAS's parallel jobs and the compiled pass's own work.

On its own, OpenBLAS runs a product's jobs on threads of its own that spin for a while after
each call, and the training pass (fused/cpu.py ``stack_train_*``) runs its elementwise work on
one thread between products. The team replaces OpenBLAS's threads with threads that do both:
the jobs of every OpenBLAS call (through ``set_threads_callback_function``, OpenBLAS 0.3.27+),
and parts of the pass's gather, Adam update and big layers' elementwise work. The jobs are the
ones OpenBLAS would have run, split as it would have split them, and the rest is cut where
every value is computed as one thread computes it, so a pass with the team gives the same
values to the bit as one without.

The team starts with the first compiled call that can use it (Linux on x86-64, NumPy's own
OpenBLAS with the callback, two threads or more, and a net with work to share: 32,768
parameters, batches of 64 KB, or a layer of 131,072 values; layers.DenseStack decides) and
lives as long as the process: once installed, OpenBLAS's jobs keep coming to it, from any
thread. Its threads (started in
fused/cpu.py with pthread_create: they run no Python) spin for about 20-30 ms after a task, as
OpenBLAS's own do, then sleep until the next. A pass starts as many as OpenBLAS's thread count
(``OPENBLAS_NUM_THREADS``, threadpoolctl) less one, and cuts its own work into that many parts
and one; a product with more jobs starts more (a product's jobs wait on each other: each needs
a thread). A forked child goes back to OpenBLAS's own threads. ``XPNN_TEAM=0`` keeps
OpenBLAS's threads and the pass on one thread, as before.
"""

from __future__ import annotations

import os

import numpy as np

from . import blas, cpu

__all__ = ["SUPPORTED", "rest", "team", "width"]

SUPPORTED = getattr(cpu, "TEAM_SUPPORTED", False)

_installed = False


def width() -> int:
    """How many threads the team has (besides the caller's); 0 before it starts."""
    return int(cpu.TEAM[cpu.WIDTH]) if SUPPORTED else 0


def team() -> np.ndarray:
    """The team for a compiled pass: ``cpu.TEAM``, grown to OpenBLAS's thread count (and, the
    first time, given OpenBLAS's jobs), or ``cpu.IDLE`` (no team: everything on the caller's
    thread) where it cannot help."""
    global _installed
    if not SUPPORTED or os.environ.get("XPNN_TEAM", "1") == "0":
        return cpu.IDLE
    threads = min(int(blas.CONTROL["get_num_threads"]()), cpu.TEAM_MAX + 1)
    if threads < 2:
        return cpu.IDLE
    words = cpu.TEAM
    callback = cpu.team_callbacks()
    have = int(words[cpu.WIDTH])
    if threads - 1 > have:
        have = cpu.team_grow(words, threads - 1)
        if have == 0:  # the system would start no thread: OpenBLAS keeps its own
            return cpu.IDLE
    words[cpu.SPLIT] = min(threads, have + 1)  # the parts of the pass's own work
    if not _installed:
        blas.CONTROL["set_threads_callback_function"](callback)
        _installed = True
    return words


def rest() -> None:
    """Let the team's threads sleep now rather than spin for the 20-30 ms after their last
    task: before handing the cores to other work in the process (another library's threads,
    which would share them with the spinning threads meanwhile). The next task wakes them, as
    after any sleep; nothing changes but that wait (tens of microseconds)."""
    if SUPPORTED and int(cpu.TEAM[cpu.WIDTH]) > 0:
        cpu.TEAM[cpu.REST] = 1


def _forget() -> None:
    """In a forked child: the threads did not come along, so OpenBLAS's own run its jobs."""
    global _installed
    if _installed:
        blas.CONTROL["set_threads_callback_function"](None)
    _installed = False
    start = cpu.TEAM[cpu.START]
    cpu.TEAM[:] = 0
    cpu.TEAM[cpu.START] = start


if SUPPORTED:
    os.register_at_fork(after_in_child=_forget)
