"""Checks at the edge: what ``fit``, ``evaluate``, ``predict`` and ``gradcheck`` accept.

Everything after these checks assumes clean arrays: numeric, two-dimensional, finite in the
model's dtype, with the model's feature count. Each message names the argument, what was
received and what was expected.

``where`` is the phrase a message starts from: the call, ``"fit()"``, ``"predict()"``,
``"gradcheck()"``, and after it, for data other than the call's own ``x`` and ``y``, the
argument that holds it: ``"fit() validation_data"`` makes messages read
"fit() expects validation_data x with 4 features (as the training x has), received 3."
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .backend import array_module, to_numpy

__all__ = [
    "positive_int",
    "check_x",
    "scan_x",
    "check_xy",
    "check_fit_args",
    "split_validation",
    "sample_weights",
    "fit_data",
    "flatten_samples",
]


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, received {value!r}.")
    return int(value)


def _names(where: str) -> tuple[str, str]:
    """``"fit() validation_data"`` -> ``("fit()", "validation_data ")``: the call, and the
    argument's name as a prefix for ``x`` / ``y`` (empty for the call's own data)."""
    call, _, argument = where.partition(" ")
    return call, f"{argument} " if argument else ""


def _is_sparse(value: Any) -> bool:
    # Duck typing, so that neither scipy nor cupyx is imported here: both sparse families
    # (matrix and array classes, every format) have tocsr() and toarray().
    return hasattr(value, "tocsr") and hasattr(value, "toarray")


def _refuse_sparse(value: Any, name: str, where: str, dtype: np.dtype) -> None:
    call, argument = _names(where)
    shape = tuple(getattr(value, "shape", ()))
    fmt = getattr(value, "format", None)
    in_format = f" in {fmt.upper()} format" if isinstance(fmt, str) else ""
    size = float(math.prod(shape) * np.dtype(dtype).itemsize)
    unit = "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    raise TypeError(
        f"{call} received {argument}{name} as a sparse matrix{in_format} "
        f"({type(value).__name__}, shape {shape}); xpnn trains on dense arrays: pass "
        f"{name}.toarray(), which would take {size:.3g} {unit} as {np.dtype(dtype)}."
    )


def _one_dimensional_hint(length: int, input_dim: int | None) -> str:
    if input_dim == 1:
        return " Use x.reshape(-1, 1): the model takes one feature, so these are samples."
    if input_dim is None:
        return (
            " Use x.reshape(-1, 1) if these are samples of one feature, or x.reshape(1, -1) "
            "if this is a single sample."
        )
    if length == input_dim:
        return f" Use x.reshape(1, -1) for a single sample of {input_dim} features."
    return f" The model takes {input_dim} features per sample."


def _refuse_non_finite(original: Any, cast: Any, where: str, at: tuple[int, int] | None) -> None:
    """Raise for a NaN or infinity in ``cast`` (first at ``at``, where known): either it was in
    the data already, or the cast to the model's dtype overflowed."""
    call, argument = _names(where)
    data = f"{argument}x" if argument else "input x"
    if not bool(to_numpy(array_module(original).isfinite(original).all())):
        if at is None:
            raise ValueError(f"{call} {data} contains NaN or infinity.")
        row, col = np.argwhere(~np.isfinite(original))[0]
        raise ValueError(
            f"{call} {data} contains NaN or infinity (first at row {row}, "
            f"column {col}); clean or impute the data first."
        )
    info = np.finfo(cast.dtype)
    first = f" (first at row {at[0]}, column {at[1]}: {original[at]:.6g})" if at else ""
    raise ValueError(
        f"{call} {data} has a value beyond the range of the model's dtype "
        f"{info.dtype}{first}; the largest finite {info.dtype} is {info.max:.8g}. Scale the "
        "data first (e.g. standardise each feature)."
    )


