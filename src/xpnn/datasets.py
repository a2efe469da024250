"""Example data: small real data sets that scikit-learn ships (no download), a CSV reader,
and a seeded, stratified train/test split.

CSV files are read as users have them: a column of numbers is a number per row; a column of
text is categorical. A text target names the classes (sorted names -> indices 0..k-1); a text
feature is one-hot encoded, one 0/1 input per category (``DatasetInfo.categories`` keeps them,
and :func:`read_features` applies the same encoding to new rows).

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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BUILTINS",
    "MAX_CATEGORIES",
    "MAX_CLASSES",
    "MIN_ROWS",
    "TASKS",
    "DataError",
    "DatasetInfo",
    "encode_target",
    "infer_task",
    "input_names",
    "load",
    "read_csv",
    "read_features",
    "read_table",
    "train_test_split",
]

TASKS = ("binary", "multiclass", "multilabel", "regression")
MAX_CLASSES = 20  # more distinct integer targets than this read as a regression target
MIN_ROWS = 10  # fewer rows cannot fill a training, a validation and a test split
# One-hot encoding gives a text feature one input per category: a column with more distinct
# texts than this is more likely a name or an identifier than a category, and is refused.
MAX_CATEGORIES = 50


class DataError(ValueError):
    """Data that cannot be used, with a message that says where and why."""


@dataclass
class DatasetInfo:
    """What a data set is: its task, its columns, and for classifiers the class labels.

    ``feature_names`` are the source's feature columns; ``categories[column]`` lists, for a
    one-hot encoded text column, its categories in the order of its inputs (``input_names``
    names every input). ``classes[k]`` is the original label of the model's class ``k`` (binary
    and multiclass); ``target_names`` names the output columns (one, or one per label of a
    multilabel task).
    """

    name: str
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list[Any] | None = None
    images: np.ndarray | None = field(default=None, repr=False)  # digits: (samples, 8, 8)
    description: str = ""
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        """One name per model input (a column of ``X``): see :func:`input_names`."""
        return input_names(self.feature_names, self.categories)

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
Rows = list[tuple[int, list[str]]]  # (line number as an editor shows it, cells), data rows only


def _read_rows(path: Path) -> tuple[list[str], Rows]:
    """The header and the non-blank rows, each with its line number as an editor shows it.

    Cells keep their text; quoting is undone (``"a, b"`` is one cell, ``1, "x"`` too) and
    surrounding whitespace is ignored by every reader below."""
    if not path.is_file():
        raise DataError(f"No CSV file at {str(path)!r}.")
    try:
        # utf-8-sig: Excel's byte-order mark; skipinitialspace: `1, "a, b"` quotes its cell.
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, skipinitialspace=True)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise DataError(f"{str(path)!r} is not a UTF-8 text file; expected a CSV.") from None
    except csv.Error as exc:
        raise DataError(f"{str(path)!r} is not valid CSV: {exc}.") from None
    except OSError as exc:  # unreadable: permissions, a vanished network share
        raise DataError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from None
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


def _where(path: Path, line: int, k: int, column: str) -> str:
    return f"{str(path)!r} line {line} (data row {k}), column {column!r}"


def _empty(path: Path, header: list[str], rows: Rows, c: int) -> None:
    """Raise at the first empty cell of column ``c``, naming its line and column."""
    for k, (line, row) in enumerate(rows, start=1):
        if not row[c].strip():
            raise DataError(
                f"{_where(path, line, k, header[c])}: is empty; fill it in or drop the row."
            )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_text(path: Path, header: list[str], rows: Rows, c: int) -> bool:
    """Whether column ``c`` holds text (no cell is a number) rather than numbers (every
    non-empty cell is one). A mix is refused at the first cell of the fewer kind: a typo in a
    column of numbers, or a number among category names."""
    numbers: list[tuple[int, int, str]] = []
    texts: list[tuple[int, int, str]] = []
    for k, (line, row) in enumerate(rows, start=1):
        cell = row[c].strip()
        if cell:
            (numbers if _is_number(cell) else texts).append((k, line, cell))
    if not (numbers and texts):
        return bool(texts)
    name = header[c]
    fix = f"if {name!r} holds categories, give every category a name that is not a number"
    if len(texts) <= len(numbers):
        (k, line, cell), other = texts[0], numbers[0]
        what = f"{cell!r} is not a finite number, though the column's other cells are numbers"
        fix = f"correct the cell, or, {fix}"
    else:
        (k, line, cell), other = numbers[0], texts[0]
        what = f"{cell!r} is a number, though the column's other cells are text"
        fix = f"{fix} (such as 'n{cell}'), or correct the cell"
    raise DataError(
        f"{_where(path, line, k, name)}: {what} (line {other[1]}: {other[2]!r}); {fix}."
    )


def _numbers(
    path: Path, header: list[str], rows: Rows, columns: list[int], hint: str = ""
) -> np.ndarray:
    """The cells of ``columns`` as float64; the first bad cell is named by line and column."""
    cells = [[row[c] for c in columns] for _, row in rows]
    try:
        values = np.array(cells, dtype=np.float64).reshape(len(rows), len(columns))
        if np.isfinite(values).all():
            return values
    except ValueError:
        pass
    # Something is wrong, or NumPy read less than Python's float() does: go cell by cell, to
    # say exactly where.
    values = np.empty((len(rows), len(columns)))
    for k, (line, row) in enumerate(rows, start=1):
        for j, c in enumerate(columns):
            cell = row[c].strip()
            value = float(cell) if _is_number(cell) else math.nan
            if not math.isfinite(value):
                what = f"{cell!r} is not a finite number{hint}"
                if not cell:
                    what = "is empty; fill it in or drop the row"
                raise DataError(f"{_where(path, line, k, header[c])}: {what}.")
            values[k - 1, j] = value
    return values


def _convert(rows: Rows, c: int) -> np.ndarray | None:
    """Column ``c`` as float64 at NumPy's speed, or None where a cell is not a number."""
    try:
        return np.array([row[c] for _, row in rows], dtype=np.float64)
    except ValueError:
        return None


