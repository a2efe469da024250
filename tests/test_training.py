"""fit: networks learn; the History, validation split, batching and epoch figures follow Keras;
the training step's gradient is right; and the data crosses to the device only as planned."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses, optimizers

from helpers import blobs

dev, host = xpnn.to_device, xpnn.to_numpy


def small_binary_model(features: int = 4, seed: int = 0, **kwargs: Any) -> Sequential:
    model = Sequential([Input((features,)), Dense(4, "relu"), Dense(1, "sigmoid")], seed=seed)
    model.compile(
        optimizer=kwargs.pop("optimizer", "adam"),
        loss="binary_crossentropy",
        metrics=kwargs.pop("metrics", ["accuracy"]),
    )
    return model


# -- learning ----------------------------------------------------------------------------------
def test_seed_network_learns_a_separable_problem(xp: Any) -> None:
    x, y = blobs(400, 20, 2)
    model = Sequential(
        [
            Input(shape=(20,)),
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        seed=0,
    )
    model.compile(
        optimizer=optimizers.Adam(learning_rate=1e-2),
        loss=losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    assert history.history["accuracy"][-1] >= 0.95
    assert model.evaluate(x, y)[1] >= 0.95
    assert np.mean((model.predict(x)[:, 0] > 0.5) == y) >= 0.95


@pytest.mark.parametrize("from_logits", [False, True])
def test_softmax_network_learns_three_classes(xp: Any, from_logits: bool) -> None:
    x, y = blobs(300, 4, 3, seed=1)
    model = Sequential([Dense(16, "relu"), Dense(3, None if from_logits else "softmax")], seed=1)
    model.compile(
        optimizer="adam",
        loss=losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert model.evaluate(x, y)[1] >= 0.95
    assert np.mean(model.predict(x).argmax(axis=1) == y) >= 0.95
    if not from_logits:
        np.testing.assert_allclose(model.predict(x).sum(axis=1), 1.0, rtol=1e-5)


def test_categorical_crossentropy_with_one_hot_targets_learns(xp: Any) -> None:
    x, y = blobs(300, 4, 3, seed=6)
    model = Sequential([Dense(16, "tanh"), Dense(3, "softmax")], seed=6)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.eye(3)[y], epochs=30, verbose=0)
    assert model.evaluate(x, np.eye(3)[y])[1] >= 0.95


def test_multilabel_network_learns(xp: Any) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5], axis=1).astype(int)
    model = Sequential([Dense(24, "tanh"), Dense(3, "sigmoid")], seed=2)
    model.compile(optimizer=optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    accuracy = model.evaluate(x, y)[1]
    assert accuracy >= 0.93
    # binary accuracy over several outputs is the mean over every (sample, label) pair
    assert accuracy == pytest.approx(np.mean((model.predict(x) > 0.5) == y), abs=1e-6)


def test_linear_mse_network_fits_a_regression(xp: Any) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(400, 3)).astype(np.float32)
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2 - 0.5 * x[:, 2]
    model = Sequential([Dense(32, "tanh"), Dense(1)], seed=3)
    model.compile(optimizer=optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    pred = model.predict(x).ravel()
    r2 = 1 - np.mean((pred - y) ** 2) / np.var(y)
    assert r2 > 0.9
    assert set(history.history) == {"loss", "mae"}
    loss, mae = model.evaluate(x, y)
    assert loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-4)
    assert mae == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-4)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_with_momentum_trains(xp: Any, nesterov: bool) -> None:
    x, y = blobs(300, 5, 2, seed=4)
    model = Sequential([Dense(8, "relu"), Dense(1, "sigmoid")], seed=4)
    model.compile(
        optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=nesterov),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.95


def test_default_optimizer_names_train(xp: Any) -> None:
    x, y = blobs(120, 3, 2, seed=5)
    for name in ("sgd", "adam", "rmsprop"):
        model = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")], seed=5)
        model.compile(optimizer=name, loss="bce")
        history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0], name


# -- History and validation --------------------------------------------------------------------
def test_history_keys_and_lengths(xp: Any) -> None:
    x, y = blobs(100, 4, 2, seed=5)
    model = small_binary_model()
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert history is model.history and isinstance(history, xpnn.History)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in history.history.values())
    assert all(type(v) is float for values in history.history.values() for v in values)
    assert history.epoch == [0, 1, 2]
    plain = model.fit(x, y, epochs=2, verbose=0).history
    assert list(plain) == ["loss", "accuracy"]


def _split_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = np.zeros(n)
    return x, y


@pytest.mark.parametrize(("n", "split", "train"), [(49, 0.2, 39), (50, 0.2, 40), (10, 0.3, 7)])
def test_validation_split_takes_the_last_part_before_shuffling(
    xp: Any, n: int, split: float, train: int
) -> None:
    """train = floor(n * (1 - split)); the held-out samples are the last ones, whatever the
    shuffle. The last part is made distinguishable: its targets are 1, the others 0."""
    assert train == math.floor(n * (1 - split))
    x, y = _split_data(n)
    y[train:] = 1
    model = Sequential([Input((2,)), Dense(1, "sigmoid")], seed=1)
    model.compile(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    first_train_loss = model.evaluate(x[:train], y[:train])[0]
    # one batch per epoch: its loss, computed before the update, is that of the training part
    history = model.fit(x, y, epochs=2, batch_size=64, validation_split=split, verbose=0).history
    assert model.optimizer.iterations == 2
    assert history["loss"][0] == pytest.approx(first_train_loss, rel=1e-6)
    # the validation figures are those of the last samples, evaluated after the epoch
    val_loss, val_acc = model.evaluate(x[train:], y[train:])
    assert history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    assert history["val_accuracy"][-1] == pytest.approx(val_acc)
    assert history["val_loss"][-1] != pytest.approx(
        model.evaluate(x[train - 1 :], y[train - 1 :])[0]
    )


def test_validation_data_overrides_the_split(xp: Any) -> None:
    x, y = blobs(60, 4, 2, seed=6)
    x_val, y_val = blobs(9, 4, 2, seed=7)
    model = small_binary_model()
    start = model.evaluate(x, y)[0]
    history = model.fit(
        x,
        y,
        epochs=1,
        batch_size=64,
        validation_split=0.5,
        validation_data=(x_val, y_val),
        verbose=0,
    ).history
    assert history["loss"][0] == pytest.approx(start, rel=1e-6)  # trained on all 60
    val_loss, val_acc = model.evaluate(x_val, y_val)
    assert history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)
    assert history["val_accuracy"][0] == pytest.approx(val_acc)


def test_validation_data_on_the_device(xp: Any) -> None:
    x, y = blobs(40, 4, 2, seed=8)
    model = small_binary_model()
    history = model.fit(
        x, y, epochs=2, validation_data=(dev(x[:10]), dev(y[:10].astype(np.float32))), verbose=0
    )
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[:10], y[:10])[0])


# -- batches and the epoch's figures ------------------------------------------------------------
def test_the_last_batch_may_be_smaller(xp: Any) -> None:
    x, y = blobs(70, 3, 2, seed=7)
    model = small_binary_model(features=3)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert model.optimizer.iterations == 2 * 3  # 32 + 32 + 6
    model.fit(x, y, epochs=1, batch_size=70, verbose=0)
    model.fit(x, y, epochs=1, batch_size=500, verbose=0)  # one batch of everything
    assert model.optimizer.iterations == 6 + 1 + 1


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def test_epoch_loss_is_the_batch_size_weighted_mean_of_batch_losses(xp: Any) -> None:
    """n = 70, batch 32: batches of 32, 32 and 6, each loss computed before its own update
    (a hand-written loop with plain SGD reproduces every number)."""
    x, y = blobs(70, 3, 2, seed=7)
    x64, y64 = x.astype(np.float64), y[:, None].astype(np.float64)
    model = Sequential([Input((3,)), Dense(1, "sigmoid")], seed=7, dtype="float64")
    model.compile(optimizer=optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    W, b = model.get_weights()
    lr, epochs = 0.5, 2
    expected_loss, expected_acc = [], []
    for _ in range(epochs):
        loss_sum = hits = 0.0
        for s in range(0, 70, 32):
            xb, yb = x64[s : s + 32], y64[s : s + 32]
            p = 1 / (1 + np.exp(-(xb @ W + b)))
            loss_sum += _bce(p, yb) * len(xb)
            hits += float(np.sum((p > 0.5) == yb))
            delta = (p - yb) / len(xb)  # dL/dz for sigmoid + BCE
            W, b = W - lr * xb.T @ delta, b - lr * delta.sum(0)
        expected_loss.append(loss_sum / 70)
        expected_acc.append(hits / 70)
    history = model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"], expected_loss, rtol=1e-12)
    np.testing.assert_allclose(history["accuracy"], expected_acc, rtol=1e-12)
    # ... which is not the loss of the weights at the end of the epoch
    assert history["loss"][-1] != pytest.approx(model.evaluate(x, y)[0], rel=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], W, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-12)


def test_shuffle_false_and_true_see_the_same_samples(xp: Any) -> None:
    """With one batch per epoch the order cannot matter: shuffling changes nothing."""
    x, y = blobs(30, 3, 2, seed=9)

    def run(shuffle: bool) -> list[float]:
        model = Sequential([Input((3,)), Dense(1, "sigmoid")], seed=9, dtype="float64")
        model.compile(optimizer=optimizers.SGD(0.3), loss="binary_crossentropy")
        return model.fit(x, y, epochs=3, batch_size=30, shuffle=shuffle, verbose=0).history["loss"]

    np.testing.assert_allclose(run(True), run(False), rtol=1e-12)


def test_shuffling_changes_the_batches(xp: Any) -> None:
    x, y = blobs(64, 3, 2, seed=9)

    def run(shuffle: bool) -> list[float]:
        model = Sequential([Input((3,)), Dense(1, "sigmoid")], seed=9)
        model.compile(optimizer=optimizers.SGD(0.3), loss="binary_crossentropy")
        return model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0).history["loss"]

    assert run(True) != run(False)


def test_fit_continues_from_where_it_stopped(xp: Any) -> None:
    x, y = blobs(50, 3, 2, seed=10)
    model = small_binary_model(features=3)
    first = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    again = model.fit(x, y, epochs=1, verbose=0).history["loss"]
    assert again[0] < first[0]  # the weights were kept, not re-initialised
    assert model.optimizer.iterations == 4 * 2


# -- initial_epoch and verbose -------------------------------------------------------------------
def test_initial_epoch(xp: Any, capsys: pytest.CaptureFixture) -> None:
    x, y = blobs(40, 3, 2, seed=8)
    model = small_binary_model(features=3)
    history = model.fit(x, y, epochs=4, initial_epoch=2, verbose=2)
    out = capsys.readouterr().out
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 2
    assert re.findall(r"Epoch (\d+)/(\d+)", out) == [("3", "4"), ("4", "4")]


def test_verbose_0_prints_nothing(xp: Any, capsys: pytest.CaptureFixture) -> None:
    x, y = blobs(40, 3, 2, seed=8)
    model = small_binary_model(features=3)
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y)
    model.predict(x)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_2_prints_one_line_per_epoch(xp: Any, capsys: pytest.CaptureFixture) -> None:
    x, y = blobs(40, 3, 2, seed=8)
    model = small_binary_model(features=3)
    history = model.fit(x, y, epochs=3, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for k, line in enumerate(lines):
        assert line.startswith(f"Epoch {k + 1}/3")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert f"{key}: {history.history[key][k]:.4f}" in line


def test_verbose_1_shows_progress(xp: Any, capsys: pytest.CaptureFixture) -> None:
    x, y = blobs(40, 3, 2, seed=8)
    model = small_binary_model(features=3)
    model.fit(x, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss" in out


# -- the training step's gradient against central differences of an independent network --------
def _ref_forward(weights: list[np.ndarray], layers: list[Dense], x: np.ndarray) -> np.ndarray:
    params, a = iter(weights), x
    for layer in layers:
        z = a @ next(params)
        if layer.use_bias:
            z = z + next(params)
        name = layer.activation.name
        if name == "relu":
            a = np.maximum(z, 0)
        elif name == "tanh":
            a = np.tanh(z)
        elif name == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif name == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = z
    return a


def _ref_loss(loss: str, a: np.ndarray, y: np.ndarray) -> float:
    if loss == "bce":
        return _bce(a, y)
    if loss == "bce_logits":
        return float(np.mean(np.maximum(a, 0) - a * y + np.log1p(np.exp(-np.abs(a)))))
    if loss == "mse":
        return float(np.mean((a - y) ** 2))
    if loss == "scce_logits":
        a = a - a.max(axis=1, keepdims=True)
        a = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    p = np.clip(a / a.sum(axis=1, keepdims=True), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


STEP_CASES = {
    "sigmoid/bce": (["tanh", "sigmoid"], [4, 1], "bce"),
    "linear/bce logits": (["relu", None], [4, 1], "bce_logits"),
    "softmax/scce": (["sigmoid", "softmax"], [4, 3], "scce"),
    "linear/scce logits": (["tanh", None], [4, 3], "scce_logits"),
    "relu-tanh/mse": (["relu", "tanh", None], [5, 4, 2], "mse"),
    "sigmoid/mse": (["tanh", "sigmoid"], [4, 2], "mse"),
}
LOSS_OBJECTS = {
    "bce": lambda: "binary_crossentropy",
    "bce_logits": lambda: losses.BinaryCrossentropy(from_logits=True),
    "scce": lambda: "sparse_categorical_crossentropy",
    "scce_logits": lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
    "mse": lambda: "mse",
}


@pytest.mark.parametrize("case", list(STEP_CASES))
@pytest.mark.parametrize("kernel", ["matrix", "loop"])
def test_one_sgd_step_follows_the_finite_difference_gradient(
    xp: Any, case: str, kernel: str
) -> None:
    """One full-batch SGD step with lr = 1 moves the weights by exactly minus the gradient:
    compare it with central differences of a plain-NumPy network (not xpnn's kernels)."""
    activations, units, loss = STEP_CASES[case]
    rng = np.random.default_rng(21)
    x = rng.normal(size=(12, 3))
    if loss in ("scce", "scce_logits"):
        y_fit = rng.integers(0, units[-1], 12)
        y_ref = y_fit
    elif loss == "mse":
        y_fit = y_ref = rng.normal(size=(12, units[-1]))
    else:
        y_fit = y_ref = rng.integers(0, 2, (12, 1)).astype(float)
    no_bias = case == "sigmoid/mse"  # one case without a first-layer bias
    layers = [
        Dense(u, a, use_bias=not (no_bias and i == 0))
        for i, (u, a) in enumerate(zip(units, activations))
    ]
    model = Sequential([Input((3,)), *layers], seed=21, dtype="float64", kernel=kernel)
    model.compile(optimizer=optimizers.SGD(1.0), loss=LOSS_OBJECTS[loss](), metrics=["accuracy"])
    w0 = model.get_weights()
    history = model.fit(x, y_fit, epochs=1, batch_size=12, shuffle=False, verbose=0).history
    step = [a - b for a, b in zip(w0, model.get_weights())]  # = lr * gradient

    def f(weights: list[np.ndarray]) -> float:
        return _ref_loss(loss, _ref_forward(weights, model.layers, x), y_ref)

    assert history["loss"][0] == pytest.approx(f(w0), rel=1e-12)
    h = 1e-6
    for k, w in enumerate(w0):
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            up = [v.copy() for v in w0]
            down = [v.copy() for v in w0]
            up[k][idx] += h
            down[k][idx] -= h
            numeric[idx] = (f(up) - f(down)) / (2 * h)
        np.testing.assert_allclose(step[k], numeric, rtol=1e-5, atol=1e-9, err_msg=f"weight {k}")


# -- transfers: the data goes up once, the figures come home once per epoch ----------------------
@pytest.fixture
def strict() -> Any:
    with xpnn.use_backend("strict") as backend:
        xpnn.transfer_counts(reset=True)
        yield backend


def _counts() -> dict[str, int]:
    return xpnn.transfer_counts(reset=True)


@pytest.mark.parametrize("metrics", [[], ["accuracy"]])
def test_fit_transfers_are_exactly_the_planned_ones(strict: Any, metrics: list[str]) -> None:
    x, y = blobs(96, 6, 2, seed=14)
    model = small_binary_model(features=6, metrics=metrics)
    _counts()
    epochs = 3
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)  # 12 steps an epoch
    # up: x and y once, one permutation an epoch; down: the epoch's figures, once an epoch
    assert _counts() == {"h2d": 2 + epochs, "d2h": epochs}


