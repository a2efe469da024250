"""The xpnn command end to end (demo, train, predict, bench) and the data it reads.

Every test runs in its own tmp_path, so nothing is left behind.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnn
from xpnn import cli, datasets
from xpnn.preprocessing import Scaler, StandardScaler

from helpers import cli_fails, cli_run

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
SRC = str(Path(__file__).resolve().parents[1] / "src")
PNG = b"\x89PNG\r\n\x1a\n"


def _gpu() -> bool:
    try:
        with xpnn.use_backend("cupy"):
            return True
    except xpnn.BackendError:
        return False


GPU = _gpu()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


run, fails = cli_run, cli_fails


def check_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    height, width = matplotlib.image.imread(path).shape[:2]
    assert 400 <= width <= 3000 and 300 <= height <= 3000


def write_csv(path: str, header: list[str], rows: list[list]) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_predictions(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def table_row(out: str, split: str) -> list[float]:
    match = re.search(rf"^{split}((?:\s+-?[\d.]+)+)$", out, re.M)
    assert match, f"no {split} row in:\n{out}"
    return [float(v) for v in match.group(1).split()]


# -- demo ---------------------------------------------------------------------------------------
def test_demo_reaches_97_percent_and_draws_both_pictures(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "demo")  # the defaults, progress display included
    assert code == 0
    accuracy = float(re.search(r"^accuracy: (\d\.\d{4})$", out, re.M).group(1))
    assert accuracy >= 0.97
    assert "Total params: 2,031" in out  # (64+1)*25 + (25+1)*15 + (15+1)*1
    for name in ("xpnn-demo-curves.png", "xpnn-demo-digits.png"):
        assert name in out
        check_png(tmp_path / name)


def test_short_demo_writes_pictures_where_asked(tmp_path: Path, capsys) -> None:
    (tmp_path / "pics").mkdir()
    code, out, _ = run(
        capsys, "demo", "--epochs", "3", "--verbose", "2", "--seed", "1",
        "--plot", "pics/c.png", "--digits-plot", "pics/d.png",
    )  # fmt: skip
    assert code == 0 and "Epoch 3/3" in out and re.search(r"^accuracy: \d\.\d{4}$", out, re.M)
    check_png(tmp_path / "pics" / "c.png")
    check_png(tmp_path / "pics" / "d.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pics"]


def test_demo_without_plots_writes_nothing(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "demo", "--epochs", "2", "--verbose", "0", "--no-plots")
    assert code == 0 and "accuracy: " in out and ".png" not in out
    assert not list(tmp_path.iterdir())


def test_demo_into_a_missing_folder_is_one_line(capsys) -> None:
    err = fails(capsys, "demo", "--epochs", "1", "--verbose", "0", "--plot", "no/such/c.png")
    assert "no/such/c.png" in err


# -- train on the built-in sets -----------------------------------------------------------------
@pytest.mark.parametrize("dataset", datasets.BUILTINS)
def test_train_on_every_builtin_set(dataset: str, capsys) -> None:
    code, out, _ = run(capsys, "train", "--dataset", dataset, "--epochs", "3", "--verbose", "0")
    assert code == 0
    header = out.splitlines()[1].split()
    assert header == (["mse", "r2"] if dataset == "diabetes" else ["loss", "accuracy"])
    for split in ("train", "validation", "test"):
        assert len(table_row(out, split)) == 2
    backend = xpnn.get_backend().name  # numpy, unless the suite runs under NN_BACKEND
    assert re.search(rf"^wall time: [\d.]+ s .*backend: {backend}$", out, re.M)


def test_train_options_loop_kernel_sgd_no_validation(tmp_path: Path, capsys) -> None:
    code, out, _ = run(
        capsys, "train", "--dataset", "digits01", "--layers", "8", "--activation", "tanh",
        "--optimizer", "sgd", "--lr", "0.1", "--kernel", "loop", "--batch-size", "64",
        "--epochs", "2", "--validation-split", "0", "--test-split", "0.3",
        "--scaling", "minmax", "--verbose", "2", "--plot", "curves.png",
    )  # fmt: skip
    assert code == 0 and "Epoch 2/2" in out
    assert "validation" not in out.split("wall time")[0].split("\n", 2)[2]
    assert table_row(out, "test")[1] > 0.9  # 0 vs 1 is easy even in two epochs
    check_png(tmp_path / "curves.png")


@pytest.mark.parametrize(
    ("extra", "dataset"),
    [
        (["--loss", "categorical_crossentropy"], "iris"),  # one-hot targets made for it
        (["--from-logits"], "digits01"),
        (["--from-logits", "--optimizer", "rmsprop"], "digits_tags"),
        (["--loss", "mse"], "digits01"),
    ],
)
def test_train_other_losses(extra: list[str], dataset: str, capsys) -> None:
    code, out, _ = run(
        capsys, "train", "--dataset", dataset, "--epochs", "2", "--verbose", "0", *extra
    )
    assert code == 0 and table_row(out, "test")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "iris", "--loss", "mse"], "--loss mse does not fit a multiclass task"),
        (["--dataset", "diabetes", "--from-logits"], "--from-logits applies to"),
        (["--dataset", "iris", "--layers", "25,x"], "--layers takes comma-separated"),
        (["--dataset", "iris", "--layers", "25,0"], "--layers needs positive"),
        (["--dataset", "iris", "--task", "binary"], "--task applies to --csv"),
    ],
)
def test_train_option_errors_are_one_line(argv: list[str], message: str, capsys) -> None:
    assert message in fails(capsys, "train", *argv, "--epochs", "1", "--verbose", "0")


@pytest.mark.parametrize(
    "argv",
    [
        ["train"],  # neither --dataset nor --csv
        ["train", "--dataset", "iris", "--csv", "x.csv"],
        ["train", "--dataset", "mnist"],
        ["train", "--dataset", "iris", "--epochs", "0"],
        ["train", "--dataset", "iris", "--validation-split", "1"],
        ["train", "--dataset", "iris", "--test-split", "0"],
        ["train", "--dataset", "iris", "--lr", "-1"],
        ["demo", "--backend", "torch"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and "usage: xpnn" in err


# -- train on CSV files -------------------------------------------------------------------------
def test_csv_tasks_are_inferred_from_the_target(capsys) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    targets = {
        "binary": (x[:, 0] > 0).astype(int),
        "multiclass (3 classes)": np.array([3, 5, 7])[np.digitize(x[:, 0], [-0.5, 0.5])],
        "regression": 2 * x[:, 0] - x[:, 1],
    }
    for task, y in targets.items():
        write_csv("d.csv", ["a", "b", "c", "y"], [[*r, t] for r, t in zip(x, y)])
        code, out, _ = run(capsys, "train", "--csv", "d.csv", "--target", "y", "--verbose", "0")
        assert code == 0 and f"d: 60 samples, 3 features, {task};" in out


def test_csv_task_can_be_overridden(capsys) -> None:
    x = np.arange(40.0)
    write_csv("d.csv", ["a", "y"], [[v, int(v) % 2] for v in x])
    code, out, _ = run(
        capsys, "train", "--csv", "d.csv", "--target", "y", "--task", "regression",
        "--epochs", "1", "--verbose", "0",
    )  # fmt: skip
    assert code == 0 and "1 features, regression" in out
    write_csv("d.csv", ["a", "y"], [[v, int(v) % 3] for v in x])
    err = fails(capsys, "train", "--csv", "d.csv", "--target", "y", "--task", "binary")
    assert "needs a target with two values; 'y' has 3" in err


GOOD = "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(12))


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (None, ["--target", "y"], "No CSV file at 'bad.csv'"),
        ("", ["--target", "y"], "'bad.csv' is empty"),
        ("\n\n", ["--target", "y"], "'bad.csv' is empty"),
        (GOOD, ["--target", "label"], "has no column 'label' (the target to predict); "
         "its columns are: a, b, y"),
        (GOOD.replace("3,0,1", "3,x,1"), ["--target", "y"],
         "line 5 (data row 4), column 'b': 'x' is not a finite number"),
        (GOOD.replace("3,0,1", "3,,1"), ["--target", "y"],
         "line 5 (data row 4), column 'b': is empty"),
        (GOOD.replace("5,2,1", "5,2,nan"), ["--target", "y"],
         "line 7 (data row 6), column 'y': 'nan' is not a finite number"),
        ("a,b,y\n1,2,0\n3,4,1\n", ["--target", "y"], "has 2 data rows; at least 10 are needed"),
        ("a,b,y\n", ["--target", "y"], "has 0 data rows"),
        (GOOD.replace("3,0,1", "3,0"), ["--target", "y"], "line 5 has 2 cells, the header has 3"),
        ("a,a,y\n1,2,0\n", ["--target", "y"], "the column 'a' appears twice"),
        ("y\n" + "1\n" * 12, ["--target", "y"], "no feature columns besides 'y'"),
        (GOOD, [], "--csv needs --target COLUMN"),
    ],
)  # fmt: skip
def test_bad_csv_files_give_one_clear_line(content, argv, message, capsys) -> None:
    if content is not None:
        Path("bad.csv").write_text(content)
    assert message in fails(capsys, "train", "--csv", "bad.csv", *argv, "--verbose", "0")


def test_non_utf8_file_is_one_line(capsys) -> None:
    Path("bad.csv").write_bytes(b"a,b\n\xff\xfe\x00\x01,2\n")
    assert "is not a UTF-8 text file" in fails(capsys, "train", "--csv", "bad.csv", "--target", "b")


def test_csv_with_a_byte_order_mark_and_blank_lines() -> None:
    Path("d.csv").write_text("\ufeffa, b ,y\n\n" + GOOD.split("\n", 1)[1] + "\n\n")
    x, y, info = datasets.read_csv("d.csv", "y")
    assert info.feature_names == ["a", "b"] and x.shape == (12, 2) and x.dtype == np.float32
    assert info.task == "binary" and info.classes == [0, 1] and y.dtype == np.int64


# -- save and predict ---------------------------------------------------------------------------
def test_save_then_predict_round_trips(capsys) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(120, 3))
    y = (x[:, 0] - x[:, 1] > 0).astype(int)
    write_csv("data.csv", ["a", "b", "c", "label"], [[*r, t] for r, t in zip(x, y)])
    code, out, _ = run(
        capsys, "train", "--csv", "data.csv", "--target", "label", "--epochs", "20",
        "--verbose", "0", "--save", "m.xpnn",
    )  # fmt: skip
    assert code == 0 and "m.xpnn.scaler.json" in out
    meta = json.loads(Path("m.xpnn.scaler.json").read_text())
    assert meta["features"] == ["a", "b", "c"] and meta["task"] == "binary"

    code, _, _ = run(capsys, "predict", "m.xpnn", "--csv", "data.csv", "--output", "p.csv")
    assert code == 0
    predicted = read_predictions("p.csv")
    assert len(predicted) == 120 and list(predicted[0]) == ["label", "probability"]
    # The numbers model.predict gives with the training split's scaling.
    model = xpnn.load_model("m.xpnn")
    scaler = Scaler.from_dict(meta["scaler"])
    expected = model.predict(scaler.transform(x.astype(np.float32)))[:, 0]
    got = np.array([float(r["probability"]) for r in predicted], dtype=np.float32)
    # Equal up to float32 rounding: BLAS may sum in another order for another batch size.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    labels = np.array([int(r["label"]) for r in predicted])
    np.testing.assert_array_equal(labels, (expected > 0.5).astype(int))

    # Standard output, and a file without the label column gives the same.
    write_csv("new.csv", ["c", "b", "a"], [r[::-1] for r in x])
    code, out, _ = run(capsys, "predict", "m.xpnn", "--csv", "new.csv")
    assert code == 0 and out.splitlines()[1:] == Path("p.csv").read_text().splitlines()[1:]


def test_predict_multiclass_names_its_classes(capsys) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()
    code, _, _ = run(
        capsys, "train", "--dataset", "iris", "--epochs", "30", "--verbose", "0",
        "--save", "iris.xpnn",
    )  # fmt: skip
    assert code == 0
    write_csv("iris.csv", iris.feature_names, iris.data.tolist())
    code, out, _ = run(capsys, "predict", "iris.xpnn", "--csv", "iris.csv")
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["species", "p_setosa", "p_versicolor", "p_virginica"]
    probabilities = np.array([[float(r[k]) for k in list(r)[1:]] for r in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    labels = np.array([r["species"] for r in rows])
    assert np.mean(labels == iris.target_names[iris.target]) > 0.8


def test_predict_from_logits_gives_probabilities(capsys) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    code, _, _ = run(
        capsys, "train", "--dataset", "digits", "--from-logits", "--epochs", "5",
        "--verbose", "0", "--save", "d.xpnn",
    )  # fmt: skip
    assert code == 0
    write_csv("d.csv", [f"pixel_{i}" for i in range(64)], digits.data[:50].tolist())
    run(capsys, "predict", "d.xpnn", "--csv", "d.csv", "--output", "p.csv")
    rows = read_predictions("p.csv")
    p = np.array([[float(r[f"p_{k}"]) for k in range(10)] for r in rows])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert (p >= 0).all() and np.mean(p.argmax(axis=1) == digits.target[:50]) > 0.8


def test_predict_regression_in_the_targets_units(capsys) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    y = 100.0 + 30.0 * x[:, 0] - 10.0 * x[:, 1]
    write_csv("r.csv", ["u", "v", "price"], [[*r, t] for r, t in zip(x, y)])
    code, out, _ = run(
        capsys, "train", "--csv", "r.csv", "--target", "price", "--epochs", "100",
        "--verbose", "0", "--save", "r.xpnn",
    )  # fmt: skip
    assert code == 0 and table_row(out, "test")[1] > 0.9  # r2
    run(capsys, "predict", "r.xpnn", "--csv", "r.csv", "--output", "p.csv")
    rows = read_predictions("p.csv")
    assert list(rows[0]) == ["price"]
    predicted = np.array([float(r["price"]) for r in rows])
    assert np.sqrt(np.mean((predicted - y) ** 2)) < 0.3 * y.std()


def test_predict_multilabel_gives_a_label_and_probability_per_output(capsys) -> None:
    code, _, _ = run(
        capsys, "train", "--dataset", "digits_tags", "--epochs", "2", "--verbose", "0",
        "--save", "t.xpnn",
    )  # fmt: skip
    assert code == 0
    write_csv("t.csv", [f"pixel_{i}" for i in range(64)], np.eye(64)[:5].tolist())
    code, out, _ = run(capsys, "predict", "t.xpnn", "--csv", "t.csv")
    assert out.splitlines()[0] == "even,ge5,prime,p_even,p_ge5,p_prime"
    assert len(out.splitlines()) == 6


def test_predict_without_a_sidecar_and_with_target_to_ignore(capsys) -> None:
    model = xpnn.Sequential([xpnn.Input((2,)), xpnn.Dense(1, activation="sigmoid")], seed=0)
    model.save("plain.xpnn")
    write_csv("d.csv", ["a", "y", "b"], [[1.0, 0, 2.0], [3.0, 1, -1.0]])
    code, out, _ = run(capsys, "predict", "plain.xpnn", "--csv", "d.csv", "--target", "y")
    assert code == 0
    expected = model.predict(np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32))[:, 0]
    rows = list(csv.DictReader(out.splitlines()))
    got = [np.float32(r["probability"]) for r in rows]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    err = fails(capsys, "predict", "plain.xpnn", "--csv", "d.csv")  # y taken for a feature
    assert "the model takes 2 features" in err and "--target" in err


def test_predict_errors_are_one_line(capsys) -> None:
    assert "No model file at 'none.xpnn'" in fails(capsys, "predict", "none.xpnn", "--csv", "d.csv")
    run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--verbose", "0", "--save", "m")
    write_csv("d.csv", ["sepal length (cm)", "x"], [[1, 2]])
    err = fails(capsys, "predict", "m", "--csv", "d.csv")
    assert "lacks the model's feature columns 'sepal width (cm)'" in err
    Path("m.scaler.json").write_text("{not json")
    assert "is not valid JSON" in fails(capsys, "predict", "m", "--csv", "d.csv")


# -- bench --------------------------------------------------------------------------------------
def test_bench_prints_the_loop_matrix_ratio(capsys) -> None:
    code, out, _ = run(capsys, "bench", "--batch", "20", "--repeat", "1")
    assert code == 0 and "400-25-15-1" in out
    for kind in ("forward", r"forward\+backward"):
        row = re.search(rf"^numpy\s+{kind}\s+([\d.]+)\s+([\d.]+)\s+(\d+)x$", out, re.M)
        assert row and float(row.group(1)) > float(row.group(2))  # the loop is the slower
    assert re.search(r"^cupy\s+(skipped: The cupy backend needs|forward)", out, re.M)


# -- backends -----------------------------------------------------------------------------------
@pytest.mark.skipif(GPU, reason="CuPy and a GPU are available here")
@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--no-plots"],
        ["train", "--dataset", "iris"],
        ["predict", "m.xpnn", "--csv", "d.csv"],
        ["bench"],
    ],
)
def test_cupy_without_a_gpu_is_one_line(argv: list[str], capsys) -> None:
    err = fails(capsys, *argv, "--backend", "cupy")
    assert err.startswith("xpnn: error: The cupy backend needs")


@pytest.mark.skipif(GPU, reason="CuPy and a GPU are available here")
def test_nn_backend_cupy_without_a_gpu_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "NN_BACKEND": "cupy", "PYTHONPATH": SRC}
    result = subprocess.run(
        [sys.executable, "-m", "xpnn", "demo"], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    # `import xpnn` succeeds; the command asks for the backend before any work and says why not.
    assert result.returncode != 0
    assert result.stderr.startswith("xpnn: error: The cupy backend needs")
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def _xpnn(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "NN_BACKEND"}
    environ.update(env, PYTHONPATH=SRC)
    return subprocess.run(
        [sys.executable, "-m", "xpnn", *argv], env=environ, cwd=cwd, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_an_unknown_nn_backend_is_one_line_and_an_option_overrides_it(tmp_path: Path) -> None:
    result = _xpnn("demo", "--no-plots", cwd=tmp_path, NN_BACKEND="tensorflow")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "xpnn: error: Unknown backend 'tensorflow': expected one of numpy, cupy, strict "
        "(set NN_BACKEND or call xpnn.set_backend).\n"
    )
    assert _xpnn("--help", cwd=tmp_path, NN_BACKEND="tensorflow").returncode == 0
    result = _xpnn(
        "bench", "--backend", "numpy", "--batch", "4", "--repeat", "1", cwd=tmp_path,
        NN_BACKEND="tensorflow",
    )  # fmt: skip
    assert result.returncode == 0 and "numpy" in result.stdout, result.stderr


def test_python_dash_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xpnn", "--help"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("usage: xpnn")
    for command in ("demo", "train", "predict", "bench"):
        assert command in result.stdout


# -- the data layer -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", datasets.BUILTINS)
def test_builtin_sets_are_ready_for_their_loss(name: str) -> None:
    x, y, info = datasets.load(name)
    assert x.dtype == np.float32 and x.ndim == 2 and len(x) == len(y)
    assert len(info.feature_names) == x.shape[1]
    if info.task in ("binary", "multiclass"):
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(len(info.classes)))
    if info.task == "multilabel":
        assert y.shape[1] == info.outputs == 3 and set(np.unique(y)) == {0.0, 1.0}
    if info.images is not None:
        assert info.images.shape == (len(x), 8, 8)


def test_unknown_builtin_set() -> None:
    with pytest.raises(datasets.DataError, match="expected one of digits01, digits"):
        datasets.load("mnist")


def test_missing_scikit_learn_names_the_extra(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    with pytest.raises(ImportError, match=r"pip install 'xpnn\[datasets\]'"):
        datasets.load("iris")
    assert "pip install 'xpnn[datasets]'" in fails(capsys, "train", "--dataset", "iris")


def test_split_is_seeded_stratified_and_disjoint() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    train, test = datasets.train_test_split(100, 0.25, seed=3, stratify=labels)
    assert len(test) == 25 and np.sum(labels[test]) == 5  # 25% of each class
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    again = datasets.train_test_split(100, 0.25, seed=3, stratify=labels)
    np.testing.assert_array_equal(again[1], test)
    other = datasets.train_test_split(100, 0.25, seed=4, stratify=labels)
    assert not np.array_equal(other[1], test)
    with pytest.raises(datasets.DataError, match="too few"):
        datasets.train_test_split(1, 0.5)
    with pytest.raises(datasets.DataError, match=r"in \(0, 1\)"):
        datasets.train_test_split(10, 1.0)


def test_task_inference_and_class_encoding() -> None:
    assert datasets.infer_task(np.array([0.0, 1.0, 1.0])) == "binary"
    assert datasets.infer_task(np.array([2.0, 4.0, -1.0])) == "multiclass"
    assert datasets.infer_task(np.arange(50.0)) == "regression"
    assert datasets.infer_task(np.array([0.5, 1.0])) == "regression"
    y, classes = datasets.encode_target(np.array([7.0, 3.0, 7.0, 5.0]), "multiclass")
    assert classes == [3, 5, 7] and y.tolist() == [2, 0, 2, 1]
    y, classes = datasets.encode_target(np.array([1.0, 1.0]), "binary")
    assert classes == [0, 1] and y.tolist() == [1, 1]  # a 1 stays class 1
    with pytest.raises(datasets.DataError, match="integer class labels"):
        datasets.encode_target(np.array([0.5, 1.0]), "multiclass")


# -- the error policy: a user's mistake is one line, a bug keeps its traceback ------------------
def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make training a test failure: checks that must come first fail the test otherwise."""

    def fit(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")

    monkeypatch.setattr(xpnn.Sequential, "fit", fit)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--save", "no/such/m.xpnn"], "--save 'no/such/m.xpnn': the folder 'no/such' does not"),
        (["--save", "."], "--save '.' is a folder"),
        (["--plot", "no/such/c.png"], "--plot 'no/such/c.png': the folder 'no/such' does not"),
        (["--plot", "curves.xyz"], "matplotlib cannot write .xyz files; use one of"),
        (["--test-split", "0.5", "--validation-split", "0.99"],
         "--validation-split 0.99 leaves 0 of 75 training rows to fit"),
    ],
)  # fmt: skip
def test_output_and_split_mistakes_are_one_line_before_training(
    argv: list[str], message: str, monkeypatch, capsys
) -> None:
    _no_training(monkeypatch)
    assert message in fails(capsys, "train", "--dataset", "iris", "--verbose", "0", *argv)


