"""The peak memory of one contestant's ``fit``, measured in a process of its own.

    python memory_worker.py CONTESTANT WORKLOAD [--small] [--tracemalloc] [--warm] [--threads N]

CONTESTANT is one of ``xpnn``, ``pytorch``, ``sklearn_mlp``, ``jax_jit``, ``keras_jax``: the
makers of the training benchmark (peers.py), so the same model, optimizer, batches and data
placement. The worker imports the contestant's libraries, draws the workload's data, then builds
the contestant and trains two epochs, and prints one JSON line of byte counts:

- ``rss_imports``: resident set after the imports; ``rss_data``: after the data too.
- ``hwm_first``: the peak resident set from the build through the end of the first epoch
  (compilation and first allocations included); ``hwm_second``: the peak during the second
  epoch alone (what every later epoch needs, caches kept).
- with ``--tracemalloc``, ``traced_data`` and ``traced_first`` / ``traced_second``: the same
  peaks as seen by tracemalloc, started after the imports, so counting every block Python and
  NumPy allocate from then on (the data included).
- with ``--warm``, the contestant first trains one epoch on a few samples, before the baseline,
  so that one-time loading (numba's, for xpnn) falls outside the window. The heap then holds
  freed pages that the run reuses, so only the tracemalloc figures mean anything after it.

The peaks come from ``VmHWM`` in ``/proc/self/status``, reset between phases by writing ``5``
to ``/proc/self/clear_refs`` (Linux 4.0+). ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` cannot
be used: it cannot be reset, and a process started by a larger one reports the parent's peak
(the kernel carries ``maxrss`` across ``exec``), so a worker of the pytest process holding
mnist's 188 MB reads at least that before it allocates anything. RSS counts what every library
allocates, however (PyTorch's and XLA's allocators, numba's compiler, thread stacks), but in
pages, after the allocator's caching; tracemalloc sees only blocks allocated through Python's
and NumPy's allocators, exactly, so it is given for the contestants whose arrays are NumPy's
(xpnn, scikit-learn) and is the figure to compare with a count of their arrays.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import tracemalloc
from typing import Any

CONTESTANTS = {  # what each needs imported before the baseline, and its maker in peers.py
    "xpnn": (("xpnn",), "make_xpnn"),
    "pytorch": (("torch",), "make_torch"),
    "sklearn_mlp": (("sklearn.neural_network",), "make_sklearn"),
    "jax_jit": (("jax", "jax.numpy"), "make_jax"),
    "keras_jax": (("keras",), "make_keras"),
}


def expected_working_set(
    w: Any, n: int, itemsize: int = 4, compiled: bool = True
) -> dict[str, int]:
    """What xpnn's ``fit`` of workload ``w`` on ``n`` samples must hold, in bytes, counted from
    the shapes: ``data`` (x in the model's float dtype, y as int64 labels), ``parameters``
    (parameters, gradients and Adam's m and v, four flat buffers of every weight) and
    ``buffers`` (the step's workspaces, one set per batch size the epoch meets: the batch's x
    and y, each layer's z and a, dx for all but the first layer (nobody needs the input's
    gradient), and dL/d(output)). ``z`` and ``a`` are one buffer for a linear layer, and for a
    ReLU layer too where the step runs ``compiled`` (numba's Dense stack, layers/dense.py)."""
    if w.binary:
        raise ValueError(f"expected_working_set counts integer labels; {w.name} is binary.")
    u = w.units
    weights = sum(a * b + b for a, b in zip(u, u[1:]))
    buffers = 0
    for s in set(w.batch_sizes(n)):
        floats = s * u[0] + s * u[-1]  # x, delta
        for i, (a, b) in enumerate(zip(u, u[1:])):
            one = i == len(u) - 2 or (compiled and w.activation == "relu")  # z is a
            floats += s * b * (1 if one else 2) + (s * a if i > 0 else 0)  # z, a, dx
        buffers += floats * itemsize + s * 8  # y: int64 labels
    return {
        "data": n * u[0] * itemsize + n * 8,
        "parameters": 4 * weights * itemsize,
        "buffers": buffers,
    }


def status_bytes(field: str) -> int:
    """``field`` (``VmRSS``, ``VmHWM``) of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> bool:
    """Set the peak resident set (VmHWM) to the current one; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure(
    contestant: str, workload: str, small: bool, traced: bool, warm: bool, threads: int
) -> dict:
    """Run the phases described in the module's doc; returns the figures."""
    modules, maker = CONTESTANTS[contestant]
    if contestant == "keras_jax":  # before keras is imported: its backend is fixed then
        os.environ["KERAS_BACKEND"] = "jax"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    from threadpoolctl import threadpool_limits

    import peers
    from workloads import WORKLOADS

    for module in modules:
        importlib.import_module(module)
    threadpool_limits(threads)
    w = WORKLOADS[workload]
    if warm:  # one epoch on a few samples: one-time loading (numba's) before the baseline
        getattr(peers, maker)(w, *w.data(small=True))()
        gc.collect()
    out: dict = {"contestant": contestant, "workload": workload}
    if contestant == "xpnn":  # whether its step runs compiled (expected_working_set)
        out["compiled"] = bool(importlib.import_module("xpnn.fused.cpu").STACK_ENABLED)
    out["rss_imports"] = status_bytes("VmRSS")
    if traced:
        tracemalloc.start()
    x, y = w.data(small)
    out.update(samples=int(x.shape[0]), data_bytes=int(x.nbytes + y.nbytes))
    out["rss_data"] = status_bytes("VmRSS")
    if traced:
        out["traced_data"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
    out["hwm_reset"] = reset_peak()

    epoch = getattr(peers, maker)(w, x, y)
    threadpool_limits(threads)  # pools loaded by the build (PyTorch's) are capped too
    epoch()
    out["hwm_first"] = status_bytes("VmHWM")
    if traced:
        out["traced_first"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
    reset_peak()
    epoch()
    out["hwm_second"] = status_bytes("VmHWM")
    if traced:
        out["traced_second"] = tracemalloc.get_traced_memory()[1]
    out["rss_end"] = status_bytes("VmRSS")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("contestant", choices=list(CONTESTANTS))
    parser.add_argument("workload")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    figures = measure(
        args.contestant, args.workload, args.small, args.tracemalloc, args.warm, args.threads
    )
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
