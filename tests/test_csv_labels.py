"""CSV files as users have them: class names as the target, text features one-hot encoded, and
both carried through the sidecar to ``xpnn predict``; quoting, whitespace and empty cells.

Numeric CSVs (the numbers-only path, unchanged) are tested in test_cli.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import xpnn
from xpnn import datasets
from xpnn.preprocessing import Scaler

from helpers import cli_fails, cli_run

pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


run, fails = cli_run, cli_fails


def write_csv(path: str, header: list[str], rows: list[list]) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def diagnoses(n: int = 120, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Two measurements and a diagnosis named in words, as a hospital's export has it."""
    x = np.random.default_rng(seed).normal(size=(n, 2))
    return x, ["malignant" if a + b > 0 else "benign" for a, b in x]


TRAIN = ["--verbose", "0", "--seed", "0"]


# -- class names as the target ------------------------------------------------------------------
def test_a_target_of_class_names_trains_and_predicts_the_names(capsys) -> None:
    x, labels = diagnoses()
    write_csv("d.csv", ["radius", "texture", "diagnosis"], [[*r, t] for r, t in zip(x, labels)])
    code, out, err = run(
        capsys, "train", "--csv", "d.csv", "--target", "diagnosis", "--epochs", "40",
        "--save", "m.xpnn", *TRAIN,
    )  # fmt: skip
    assert code == 0, err
    assert "d: 120 samples, 2 features, binary;" in out
    meta = json.loads(Path("m.xpnn.scaler.json").read_text())
    assert meta["classes"] == ["benign", "malignant"]  # sorted names: index 1 is "malignant"
    assert meta["task"] == "binary" and meta["version"] == 2 and meta["categories"] == {}

    code, out, _ = run(capsys, "predict", "m.xpnn", "--csv", "d.csv")
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["diagnosis", "probability"]
    predicted = [r["diagnosis"] for r in rows]
    assert set(predicted) <= {"benign", "malignant"}
    for r in rows:  # the name follows P(classes[1]) > 0.5
        assert (r["diagnosis"] == "malignant") == (float(r["probability"]) > 0.5)
    assert np.mean(np.array(predicted) == np.array(labels)) > 0.85


