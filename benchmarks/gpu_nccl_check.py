"""The GPU check's NCCL step (one rank; NCCL refuses two ranks on one GPU): xpnn.distributed's
device allreduce on a CuPy buffer, eagerly and recorded in a CUDA graph, and its time on the
MNIST net's 235,146 float32 gradients. Needs no MPI: the communicator is made directly.

    PYTHONPATH=src python benchmarks/gpu_nccl_check.py

Exit status 0 when every check passed, 2 when NCCL is not available, 1 on a failure.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main() -> int:
    import cupy
    from cupy.cuda import nccl

    if not getattr(nccl, "available", False):
        print("NCCL is not available (pip install nvidia-nccl-cu12): skipped")
        return 2
    from xpnn import graphs
    from xpnn.distributed import Context

    comm = nccl.NcclCommunicator(1, nccl.get_unique_id(), 0)
    ctx = Context(rank=0, size=1, local_rank=0, local_size=1, comm=None, nccl=comm)
    n = 235_146
    buf = cupy.arange(n, dtype=cupy.float32)
    ctx.allreduce(buf)  # one rank: the sum is the buffer itself
    assert bool((buf == cupy.arange(n, dtype=cupy.float32)).all()), "eager allreduce changed data"

    def step(ws: object) -> None:
        buf[...] += 1.0
        ctx.allreduce(buf)

    replay = graphs.Replayed(step, cupy)
    with replay.stream():
        for _ in range(5):  # warm-up, record, then three launches
            replay(buf)
        replay._stream.synchronize()
    assert not replay.failed, "the allreduce could not be recorded in a CUDA graph"
    expected = cupy.arange(n, dtype=cupy.float32) + 5.0
    assert bool((buf == expected).all()), "the replayed allreduce gave other numbers"

    stream = cupy.cuda.Stream(non_blocking=True)
    times = []
    with stream:
        for _ in range(200):
            stream.synchronize()
            t = time.perf_counter()
            ctx.allreduce(buf)
            stream.synchronize()
            times.append(time.perf_counter() - t)
    print(
        f"NCCL {nccl.get_version()}: allreduce of {n:,} float32, 1 rank, eager and recorded: ok; "
        f"median {np.median(times) * 1e6:.1f} us"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as exc:
        print(f"NCCL check failed: {exc}")
        sys.exit(1)
