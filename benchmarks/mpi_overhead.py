"""What data-parallel training costs on one machine: run under MPI,

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE mpiexec -n 2 python -m mpi4py \\
        benchmarks/mpi_overhead.py [--samples N] [--epochs E] [--json FILE]

(and with ``-n 1`` for the single-rank figures). Rank 0 prints, and writes to FILE:

- the median time of one ``Allreduce`` of the mnist net's flat float32 gradient buffer
  (235,146 numbers) over all ranks, the collective xpnn makes once per step;
- the median time of one training step of the mnist workload (784-256-128-10 relu, Adam,
  batch 128 global) and of one epoch over ``--samples`` samples, data-parallel over the ranks;
- the allreduce's share of the step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import xpnn  # noqa: E402
from xpnn import Dense, Input, Sequential  # noqa: E402

from workloads import WORKLOADS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    dist = xpnn.distributed.init()
    from mpi4py import MPI

    w = WORKLOADS["mnist"]
    model = Sequential(
        [Input((w.features,))]
        + [Dense(u, w.activation) for u in w.hidden]
        + [Dense(w.outputs, "linear")],
        seed=0,
    )
    model.compile(
        optimizer="adam",
        loss=xpnn.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    grads = np.ones(model.count_params(), dtype=np.float32)
    times = []
    for _ in range(args.reps):
        dist.comm.Barrier()
        t = time.perf_counter()
        dist.comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)
        times.append(time.perf_counter() - t)
    slowest = dist.comm.allreduce(float(np.median(times)), op=MPI.MAX)

    x, y = w.data()
    x, y = x[: args.samples], y[: args.samples]
    model.fit(x, y, epochs=1, batch_size=w.batch, verbose=0)  # warm-up: caches, buffers
    epochs = []
    for _ in range(args.epochs):
        dist.comm.Barrier()
        t = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=w.batch, verbose=0)
        epochs.append(time.perf_counter() - t)
    epoch = float(np.median(epochs))
    steps = -(-len(x) // w.batch)
    result = {
        "ranks": dist.size,
        "threads_per_rank": dist.threads,
        "parameters": int(grads.size),
        "allreduce_median_s": slowest if dist.size > 1 else 0.0,
        "epoch_median_s": epoch,
        "step_median_s": epoch / steps,
        "samples": len(x),
    }
    result["allreduce_share_of_step"] = result["allreduce_median_s"] / result["step_median_s"]
    if dist.is_main:
        print(json.dumps(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
