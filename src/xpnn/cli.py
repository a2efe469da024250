"""The ``xpnn`` command (also ``python -m xpnn``): ``demo``, ``train``, ``predict``, ``bench``.

    xpnn demo                          the seed notes' 25-15-1 network on real handwritten 0s and 1s
    xpnn train --dataset digits        a built-in data set, or --csv PATH --target COLUMN
    xpnn predict MODEL --csv PATH      predictions of a saved model, as CSV
    xpnn bench                         the per-neuron loop kernel against batched matmul

Every subcommand takes ``--backend numpy|cupy`` (default: ``NN_BACKEND``, else numpy).

Errors: a mistake of the user's is one line on stderr, ``xpnn: error: ...``, and exit status 2;
anything else is a bug, and Python's traceback is left in full for the report. What counts as
the user's is decided where the command touches the user's world, never by exception type
alone (a ValueError from deep inside the library is a bug): ``UsageError`` (raised here),
``DataError`` (a CSV or sidecar that cannot be used) and ``BackendError`` (no CuPy, no GPU, an
unknown ``NN_BACKEND``) anywhere; and, through :func:`_edge` around the one call that raised
them, the OSError of a file the user named, the ImportError of an optional extra the user asked
for (scikit-learn, matplotlib), and ``load_model``'s refusal of a model file.

``xpnn train --save model.xpnn`` writes the model (``model.save``) and beside it the sidecar
``model.xpnn.scaler.json`` (format ``xpnn-scaler``, version 2): ``task``; ``features``, the CSV
columns the model reads, in order; ``categories``, for each one-hot encoded text column its
categories in input order (version 2; absent in version 1, where every feature is a number);
``inputs``, one name per model input (version 2, informative); ``targets``; ``classes``, the
label of each class index (class names, or the numbers of a numeric target); ``scaler`` and
``target_scaler``, the training statistics. ``xpnn predict`` reads it when present, so new data
is encoded and scaled exactly as the training data was, and writes the class labels back.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import xpnn

from . import activations, datasets, kernels, losses, optimizers
from .backend import BackendError
from .datasets import DataError, DatasetInfo
from .preprocessing import MinMaxScaler, Scaler, StandardScaler

__all__ = ["main", "sidecar_path"]

SIDECAR_FORMAT = "xpnn-scaler"
SIDECAR_VERSION = 2  # 2: "categories" and "inputs" (one-hot encoded text columns)


class UsageError(Exception):
    """Something the user asked for that cannot be done; printed as one line."""


# Raised only for what the user must fix, with messages written for the user, wherever they
# come from. Plain ValueError, OSError, ImportError are the user's only at an _edge.
_USER_ERRORS = (UsageError, DataError, BackendError)


@contextlib.contextmanager
def _edge(*errors: type[Exception]) -> Iterator[None]:
    """Around one call that acts on what the user named (a file, an optional extra): its
    ``errors`` are the user's to fix, and become a one-line UsageError."""
    try:
        yield
    except errors as exc:
        message = str(exc)
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            message = f"{exc.filename}: {exc.strerror}"  # not "[Errno 13] ..."
        raise UsageError(message) from exc


