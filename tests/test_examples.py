"""The examples run and learn (fewer epochs here, via EPOCHS; they print their test accuracy)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_the_three_examples_are_there() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"binary_digits.py", "softmax_digits.py", "multilabel.py"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_learns(script: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EPOCHS", "15")
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    accuracy = float(re.search(r"^test accuracy: (\d\.\d{4})$", out, re.M).group(1))
    assert accuracy > 0.8
    assert not list(tmp_path.iterdir())
