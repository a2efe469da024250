"""The xpnn command end to end: demo, train on every built-in set and on CSVs, predict, bench."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnn
from xpnn import cli

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
SRC = str(Path(__file__).resolve().parents[1] / "src")
PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _check_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= 400 and height >= 300


def test_demo_writes_pictures_and_reaches_97_percent(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo", "--verbose", "0", "--plot", "curves.png")
    assert code == 0
    accuracy = float(re.search(r"^accuracy: (\d\.\d{4})$", out, re.M).group(1))
    assert accuracy >= 0.97
    _check_png(tmp_path / "curves.png")
    _check_png(tmp_path / "xpnn-demo-digits.png")
    assert "curves.png" in out and "xpnn-demo-digits.png" in out


def test_short_demo_without_plots(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo", "--epochs", "2", "--verbose", "2", "--no-plots")
    assert code == 0 and "Epoch 2/2" in out and "accuracy: " in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("dataset", xpnn.datasets.BUILTINS)
def test_train_on_every_builtin_set(dataset, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "train", "--dataset", dataset, "--epochs", "3", "--verbose", "0")
    assert code == 0
    assert re.search(r"^train\s+[\d.]+\s+[\d.]+$", out, re.M)
    assert re.search(r"^test\s+", out, re.M) and "backend: numpy" in out


def _write_csv(path: Path, rows: list[list], header: list[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_train_on_a_csv_then_save_and_predict(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] - x[:, 1] > 0).astype(int)
    _write_csv(tmp_path / "data.csv", [[*r, t] for r, t in zip(x, y)], ["a", "b", "c", "label"])
    code, out, _ = run(
        capsys,
        "train",
        "--csv",
        "data.csv",
        "--target",
        "label",
        "--epochs",
        "20",
        "--verbose",
        "0",
        "--save",
        "m.xpnn",
        "--plot",
        "c.png",
    )
    assert code == 0 and "task: binary" in out
    _check_png(tmp_path / "c.png")
    code, out, _ = run(capsys, "predict", "m.xpnn", "--csv", "data.csv", "--output", "p.csv")
    assert code == 0
    with open("p.csv") as f:
        predicted = list(csv.DictReader(f))
    assert len(predicted) == 120 and set(predicted[0]) == {"label", "probability"}
    # the same numbers as the model itself, with the saved scaling
    model = xpnn.load_model("m.xpnn")
    scaler = xpnn.preprocessing.scaler_from_dict(
        __import__("json").loads(Path("m.xpnn.json").read_text())["scaler"]
    )
    expected = model.predict(scaler.transform(x.astype(np.float32)))[:, 0]
    got = np.array([float(r["probability"]) for r in predicted])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["--target", "y"], "No CSV file at"),
        ("", ["--target", "y"], "is empty"),
        (
            "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n",
            ["--target", "label"],
            "has no column 'label'; its columns are: a, b, y",
        ),
        (
            "a,b,y\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n",
            ["--target", "y"],
            "line 3, column 'b': 'x' is not a number",
        ),
        ("a,b,y\n1,2,0\n", ["--target", "y"], "has 1 data rows; at least 4 needed"),
        ("a,b,y\n1,2,0\n3,4\n", ["--target", "y"], "line 3 has 2 cells, the header has 3"),
        ("a,b,y\n1,2,0\n", [], "--csv needs --target"),
    ],
)
def test_bad_csv_files_give_one_clear_line(
    content, args, message, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        Path("bad.csv").write_text(content)
    code, out, err = run(capsys, "train", "--csv", "bad.csv", *args, "--verbose", "0")
    assert code == 2
    assert err.startswith("xpnn: error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cupy_without_a_gpu_is_one_line(capsys) -> None:
    try:
        with xpnn.use_backend("cupy"):
            pytest.skip("a GPU is available here")
    except xpnn.BackendError:
        pass
    code, _, err = run(capsys, "demo", "--backend", "cupy", "--no-plots")
    assert code == 2 and err.startswith("xpnn: error: The cupy backend needs")
    assert len(err.strip().splitlines()) == 1


def test_nn_backend_cupy_without_a_gpu_is_one_line(tmp_path) -> None:
    try:
        with xpnn.use_backend("cupy"):
            pytest.skip("a GPU is available here")
    except xpnn.BackendError:
        pass
    env = {**os.environ, "NN_BACKEND": "cupy", "PYTHONPATH": SRC}
    result = subprocess.run(
        [sys.executable, "-m", "xpnn", "demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("xpnn: error: The cupy backend needs")
    assert "Traceback" not in result.stderr


def test_bench_prints_the_loop_matrix_ratio(capsys) -> None:
    code, out, _ = run(capsys, "bench", "--batch", "20", "--repeat", "1")
    assert code == 0
    assert re.search(r"numpy\s+forward\+backward\s+[\d.]+\s+[\d.]+\s+\d+x", out)


def test_python_dash_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xpnn", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert result.returncode == 0
    for command in ("demo", "train", "predict", "bench"):
        assert command in result.stdout
