"""A Keras 3 contestant in a process of its own: KERAS_BACKEND is read once, at keras's first
import, so Keras on JAX and Keras on torch cannot share one process (nor the pytest process,
whose peers import jax and torch themselves).

    python keras_worker.py BACKEND WORKLOAD [--small] [--threads N]

Protocol on stdin/stdout: the worker builds the model and prints ``ready``; each ``epoch``
line then trains one epoch (``model.fit(..., epochs=1)``) and is answered with
``done SECONDS``, the epoch's time as the worker measured it. Any other line, or end of input,
ends the worker. The benchmark times the whole request, so the pipe's round trip (tens of
microseconds) is inside its figure; the worker's own time is recorded beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable


def setup(backend: str, threads: int) -> None:
    """Before keras (and with it jax or torch) is imported: the backend and the thread caps
    (the CPU affinity that caps JAX's thread pool is inherited from the pytest process)."""
    os.environ["KERAS_BACKEND"] = backend
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)


def serve(command: str, run: Callable[[], object], threads: int) -> int:
    """Cap every loaded pool, say ``ready``, then answer each ``command`` line with
    ``done SECONDS`` (the time of ``run()``); any other line, or end of input, ends it."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # after the imports, so that every loaded pool is capped
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != command:
            break
        start = time.perf_counter()
        run()
        print(f"done {time.perf_counter() - start:.9f}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["jax", "torch"])
    parser.add_argument("workload")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    setup(args.backend, args.threads)

    import peers
    from workloads import WORKLOADS

    w = WORKLOADS[args.workload]
    return serve("epoch", peers.make_keras(w, *w.data(small=args.small)), args.threads)


if __name__ == "__main__":
    sys.exit(main())