def test_iris_species_quoted_and_spaced_are_three_classes(capsys) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = [f"Iris-{s}" for s in iris.target_names[iris.target]]
    # The UCI file's look, with a space after each comma and the species quoted.
    lines = ["sepal_length, sepal_width, petal_length, petal_width, species"]
    lines += [", ".join(f"{v:.1f}" for v in r) + f', "{s}" ' for r, s in zip(iris.data, names)]
    Path("iris.csv").write_text("\n".join(lines) + "\n")
    x, y, info = datasets.read_csv("iris.csv", "species")
    assert info.task == "multiclass" and info.classes == sorted(set(names))
    assert [info.classes[k] for k in y] == names
    assert x.shape == (150, 4) and info.feature_names == lines[0].split(", ")[:4]

    code, out, err = run(
        capsys, "train", "--csv", "iris.csv", "--target", "species", "--epochs", "60",
        "--save", "iris.xpnn", *TRAIN,
    )  # fmt: skip
    assert code == 0 and "multiclass (3 classes)" in out, err
    code, out, _ = run(capsys, "predict", "iris.xpnn", "--csv", "iris.csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["species", "p_Iris-setosa", "p_Iris-versicolor", "p_Iris-virginica"]
    assert np.mean(np.array([r["species"] for r in rows]) == np.array(names)) > 0.8


@pytest.mark.parametrize(
    ("labels", "task", "message"),
    [
        (["yes"] * 12, None, "'y' in 'd.csv' holds one class only ('yes')"),
        (["a", "b", "c"] * 4, "binary", "needs a target with two values; 'y' has 3"),
        (["a", "b"] * 6, "regression", "A regression needs a numeric target; 'y' in 'd.csv' "
         "holds class names ('a', 'b')"),
    ],
)  # fmt: skip
def test_class_names_that_cannot_make_the_task(labels, task, message, capsys) -> None:
    write_csv("d.csv", ["a", "y"], [[k, label] for k, label in enumerate(labels)])
    extra = ["--task", task] if task else []
    assert message in fails(capsys, "train", "--csv", "d.csv", "--target", "y", *extra)


def test_two_class_names_can_be_multiclass_on_request() -> None:
    write_csv("d.csv", ["a", "y"], [[k, "ab"[k % 2]] for k in range(12)])
    _, y, info = datasets.read_csv("d.csv", "y", task="multiclass")
    assert info.task == "multiclass" and info.outputs == 2 and y.tolist() == [0, 1] * 6


# -- text features, one-hot encoded -------------------------------------------------------------
def colours(n: int = 150, seed: int = 1) -> tuple[list[list], np.ndarray]:
    """A numeric column, a colour and a 0/1 target that only the colour tells."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "dark, blue"], size=n)
    size = rng.normal(size=n)
    y = (colour == "red").astype(int)
    return [[s, c, t] for s, c, t in zip(size, colour, y)], y


def test_a_text_feature_is_one_hot_and_predict_encodes_it_the_same(capsys) -> None:
    rows, y = colours()
    write_csv("c.csv", ["size", "colour", "y"], rows)
    x, _, info = datasets.read_csv("c.csv", "y")
    assert info.categories == {"colour": ["dark, blue", "green", "red"]}  # sorted, quoted comma
    assert info.feature_names == ["size", "colour"]
    assert info.input_names == ["size", "colour=dark, blue", "colour=green", "colour=red"]
    assert x.shape == (150, 4) and set(np.unique(x[:, 1:])) == {0.0, 1.0}
    np.testing.assert_array_equal(x[:, 1:].sum(axis=1), 1.0)

    code, out, err = run(
        capsys, "train", "--csv", "c.csv", "--target", "y", "--epochs", "30",
        "--save", "c.xpnn", *TRAIN,
    )  # fmt: skip
    assert code == 0, err
    assert "one-hot: 'colour' as 3 inputs (dark, blue, green, red)" in out
    meta = json.loads(Path("c.xpnn.scaler.json").read_text())
    assert meta["features"] == ["size", "colour"]
    assert meta["categories"] == info.categories and meta["inputs"] == info.input_names

    # New rows, columns in another order, spaces around the texts: encoded as in training.
    new = [[" green ", 0.5], ["red", -1.0], ["dark, blue", 2.0]]
    write_csv("new.csv", ["colour", "size"], new)
    code, out, _ = run(capsys, "predict", "c.xpnn", "--csv", "new.csv")
    assert code == 0
    got = np.array([float(r["probability"]) for r in csv.DictReader(out.splitlines())])
    inputs = np.array([[0.5, 0, 1, 0], [-1.0, 0, 0, 1], [2.0, 1, 0, 0]], dtype=np.float32)
    scaled = Scaler.from_dict(meta["scaler"]).transform(inputs)
    expected = xpnn.load_model("c.xpnn").predict(scaled)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[1] > 0.5 > max(got[0], got[2])  # it learned that red is the one


def test_predict_refuses_an_unknown_category_naming_column_and_value(capsys) -> None:
    rows, _ = colours()
    write_csv("c.csv", ["size", "colour", "y"], rows)
    run(capsys, "train", "--csv", "c.csv", "--target", "y", "--epochs", "1", "--save", "c", *TRAIN)
    write_csv("new.csv", ["size", "colour"], [[0.5, "red"], [1.0, "purple"]])
    err = fails(capsys, "predict", "c", "--csv", "new.csv")
    assert "'new.csv' line 3 (data row 2), column 'colour': 'purple' is not one of the " in err
    assert "('dark, blue', 'green', 'red')" in err
    write_csv("new.csv", ["size", "colour"], [["big", "red"]])
    err = fails(capsys, "predict", "c", "--csv", "new.csv")
    assert "column 'size': 'big' is not a finite number (the model takes this column as" in err


def test_a_text_column_with_too_many_values_is_refused(capsys) -> None:
    n = datasets.MAX_CATEGORIES + 1
    write_csv("d.csv", ["name", "a", "y"], [[f"patient {k}", k, k % 2] for k in range(n)])
    err = fails(capsys, "train", "--csv", "d.csv", "--target", "y")
    assert f"the text column 'name' has {n} different values" in err and "Drop the column" in err


def test_an_old_sidecar_without_categories_still_predicts(capsys) -> None:
    x, labels = diagnoses(40)
    write_csv("d.csv", ["a", "b", "y"], [[*r, int(t == "malignant")] for r, t in zip(x, labels)])
    run(capsys, "train", "--csv", "d.csv", "--target", "y", "--epochs", "2", "--save", "m", *TRAIN)
    code, before, _ = run(capsys, "predict", "m", "--csv", "d.csv")
    meta = json.loads(Path("m.scaler.json").read_text())
    assert meta["classes"] == [0, 1]  # a numeric target keeps its numbers
    for key in ("categories", "inputs"):
        del meta[key]
    Path("m.scaler.json").write_text(json.dumps({**meta, "version": 1}))
    code, after, _ = run(capsys, "predict", "m", "--csv", "d.csv")
    assert code == 0 and after == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 3}, "has version 3; this xpnn reads versions 1 to 2"),
        ({"categories": {"zzz": ["a"]}}, "'categories' must map feature columns"),
        ({"categories": {"a": ["x", "y"]}}, "its scaler has 2 features, its columns give 3"),
        ({"scaler": {"kind": "robust"}}, "Unknown scaler kind 'robust'"),
        ({"classes": [0, 1, 2]}, "lists 3 classes for a binary model with 1 outputs"),
    ],
)
def test_a_broken_sidecar_is_one_line(change: dict, message: str, capsys) -> None:
    x, labels = diagnoses(40)
    write_csv("d.csv", ["a", "b", "y"], [[*r, t] for r, t in zip(x, labels)])
    run(capsys, "train", "--csv", "d.csv", "--target", "y", "--epochs", "1", "--save", "m", *TRAIN)
    meta = json.loads(Path("m.scaler.json").read_text())
    Path("m.scaler.json").write_text(json.dumps({**meta, **change}))
    assert message in fails(capsys, "predict", "m", "--csv", "d.csv")


# -- cells: quoting, whitespace, empty cells ----------------------------------------------------
def test_quotes_and_whitespace_around_values_are_not_part_of_them() -> None:
    body = "".join(f'{k} , "{k % 3}",  "{"ab"[k % 2]}" ,  spam{k % 2} \n' for k in range(12))
    Path("d.csv").write_text(' a , "b",y, "kind"\n' + body)
    x, y, info = datasets.read_csv("d.csv", "y")
    assert info.feature_names == ["a", "b", "kind"] and info.classes == ["a", "b"]
    assert info.categories == {"kind": ["spam0", "spam1"]}
    np.testing.assert_array_equal(x[:, 0], np.arange(12))
    np.testing.assert_array_equal(x[:, 1], np.arange(12) % 3)
    np.testing.assert_array_equal(y, np.arange(12) % 2)


ROWS = "".join(f"{k},{'rgb'[k % 3]},{['no', 'yes'][k % 2]}\n" for k in range(12))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,c,y\n" + ROWS.replace("3,r,yes", "3,r,"),
         "line 5 (data row 4), column 'y': is empty; fill it in or drop the row"),
        ("a,c,y\n" + ROWS.replace("4,g,no", '4, "  ",no'),
         "line 6 (data row 5), column 'c': is empty"),
        ("a,c,y\n" + ROWS.replace("2,b,no", "2,7,no"),
         "line 4 (data row 3), column 'c': '7' is a number, though the column's other cells "
         "are text (line 2: 'r'); if 'c' holds categories, give every category a name that is "
         "not a number (such as 'n7')"),
        ("a,c,y\n" + "".join(f"{k},{k},0\n" for k in range(11)) + "11,x,1\n",
         "line 13 (data row 12), column 'c': 'x' is not a finite number, though the column's "
         "other cells are numbers (line 2: '0'); correct the cell"),
        ("a,c,y\n" + ROWS.replace("5,b,yes", "five,b,yes"),
         "line 7 (data row 6), column 'a': 'five' is not a finite number"),
    ],
)  # fmt: skip
def test_bad_cells_are_named_by_line_and_column(content: str, message: str, capsys) -> None:
    Path("bad.csv").write_text(content)
    assert message in fails(capsys, "train", "--csv", "bad.csv", "--target", "y")


def test_read_features_matches_read_csv() -> None:
    rows, _ = colours(30)
    write_csv("c.csv", ["size", "colour", "y"], rows)
    x, _, info = datasets.read_csv("c.csv", "y")
    again = datasets.read_features("c.csv", info.feature_names, info.categories)
    np.testing.assert_array_equal(again.astype(np.float32), x)
    assert datasets.input_names(["a", "b"], {"b": ["u", "v"]}) == ["a", "b=u", "b=v"]