def test_fit_transfers_with_validation(strict: Any) -> None:
    x, y = blobs(96, 6, 2, seed=14)
    model = small_binary_model(features=6)
    _counts()
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    # validation x and y go up once; their figures come down once an epoch
    assert _counts() == {"h2d": 2 + 2 + 3, "d2h": 3 + 3}
    model.fit(x, y, epochs=2, batch_size=8, validation_data=(x[:10], y[:10]), verbose=0)
    assert _counts() == {"h2d": 2 + 2 + 2, "d2h": 2 + 2}


def test_fit_without_shuffle_sends_nothing_per_epoch(strict: Any) -> None:
    x, y = blobs(96, 6, 2, seed=14)
    model = small_binary_model(features=6)
    _counts()
    model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    assert _counts() == {"h2d": 2, "d2h": 4}
    model.fit(x, y, epochs=4, batch_size=8, shuffle=False, validation_split=0.25, verbose=0)
    assert _counts() == {"h2d": 4, "d2h": 8}


def test_fit_building_the_model_sends_the_weights_once(strict: Any) -> None:
    x, y = blobs(40, 6, 2, seed=14)
    model = Sequential([Dense(4, "relu"), Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    _counts()
    model.fit(x, y, epochs=2, verbose=0)
    assert _counts() == {"h2d": 1 + 2 + 2, "d2h": 2}  # the flat weight buffer, x, y, 2 perms


def test_fit_on_device_data_sends_only_the_permutations(strict: Any) -> None:
    x, y = blobs(40, 6, 2, seed=14)
    model = small_binary_model(features=6)
    X, Y = dev(x), dev(y.astype(np.float32))
    _counts()
    model.fit(X, Y, epochs=3, verbose=0)
    # down: one finiteness check of x, then the figures once an epoch
    assert _counts() == {"h2d": 3, "d2h": 1 + 3}


def test_verbose_2_and_callbacks_add_no_transfers(
    strict: Any, capsys: pytest.CaptureFixture
) -> None:
    x, y = blobs(64, 6, 2, seed=14)
    model = small_binary_model(features=6)
    seen: list[float] = []
    callbacks = [
        xpnn.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"])),
        xpnn.EarlyStopping(monitor="loss", patience=5),
    ]
    _counts()
    model.fit(x, y, epochs=3, batch_size=8, verbose=2, callbacks=callbacks)
    assert _counts() == {"h2d": 2 + 3, "d2h": 3}
    assert len(seen) == 3 and capsys.readouterr().out.count("Epoch") == 3


def test_predict_evaluate_and_call_transfers(strict: Any) -> None:
    x, y = blobs(100, 6, 2, seed=14)
    model = small_binary_model(features=6)
    _counts()
    model.predict(x, batch_size=16)  # 7 batches, gathered on the device, one copy home
    assert _counts() == {"h2d": 1, "d2h": 1}
    model.evaluate(x, y, batch_size=16)
    assert _counts() == {"h2d": 2, "d2h": 1}
    X = dev(x)
    _counts()
    out = model(X)
    assert _counts() == {"h2d": 0, "d2h": 0}
    host(out)
    assert _counts() == {"h2d": 0, "d2h": 1}
    model.get_weights()
    assert _counts() == {"h2d": 0, "d2h": 1}
