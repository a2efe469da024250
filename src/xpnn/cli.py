"""The ``xpnn`` command: ``demo``, ``train``, ``predict``, ``bench``.

    xpnn demo                          the seed notes' 25-15-1 network on real handwritten 0s and 1s
    xpnn train --dataset digits        any built-in data set, or --csv PATH --target COLUMN
    xpnn predict MODEL --csv PATH      predictions of a saved model
    xpnn bench                         the per-neuron loop against batched matmul

Every subcommand takes ``--backend numpy|cupy``. Errors in what the user asked for are one line
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import xpnn

from . import activations, datasets, losses
from .backend import BackendError
from .kernels import KERNELS
from .preprocessing import MinMaxScaler, StandardScaler, scaler_from_dict

__all__ = ["main"]


class UsageError(Exception):
    """Something the user asked for that cannot be done; printed as one line."""


# -- building and training --------------------------------------------------------------------
def _output_and_loss(task: str, outputs: int, loss_name: str | None, from_logits: bool):
    """The output layer's activation and the loss for a task (or the loss asked for)."""
    loss_name = (
        loss_name
        or {
            "binary": "binary_crossentropy",
            "multilabel": "binary_crossentropy",
            "multiclass": "sparse_categorical_crossentropy",
            "regression": "mse",
        }[task]
    )
    loss = losses.get(loss_name)
    if isinstance(loss, losses.MeanSquaredError):
        return None, loss
    loss = type(loss)(from_logits=from_logits)
    if from_logits:
        return None, loss
    return ("sigmoid" if isinstance(loss, losses.BinaryCrossentropy) else "softmax"), loss


def _classifies(task: str) -> bool:
    return task in ("binary", "multiclass", "multilabel")


def _build(args: argparse.Namespace, data: datasets.Dataset) -> xpnn.Sequential:
    hidden = _parse_layers(args.layers)
    out_act, loss = _output_and_loss(data.task, data.outputs, args.loss, args.from_logits)
    model = xpnn.Sequential(
        [xpnn.Input((data.x.shape[1],))]
        + [xpnn.Dense(h, activation=args.activation) for h in hidden]
        + [xpnn.Dense(data.outputs, activation=out_act)],
        name=f"{data.name}_model",
        kernel=args.kernel,
        seed=args.seed,
    )
    optimizer = xpnn.optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer = type(optimizer)(learning_rate=args.lr)
    model.compile(
        optimizer=optimizer, loss=loss, metrics=["accuracy"] if _classifies(data.task) else ["mse"]
    )
    return model


def _parse_layers(text: str) -> list[int]:
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise UsageError(
            f"--layers takes comma-separated unit counts, e.g. 25,15; got {text!r}"
        ) from None
    if any(u < 1 for u in units):
        raise UsageError(f"--layers needs positive unit counts, got {text!r}")
    return units


def _split_and_scale(data: datasets.Dataset, test_fraction: float, seed: int, scaling: str):
    stratify = data.y if data.task in ("binary", "multiclass") else None
    train, test = datasets.train_test_split(len(data.x), test_fraction, seed, stratify)
    scaler = (MinMaxScaler() if scaling == "minmax" else StandardScaler()).fit(data.x[train])
    return train, test, scaler  # statistics from the training split only


