"""Data-parallel training over MPI (mpi4py), with NCCL for the gradient sum on GPUs.

``init()`` joins the job an MPI launcher started (``mpiexec -n 4 python -m mpi4py train.py``);
after it, ``fit``, ``evaluate`` and ``predict`` in this process are data-parallel:

- ``batch_size`` is the *global* batch. Every rank draws the same shuffle (rank 0's generator
  state, broadcast at the start of ``fit``), cuts each global batch into one contiguous share
  per rank (a share may be empty), and computes its share's gradients;
- the gradients are scaled by the share's fraction of the batch and summed with one allreduce
  over the flat gradient buffer per step, so the update is the one a single process would
  make on the whole batch (a weighted sum, not a mean over ranks, so uneven shares are exact);
- the epoch's loss and metric sums are summed across ranks once per epoch, so the History is
  the same on every rank, and callbacks decide from the same logs;
- weights, non-trainable state and optimizer state start identical: rank 0's are broadcast at
  the start of every ``fit`` (so a ``seed=None`` model works too).

One rank (``mpiexec -n 1``, or no launcher) runs exactly the single-process code.

On CuPy each rank takes the GPU of its local rank before NCCL starts, and the gradient sum is
an NCCL allreduce on the device, on the current stream (so it can be recorded in the step's
CUDA graph). On NumPy it is MPI's allreduce in place. Each rank's BLAS threads are capped so
that the ranks on one machine share its cores instead of oversubscribing them.

``init()`` also makes an uncaught exception on any rank abort the whole job (MPI's
``Abort``), as ``python -m mpi4py`` does, so a failing rank never leaves the others waiting in
a collective: this is the one process-wide change, and ``init`` is where you ask for it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import BackendError, array_module, get_backend, to_device, to_numpy

__all__ = ["Context", "init", "current", "shares"]


@dataclass
class Context:
    """The job as this process sees it."""

    rank: int
    size: int
    local_rank: int
    local_size: int
    comm: Any = field(repr=False)
    nccl: Any = field(default=None, repr=False)  # the NCCL communicator on CuPy
    threads: int | None = None  # the BLAS threads this rank was capped to

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that prints and writes files."""
        return self.rank == 0

    # -- collectives ------------------------------------------------------------------------
    def allreduce(self, buf: Any) -> None:
        """Sum ``buf`` over the ranks, in place (device arrays stay on the device on CuPy)."""
        xp = array_module(buf)
        if xp is np:
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        elif self.nccl is not None and xp.__name__ == "cupy":
            from cupy.cuda import nccl

            kinds = {
                np.dtype(np.float32): nccl.NCCL_FLOAT32,
                np.dtype(np.float64): nccl.NCCL_FLOAT64,
            }
            stream = xp.cuda.get_current_stream().ptr
            ptr = buf.data.ptr
            self.nccl.allReduce(
                ptr, ptr, buf.size, kinds[np.dtype(buf.dtype)], nccl.NCCL_SUM, stream
            )
        else:  # a device array without NCCL (the strict stand-in): through the host
            host = np.ascontiguousarray(to_numpy(buf))
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
            buf[...] = to_device(host)

    def broadcast(self, buf: Any) -> None:
        """Rank 0's ``buf`` everywhere, in place."""
        if buf.size == 0:
            return
        if array_module(buf) is np:
            self.comm.Bcast(buf, root=0)
            return
        host = np.ascontiguousarray(to_numpy(buf))
        self.comm.Bcast(host, root=0)
        buf[...] = to_device(host)

    def broadcast_object(self, obj: Any) -> Any:
        return self.comm.bcast(obj, root=0)

    def agree(self, value: Any, what: str) -> None:
        """Raise on every rank when ranks disagree on ``value`` (a small picklable)."""
        values = self.comm.allgather(value)
        if any(v != values[0] for v in values):
            raise ValueError(
                f"The ranks disagree on {what}: {values}. Every rank must call fit/evaluate/"
                "predict with the same data (the same arrays, or memory maps of one file)."
            )

    def gather_rows(self, part: np.ndarray, n: int) -> np.ndarray:
        """Every rank's rows of a ``(n, ...)`` result, in rank order, on every rank."""
        counts = [hi - lo for lo, hi in shares(n, self.size)]
        out = np.empty((n, *part.shape[1:]), dtype=part.dtype)
        row = math.prod(part.shape[1:])
        from mpi4py import MPI

        kind = MPI._typedict[part.dtype.char]  # noqa: SLF001 - mpi4py's dtype table
        self.comm.Allgatherv(
            np.ascontiguousarray(part), [out, [c * row for c in counts], None, kind]
        )
        return out