def test_file_mistakes_are_one_line(tmp_path: Path, capsys) -> None:
    Path("folder.csv").mkdir()
    err = fails(capsys, "train", "--csv", "folder.csv", "--target", "y")
    assert "No CSV file at 'folder.csv'" in err
    Path("junk.xpnn").write_text("not a model")
    assert "'junk.xpnn'" in fails(capsys, "predict", "junk.xpnn", "--csv", "d.csv")
    run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--verbose", "0", "--save", "m")
    write_csv("d.csv", ["sepal length (cm)"], [])
    assert "lacks the model's feature columns" in fails(capsys, "predict", "m", "--csv", "d.csv")
    header = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    write_csv("d.csv", header, [])
    assert "'d.csv' has a header but no rows" in fails(capsys, "predict", "m", "--csv", "d.csv")
    write_csv("d.csv", header, [[1, 2, 3, 4]])
    err = fails(capsys, "predict", "m", "--csv", "d.csv", "--output", "no/p.csv")
    assert "--output 'no/p.csv': the folder 'no' does not exist" in err


def test_an_unreadable_csv_is_one_line(monkeypatch, capsys) -> None:
    Path("locked.csv").write_text(GOOD)

    def locked(self, *args, **kwargs):  # as chmod 0 does, for a user other than root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", locked)
    err = fails(capsys, "train", "--csv", "locked.csv", "--target", "y")
    assert "Cannot read 'locked.csv': Permission denied." in err