def _figures(model: xpnn.Sequential, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    result = model.evaluate(x, y, batch_size=256, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def _table(rows: dict[str, dict[str, float]], extra: dict[str, str]) -> str:
    cols = list(next(iter(rows.values())))
    lines = ["split       " + "".join(f"{c:>12}" for c in cols)]
    for split, figures in rows.items():
        lines.append(f"{split:<12}" + "".join(f"{figures[c]:>12.4f}" for c in cols))
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines)


# -- subcommands -------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    data = datasets.load("digits01")
    train, test, scaler = _split_and_scale(data, 0.25, args.seed, "minmax")
    x_train, x_test = scaler.transform(data.x[train]), scaler.transform(data.x[test])
    model = xpnn.Sequential(
        [
            xpnn.Input(shape=(64,)),
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
        f"Handwritten 0s and 1s (8x8 scans): {len(train)} to train, {len(test)} to test, "
        f"backend {xpnn.get_backend().name}"
    )
    model.summary()
    start = time.perf_counter()
    history = model.fit(
        x_train,
        data.y[train],
        epochs=args.epochs,
        batch_size=32,
        validation_split=0.2,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, data.y[test])
    print(f"trained {args.epochs} epochs in {seconds:.2f} s; test loss {loss:.4f}")
    print(f"accuracy: {accuracy:.4f}")
    if not args.no_plots:
        from .plotting import plot_digits, plot_history

        plot_history(history.history, args.plot, title="The seed network on handwritten 0s and 1s")
        shown = test[:32]
        predicted = (model.predict(x_test[:32]).ravel() > 0.5).astype(int)
        plot_digits(data.images[shown], predicted, data.y[shown], args.digits_plot)
        print(f"learning curves: {args.plot}")
        print(f"test digits with predictions: {args.digits_plot}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if (args.dataset is None) == (args.csv is None):
        raise UsageError("give either --dataset NAME or --csv PATH --target COLUMN")
    if args.csv is not None:
        if not args.target:
            raise UsageError("--csv needs --target COLUMN (the column to predict)")
        data = datasets.read_csv(args.csv, args.target, min_rows=4)
        if args.task:
            data.task = args.task
            if args.task == "regression":
                data.y = data.y.astype(np.float32)
    else:
        data = datasets.load(args.dataset)
    train, test, scaler = _split_and_scale(data, args.test_split, args.seed, args.scaling)
    x_train, x_test = scaler.transform(data.x[train]), scaler.transform(data.x[test])
    target_scale = None
    if data.task == "regression":  # standardise the target too (training statistics)
        target_scale = StandardScaler().fit(data.y[train].reshape(-1, 1))
        data.y = target_scale.transform(data.y.reshape(-1, 1)).ravel()
    model = _build(args, data)
    start = time.perf_counter()
    model.fit(
        x_train,
        data.y[train],
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    split = int(np.floor(len(train) * (1 - args.validation_split)))
    rows = {"train": _figures(model, x_train[:split], data.y[train][:split])}
    if args.validation_split > 0:
        rows["validation"] = _figures(model, x_train[split:], data.y[train][split:])
    rows["test"] = _figures(model, x_test, data.y[test])
    extra = {"task": data.task}
    if target_scale is not None:
        extra["note"] = "loss and mse are of the standardised target (its variance is 1)"
    extra.update({"wall time": f"{seconds:.2f} s", "backend": xpnn.get_backend().name})
    print(_table(rows, extra))
    if args.plot:
        model.history.plot(args.plot, title=f"{data.name}: {data.task}")
        print(f"learning curves: {args.plot}")
    if args.save:
        model.save(args.save)
        sidecar = {
            "scaler": scaler.to_dict(),
            "features": data.feature_names,
            "target": args.target,
            "task": data.task,
            "target_scaler": None if target_scale is None else target_scale.to_dict(),
        }
        Path(f"{args.save}.json").write_text(json.dumps(sidecar, indent=1))
        print(f"model saved: {args.save} (scaling and columns: {args.save}.json)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    model = xpnn.load_model(args.model, compile=False)
    meta_path = Path(f"{args.model}.json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    header, values = datasets.read_table(args.csv)
    features = meta.get("features") or [h for h in header if h != args.target]
    missing = [f for f in features if f not in header]
    if missing:
        raise UsageError(f"{args.csv} lacks the model's feature columns: {', '.join(missing)}")
    x = values[:, [header.index(f) for f in features]].astype(np.float32)
    if "scaler" in meta:
        x = scaler_from_dict(meta["scaler"]).transform(x)
    out = model.predict(x, batch_size=256)
    task = meta.get("task") or ("binary" if out.shape[1] == 1 else "multiclass")
    last = model.layers[-1].activation
    if task in ("binary", "multilabel") and last.name == "linear":  # logits
        out = activations.sigmoid(out.astype(np.float64))
    elif task == "multiclass" and last.name == "linear":
        out = activations.softmax(out.astype(np.float64))
    if task == "binary":
        names, rows = ["label", "probability"], [[int(p > 0.5), p] for p in out[:, 0]]
    elif task == "multiclass":
        names = ["label"] + [f"p_{k}" for k in range(out.shape[1])]
        rows = [[int(np.argmax(p)), *p] for p in out]
    elif task == "multilabel":
        names = [f"p_{k}" for k in range(out.shape[1])]
        rows = [[float(v) for v in p] for p in out]
    else:
        if meta.get("target_scaler"):
            out = scaler_from_dict(meta["target_scaler"]).inverse_transform(out)
        names, rows = ["prediction"], [[float(v)] for v in out[:, 0]]
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(stream)
        writer.writerow(names)
        writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in r] for r in rows])
    finally:
        if args.output:
            stream.close()
    return 0


def _seed_network_pass(form: str, backward: bool, x: Any, params: list, sync: Any) -> None:
    """Forward (and backward) of the seed network with one kernel form."""
    fwd, bwd = KERNELS[form]
    cache, a = [], x
    for W, b in params:
        z, out = fwd(a, W, b, activations.sigmoid)
        cache.append((a, z, out))
        a = out
    if backward:
        delta = a * 0 + 1.0  # dL/da of the output
        for i in range(len(params) - 1, -1, -1):
            a_in, z, out = cache[i]
            sig = activations.sigmoid
            delta = bwd(delta, a_in, params[i][0], z, out, sig, need_dx=i > 0)[2]
    sync()


def cmd_bench(args: argparse.Namespace) -> int:
    units, rng = [400, 25, 15, 1], np.random.default_rng(0)
    names = ["numpy"] + (["cupy"] if _cupy_usable() else [])
    print(f"The seed network 400-25-15-1 (sigmoid), batch {args.batch}: best of {args.repeat}")
    print(f"{'backend':<8}{'pass':<18}{'loop (ms)':>12}{'matrix (ms)':>13}{'loop/matrix':>13}")
    for name in names:
        with xpnn.use_backend(name) as backend:
            x = xpnn.to_device(rng.standard_normal((args.batch, 400), dtype=np.float32))
            params = [
                (
                    xpnn.to_device(rng.standard_normal((a, b), dtype=np.float32) * 0.1),
                    xpnn.to_device(np.zeros(b, np.float32)),
                )
                for a, b in zip(units, units[1:])
            ]
            if name == "cupy":
                sync = backend.xp.cuda.Device().synchronize
            else:
                sync = _nothing
            for label, backward in (("forward", False), ("forward+backward", True)):
                times = {}
                for form in ("loop", "matrix"):
                    run = functools.partial(_seed_network_pass, form, backward, x, params, sync)
                    times[form] = _best(run, args.repeat)
                print(
                    f"{name:<8}{label:<18}{times['loop'] * 1e3:>12.2f}"
                    f"{times['matrix'] * 1e3:>13.3f}{times['loop'] / times['matrix']:>12.0f}x"
                )
    return 0


def _nothing() -> None:
    pass


def _best(fn: Any, repeat: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _cupy_usable() -> bool:
    try:
        with xpnn.use_backend("cupy"):
            return True
    except BackendError:
        return False


# -- the parser ----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpnn", description="Dense neural networks on NumPy or CuPy, the Keras way."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--backend",
            choices=["numpy", "cupy"],
            default=None,
            help="array library (default: NN_BACKEND, else numpy)",
        )

    demo = sub.add_parser("demo", help="the seed notes' network on real handwritten 0s and 1s")
    common(demo)
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)
    demo.add_argument("--plot", default="xpnn-demo-curves.png", help="learning-curve PNG")
    demo.add_argument("--digits-plot", default="xpnn-demo-digits.png", help="test-digit PNG")
    demo.add_argument("--no-plots", action="store_true", help="write no pictures")
    demo.set_defaults(run=cmd_demo)

    train = sub.add_parser("train", help="train on a built-in data set or a CSV file")
    common(train)
    train.add_argument("--dataset", choices=datasets.BUILTINS)
    train.add_argument("--csv", help="CSV file with a header row and numeric cells")
    train.add_argument("--target", help="the CSV column to predict")
    train.add_argument(
        "--task",
        choices=["binary", "multiclass", "regression"],
        help="override the task inferred from the target",
    )
    train.add_argument("--layers", default="25,15", help="hidden units, e.g. 64,32")
    train.add_argument("--activation", default="relu", choices=["sigmoid", "relu", "tanh"])
    train.add_argument("--loss", choices=sorted(set(losses.names())), help="default: from the task")
    train.add_argument(
        "--from-logits", action="store_true", help="linear output, loss computed from logits"
    )
    train.add_argument("--optimizer", default="adam", choices=["adam", "sgd", "rmsprop"])
    train.add_argument("--lr", type=float, default=None, help="learning rate")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--validation-split", type=float, default=0.2)
    train.add_argument("--test-split", type=float, default=0.2)
    train.add_argument("--scaling", choices=["minmax", "standard"], default="standard")
    train.add_argument("--kernel", choices=["matrix", "loop"], default="matrix")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, choices=[0, 1, 2], default=2)
    train.add_argument("--save", help="write the model there (and PATH.json: scaling, columns)")
    train.add_argument("--plot", help="write the learning curves there (PNG)")
    train.set_defaults(run=cmd_train)

    predict = sub.add_parser("predict", help="predict with a saved model")
    common(predict)
    predict.add_argument("model")
    predict.add_argument("--csv", required=True)
    predict.add_argument("--target", default=None, help="a column to ignore, if present")
    predict.add_argument("--output", help="CSV to write (default: standard output)")
    predict.set_defaults(run=cmd_predict)

    bench = sub.add_parser("bench", help="per-neuron loop against batched matmul")
    common(bench)
    bench.add_argument("--batch", type=int, default=200)
    bench.add_argument("--repeat", type=int, default=3)
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``xpnn`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.backend:
            xpnn.set_backend(args.backend)
        return args.run(args)
    except (UsageError, BackendError, datasets.DataError, FileNotFoundError, ImportError) as exc:
        parser.exit(2, f"xpnn: error: {exc}\n")
    except ValueError as exc:  # xpnn's own checks (a model file, labels that do not fit)
        parser.exit(2, f"xpnn: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
