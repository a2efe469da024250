"""Seconds per training epoch: xpnn against the BLAS floor and the peers, side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_workloads.py \
        --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,rounds

Peers that are not installed are skipped. Every contestant trains the same network on the same
data with Adam(1e-3), float32, shuffled mini-batches, on two threads.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import peers
from workloads import WORKLOADS

ROUNDS = {"seed": 15, "mnist": 5, "wide": 3}
NAMES = list(WORKLOADS)


def _run(benchmark: Any, name: str, epoch: Any) -> None:
    benchmark.group = f"epoch: {name}"
    benchmark.pedantic(epoch, rounds=ROUNDS[name], iterations=1, warmup_rounds=0)


# contestant -> (the module it needs, or None, and the maker of its epoch)
CONTESTANTS = {
    "xpnn": (None, peers.make_xpnn),
    "blas_floor": (None, peers.make_floor),
    "pytorch": ("torch", peers.make_torch),
    "sklearn_mlp": ("sklearn", peers.make_sklearn),
    "jax_jit": ("jax", peers.make_jax),
}


@pytest.mark.parametrize("contestant", list(CONTESTANTS))
@pytest.mark.parametrize("name", NAMES)
def test_epoch(benchmark: Any, name: str, contestant: str, small: bool) -> None:
    module, make = CONTESTANTS[contestant]
    if module is not None:
        pytest.importorskip(module)
    w = WORKLOADS[name]
    _run(benchmark, name, make(w, *w.data(small)))


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_keras(benchmark: Any, name: str, backend: str, small: bool) -> None:
    # importing keras here would pick its default backend: only ask whether it is installed
    for module in ("keras", backend):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    worker = Path(__file__).with_name("keras_worker.py")
    args = [sys.executable, str(worker), backend, name] + (["--small"] if small else [])
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=worker.parent
    )
    try:
        assert proc.stdout.readline().strip() == "ready", "the Keras worker failed to start"

        def epoch() -> None:
            proc.stdin.write("epoch\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "done"

        _run(benchmark, name, epoch)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
