"""Data-parallel fit over MPI: real ``mpiexec`` jobs of 1, 2 and 3 ranks (tests/mpi/worker.py),
compared with each other and with one process.

float64 throughout: the ranks add the same numbers in another order, so float32 would drift
over many steps (DISTRIBUTED-NOTES.md); in float64 the History and weights agree to ~1e-12.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

WORKER = Path(__file__).parent / "mpi" / "worker.py"


def _mpiexec() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    return found


MPIEXEC = _mpiexec()
if MPIEXEC is None:
    if os.environ.get("XPNN_REQUIRE_MPI") == "1":
        raise RuntimeError("XPNN_REQUIRE_MPI=1 but mpi4py or mpiexec is missing")
    pytest.skip("needs mpi4py and mpiexec: pip install 'xpnn[mpi]'", allow_module_level=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["NN_BACKEND"] = "numpy"
    return env


def run(ranks: int | None, mode: str, out: Path, timeout: float = 60, **params: Any) -> Any:
    """Run the worker (``ranks=None``: one plain process); returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "mpi4py", str(WORKER), mode, str(out), json.dumps(params)]
    if ranks is not None:
        cmd = [MPIEXEC, "-n", str(ranks), *cmd]
    else:
        cmd = [sys.executable, str(WORKER), mode, str(out), json.dumps(params)]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)


def results(out: Path, rank: int) -> dict[str, Any]:
    with np.load(out / f"rank{rank}.npz") as f:
        return {
            "weights": f["weights"],
            "history": json.loads(str(f["history"])),
            "predictions": f["predictions"],
            "evaluation": json.loads(str(f["evaluation"])),
            "iterations": int(f["iterations"]),
            "threads": int(f["threads"]),
        }


def job(tmp_path: Path, ranks: int | None, **params: Any) -> list[dict[str, Any]]:
    out = tmp_path / f"r{ranks}-{abs(hash(json.dumps(params, sort_keys=True)))}"
    out.mkdir()
    done = run(ranks, "single" if ranks is None else "fit", out, **params)
    assert done.returncode == 0, done.stderr
    return [results(out, r) for r in range(ranks or 1)]


CASES = {
    "even": {"n": 100, "batch": 10},
    "uneven samples and batch": {"n": 101, "batch": 10},  # 101 % 10, 10 % 3
    "batch smaller than ranks at the end": {"n": 91, "batch": 9},  # last batch of 1
    "sgd with validation": {"n": 80, "batch": 8, "optimizer": "sgd", "validation_split": 0.2},
}


def test_one_rank_is_plain_fit_bit_for_bit(tmp_path: Path) -> None:
    single = job(tmp_path, None)[0]
    (one,) = job(tmp_path, 1)
    np.testing.assert_array_equal(one["weights"], single["weights"])
    assert one["history"] == single["history"] and one["evaluation"] == single["evaluation"]
    np.testing.assert_array_equal(one["predictions"], single["predictions"])


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_ranks_equal_one_process(tmp_path: Path, ranks: int, case: str) -> None:
    params = CASES[case]
    single = job(tmp_path, None, **params)[0]
    every = job(tmp_path, ranks, **params)
    for r, got in enumerate(every):
        # the replicas stay identical, bit for bit
        np.testing.assert_array_equal(got["weights"], every[0]["weights"])
        assert got["history"] == every[0]["history"], f"rank {r}"
        np.testing.assert_array_equal(got["predictions"], every[0]["predictions"])
        assert got["iterations"] == single["iterations"]
    got = every[0]
    np.testing.assert_allclose(got["weights"], single["weights"], rtol=1e-12, atol=1e-13)
    assert got["history"].keys() == single["history"].keys()
    for key, values in single["history"].items():
        np.testing.assert_allclose(got["history"][key], values, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["predictions"], single["predictions"], rtol=1e-12)
    for key, value in single["evaluation"].items():
        assert got["evaluation"][key] == pytest.approx(value, rel=1e-12)


def test_a_seedless_model_starts_from_rank_0s_replica(tmp_path: Path) -> None:
    every = job(tmp_path, 2, seed=None)
    np.testing.assert_array_equal(every[0]["weights"], every[1]["weights"])
    assert every[0]["history"] == every[1]["history"]


def test_early_stopping_stops_every_rank_at_the_same_epoch(tmp_path: Path) -> None:
    params = {"epochs": 40, "patience": 1, "delta": 0.02}
    single = job(tmp_path, None, **params)[0]
    every = job(tmp_path, 3, **params)
    stopped = [len(r["history"]["loss"]) for r in every]
    assert stopped == [len(single["history"]["loss"])] * 3 and stopped[0] < 40


def test_an_error_on_one_rank_ends_the_job_quickly(tmp_path: Path) -> None:
    start = time.perf_counter()
    done = run(2, "fail-before-fit", tmp_path, timeout=30)
    assert done.returncode != 0
    assert "this rank fails on purpose" in done.stderr
    assert time.perf_counter() - start < 15


def test_an_error_ends_the_job_without_dash_m_mpi4py(tmp_path: Path) -> None:
    """init() makes an uncaught exception abort the job even when the script is run plainly."""
    cmd = [MPIEXEC, "-n", "2", sys.executable, str(WORKER), "fail-before-fit", str(tmp_path)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "aborting the job" in done.stderr
    assert time.perf_counter() - start < 15


def test_only_rank_0_writes_files_from_callbacks(tmp_path: Path) -> None:
    out = tmp_path / "w"
    out.mkdir()
    done = run(2, "fit", out, write=True, epochs=3)
    assert done.returncode == 0, done.stderr
    assert (out / "log0.csv").read_text().count("\n") == 4  # the header and 3 epochs
    assert (out / "model0.xpnn").is_file()
    assert not (out / "log1.csv").exists() and not (out / "model1.xpnn").exists()


def test_each_rank_gets_its_share_of_the_cpus(tmp_path: Path) -> None:
    """Two ranks on this machine's CPUs: each rank's BLAS threads are capped to its share, so
    the ranks do not oversubscribe the cores (measured 56x slower when they do)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    every = job(tmp_path, 2)
    assert [r["threads"] for r in every] == [max(1, cpus // 2)] * 2