def check_x(x: Any, where: str, input_dim: int | None, dtype: np.dtype, scan: bool = True) -> Any:
    """``x`` as a 2-D array of ``dtype`` (host arrays stay on the host, device on the device).

    ``where`` is the call (and argument) the messages name, e.g. ``"predict()"`` or
    ``"fit() validation_data"``; ``input_dim`` the feature count ``x`` must have, or None.
    ``scan=False`` leaves the search for NaN and infinity in host data to the caller
    (``scan_x``), for predict to run only where it must (training.predict_arrays).
    """
    call, argument = _names(where)
    if x is None:
        data = f"{argument}x" if argument else "input data x"
        raise ValueError(f"{call} needs {data}, received None.")
    if _is_sparse(x):
        _refuse_sparse(x, "x", where, dtype)
    on_device = array_module(x) is not np
    if on_device:  # already on the device: checked there, with one scalar copied home
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{call} could not read {argument}x as a numeric array: {exc}"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{call} expects numeric {argument}x, received an array of dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        hint = _one_dimensional_hint(arr.shape[0], input_dim) if arr.ndim == 1 else ""
        raise ValueError(
            f"{call} expects {argument}x of shape (samples, features), received shape "
            f"{tuple(arr.shape)}.{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{call} received empty data: {argument}x has 0 samples.")
    if input_dim is not None and arr.shape[1] != input_dim:
        source = "as the training x has" if argument else "the model's input"
        raise ValueError(
            f"{call} expects {argument}x with {input_dim} features ({source}), "
            f"received {arr.shape[1]}."
        )
    if arr.dtype.kind != "f":  # integers are finite, and even uint64's largest fits a float32
        return arr.astype(dtype, copy=False)
    # Checked after the cast: a float64 value beyond float32's range becomes inf there.
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
        cast = arr.astype(dtype, copy=False)
    if on_device:
        if not bool(to_numpy(array_module(cast).isfinite(cast).all())):
            _refuse_non_finite(arr, cast, where, None)
    elif scan:
        scan_x(arr, cast, where)
    return cast


def scan_x(original: Any, cast: Any, where: str) -> None:
    """Raise (as ``check_x``) for a NaN or infinity in the host array ``cast``, ``original``
    cast to the model's dtype."""
    # Row sums are finite only if every entry is (NaN and inf propagate); as a matrix-vector
    # product they take one multithreaded BLAS pass, and the full search runs only when they
    # are not (which may also be an overflow of the sums alone).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite((cast @ np.ones(cast.shape[1], cast.dtype)).sum()):
            return
    finite = np.isfinite(cast)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        _refuse_non_finite(original, cast, where, (int(row), int(col)))


def check_xy(
    x: Any,
    y: Any,
    where: str,
    input_dim: int | None,
    dtype: np.dtype,
    loss: Any,
    units: int,
    scan: bool = True,
) -> tuple[Any, Any]:
    """``check_x`` plus the targets, prepared by the loss for an output of ``units``."""
    x = check_x(x, where, input_dim, dtype, scan)
    call, argument = _names(where)
    if y is None:
        data = f"{argument}y" if argument else "targets y"
        raise ValueError(f"{call} needs {data}, received None.")
    if _is_sparse(y):
        _refuse_sparse(y, "y", where, dtype)
    n_y = len(y) if array_module(y) is not np else np.shape(y)[0] if np.ndim(y) else 0
    if n_y != x.shape[0]:
        raise ValueError(
            f"{call} received {x.shape[0]} samples in {argument}x but {n_y} in {argument}y; "
            "they must match."
        )
    return x, loss.prepare_targets(y, (x.shape[0], units), dtype)


def check_fit_args(
    batch_size: Any,
    epochs: Any,
    verbose: Any,
    validation_split: Any,
    initial_epoch: Any,
    callbacks: Any,
    callback_type: type,
) -> tuple[int, int, list[Any]]:
    """``fit``'s scalar arguments: returns ``(batch_size, epochs, callbacks)``."""
    batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size")
    epochs = positive_int(epochs, "epochs")
    if (
        isinstance(initial_epoch, bool)
        or not isinstance(initial_epoch, numbers.Integral)
        or not 0 <= initial_epoch < epochs
    ):
        raise ValueError(
            f"initial_epoch must be an integer in [0, epochs={epochs}), received {initial_epoch!r}."
        )
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, received {verbose!r}.")
    if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
        raise ValueError(
            f"validation_split must be a number in [0, 1), received {validation_split!r}."
        )
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, callback_type):
            raise TypeError(f"callbacks must be Callback instances, received {type(cb).__name__}.")
    return batch_size, epochs, callbacks