def test_an_os_error_at_an_edge_reads_as_a_sentence() -> None:
    with pytest.raises(cli.UsageError, match=r"^p\.csv: Permission denied$"), cli._edge(OSError):
        raise PermissionError(13, "Permission denied", "p.csv")
    with pytest.raises(KeyError), cli._edge(OSError):  # what the edge does not name passes
        raise KeyError("x")


@pytest.mark.parametrize("error", [ValueError, OSError, ImportError])
def test_a_bug_deep_inside_is_not_mistaken_for_the_users(error, monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise error("a bug, not the user's")

    with monkeypatch.context() as patch, pytest.raises(error, match="a bug"):
        patch.setattr(StandardScaler, "_statistics", broken)
        cli.main(["train", "--dataset", "iris", "--epochs", "1", "--verbose", "0"])
    run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--verbose", "0", "--save", "m")
    write_csv("d.csv", list(datasets.load("iris")[2].feature_names), [[5.0, 3.0, 1.5, 0.2]])
    monkeypatch.setattr(xpnn.Sequential, "predict", broken)
    with pytest.raises(error, match="a bug"):
        cli.main(["predict", "m", "--csv", "d.csv"])


def test_a_bug_prints_the_whole_traceback(tmp_path: Path) -> None:
    code = (
        "import sys, xpnn.cli, xpnn.preprocessing as p\n"
        "def _statistics(self, x):\n"
        "    raise ValueError('a bug, not the user')\n"
        "p.StandardScaler._statistics = _statistics\n"
        "sys.exit(xpnn.cli.main(['train', '--dataset', 'iris', '--epochs', '1', '--verbose', '0']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "in _statistics" in result.stderr and "ValueError: a bug, not the user" in result.stderr
    assert "xpnn: error" not in result.stderr