def _numeric(
    path: Path,
    header: list[str],
    rows: Rows,
    columns: list[int],
    hint: str = "",
    converted: dict[int, np.ndarray | None] | None = None,
) -> dict[int, np.ndarray]:
    """Each of ``columns`` as float64; else the first bad cell, row by row, is an error."""
    converted = dict(converted or {})
    for c in columns:
        if c not in converted:
            converted[c] = _convert(rows, c)
    if all(converted[c] is not None and np.isfinite(converted[c]).all() for c in columns):
        return {c: converted[c] for c in columns}
    return dict(zip(columns, _numbers(path, header, rows, columns, hint).T))


def _texts(path: Path, header: list[str], rows: Rows, c: int) -> list[str]:
    """Column ``c``'s cells, stripped; an empty cell is an error."""
    _empty(path, header, rows, c)
    return [row[c].strip() for _, row in rows]


def _one_hot(
    path: Path, header: list[str], rows: Rows, c: int, categories: Sequence[str]
) -> np.ndarray:
    """Column ``c`` as one 0/1 input per category; a text not among ``categories`` is refused."""
    index = {name: j for j, name in enumerate(categories)}
    texts = _texts(path, header, rows, c)
    for k, ((line, _), text) in enumerate(zip(rows, texts), start=1):
        if text not in index:
            known = ", ".join(map(repr, categories))
            raise DataError(
                f"{_where(path, line, k, header[c])}: {text!r} is not one of the categories the "
                f"model was trained on ({known}); correct the cell or drop the row."
            )
    codes = np.array([index[t] for t in texts], dtype=np.int64)
    return np.eye(len(categories))[codes].reshape(len(rows), len(categories))  # (rows, k)


def _encode(
    path: Path,
    header: list[str],
    rows: Rows,
    columns: Sequence[str],
    categories: dict[str, list[str]],
    values: dict[int, np.ndarray],
) -> np.ndarray:
    """The model inputs: ``columns`` in order, numbers from ``values`` (by column index),
    ``categories`` one-hot."""
    blocks = []
    for name in columns:
        c = header.index(name)
        if name in categories:
            blocks.append(_one_hot(path, header, rows, c, categories[name]))
        else:
            blocks.append(values[c][:, None])
    return np.concatenate(blocks, axis=1) if blocks else np.empty((len(rows), 0))