def split_validation(x: Any, y: Any, validation_split: float) -> tuple[Any, Any, Any, Any]:
    """Keras's ``validation_split``: the *last* fraction of the samples, before shuffling."""
    split = int(math.floor(x.shape[0] * (1.0 - validation_split)))
    if split == 0 or split == x.shape[0]:
        raise ValueError(
            f"validation_split={validation_split} leaves {split} of {x.shape[0]} "
            "samples for training; use a split that keeps both parts non-empty."
        )
    return x[:split], y[:split], x[split:], y[split:]


def sample_weights(
    sample_weight: Any, class_weight: Any, y: Any, n: int, where: str, dtype: np.dtype
) -> np.ndarray | None:
    """Per-sample weights from ``sample_weight`` (shape ``(n,)``) or ``class_weight`` (a dict
    from class index to weight, looked up by each target's class as Keras does: the label, or
    the arg-max of a one-hot row; classes not in it weigh 1), as a host array, or None."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            f"{where} takes sample_weight or class_weight, not both: fold the class weights "
            "into sample_weight."
        )
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not all(
            isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in class_weight
        ):
            raise ValueError(
                f"{where} class_weight must be a dict from class index (int) to weight, "
                f"received {class_weight!r}."
            )
        labels = to_numpy(y)
        if labels.ndim > 1:
            labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[:, 0]
        labels = np.round(labels).astype(np.int64)
        table = {int(k): float(v) for k, v in class_weight.items()}
        sample_weight = np.array([table.get(int(c), 1.0) for c in labels])
    if sample_weight is None:
        return None
    try:
        w = np.asarray(
            to_numpy(sample_weight) if array_module(sample_weight) is not np else sample_weight,
            dtype=np.float64,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} could not read sample_weight as numbers: {exc}") from exc
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise ValueError(
            f"{where} expects sample_weight of shape ({n},), one weight per sample, received "
            f"shape {w.shape}."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{where} sample weights must be finite and non-negative.")
    return w.astype(dtype)


def fit_data(
    model: Any,
    x: Any,
    y: Any,
    sample_weight: Any,
    class_weight: Any,
    validation_split: float,
    validation_data: Any,
    scan: bool = True,
) -> tuple[Any, Any, Any, tuple[Any, Any, Any] | None]:
    """``fit``'s data, checked, with the model built on them: ``(x, y, w, validation)``, where
    ``w`` are the training samples' weights (or None) and ``validation`` is
    ``(x_val, y_val, w_val)`` or None. As in Keras, ``validation_split`` takes the last
    fraction (sample weights too), and ``class_weight`` weights the training samples only.
    ``scan=False`` leaves x's search for NaN and infinity to the caller (``scan_x``)."""
    x, y = model._check_xy(x, y, "fit()", scan)
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            "fit() takes sample_weight or class_weight, not both: fold the class weights "
            "into sample_weight."
        )
    dtype = model.dtype
    w = sample_weights(sample_weight, None, y, x.shape[0], "fit()", dtype)
    model._ensure_built(x)  # before validation_data, which must then match the model
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                "sample_weight_val)."
            )
        where = "fit() validation_data"
        x_val, y_val = model._check_xy(*validation_data[:2], where)
        w_val = validation_data[2] if len(validation_data) == 3 else None
        validation = (x_val, y_val, sample_weights(w_val, None, y_val, len(x_val), where, dtype))
    elif validation_split > 0:
        x, y, x_val, y_val = split_validation(x, y, validation_split)
        w, w_val = (None, None) if w is None else (w[: len(x)], w[len(x) :])
        validation = (x_val, y_val, w_val)
    if class_weight is not None:
        w = sample_weights(None, class_weight, y, x.shape[0], "fit()", dtype)
    return x, y, w, validation


def flatten_samples(model: Any, x: Any, where: str) -> Any:
    """Samples of the model's ``sample_shape`` as rows of features (a reshape, no copy); a
    model built by ``fit`` takes its sample shape from the first data it sees."""
    arr = x if hasattr(x, "shape") and hasattr(x, "reshape") else np.asarray(x)
    if model.sample_shape is None and arr.ndim > 2 and model.input_dim is None:
        model._declare_input(tuple(int(d) for d in arr.shape[1:]))
    shape = model.sample_shape
    if shape is None:
        return x
    if tuple(arr.shape[1:]) != shape:
        raise ValueError(
            f"{where} expects samples of shape {shape} (x of shape "
            f"(samples, {', '.join(map(str, shape))})), received x of shape {tuple(arr.shape)}."
        )
    return arr.reshape(arr.shape[0], -1)
