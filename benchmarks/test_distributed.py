"""The data-parallel overhead (benchmarks/mpi_overhead.py under mpiexec), one rank and two.

Not a pytest-benchmark timing: the figures are measured inside the MPI job (the time of a
collective needs every rank). With ``--benchmark-disable`` (CI's smoke run) the jobs run on a
few batches; with ``--benchmark-only`` on the full mnist workload, and the figures are printed
and kept in the benchmark's ``extra_info``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mpi4py")
SCRIPT = Path(__file__).parent / "mpi_overhead.py"
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec: pip install 'xpnn[mpi]'")
def test_allreduce_overhead(benchmark: Any, tmp_path: Path) -> None:
    small = benchmark.disabled
    figures = {}
    for ranks in (1, 2):
        out = tmp_path / f"{ranks}.json"
        args = ["--samples", "640", "--epochs", "1", "--reps", "5"] if small else []
        cmd = [MPIEXEC, "-n", str(ranks), sys.executable, "-m", "mpi4py", str(SCRIPT)]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(Path(__file__).parents[1] / "src")
        done = subprocess.run(
            [*cmd, *args, "--json", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        figures[ranks] = json.loads(out.read_text())
    assert figures[2]["allreduce_median_s"] > 0 and figures[1]["allreduce_median_s"] == 0
    benchmark.extra_info.update({f"ranks_{k}": v for k, v in figures.items()})
    if not small:
        print(f"\nmpi overhead: {json.dumps(figures)}")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
