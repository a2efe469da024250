"""Sequential end to end: learning, fit's bookkeeping, weights, reproducibility, transfers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses, optimizers

dev, host = xpnn.to_device, xpnn.to_numpy


def blobs(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, features)) * 6
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, features))).astype(np.float32), y


def seed_model(features: int = 20, seed: int = 0, **kwargs: Any) -> Sequential:
    return Sequential(
        [
            Input(shape=(features,)),
            Dense(25, activation="sigmoid", name="layer1"),
            Dense(15, activation="sigmoid", name="layer2"),
            Dense(1, activation="sigmoid", name="layer3"),
        ],
        name="my_model",
        seed=seed,
        **kwargs,
    )


# -- learning ----------------------------------------------------------------------------------
def test_seed_network_learns_a_separable_problem(xp: Any) -> None:
    x, y = blobs(400, 20, 2)
    model = seed_model()
    model.compile(
        optimizer=optimizers.Adam(learning_rate=1e-2),
        loss=losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    assert model.evaluate(x, y)[1] >= 0.95


@pytest.mark.parametrize("from_logits", [False, True])
def test_softmax_network_learns_three_classes(xp: Any, from_logits: bool) -> None:
    x, y = blobs(300, 4, 3, seed=1)
    model = Sequential([Dense(16, "relu"), Dense(3, None if from_logits else "softmax")], seed=1)
    model.compile(
        optimizer="adam",
        metrics=["accuracy"],
        loss=losses.SparseCategoricalCrossentropy(from_logits=from_logits),
    )
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert model.evaluate(x, y)[1] >= 0.95


def test_multilabel_network_learns(xp: Any) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5], axis=1).astype(int)
    model = Sequential([Dense(24, "tanh"), Dense(3, "sigmoid")], seed=2)
    model.compile(optimizer=optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert model.evaluate(x, y)[1] >= 0.93


def test_linear_mse_network_fits_a_regression(xp: Any) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(400, 3)).astype(np.float32)
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2 - 0.5 * x[:, 2]
    model = Sequential([Dense(32, "tanh"), Dense(1)], seed=3)
    model.compile(optimizer=optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    pred = model.predict(x).ravel()
    r2 = 1 - np.mean((pred - y) ** 2) / np.var(y)
    assert r2 > 0.9


def test_sgd_with_momentum_trains(xp: Any) -> None:
    x, y = blobs(300, 5, 2, seed=4)
    model = Sequential([Dense(8, "relu"), Dense(1, "sigmoid")], seed=4)
    model.compile(
        optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.95


# -- fit's bookkeeping -------------------------------------------------------------------------
def test_history_keys_lengths_and_validation_split_takes_the_last_part(xp: Any) -> None:
    x, y = blobs(100, 4, 2, seed=5)
    model = Sequential([Dense(4, "relu"), Dense(1, "sigmoid")], seed=5)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values()) and history.epoch == [0, 1, 2]
    # the validation figures are those of the last 25 samples, evaluated after the epoch
    val = model.evaluate(x[75:], y[75:])
    assert history.history["val_loss"][-1] == pytest.approx(val[0], rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val[1])


def test_validation_data_overrides_split(xp: Any) -> None:
    x, y = blobs(60, 4, 2, seed=6)
    model = Sequential([Dense(1, "sigmoid")], seed=6)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(
        x, y, epochs=1, validation_split=0.5, validation_data=(x[:7], y[:7]), verbose=0
    )
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[:7], y[:7]), rel=1e-5)


def test_epoch_loss_is_the_batch_size_weighted_mean_of_batch_losses(xp: Any) -> None:
    """n = 70, batch 32: batches of 32, 32 and 6, each loss computed before its update."""
    x, y = blobs(70, 3, 2, seed=7)
    model = Sequential([Input((3,)), Dense(1, "sigmoid")], seed=7, dtype="float64")
    model.compile(optimizer=optimizers.SGD(0.5), loss="binary_crossentropy")
    W, b = model.get_weights()
    expected, lr = 0.0, 0.5
    for s in range(0, 70, 32):
        xb, yb = x[s : s + 32].astype(np.float64), y[s : s + 32, None]
        p = 1 / (1 + np.exp(-(xb @ W + b)))
        expected += np.mean(-(yb * np.log(p) + (1 - yb) * np.log(1 - p))) * len(xb)
        delta = (p - yb) / len(xb)
        W, b = W - lr * xb.T @ delta, b - lr * delta.sum(0)
    history = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected / 70, rel=1e-10)
    np.testing.assert_allclose(model.get_weights()[0], W, rtol=1e-10)


def test_initial_epoch_and_verbose_output(xp: Any, capsys: pytest.CaptureFixture) -> None:
    x, y = blobs(40, 3, 2, seed=8)
    model = Sequential([Dense(1, "sigmoid")], seed=8)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=4, initial_epoch=2, verbose=2)
    out = capsys.readouterr().out
    assert history.epoch == [2, 3]
    assert "Epoch 3/4" in out and "Epoch 4/4" in out and "Epoch 1/4" not in out
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


# -- reproducibility ----------------------------------------------------------------------------
def test_same_seed_same_weights_and_history(xp: Any) -> None:
    x, y = blobs(100, 20, 2, seed=9)

    def run(seed: int) -> tuple[list, dict]:
        model = seed_model(seed=seed)
        w0 = model.get_weights()
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return w0, model.fit(x, y, epochs=3, validation_split=0.2, verbose=0).history

    (w_a, h_a), (w_b, h_b), (w_c, _) = run(1), run(1), run(2)
    assert h_a == h_b
    assert all(np.array_equal(p, q) for p, q in zip(w_a, w_b))
    assert not np.array_equal(w_a[0], w_c[0])
    xpnn.set_random_seed(123)
    first = seed_model(seed=None).get_weights()
    xpnn.set_random_seed(123)
    assert np.array_equal(first[0], seed_model(seed=None).get_weights()[0])


# -- weights, predict, evaluate, call ----------------------------------------------------------
def test_weights_in_keras_order_and_layout(xp: Any) -> None:
    model = seed_model(features=400)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(400, 25), (25,), (25, 15), (15,), (15, 1), (1,)]
    assert model.count_params() == 10431
    # glorot_uniform bounds and zero biases, as Keras
    limit = np.sqrt(6 / (400 + 25))
    w = model.get_weights()
    assert np.abs(w[0]).max() <= limit and not w[1].any()
    new = [np.full(s, 0.01 * (i + 1), dtype=np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    assert all(np.array_equal(p, q) for p, q in zip(model.get_weights(), new))


def test_predict_matches_a_manual_forward_pass(xp: Any) -> None:
    x, _ = blobs(50, 20, 2, seed=10)
    model = seed_model()
    W1, b1, W2, b2, W3, b3 = model.get_weights()

    def sig(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    expected = sig(sig(sig(x @ W1 + b1) @ W2 + b2) @ W3 + b3)
    got = model.predict(x, batch_size=16)
    assert isinstance(got, np.ndarray) and got.shape == (50, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    out = model(dev(x))
    assert type(out) is type(dev(x))  # model(x) stays on the device
    np.testing.assert_allclose(host(out), expected, rtol=1e-5)


def test_evaluate_returns_a_float_without_metrics_and_a_list_with(xp: Any) -> None:
    x, y = blobs(30, 20, 2, seed=11)
    model = seed_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert isinstance(model.evaluate(x, y), float)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x, y)
    assert isinstance(result, list) and len(result) == 2
    assert set(model.evaluate(x, y, return_dict=True)) == {"loss", "accuracy"}


def test_logit_accuracy_thresholds_at_zero(xp: Any) -> None:
    model = Sequential([Input((1,)), Dense(1)], seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])  # output = x
    model.compile(
        optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    x = np.array([[-0.3], [0.2], [0.7]])  # logits: classes 0, 1, 1
    assert model.evaluate(x, [0, 1, 1])[1] == pytest.approx(1.0)  # 0.5 would say 0, 0, 1


# -- kernel forms and dtypes ---------------------------------------------------------------------
def test_loop_kernels_train_exactly_like_matrix_kernels(xp: Any) -> None:
    x, y = blobs(24, 5, 3, seed=12)

    def run(**kwargs: Any) -> dict:
        model = Sequential(
            [Dense(4, "tanh", **kwargs.pop("layer", {})), Dense(3, "softmax")],
            seed=12,
            dtype="float64",
            **kwargs,
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model.fit(x, y, epochs=2, batch_size=8, verbose=0).history

    matrix = run()
    np.testing.assert_allclose(run(kernel="loop")["loss"], matrix["loss"], rtol=1e-10)
    np.testing.assert_allclose(
        run(layer={"kernel_form": "loop"})["loss"], matrix["loss"], rtol=1e-10
    )


def test_float64_and_float32_agree(xp: Any) -> None:
    x, y = blobs(200, 20, 2, seed=13)
    histories = []
    for dtype in ("float32", "float64"):
        model = seed_model(dtype=dtype)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        histories.append(model.fit(x, y, epochs=3, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)


# -- transfers: the data goes up once, the logs come home once per epoch -----------------------
def test_fit_makes_no_transfers_per_step() -> None:
    x, y = blobs(96, 6, 2, seed=14)
    with xpnn.use_backend("strict"):
        model = Sequential([Input((6,)), Dense(4, "relu"), Dense(1, "sigmoid")], seed=14)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        xpnn.transfer_counts(reset=True)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)  # 12 steps per epoch
        # up: x and y once, plus one permutation per epoch; down: the logs, once per epoch
        assert xpnn.transfer_counts(reset=True) == {"h2d": 2 + 3, "d2h": 3}
        model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, shuffle=False, verbose=0)
        # validation x and y go up once too, and their logs come down once per epoch
        assert xpnn.transfer_counts(reset=True) == {"h2d": 4, "d2h": 2 * 2}


def test_summary_is_laid_out_as_keras(capsys: pytest.CaptureFixture) -> None:
    seed_model(features=400).summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "my_model"')
    for fragment in (
        "Layer (type)",
        "Output Shape",
        "Param #",
        "layer1 (Dense)",
        "(None, 25)",
        "10,025",
        "Total params: 10,431 (40.75 KB)",
        "Trainable params: 10,431",
    ):
        assert fragment in out


def test_dense_is_the_same_class_everywhere() -> None:
    assert xpnn.Dense is xpnn.layers.Dense
    model = Sequential([Dense(3), Dense(2), Dense(1)])
    assert [layer.name for layer in model.layers] == ["dense", "dense_1", "dense_2"]
    with pytest.raises(ValueError, match="unique"):
        Sequential([Dense(3, name="a"), Dense(2, name="a")])


def test_gradcheck_on_several_architectures(xp: Any) -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(8, 4))
    cases = [
        ([Dense(5, "tanh"), Dense(1, "sigmoid")], "binary_crossentropy", rng.integers(0, 2, 8)),
        (
            [Dense(5, "relu"), Dense(3, "softmax")],
            "sparse_categorical_crossentropy",
            rng.integers(0, 3, 8),
        ),
        (
            [Dense(5, "sigmoid", use_bias=False), Dense(3)],
            losses.SparseCategoricalCrossentropy(from_logits=True),
            rng.integers(0, 3, 8),
        ),
        ([Dense(5, "tanh"), Dense(2)], "mse", rng.normal(size=(8, 2))),
    ]
    for layers, loss, y in cases:
        model = Sequential(layers, seed=15, dtype="float64")
        model.compile(optimizer="adam", loss=loss)
        report = xpnn.gradcheck(model, x, y)
        for entry in report.values():
            assert entry["kernel"] < 1e-5 and entry.get("bias", 0.0) < 1e-5, report
            assert entry["loop_vs_matrix"] < 1e-10, report
