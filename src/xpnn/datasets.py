"""Example data: small real data sets that scikit-learn ships (no download), a CSV reader,
and a seeded, stratified train/test split.

Every loader returns ``(X, y, info)``: features ``X`` (samples, features) as float32, targets
``y`` ready for the task's loss, and a :class:`DatasetInfo` that says what the task is.

| name         | task        | what                                                        |
| ------------ | ----------- | ----------------------------------------------------------- |
| digits01     | binary      | 8x8 scanned handwritten 0s and 1s (the seed notes' task)    |
| digits       | multiclass  | all ten digits                                              |
| iris         | multiclass  | three iris species from four measurements                   |
| diabetes     | regression  | disease progression a year on, from ten measurements        |
| digits_tags  | multilabel  | digits tagged "even", ">= 5" and "prime" (three outputs)    |
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BUILTINS",
    "MAX_CLASSES",
    "MIN_ROWS",
    "TASKS",
    "DataError",
    "DatasetInfo",
    "encode_target",
    "infer_task",
    "load",
    "read_csv",
    "read_table",
    "train_test_split",
]

TASKS = ("binary", "multiclass", "multilabel", "regression")
MAX_CLASSES = 20  # more distinct integer targets than this read as a regression target
MIN_ROWS = 10  # fewer rows cannot fill a training, a validation and a test split


class DataError(ValueError):
    """Data that cannot be used, with a message that says where and why."""


@dataclass
class DatasetInfo:
    """What a data set is: its task, its columns, and for classifiers the class labels.

    ``classes[k]`` is the original label of the model's class ``k`` (binary and multiclass);
    ``target_names`` names the output columns (one, or one per label of a multilabel task).
    """

    name: str
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list[Any] | None = None
    images: np.ndarray | None = field(default=None, repr=False)  # digits: (samples, 8, 8)
    description: str = ""

    @property
    def outputs(self) -> int:
        """Units of the output layer the task needs."""
        if self.task == "multiclass":
            return len(self.classes or [])
        if self.task == "multilabel":
            return len(self.target_names)
        return 1


# -- built-in data sets -------------------------------------------------------------------------
def _sklearn_datasets() -> Any:
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            "The built-in data sets come from scikit-learn: pip install 'xpnn[datasets]'."
        ) from exc
    return datasets


_PIXELS = [f"pixel_{i}" for i in range(64)]


def _digits01() -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    d = _sklearn_datasets().load_digits()
    keep = d.target <= 1
    info = DatasetInfo(
        name="digits01",
        task="binary",
        feature_names=_PIXELS,
        target_names=["digit"],
        classes=[0, 1],
        images=d.images[keep],
        description="8x8 scans of handwritten 0s and 1s (ink 0-16)",
    )
    return d.data[keep].astype(np.float32), d.target[keep].astype(np.int64), info


def _digits() -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    d = _sklearn_datasets().load_digits()
    info = DatasetInfo(
        name="digits",
        task="multiclass",
        feature_names=_PIXELS,
        target_names=["digit"],
        classes=list(range(10)),
        images=d.images,
        description="8x8 scans of handwritten digits 0-9 (ink 0-16)",
    )
    return d.data.astype(np.float32), d.target.astype(np.int64), info


def _digits_tags() -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    d = _sklearn_datasets().load_digits()
    y = d.target
    tags = np.stack([y % 2 == 0, y >= 5, np.isin(y, [2, 3, 5, 7])], axis=1)  # (samples, 3)
    info = DatasetInfo(
        name="digits_tags",
        task="multilabel",
        feature_names=_PIXELS,
        target_names=["even", "ge5", "prime"],
        images=d.images,
        description="handwritten digits tagged: is it even, is it >= 5, is it prime",
    )
    return d.data.astype(np.float32), tags.astype(np.float32), info


def _iris() -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    d = _sklearn_datasets().load_iris()
    info = DatasetInfo(
        name="iris",
        task="multiclass",
        feature_names=list(d.feature_names),
        target_names=["species"],
        classes=[str(c) for c in d.target_names],
        description="iris species from sepal and petal sizes (cm)",
    )
    return d.data.astype(np.float32), d.target.astype(np.int64), info


def _diabetes() -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    d = _sklearn_datasets().load_diabetes()
    info = DatasetInfo(
        name="diabetes",
        task="regression",
        feature_names=list(d.feature_names),
        target_names=["progression"],
        description="diabetes progression a year after ten baseline measurements",
    )
    return d.data.astype(np.float32), d.target.astype(np.float32), info


_LOADERS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, DatasetInfo]]] = {
    "digits01": _digits01,
    "digits": _digits,
    "iris": _iris,
    "diabetes": _diabetes,
    "digits_tags": _digits_tags,
}
BUILTINS = tuple(_LOADERS)


def load(name: str) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """Load a built-in data set by name (see the module's table).

    Returns:
        ``(X, y, info)``: float32 features, targets (class indices for binary and multiclass,
        0/1 columns for multilabel, float32 values for regression) and a ``DatasetInfo``.
    """
    if name not in _LOADERS:
        raise DataError(f"Unknown data set {name!r}: expected one of {', '.join(BUILTINS)}.")
    return _LOADERS[name]()


# -- CSV files ----------------------------------------------------------------------------------
def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows, each with its line number as an editor shows it."""
    if not path.is_file():
        raise DataError(f"No CSV file at {str(path)!r}.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: Excel's byte-order mark
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise DataError(f"{str(path)!r} is not a UTF-8 text file; expected a CSV.") from None
    except csv.Error as exc:
        raise DataError(f"{str(path)!r} is not valid CSV: {exc}.") from None
    if not rows:
        raise DataError(f"{str(path)!r} is empty: expected a header row and data rows.")
    header = [h.strip() for h in rows[0][1]]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{str(path)!r}: the column {name!r} appears twice in the header.")
        seen.add(name)
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"{str(path)!r} line {line} has {len(row)} cells, the header has {len(header)}."
            )
    return header, rows[1:]


def _missing_columns(path: Path, header: list[str], wanted: Sequence[str], role: str = "") -> None:
    missing = [c for c in wanted if c not in header]
    if missing:
        names = ("column " if len(missing) == 1 else "columns ") + ", ".join(map(repr, missing))
        raise DataError(
            f"{str(path)!r} has no {names}{role}; its columns are: {', '.join(header)}."
        )


def _numbers(
    path: Path, header: list[str], rows: list[tuple[int, list[str]]], columns: list[int]
) -> np.ndarray:
    """The cells of ``columns`` as float64; the first bad cell is named by line and column."""
    cells = [[row[c] for c in columns] for _, row in rows]
    try:
        values = np.array(cells, dtype=np.float64).reshape(len(rows), len(columns))
        if np.isfinite(values).all():
            return values
    except ValueError:
        pass
    # Something is wrong: find the first bad cell, to say exactly where.
    for k, (line, row) in enumerate(rows, start=1):
        for c in columns:
            cell = row[c].strip()
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                what = "is empty" if not cell else f"{cell!r} is not a finite number"
                raise DataError(
                    f"{str(path)!r} line {line} (data row {k}), column {header[c]!r}: {what}; "
                    "every feature and target cell must be a number."
                )
    raise AssertionError("unreachable: a bad cell was expected")  # pragma: no cover


def read_table(
    path: str | Path, columns: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Read a CSV with a header row; the cells of ``columns`` (default: all) must be numbers.

    Returns:
        ``(header, values)``: the file's column names and a float64 array
        (rows, len(columns)) in the order of ``columns``.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    columns = list(header if columns is None else columns)
    _missing_columns(path, header, columns)
    return header, _numbers(path, header, rows, [header.index(c) for c in columns])


def infer_task(y: np.ndarray) -> str:
    """``binary`` for 0/1 integers, ``multiclass`` for a few integers, else ``regression``."""
    integral = bool(np.all(y == np.round(y)))
    distinct = np.unique(y)
    if integral and set(distinct.tolist()) <= {0.0, 1.0}:
        return "binary"
    if integral and len(distinct) <= MAX_CLASSES:
        return "multiclass"
    return "regression"


def encode_target(y: np.ndarray, task: str, name: str = "target") -> tuple[np.ndarray, list | None]:
    """Targets the task's loss takes, and the original label of each class.

    Binary and multiclass labels become class indices ``0..k-1`` in sorted label order
    (``classes[k]`` is the label of index ``k``); regression targets become float32.
    """
    if task == "regression":
        return y.astype(np.float32), None
    distinct = np.unique(y)
    if task == "binary" and len(distinct) > 2:
        raise DataError(
            f"A binary task needs a target with two values; {name!r} has {len(distinct)}."
        )
    if task == "multiclass" and not np.all(distinct == np.round(distinct)):
        raise DataError(
            f"A multiclass task needs integer class labels; {name!r} has fractional values."
        )
    if task == "binary" and set(distinct.tolist()) <= {0.0, 1.0}:
        distinct = np.array([0.0, 1.0])  # keep 0 as 0 even if a split holds only 1s
    integral = bool(np.all(distinct == np.round(distinct)))
    classes = [int(v) if integral else float(v) for v in distinct]
    return np.searchsorted(distinct, y).astype(np.int64), classes


def read_csv(
    path: str | Path, target: str, task: str | None = None, min_rows: int = MIN_ROWS
) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """Read a CSV with a header row and numeric cells; ``target`` names the column to predict.

    Args:
        path: the file.
        target: the label column; every other column is a feature.
        task: ``binary``, ``multiclass`` or ``regression``; None infers it (:func:`infer_task`).
        min_rows: fewer data rows than this is an error.

    Returns:
        ``(X, y, info)`` as :func:`load`.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    _missing_columns(path, header, [target], " (the target to predict)")
    if len(header) < 2:
        raise DataError(f"{str(path)!r} has no feature columns besides {target!r}.")
    if len(rows) < min_rows:
        raise DataError(
            f"{str(path)!r} has {len(rows)} data rows; at least {min_rows} are needed "
            "to train, validate and test."
        )
    if task is not None and task not in ("binary", "multiclass", "regression"):
        raise DataError(f"task must be binary, multiclass or regression, received {task!r}.")
    values = _numbers(path, header, rows, list(range(len(header))))
    t = header.index(target)
    x = np.delete(values, t, axis=1).astype(np.float32)
    task = task or infer_task(values[:, t])
    y, classes = encode_target(values[:, t], task, target)
    features = [h for i, h in enumerate(header) if i != t]
    return x, y, DatasetInfo(path.stem, task, features, [target], classes)


# -- splitting ----------------------------------------------------------------------------------
def train_test_split(
    n: int, test_fraction: float, seed: int = 0, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train and test indices of ``n`` samples.

    Args:
        n: the number of samples.
        test_fraction: the share held out for testing, in (0, 1).
        seed: seeds the shuffle, so a seed gives the same split every run.
        stratify: class labels; each class is then split in the same proportion.

    Returns:
        ``(train_indices, test_indices)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test fraction must be in (0, 1), received {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    if stratify is None:
        groups = [np.arange(n)]
    else:
        groups = [np.flatnonzero(stratify == c) for c in np.unique(stratify)]
    train, test = [], []
    for idx in groups:
        idx = rng.permutation(idx)
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    train_idx = rng.permutation(np.concatenate(train))
    test_idx = rng.permutation(np.concatenate(test))
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(f"{n} samples are too few to split with test fraction {test_fraction}.")
    return train_idx, test_idx