def input_names(
    columns: Sequence[str], categories: dict[str, list[str]] | None = None
) -> list[str]:
    """One name per model input: a numeric column keeps its name, a one-hot encoded column
    gives ``column=category`` for each of its categories."""
    categories = categories or {}
    names: list[str] = []
    for column in columns:
        if column in categories:
            names.extend(f"{column}={category}" for category in categories[column])
        else:
            names.append(column)
    return names


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


def read_features(
    path: str | Path, columns: Sequence[str], categories: dict[str, list[str]] | None = None
) -> np.ndarray:
    """The model inputs of every row of a CSV, encoded as :func:`read_csv` encoded training data.

    Args:
        path: the file (a header row, then data rows).
        columns: the feature columns, in the model's order; other columns are ignored.
        categories: for each one-hot encoded column, its categories (``DatasetInfo.categories``);
            a text outside them is an error naming the line, the column and the text.

    Returns:
        float64 ``(rows, inputs)``, one column per name of :func:`input_names`.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    _missing_columns(path, header, columns)
    categories = dict(categories or {})
    numeric = [header.index(c) for c in columns if c not in categories]
    values = _numeric(path, header, rows, numeric, " (the model takes this column as numbers)")
    return _encode(path, header, rows, columns, categories, values)


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


def _text_classes(
    path: Path, target: str, labels: list[str], task: str | None
) -> tuple[np.ndarray, list[str], str]:
    """A target of class names: indices in sorted name order, the names, and the task."""
    classes = sorted(set(labels))
    shown = ", ".join(map(repr, classes[:5])) + (", ..." if len(classes) > 5 else "")
    if task == "regression":
        raise DataError(
            f"A regression needs a numeric target; {target!r} in {str(path)!r} holds class "
            f"names ({shown})."
        )
    if len(classes) < 2:
        raise DataError(
            f"{target!r} in {str(path)!r} holds one class only ({shown}); a classifier needs "
            "at least two."
        )
    if task == "binary" and len(classes) > 2:
        raise DataError(
            f"A binary task needs a target with two values; {target!r} has {len(classes)}."
        )
    index = {name: k for k, name in enumerate(classes)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    return y, classes, task or ("binary" if len(classes) == 2 else "multiclass")


def read_csv(
    path: str | Path, target: str, task: str | None = None, min_rows: int = MIN_ROWS
) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """Read a CSV with a header row; ``target`` names the column to predict.

    A column of numbers is read as numbers. A target of text names the classes (sorted names
    become indices ``0..k-1``); a feature of text is one-hot encoded, its sorted categories kept
    in ``info.categories``. A column mixing numbers and text, an empty cell, NaN or infinity is
    an error naming the line and the column.

    Args:
        path: the file.
        target: the label column; every other column is a feature.
        task: ``binary``, ``multiclass`` or ``regression``; None infers it (:func:`infer_task`
            for a numeric target; two class names are binary, more multiclass).
        min_rows: fewer data rows than this is an error.

    Returns:
        ``(X, y, info)`` as :func:`load`; ``X`` holds one column per ``info.input_names``.
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
    converted = {c: _convert(rows, c) for c in range(len(header))}
    text = [c for c, v in converted.items() if v is None and _is_text(path, header, rows, c)]
    numeric = [c for c in range(len(header)) if c not in text]
    values = _numeric(path, header, rows, numeric, converted=converted)
    t = header.index(target)
    features = [h for i, h in enumerate(header) if i != t]
    categories: dict[str, list[str]] = {}
    for c in text:
        if c == t:
            continue
        found = sorted(set(_texts(path, header, rows, c)))
        if len(found) > MAX_CATEGORIES:
            raise DataError(
                f"{str(path)!r}: the text column {header[c]!r} has {len(found)} different "
                f"values; one-hot encoding takes up to {MAX_CATEGORIES} categories (one input "
                "each). Drop the column (a name or an identifier?) or give it as numbers."
            )
        categories[header[c]] = found
    x = _encode(path, header, rows, features, categories, values).astype(np.float32)
    if t in text:
        y, classes, task = _text_classes(path, target, _texts(path, header, rows, t), task)
    else:
        task = task or infer_task(values[t])
        y, classes = encode_target(values[t], task, target)
    info = DatasetInfo(path.stem, task, features, [target], classes, categories=categories)
    return x, y, info


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