def _writable(path: str, option: str) -> None:
    """Refuse an output path whose folder does not exist, before any training time is spent."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path!r} is a folder; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path!r}: the folder {str(target.parent)!r} does not exist")


def _plottable(path: str, option: str) -> None:
    """Refuse a picture that cannot be drawn (no matplotlib, an unknown format) up front."""
    _writable(path, option)
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("Plotting needs matplotlib: pip install 'xpnn[plots]'.")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix and suffix not in formats:
        raise UsageError(
            f"{option} {path!r}: matplotlib cannot write .{suffix} files; use one of "
            f"{', '.join(sorted(formats))} (png by default)"
        )


# -- demo ---------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """The seed notes' example for real: 25-15-1 sigmoid, BCE, Adam, on handwritten 0s and 1s."""
    if not args.no_plots:
        _plottable(args.plot, "--plot")
        _plottable(args.digits_plot, "--digits-plot")
    with _edge(ImportError):  # scikit-learn, the data's source, is an extra
        X, y, info = datasets.load("digits01")
    train, test = datasets.train_test_split(len(X), 0.25, seed=args.seed, stratify=y)
    scaler = MinMaxScaler().fit(X[train])  # training statistics only, reused on the test set
    x_train, x_test = scaler.transform(X[train]), scaler.transform(X[test])

    model = xpnn.Sequential(
        [
            xpnn.Input((64,)),
            xpnn.Dense(25, activation="sigmoid", name="layer1"),
            xpnn.Dense(15, activation="sigmoid", name="layer2"),
            xpnn.Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
        seed=args.seed,
    )
    model.compile(
        optimizer=xpnn.optimizers.Adam(learning_rate=1e-3),
        loss=xpnn.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    print(
        f"{info.description}: {len(train)} to train (20% of them to validate), "
        f"{len(test)} to test; backend {xpnn.get_backend().name}"
    )
    model.summary()
    start = time.perf_counter()
    history = model.fit(
        x_train, y[train], epochs=args.epochs, validation_split=0.2, verbose=args.verbose
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y[test])
    print(f"trained {args.epochs} epochs in {seconds:.2f} s; test loss {loss:.4f}")
    print(f"accuracy: {accuracy:.4f}")
    if args.no_plots:
        return 0

    from .plotting import plot_digits, plot_history

    with _edge(OSError, ImportError):
        plot_history(history, args.plot, title="The seed network (25-15-1 sigmoid) on 0s and 1s")
    print(f"learning curves: {args.plot}")
    predicted = (model.predict(x_test).ravel() > 0.5).astype(int)
    # Mistakes first, so the grid shows them if there are any; then test order.
    shown = np.argsort(predicted == y[test], kind="stable")[:32]
    wrong = int(np.sum(predicted != y[test]))
    title = f"{len(shown)} of {len(test)} test digits, titled with the predicted class "
    title += f"({wrong} wrong, in red)" if wrong else "(none wrong)"
    images = info.images[test[shown]]
    with _edge(OSError, ImportError):
        plot_digits(images, predicted[shown], y[test][shown], args.digits_plot, title=title)
    print(f"test digits with their predictions: {args.digits_plot}")
    return 0


# -- train --------------------------------------------------------------------------------------
_LOSSES = {  # the losses each task can take; the first is the default
    "binary": ("binary_crossentropy", "mse"),
    "multilabel": ("binary_crossentropy", "mse"),
    "multiclass": ("sparse_categorical_crossentropy", "categorical_crossentropy"),
    "regression": ("mse",),
}
_OUTPUT_ACTIVATION = {
    "binary": "sigmoid",
    "multilabel": "sigmoid",
    "multiclass": "softmax",
    "regression": "linear",
}


def _load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    if args.csv is None:
        if args.task is not None:
            raise UsageError("--task applies to --csv files; a built-in data set knows its task")
        with _edge(ImportError):  # scikit-learn, the data's source, is an extra
            return datasets.load(args.dataset)
    if not args.target:
        raise UsageError("--csv needs --target COLUMN (the column to predict)")
    return datasets.read_csv(args.csv, args.target, task=args.task)


def _parse_layers(text: str) -> list[int]:
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise UsageError(
            f"--layers takes comma-separated unit counts such as 25,15; received {text!r}"
        ) from None
    if any(u < 1 for u in units):
        raise UsageError(f"--layers needs positive unit counts, received {text!r}")
    return units


def _loss_and_output(args: argparse.Namespace, task: str) -> tuple[losses.Loss, str]:
    """The loss and the output layer's activation for the task (or the loss asked for)."""
    loss = losses.get(args.loss or _LOSSES[task][0])
    if type(loss) not in {type(losses.get(n)) for n in _LOSSES[task]}:
        raise UsageError(
            f"--loss {args.loss} does not fit a {task} task; use one of {', '.join(_LOSSES[task])}"
        )
    if isinstance(loss, losses.MeanSquaredError):
        if args.from_logits:
            raise UsageError("--from-logits applies to the cross-entropy losses, not mse")
        return loss, _OUTPUT_ACTIVATION[task]
    if args.from_logits:  # linear output; the loss applies sigmoid/softmax itself, stably
        return type(loss)(from_logits=True), "linear"
    return loss, _OUTPUT_ACTIVATION[task]


def _build(args: argparse.Namespace, info: DatasetInfo, features: int) -> xpnn.Sequential:
    loss, output = _loss_and_output(args, info.task)
    model = xpnn.Sequential(
        [xpnn.Input((features,))]
        + [xpnn.Dense(units, activation=args.activation) for units in _parse_layers(args.layers)]
        + [xpnn.Dense(info.outputs, activation=output, name="output")],
        name=f"{info.name}_model",
        kernel=args.kernel,
        seed=args.seed,
    )
    optimizer = xpnn.optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer = type(optimizer)(learning_rate=args.lr)
    classifies = info.task != "regression"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"] if classifies else [])
    return model


def _loss_targets(
    model: xpnn.Sequential, info: DatasetInfo, y: np.ndarray, target_scaler: Scaler | None
) -> np.ndarray:
    """``y`` as the loss takes it: standardised (regression), one-hot (categorical CE)."""
    if target_scaler is not None:
        return target_scaler.transform(y[:, None])  # (samples, 1)
    if isinstance(model.loss, losses.CategoricalCrossentropy):
        return np.eye(info.outputs, dtype=np.float32)[y]  # (samples, classes)
    return y


def _figures(
    model: xpnn.Sequential,
    info: DatasetInfo,
    x: np.ndarray,
    y: np.ndarray,
    target_scaler: Scaler | None,
) -> dict[str, float]:
    """Loss and accuracy; for regression the MSE and R^2 in the target's own units."""
    if target_scaler is None:
        y = _loss_targets(model, info, y, None)
        return dict(model.evaluate(x, y, batch_size=256, return_dict=True))
    predicted = target_scaler.inverse_transform(model.predict(x, batch_size=256))[:, 0]
    mse = float(np.mean((predicted - y) ** 2))
    variance = float(np.var(y))
    return {"mse": mse, "r2": 1.0 - mse / variance if variance > 0 else float("nan")}


def _table(rows: dict[str, dict[str, float]]) -> str:
    columns = list(next(iter(rows.values())))
    lines = [f"{'':<12}" + "".join(f"{c:>12}" for c in columns)]
    for split, figures in rows.items():
        lines.append(f"{split:<12}" + "".join(f"{figures[c]:>12.4f}" for c in columns))
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace) -> int:
    """Train on a built-in data set or a CSV; print train/validation/test figures."""
    if args.save:
        _writable(args.save, "--save")
    if args.plot:
        _plottable(args.plot, "--plot")
    X, y, info = _load_data(args)
    classifies = info.task in ("binary", "multiclass")
    train, test = datasets.train_test_split(
        len(X), args.test_split, args.seed, stratify=y if classifies else None
    )
    scaler = (MinMaxScaler() if args.scaling == "minmax" else StandardScaler()).fit(X[train])
    x_train, x_test = scaler.transform(X[train]), scaler.transform(X[test])
    y_train, y_test = y[train], y[test]
    target_scaler = None
    if info.task == "regression":
        # Standardise the target too (training statistics): a linear output starting near 0
        # then needs no hundreds of epochs to reach targets in the hundreds.
        target_scaler = StandardScaler().fit(y_train[:, None])
    model = _build(args, info, X.shape[1])

    fit_rows = int(math.floor(len(train) * (1 - args.validation_split)))
    if args.validation_split > 0 and not 0 < fit_rows < len(train):
        raise UsageError(
            f"--validation-split {args.validation_split} leaves {fit_rows} of {len(train)} "
            "training rows to fit; use a split that keeps both parts non-empty"
        )
    classes = f" ({info.outputs} classes)" if info.task == "multiclass" else ""
    print(
        f"{info.name}: {len(X)} samples, {X.shape[1]} features, {info.task}{classes}; "
        f"{fit_rows} to train, {len(train) - fit_rows} to validate, {len(test)} to test; "
        f"backend {xpnn.get_backend().name}"
    )
    for column, categories in info.categories.items():
        print(f"one-hot: {column!r} as {len(categories)} inputs ({', '.join(categories)})")
    start = time.perf_counter()
    history = model.fit(
        x_train,
        _loss_targets(model, info, y_train, target_scaler),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start

    # fit held out the last fraction of the (already shuffled) training split to validate.
    rows = {"train": _figures(model, info, x_train[:fit_rows], y_train[:fit_rows], target_scaler)}
    if fit_rows < len(train):
        figures = _figures(model, info, x_train[fit_rows:], y_train[fit_rows:], target_scaler)
        rows["validation"] = figures
    rows["test"] = _figures(model, info, x_test, y_test, target_scaler)
    print(_table(rows))
    if target_scaler is not None:
        print(f"(mse in the units of {info.target_names[0]!r} squared; r2 = 1 - mse / variance)")
    print(f"wall time: {seconds:.2f} s ({args.epochs} epochs)   backend: {xpnn.get_backend().name}")

    if args.plot:
        note = " (standardised target)" if target_scaler is not None else ""
        with _edge(OSError, ImportError):
            history.plot(args.plot, title=f"{info.name}: {info.task}{note}")
        print(f"learning curves: {args.plot}")
    if args.save:
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "task": info.task,
            "features": info.feature_names,
            "categories": info.categories,
            "inputs": info.input_names,
            "targets": info.target_names,
            "classes": info.classes,
            "scaler": scaler.to_dict(),
            "target_scaler": None if target_scaler is None else target_scaler.to_dict(),
        }
        with _edge(OSError):
            model.save(args.save)
            sidecar_path(args.save).write_text(json.dumps(sidecar, indent=1) + "\n")
        print(f"model saved: {args.save} (scaling, columns, classes: {sidecar_path(args.save)})")
    return 0


# -- predict ------------------------------------------------------------------------------------
def sidecar_path(model_path: str | Path) -> Path:
    """Where ``xpnn train --save`` keeps the scaler and columns for ``model_path``."""
    return Path(f"{model_path}.scaler.json")


def _read_sidecar(model_path: str) -> dict[str, Any]:
    """The sidecar of ``model_path`` (``{}`` when there is none), its fields checked; the
    scalers come back rebuilt (``Scaler`` or None)."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{str(path)!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise DataError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from None
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise DataError(f"{str(path)!r} is not an xpnn scaler file.")
    version = meta.get("version", 1)
    if version not in range(1, SIDECAR_VERSION + 1):
        raise DataError(
            f"{str(path)!r} has version {version!r}; this xpnn reads versions 1 to "
            f"{SIDECAR_VERSION} (a newer xpnn wrote it?)."
        )

    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    features, categories = meta.get("features"), meta.get("categories") or {}
    if features is not None and not strings(features):
        raise DataError(f"{str(path)!r}: 'features' must be a list of column names.")
    if not isinstance(categories, dict) or not all(
        name in (features or []) and strings(c) and c for name, c in categories.items()
    ):
        raise DataError(
            f"{str(path)!r}: 'categories' must map feature columns to lists of categories."
        )
    meta["categories"] = categories
    try:
        for key in ("scaler", "target_scaler"):
            meta[key] = Scaler.from_dict(meta[key]) if meta.get(key) else None
    except ValueError as exc:
        raise DataError(f"{str(path)!r}: {exc}") from None
    inputs = datasets.input_names(features or [], categories)
    if features is not None and meta["scaler"] and meta["scaler"].n_features != len(inputs):
        raise DataError(
            f"{str(path)!r} does not hold together: its scaler has "
            f"{meta['scaler'].n_features} features, its columns give {len(inputs)} inputs."
        )
    return meta


def _task_of(model: xpnn.Sequential) -> str:
    """A model saved without a sidecar: read the task off its output layer."""
    last = model.layers[-1]
    if last.activation.name == "softmax":
        return "multiclass"
    if last.activation.name == "sigmoid":
        return "binary" if last.units == 1 else "multilabel"
    return "regression"


def _number(v: Any) -> Any:
    # 9 significant digits give float32 values back exactly when the CSV is read again.
    return f"{v:.9g}" if isinstance(v, float | np.floating) else v


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with a saved model (and its scaler sidecar) for the rows of a CSV."""
    with _edge(OSError, ValueError):  # load_model's refusals: no such file, not a model
        model = xpnn.load_model(args.model, compile=False)
    meta = _read_sidecar(args.model)
    if args.output:
        _writable(args.output, "--output")
    header, _ = datasets.read_table(args.csv, columns=[])
    features = meta.get("features")
    if features is None:  # no sidecar: every column but --target is a feature
        features = [h for h in header if h != args.target]
    missing = [f for f in features if f not in header]
    if missing:
        raise UsageError(
            f"{args.csv!r} lacks the model's feature columns {', '.join(map(repr, missing))}; "
            f"its columns are: {', '.join(header)}"
        )
    x = datasets.read_features(args.csv, features, meta.get("categories"))
    if len(x) == 0:
        raise UsageError(f"{args.csv!r} has a header but no rows to predict")
    if x.shape[1] != model.input_dim:
        raise UsageError(
            f"the model takes {model.input_dim} features, {args.csv!r} gives {x.shape[1]} "
            f"({', '.join(features)}); name the column to leave out with --target"
        )
    x = x.astype(np.float32)
    if meta.get("scaler"):
        x = meta["scaler"].transform(x)
    out = model.predict(x, batch_size=256)  # (rows, outputs), NumPy
    task = meta.get("task") or _task_of(model)
    if model.layers[-1].activation.name == "linear" and task != "regression":
        squash = activations.softmax if task == "multiclass" else activations.sigmoid
        out = squash(out.astype(np.float64))  # trained from logits: report probabilities
    targets = meta.get("targets") or ["label" if task != "regression" else "prediction"]
    classes = meta.get("classes") or list(range(max(2, out.shape[1])))
    expected = {"binary": 2, "multiclass": out.shape[1]}.get(task, len(classes))
    if len(classes) != expected:
        raise DataError(
            f"{str(sidecar_path(args.model))!r} lists {len(classes)} classes for a {task} "
            f"model with {out.shape[1]} outputs: it belongs to another model."
        )

    if task == "binary":
        names = [targets[0], "probability"]
        rows = [[classes[int(p > 0.5)], float(p)] for p in out[:, 0]]
    elif task == "multiclass":
        names = [targets[0]] + [f"p_{c}" for c in classes]
        rows = [[classes[int(np.argmax(p))], *map(float, p)] for p in out]
    elif task == "multilabel":
        if len(targets) != out.shape[1]:
            targets = [f"label_{k}" for k in range(out.shape[1])]
        names = targets + [f"p_{t}" for t in targets]
        rows = [[*(int(v > 0.5) for v in p), *map(float, p)] for p in out]
    else:
        if meta.get("target_scaler"):
            out = meta["target_scaler"].inverse_transform(out)
        names = targets[:1]
        rows = [[float(v)] for v in out[:, 0]]

    with _edge(OSError):
        stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_number(v) for v in row] for row in rows)
    finally:
        if args.output:
            stream.close()
    if args.output:
        print(f"{len(rows)} predictions written to {args.output}", file=sys.stderr)
    return 0


