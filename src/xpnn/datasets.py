"""Example data: small real data sets that scikit-learn ships (no download), a CSV reader,
and a seeded, stratified train/test split.

Built-in sets (``load(name)``):

| name         | task        | what                                                        |
| digits01     | binary      | 8x8 scanned handwritten 0s and 1s (the seed notes' task)    |
| digits       | multiclass  | all ten digits                                              |
| iris         | multiclass  | three iris species from four measurements                   |
| diabetes     | regression  | disease progression from ten measurements                   |
| digits_tags  | multilabel  | digits tagged "even", ">= 5" and "prime" (three outputs)     |
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "BUILTINS", "load", "read_csv", "read_table", "train_test_split", "DataError"]

BUILTINS = ("digits01", "digits", "iris", "diabetes", "digits_tags")


class DataError(ValueError):
    """Data that cannot be used, with a message that says where and why."""


@dataclass
class Dataset:
    """Features ``x`` (samples, features), targets ``y``, and what kind of task they make."""

    name: str
    x: np.ndarray
    y: np.ndarray
    task: str  # "binary", "multiclass", "regression" or "multilabel"
    feature_names: list[str] = field(default_factory=list)
    images: np.ndarray | None = None  # for digit sets: (samples, 8, 8)

    @property
    def outputs(self) -> int:
        if self.task == "multiclass":
            return int(self.y.max()) + 1
        return 1 if self.y.ndim == 1 else self.y.shape[1]


def _sklearn_datasets():  # noqa: ANN202
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            "The built-in data sets come from scikit-learn: pip install 'xpnn[datasets]'."
        ) from exc
    return datasets


def load(name: str) -> Dataset:
    """Load a built-in data set by name (see the module's table)."""
    if name not in BUILTINS:
        raise DataError(f"Unknown data set {name!r}: expected one of {', '.join(BUILTINS)}.")
    sk = _sklearn_datasets()
    if name.startswith("digits"):
        bunch = sk.load_digits()
        x, y, images = bunch.data.astype(np.float32), bunch.target, bunch.images
        names = [f"pixel_{i}" for i in range(64)]
        if name == "digits01":
            keep = y <= 1
            return Dataset(name, x[keep], y[keep], "binary", names, images[keep])
        if name == "digits_tags":
            tags = np.stack([y % 2 == 0, y >= 5, np.isin(y, [2, 3, 5, 7])], axis=1)
            return Dataset(name, x, tags.astype(np.int64), "multilabel", names, images)
        return Dataset(name, x, y, "multiclass", names, images)
    bunch = sk.load_iris() if name == "iris" else sk.load_diabetes()
    task = "multiclass" if name == "iris" else "regression"
    y = bunch.target if task == "multiclass" else bunch.target.astype(np.float32)
    return Dataset(name, bunch.data.astype(np.float32), y, task, list(bunch.feature_names))


def read_table(path: str | Path) -> tuple[list[str], np.ndarray]:
    """A CSV's header and its cells as float64; every cell must be a finite number."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No CSV file at {str(path)!r}.")
    with path.open(newline="") as f:
        rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{str(path)!r} is empty: expected a header row and data rows.")
    header = [h.strip() for h in rows[0]]
    values = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for r, row in enumerate(rows[1:], start=2):  # line numbers as an editor shows them
        if len(row) != len(header):
            raise DataError(
                f"{str(path)!r} line {r} has {len(row)} cells, the header has {len(header)}."
            )
        for c, cell in enumerate(row):
            try:
                values[r - 2, c] = float(cell)
            except ValueError:
                raise DataError(
                    f"{str(path)!r} line {r}, column {header[c]!r}: {cell.strip()!r} is not a "
                    "number (features and target must be numeric)."
                ) from None
    if not np.isfinite(values).all():
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise DataError(f"{str(path)!r} line {r + 2}, column {header[c]!r} is NaN or infinite.")
    return header, values


def read_csv(path: str | Path, target: str, min_rows: int = 2) -> Dataset:
    """Read a CSV with a header row and numeric cells; ``target`` names the label column.

    The task is inferred from the target: 0/1 integers make a binary task, other small sets of
    non-negative integers a multiclass one, anything else a regression.
    """
    header, values = read_table(path)
    name = str(path)
    if target not in header:
        raise DataError(f"{name!r} has no column {target!r}; its columns are: {', '.join(header)}.")
    if len(values) < min_rows:
        raise DataError(f"{name!r} has {len(values)} data rows; at least {min_rows} needed.")
    t = header.index(target)
    y = values[:, t]
    x = np.delete(values, t, axis=1).astype(np.float32)
    names = [h for i, h in enumerate(header) if i != t]
    if x.shape[1] == 0:
        raise DataError(f"{name!r} has no feature columns besides {target!r}.")
    stem = Path(path).stem
    integral = bool(np.all(y == np.round(y))) and y.min() >= 0
    if integral and set(np.unique(y)) <= {0.0, 1.0}:
        return Dataset(stem, x, y.astype(np.int64), "binary", names)
    if integral and len(np.unique(y)) <= 50:
        return Dataset(stem, x, y.astype(np.int64), "multiclass", names)
    return Dataset(stem, x, y.astype(np.float32), "regression", names)


def train_test_split(
    n: int, test_fraction: float, seed: int = 0, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train and test indices; with ``stratify`` (class labels) each class is split
    in the same proportion."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test fraction must be in (0, 1), received {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if stratify is None
        else [np.flatnonzero(stratify == c) for c in np.unique(stratify)]
    )
    train, test = [], []
    for idx in groups:
        idx = rng.permutation(idx)
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    train_idx, test_idx = (
        rng.permutation(np.concatenate(train)),
        rng.permutation(np.concatenate(test)),
    )
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(f"{n} samples are too few to split with test fraction {test_fraction}.")
    return train_idx, test_idx