_active: Context | None = None


def current() -> Context | None:
    """The job after ``init()`` when it has more than one rank, else None (single process)."""
    return _active if _active is not None and _active.size > 1 else None


def shares(n: int, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` of each rank's contiguous share of ``n`` samples: the first ``n % size``
    ranks take one more; a share is empty when ``n < size``."""
    base, extra = divmod(n, size)
    out, lo = [], 0
    for r in range(size):
        hi = lo + base + (r < extra)
        out.append((lo, hi))
        lo = hi
    return out


def init(threads: int | None = None) -> Context:
    """Join the MPI job; returns the ``Context`` (``rank``, ``size``, ...). Calling it again
    returns the same context.

    Args:
        threads: BLAS threads per rank; default: the CPUs this process may use divided by the
            ranks on this machine (at least one).
    """
    global _active
    if _active is not None:
        return _active
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "xpnn.distributed needs mpi4py and an MPI: pip install 'xpnn[mpi]' (or mpi4py "
            "with your cluster's MPI)."
        ) from exc
    comm = MPI.COMM_WORLD
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ctx = Context(
        rank=comm.Get_rank(),
        size=comm.Get_size(),
        local_rank=local.Get_rank(),
        local_size=local.Get_size(),
        comm=comm,
    )
    ctx.threads = _cap_threads(threads, ctx.local_size)
    _abort_on_uncaught(comm)
    if ctx.size > 1 and get_backend().name == "cupy":
        ctx.nccl = _nccl(ctx)
    _active = ctx
    return ctx


def _cap_threads(threads: int | None, local_size: int) -> int:
    """Share this machine's CPUs among its ranks (2 ranks x 2 threads on 2 cores measured 56x
    slower than 1 thread each: MPI busy-polls while BLAS threads wait)."""
    if threads is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = max(1, (cpus or 1) // max(1, local_size))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the mpi extra installs it; without it, the environment variables
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
        return threads
    threadpool_limits(limits=threads)
    return threads


def _abort_on_uncaught(comm: Any) -> None:
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        previous(kind, value, tb)
        try:
            sys.stderr.write(f"xpnn.distributed: rank {comm.Get_rank()} failed; aborting the job\n")
            sys.stderr.flush()
            # the launcher forwards this rank's output from a pipe on its own time, and Abort
            # kills the job at once: without a moment's wait the traceback may never be shown
            time.sleep(0.5)
        finally:
            comm.Abort(1)

    sys.excepthook = hook


def _nccl(ctx: Context) -> Any:
    """Pick this rank's GPU by its local rank, then start NCCL with an id from rank 0."""
    import cupy
    from cupy.cuda import nccl

    if not nccl.available:
        raise BackendError(
            "Data-parallel training on CuPy needs NCCL: pip install nvidia-nccl-cu12 "
            "(CUDA 12) or nvidia-nccl-cu13."
        )
    devices = cupy.cuda.runtime.getDeviceCount()
    if ctx.local_size > devices:
        raise BackendError(
            f"{ctx.local_size} ranks share this machine's {devices} GPU(s); NCCL needs one GPU "
            "per rank: launch at most as many ranks per machine as it has GPUs."
        )
    cupy.cuda.Device(ctx.local_rank).use()
    uid = ctx.comm.bcast(nccl.get_unique_id() if ctx.rank == 0 else None, root=0)
    return nccl.NcclCommunicator(ctx.size, uid, ctx.rank)


def sync_replicas(model: Any, ctx: Context) -> None:
    """Make every rank's model rank 0's: weights, non-trainable state, optimizer state and
    step count, and the shuffling generator (so a ``seed=None`` model works too)."""
    ctx.agree(
        (model.input_dim, model.count_params(), type(model.optimizer).__name__),
        "the model (input width, parameter count, optimizer)",
    )
    for buf in (model._params, model._state, *model.optimizer.state.values()):
        ctx.broadcast(buf)
    model.optimizer.iterations = ctx.broadcast_object(model.optimizer.iterations)
    model._set_rng_state(ctx.broadcast_object(model._rng.bit_generator.state))
