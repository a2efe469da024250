"""Seconds per ``predict`` over a whole data set: xpnn against its peers, grouped by workload
and batch size.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_inference.py \
        --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,rounds

The networks of the training benchmark (workloads.py), untrained: the seed net (400-25-15-1
sigmoid) on its 1,000 samples and the mnist net (784-256-128-10 relu, logits) on 60,000, float32,
two threads (conftest.py). Every contestant runs at three batch sizes: 32 (the default
``batch_size`` of Keras's and xpnn's ``predict``), 8,192, and the whole set in one batch (what a
PyTorch or JAX user writes when memory allows; for the seed net 8,192 is the whole set, so it is
left out). A round is one prediction of every sample, the outputs gathered in one NumPy array;
one warm-up round (allocation, compilation) comes first. Peers that are not installed are
skipped; Keras runs in a worker process (inference_peers.py, as keras_worker.py for training).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inference_peers
import peers
from workloads import WORKLOADS

ROUNDS = {"seed": 20, "mnist": 7}  # a seed prediction takes a millisecond: more rounds
ALL = 0  # the batch size "the whole set in one batch"
CASES = [("seed", 32), ("seed", ALL), ("mnist", 32), ("mnist", 8192), ("mnist", ALL)]
WORKER = Path(__file__).with_name("inference_peers.py")


CONTESTANTS = {
    "xpnn": peers.in_process(None, inference_peers.make_xpnn),
    "pytorch": peers.in_process("torch", inference_peers.make_torch),
    "jax_jit": peers.in_process("jax", inference_peers.make_jax),
    # in a worker process (inference_peers.main), told the batch size
    "keras_jax": peers.keras_maker(WORKER, "jax", "predict", batch_arg=True),
}


@pytest.mark.parametrize("contestant", list(CONTESTANTS))
@pytest.mark.parametrize(("name", "batch"), CASES, ids=[f"{n}-{b or 'all'}" for n, b in CASES])
def test_predict(
    benchmark: Any,
    request: pytest.FixtureRequest,
    workload_data: Any,
    name: str,
    batch: int,
    contestant: str,
    small: bool,
) -> None:
    w = WORKLOADS[name]
    x, _ = workload_data(name, small)
    n = x.shape[0]
    size = batch or n
    predict = CONTESTANTS[contestant](w, x, size, small, request)
    units = "-".join(map(str, w.units[1:]))
    benchmark.group = (
        f"predict {name}: {w.samples:,} x {w.features}, {units}, "
        f"batch {f'{batch:,}' if batch else 'all'}"
    )
    benchmark.extra_info.update(
        workload=name, contestant=contestant, samples=n, batch=size, unit="seconds per predict"
    )
    out = benchmark.pedantic(predict, rounds=ROUNDS[name], iterations=1, warmup_rounds=1)

    if out is not None:  # in process: the outputs themselves (the Keras worker checks its own)
        assert out.shape == (n, w.outputs) and out.dtype == np.float32
        assert np.isfinite(out).all()
    keras_seconds = getattr(request.node, "keras_seconds", None)
    if keras_seconds and not benchmark.disabled:
        benchmark.extra_info["worker_median_s"] = statistics.median(keras_seconds[1:])


# The same contestants taking turns, round after round (peers.take_turns, as in
# test_workloads.py): a group's contestants run one after another and this machine's speed
# drifts over minutes; the summary at the end gives xpnn's time over each rival's, the
# median of the rounds' ratios.
@pytest.mark.parametrize(("name", "batch"), CASES, ids=[f"{n}-{b or 'all'}" for n, b in CASES])
def test_predict_in_turn(
    benchmark: Any,
    request: pytest.FixtureRequest,
    workload_data: Any,
    floor_pairs: dict,
    name: str,
    batch: int,
    small: bool,
) -> None:
    w = WORKLOADS[name]
    x, _ = workload_data(name, small)
    size = batch or x.shape[0]
    contestants = peers.installed(CONTESTANTS, w, x, size, small, request)
    case = f"predict {name}-{batch or 'all'}"
    benchmark.group = f"contestants taking turns: {case} (seconds per round)"
    timed = peers.take_turns(benchmark, contestants, ROUNDS[name])
    benchmark.extra_info.update(workload=name, batch=size, **timed)
    if not benchmark.disabled:
        floor_pairs[case] = timed