# -- bench --------------------------------------------------------------------------------------
SEED_UNITS = (400, 25, 15, 1)


def _network_pass(
    forward: Callable[..., Any], backward: Callable[..., Any] | None, x: Any, params: list
) -> None:
    """The seed network's forward pass, and its backward pass when ``backward`` is given."""
    sigmoid = activations.sigmoid
    cache, a = [], x
    for W, b in params:
        z, out = forward(a, W, b, sigmoid)
        cache.append((a, z, out))
        a = out
    if backward is None:
        return
    delta = a * 0 + 1.0  # dL/da at the output; the timing does not depend on its values
    for i in reversed(range(len(params))):
        a_in, z, out = cache[i]
        _, _, delta = backward(delta, a_in, params[i][0], z, out, sigmoid)


def _best_time(fn: Callable[[], None], sync: Callable[[], None], repeat: int) -> float:
    """Best of at least ``repeat`` timed runs after a warm-up; a fast function keeps going for
    about 0.2 s, since one sub-millisecond run is mostly noise."""
    fn()
    sync()
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeat or (spent < 0.2 and runs < 1000):
        start = time.perf_counter()
        fn()
        sync()  # GPU kernels run asynchronously: wait for them before reading the clock
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best


def _bench_rows(name: str, batch: int, repeat: int) -> list[str]:
    backend = xpnn.get_backend()
    rng = np.random.default_rng(0)
    x = xpnn.to_device(rng.standard_normal((batch, SEED_UNITS[0]), dtype=np.float32))
    params = [
        (
            xpnn.to_device(rng.standard_normal((n_in, n_out), dtype=np.float32) * 0.1),
            xpnn.to_device(np.zeros(n_out, dtype=np.float32)),
        )
        for n_in, n_out in zip(SEED_UNITS, SEED_UNITS[1:])
    ]
    sync = backend.xp.cuda.Device().synchronize if backend.name == "cupy" else lambda: None
    forms = {
        "loop": (kernels.dense_forward_loop, kernels.dense_backward_loop),
        "matrix": (kernels.dense_forward_matrix, kernels.dense_backward_matrix),
    }
    lines = []
    for label, with_backward in (("forward", False), ("forward+backward", True)):
        ms = {}
        for form, (forward, backward) in forms.items():
            step = backward if with_backward else None
            ms[form] = 1e3 * _best_time(
                lambda f=forward, b=step: _network_pass(f, b, x, params), sync, repeat
            )
        ratio = ms["loop"] / ms["matrix"]
        lines.append(
            f"{name:<8} {label:<17} {ms['loop']:>11.3f} {ms['matrix']:>12.3f} {ratio:>11.0f}x"
        )
    return lines


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the per-neuron loop kernels against the matrix kernels on the seed network."""
    names = [args.backend] if args.backend else ["numpy", "cupy"]
    shape = "-".join(map(str, SEED_UNITS))
    print(f"The seed network {shape} (sigmoid), a batch of {args.batch}; best of >= {args.repeat}")
    print(f"{'backend':<8} {'pass':<17} {'loop (ms)':>11} {'matrix (ms)':>12} {'loop/matrix':>12}")
    for name in names:
        try:
            with xpnn.use_backend(name):
                lines = _bench_rows(name, args.batch, args.repeat)
        except BackendError as exc:
            if args.backend:  # asked for by name: that is an error, not a skipped row
                raise
            print(f"{name:<8} skipped: {exc}")
            continue
        print("\n".join(lines))
    print(
        "loop: one w.x + b per neuron and sample, as the notes' dense() computes it; "
        "matrix: the whole batch and layer in one product, z = x @ W + b."
    )
    return 0


# -- the parser ---------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _fraction(low_closed: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ((0.0 <= value if low_closed else 0.0 < value) and value < 1.0):
            interval = "[0, 1)" if low_closed else "(0, 1)"
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, received {text!r}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpnn",
        description="Dense neural networks with the Keras API, on NumPy (CPU) or CuPy (GPU).",
        epilog="Run 'xpnn COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"xpnn {xpnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def backend_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--backend",
            choices=["numpy", "cupy"],
            help="array library (default: NN_BACKEND, else numpy)",
        )

    demo = sub.add_parser(
        "demo",
        help="the seed notes' 25-15-1 network, trained on handwritten 0s and 1s",
        description="Train the seed notes' 25-15-1 sigmoid network (BCE, Adam 1e-3) to tell "
        "handwritten 0s from 1s (scikit-learn's 8x8 digits), report the test accuracy and draw "
        "the learning curves and the test digits with their predictions.",
    )
    backend_option(demo)
    demo.add_argument("--epochs", type=_positive_int, default=100, help="default: %(default)s")
    demo.add_argument("--seed", type=int, default=0, help="weights, shuffling and split")
    demo.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)
    demo.add_argument(
        "--plot", default="xpnn-demo-curves.png", help="learning curves PNG (%(default)s)"
    )
    demo.add_argument(
        "--digits-plot", default="xpnn-demo-digits.png", help="test digits PNG (%(default)s)"
    )
    demo.add_argument("--no-plots", action="store_true", help="draw no pictures")
    demo.set_defaults(run=cmd_demo)

    train = sub.add_parser(
        "train",
        help="train on a built-in data set or a CSV file",
        description="Train a dense network and print loss and accuracy (or MSE) on the "
        "training, validation and test splits. Built-in sets: "
        + ", ".join(datasets.BUILTINS)
        + ". --save PATH also writes PATH.scaler.json (the feature scaling, columns and "
        "classes) for 'xpnn predict'.",
    )
    backend_option(train)
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", choices=datasets.BUILTINS, help="a built-in data set")
    data.add_argument(
        "--csv",
        metavar="PATH",
        help="a CSV file with a header row; a text target names the classes, a text feature "
        "is one-hot encoded",
    )
    train.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    train.add_argument(
        "--task",
        choices=["binary", "multiclass", "regression"],
        help="for --csv (default: inferred from the target: 0/1 or two class names binary, "
        f"up to {datasets.MAX_CLASSES} integers or more class names multiclass, "
        "other numbers regression)",
    )
    train.add_argument(
        "--layers", metavar="UNITS", default="25,15", help="hidden units (default: %(default)s)"
    )
    train.add_argument("--activation", default="relu", choices=["sigmoid", "relu", "tanh"])
    train.add_argument(
        "--loss",
        choices=sorted({n for names in _LOSSES.values() for n in names}),
        help="default: from the task (binary cross-entropy, sparse categorical, mse)",
    )
    train.add_argument(
        "--from-logits", action="store_true", help="linear output; the loss applies the squash"
    )
    train.add_argument("--optimizer", default="adam", choices=sorted(optimizers._REGISTRY))
    train.add_argument("--lr", type=_positive_float, help="learning rate (Keras's defaults)")
    train.add_argument("--epochs", type=_positive_int, default=50, help="default: %(default)s")
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--validation-split", type=_fraction(True), default=0.2)
    train.add_argument("--test-split", type=_fraction(False), default=0.2)
    train.add_argument(
        "--scaling", choices=["standard", "minmax"], default="standard", help="feature scaling"
    )
    train.add_argument("--kernel", choices=["matrix", "loop"], default="matrix")
    train.add_argument("--seed", type=int, default=0, help="weights, shuffling and split")
    train.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)
    train.add_argument("--save", metavar="PATH", help="write the model and PATH.scaler.json")
    train.add_argument("--plot", metavar="PATH", help="write the learning curves (PNG)")
    train.set_defaults(run=cmd_train)

    predict = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict with a model saved by 'xpnn train --save' (scaled with its "
        "MODEL.scaler.json when present). Classifiers give the label and the probabilities, "
        "regressions the value.",
    )
    backend_option(predict)
    predict.add_argument("model", help="the saved model file")
    predict.add_argument(
        "--csv", metavar="PATH", required=True, help="rows to predict, with the feature columns"
    )
    predict.add_argument(
        "--target", metavar="COLUMN", help="a column to leave out (the label), if present"
    )
    predict.add_argument("--output", metavar="PATH", help="CSV to write (default: stdout)")
    predict.set_defaults(run=cmd_predict)

    bench = sub.add_parser(
        "bench",
        help="the per-neuron loop kernel against batched matmul",
        description="Time the seed network 400-25-15-1 with the per-neuron loop kernels and "
        "with the matrix kernels, forward and forward+backward, on NumPy (and CuPy where a GPU "
        "is available).",
    )
    backend_option(bench)
    bench.add_argument("--batch", type=_positive_int, default=200, help="default: %(default)s")
    bench.add_argument("--repeat", type=_positive_int, default=3, help="timed runs, at least")
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``xpnn`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status, or exits with status 2 after a one-line error (see the module's docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        # --backend, else NN_BACKEND: chosen before any work, so an unusable one is said at once.
        if args.backend:
            xpnn.set_backend(args.backend)
        else:
            xpnn.get_backend()
        return args.run(args)
    except BrokenPipeError:
        # `xpnn predict ... | head`: the reader left; stop quietly, as other commands do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except _USER_ERRORS as exc:
        parser.exit(2, f"xpnn: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "xpnn: interrupted\n")
    return 0  # not reached: parser.exit raises SystemExit


if __name__ == "__main__":
    sys.exit(main())
