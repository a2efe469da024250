"""Sequential as a structure: building, names, summary, weights, predict / evaluate / call,
reproducibility, the kernel forms, dtypes and gradcheck.

Training behaviour (learning, fit's bookkeeping, transfers) is in test_training.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses, optimizers, training
from xpnn.backend import array_module

from helpers import blobs

dev, host = xpnn.to_device, xpnn.to_numpy


def seed_model(features: int = 400, seed: int | None = 0, **kwargs: Any) -> Sequential:
    """The seed network: 25-15-1, sigmoid everywhere."""
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


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


SEED_SHAPES = [(400, 25), (25,), (25, 15), (15,), (15, 1), (1,)]


# -- building -----------------------------------------------------------------------------------
def test_dense_is_one_class_everywhere() -> None:
    assert xpnn.Dense is xpnn.layers.Dense
    assert xpnn.Input is xpnn.layers.Input


def test_built_from_input(xp: Any) -> None:
    model = seed_model()
    assert model.built and model.input_dim == 400
    assert [w.shape for w in model.get_weights()] == SEED_SHAPES
    assert model.count_params() == 10_431
    # every weight lives on the active backend
    assert array_module(model.layers[0].kernel) is xp
    assert array_module(model.layers[2].bias) is xp


def test_built_on_first_predict(xp: Any) -> None:
    model = Sequential([Dense(4, "relu"), Dense(2, "softmax")], seed=0)
    assert not model.built
    out = model.predict(np.ones((3, 7), dtype=np.float32))
    assert model.built and model.input_dim == 7 and out.shape == (3, 2)
    assert [w.shape for w in model.get_weights()] == [(7, 4), (4,), (4, 2), (2,)]


def test_built_on_first_fit(xp: Any) -> None:
    x, y = blobs(20, 6, 2)
    model = Sequential([Dense(3, "tanh"), Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.count_params() == 6 * 3 + 3 + 3 + 1


@pytest.mark.parametrize("shape", [(None, 5), 5, (5,)])
def test_built_by_build(xp: Any, shape: Any) -> None:
    model = Sequential([Dense(3), Dense(1)], seed=0)
    model.build(shape)
    assert model.built and [w.shape for w in model.get_weights()] == [(5, 3), (3,), (3, 1), (1,)]


def test_add_without_input_builds_later() -> None:
    model = Sequential()
    model.add(Dense(3, "relu"))
    model.add(Dense(1))
    assert not model.built
    model.build((None, 4))
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 1), (1,)]


def test_add_after_an_input_builds_layer_by_layer() -> None:
    """Keras's idiom: with an Input the model is built as each layer is added."""
    model = Sequential([Input((4,))])
    assert not model.built
    model.add(Dense(3, "relu"))
    assert model.built and [w.shape for w in model.get_weights()] == [(4, 3), (3,)]
    first = model.get_weights()
    model.add(Dense(1))  # must not be refused because the model is already built
    w = model.get_weights()
    assert [a.shape for a in w] == [(4, 3), (3,), (3, 1), (1,)]
    np.testing.assert_array_equal(w[0], first[0])  # the first layer keeps its weights


def test_add_accepts_an_input_first() -> None:
    """``model = Sequential(); model.add(Input(shape=(16,))); model.add(Dense(8))`` is the
    example in Keras's Sequential docstring."""
    model = Sequential()
    model.add(Input(shape=(16,)))
    model.add(Dense(8))
    assert model.built and [w.shape for w in model.get_weights()] == [(16, 8), (8,)]


def test_build_again_with_the_same_shape_keeps_the_weights() -> None:
    """Keras builds a Sequential's layers once: a second build() leaves trained weights alone
    (and a different shape is refused, see test_model_errors.py)."""
    model = seed_model(features=6)
    before = model.get_weights()
    model.build((None, 6))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_layer_names_are_made_up_as_keras_does() -> None:
    model = Sequential([Dense(3), Dense(2), Dense(1)])
    assert [layer.name for layer in model.layers] == ["dense", "dense_1", "dense_2"]
    # an explicit name takes its place; made-up names skip the ones in use
    model = Sequential([Dense(3, name="dense"), Dense(2), Dense(1, name="out"), Dense(1)])
    assert [layer.name for layer in model.layers] == ["dense", "dense_1", "out", "dense_2"]


def test_duplicate_layer_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique; 'a' is used twice"):
        Sequential([Dense(3, name="a"), Dense(2, name="a")])
    layer = Dense(3)
    with pytest.raises(ValueError, match="used twice"):
        Sequential([layer, layer])  # the same instance twice


# -- summary -----------------------------------------------------------------------------------
def _summary(model: Sequential) -> list[str]:
    printed: list[str] = []
    model.summary(print_fn=printed.append)
    return "\n".join(printed).split("\n")


def test_summary_has_keras_layout() -> None:
    lines = _summary(seed_model())
    assert lines[0] == 'Model: "my_model"'
    header = next(line for line in lines if "Layer (type)" in line)
    assert header.index("Layer (type)") < header.index("Output Shape") < header.index("Param #")
    assert header.rstrip(" ┃").endswith("Param #")  # the count column is right-aligned
    rows = {
        "layer1 (Dense)": ("(None, 25)", "10,025"),
        "layer2 (Dense)": ("(None, 15)", "390"),
        "layer3 (Dense)": ("(None, 1)", "16"),
    }
    body = [line for line in lines if "(Dense)" in line]
    assert len(body) == 3
    for line, (name, (shape, count)) in zip(body, rows.items()):
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert cells == [name, shape, count]
    # the table is a rectangle: every line of the box is as wide as the header
    box = [line for line in lines if line and line[0] in "┏┃┡│├└"]
    assert len({len(line) for line in box}) == 1
    assert " Total params: 10,431 (40.75 KB)" in lines
    assert " Trainable params: 10,431 (40.75 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


def test_summary_prints_to_stdout_by_default_and_sizes_follow_the_dtype(
    capsys: pytest.CaptureFixture,
) -> None:
    seed_model(dtype="float64").summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "my_model"\n')
    assert "Total params: 10,431 (81.49 KB)" in out  # 8 bytes a number


def test_summary_of_an_unbuilt_model() -> None:
    text = "\n".join(_summary(Sequential([Dense(3), Dense(1)])))
    assert "dense (Dense)" in text and "dense_1 (Dense)" in text
    assert "Total params: 0" in text


# -- weights ------------------------------------------------------------------------------------
def test_weights_in_keras_order_and_layout(xp: Any) -> None:
    model = seed_model()
    w = model.get_weights()
    assert [a.shape for a in w] == SEED_SHAPES  # [W1, b1, W2, b2, W3, b3], W is (inputs, units)
    assert all(type(a) is np.ndarray and a.dtype == np.float32 for a in w)
    # glorot_uniform kernels within sqrt(6 / (fan_in + fan_out)), zero biases, as Keras
    for kernel, bias in zip(w[::2], w[1::2]):
        limit = np.sqrt(6 / sum(kernel.shape))
        assert np.abs(kernel).max() <= limit and kernel.std() > limit / 4
        assert not bias.any()
    # the layers' own kernel and bias are the same numbers
    for layer, kernel, bias in zip(model.layers, w[::2], w[1::2]):
        np.testing.assert_array_equal(host(layer.kernel), kernel)
        np.testing.assert_array_equal(host(layer.bias), bias)


def test_weights_without_bias(xp: Any) -> None:
    model = Sequential([Input((4,)), Dense(3, use_bias=False), Dense(2)], seed=0)
    assert [a.shape for a in model.get_weights()] == [(4, 3), (3, 2), (2,)]
    assert model.count_params() == 12 + 6 + 2


def test_set_weights_round_trip(xp: Any) -> None:
    model = seed_model(features=6)
    rng = np.random.default_rng(0)
    new = [rng.normal(size=a.shape) for a in model.get_weights()]  # float64 in, float32 kept
    model.set_weights(new)
    got = model.get_weights()
    for a, b in zip(got, new):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))
    np.testing.assert_array_equal(host(model.layers[1].kernel), new[2].astype(np.float32))
    # get_weights hands out copies: changing them leaves the model alone
    got[0][...] = 0
    assert model.get_weights()[0].any()


def test_set_weights_changes_predictions(xp: Any) -> None:
    model = Sequential([Input((2,)), Dense(1, "sigmoid")], seed=0)
    model.set_weights([np.array([[1.0], [-2.0]]), np.array([0.5])])
    x = np.array([[1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), sigmoid(np.array([[-0.5], [0.5]])), rtol=1e-6)


def test_layer_set_weights_writes_into_the_model(xp: Any) -> None:
    model = seed_model(features=3)
    kernel = np.full((25, 15), 0.25, dtype=np.float32)
    model.layers[1].set_weights([kernel, np.ones(15)])
    w = model.get_weights()
    np.testing.assert_array_equal(w[2], kernel)
    np.testing.assert_array_equal(w[3], np.ones(15, dtype=np.float32))
    assert [a.shape for a in model.layers[1].get_weights()] == [(25, 15), (15,)]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([np.ones((3, 4))], "expects a list of 4 arrays"),
        ("weights", "expects a list of 4 arrays"),
        (
            [np.ones((4, 3)), np.ones(4), np.ones((4, 1)), np.ones(1)],
            r"Weight 0 should have shape \(3, 4\), received shape \(4, 3\)",
        ),
        (
            [np.ones((3, 4)), np.ones(4), np.ones((4, 1)), np.ones((1, 1))],
            r"Weight 3 should have shape \(1,\), received shape \(1, 1\)",
        ),
        ([np.ones((3, 4)), np.ones(4), np.ones((4, 1)), np.array([np.nan])], "finite"),
    ],
)
def test_set_weights_checks_count_and_shapes(xp: Any, weights: Any, message: str) -> None:
    model = Sequential([Input((3,)), Dense(4, "relu"), Dense(1, "sigmoid")], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.set_weights(weights)
    for a, b in zip(model.get_weights(), before):  # nothing was half-written
        np.testing.assert_array_equal(a, b)


# -- predict, evaluate, call ------------------------------------------------------------------
def test_predict_returns_numpy_on_every_backend(xp: Any) -> None:
    x, _ = blobs(50, 400, 2)
    for dtype in ("float32", "float64"):
        out = seed_model(dtype=dtype).predict(x, batch_size=16)  # 4 batches, the last of 2
        assert type(out) is np.ndarray and out.shape == (50, 1) and out.dtype == dtype


def test_predict_matches_a_manual_numpy_forward_pass(xp: Any) -> None:
    x, _ = blobs(50, 400, 2, seed=10)
    model = seed_model()
    W1, b1, W2, b2, W3, b3 = model.get_weights()
    expected = sigmoid(sigmoid(sigmoid(x @ W1 + b1) @ W2 + b2) @ W3 + b3)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5)


def test_predict_of_other_activations_matches_numpy(xp: Any) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 4))
    model = Sequential(
        [Input((4,)), Dense(6, "relu"), Dense(5, "tanh"), Dense(3, "softmax")],
        seed=1,
        dtype="float64",
    )
    W1, b1, W2, b2, W3, b3 = model.get_weights()
    z = np.tanh(np.maximum(x @ W1 + b1, 0) @ W2 + b2) @ W3 + b3
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)


class _Sizes(xpnn.layers.Activation):
    """A linear Activation layer that notes the batch size of every forward."""

    def __init__(self, rowwise: bool) -> None:
        super().__init__(None)
        self.rowwise, self.sizes = rowwise, []

    def forward(self, x: Any, training: bool = False, ws: Any = None) -> Any:
        self.sizes.append(x.shape[0])
        return super().forward(x, training, ws)


@pytest.mark.parametrize("n", [1_025, 1_400, 2_049, 5_000, 60_000, 102_401])
def test_cpu_predict_blocks_are_even_and_aligned(n: int) -> None:
    starts = training._batch_starts(n, n, cpu=True)
    sizes = np.diff([*starts, n])
    assert starts[0] == 0 and all(s % 16 == 0 for s in starts)
    assert sizes.min() >= 3 * training.CPU_BLOCK_ROWS // 4 - 16
    assert sizes.max() <= 3 * training.CPU_BLOCK_ROWS // 2
    if len(sizes) > 1:  # all but the last a multiple of 16, within 16 rows of each other
        assert sizes[:-1].max() - sizes[:-1].min() <= 16
    # a batch size the user gives up to the block size, or off the CPU, is kept as given
    assert training._batch_starts(n, 512, cpu=True) == list(range(0, n, 512))
    assert training._batch_starts(n, n, cpu=False) == [0]
    assert training._batch_starts(1_000, 4_096, cpu=True) == [0]


def test_cpu_predict_runs_a_big_batch_in_blocks_of_rowwise_layers(xp: Any) -> None:
    x, _ = blobs(5_000, 20, 2, seed=4)
    rows = _Sizes(rowwise=True)
    model = Sequential([Input((20,)), Dense(64, "relu"), rows, Dense(3)], seed=0)
    blocked = model.predict(x, batch_size=5_000)
    if xp is np:  # five blocks of about 1,000 rows, starting at multiples of 16
        assert rows.sizes == [992, 1_008, 992, 1_008, 1_000]
    else:  # on the GPU (or the strict backend) one batch
        assert rows.sizes == [5_000]
    rows.rowwise, rows.sizes = False, []  # a layer that may mix rows: the batch as given
    whole = model.predict(x, batch_size=5_000)
    assert rows.sizes == [5_000]
    # the same rows to within float32 rounding: OpenBLAS may sum a row's products in another
    # order by where it falls (its SkylakeX kernels give these blocks the whole batch's bits;
    # its Haswell kernels, pinned on this project's machines, differ by up to 4e-6 here on
    # rows of 1,000 against 5,000), as between any two batch sizes; a row taken from the wrong
    # place would be off by the whole scale of the outputs
    np.testing.assert_allclose(blocked, whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max())
    W1, b1, W2, b2 = model.get_weights()
    np.testing.assert_allclose(blocked, np.maximum(x @ W1 + b1, 0) @ W2 + b2, rtol=1e-4, atol=1e-5)


def test_predict_keeps_its_buffers_only_while_they_fit_the_model(xp: Any) -> None:
    """predict keeps small batches' buffers for the next call (training._chain_for): new
    weights, a rebuilt model or another kernel form are seen all the same."""
    x, _ = blobs(300, 6, 2, seed=3)
    model = Sequential([Input((6,)), Dense(5, "relu"), Dense(2)], seed=0)

    def expected() -> np.ndarray:
        W1, b1, W2, b2, *rest = model.get_weights()
        out = np.maximum(x @ W1 + b1, 0) @ W2 + b2
        return 1 / (1 + np.exp(-(out @ rest[0] + rest[1]))) if rest else out

    for _ in range(2):
        np.testing.assert_allclose(model.predict(x, batch_size=64), expected(), rtol=1e-5)
    model.set_weights([w + 0.5 for w in model.get_weights()])
    np.testing.assert_allclose(model.predict(x, batch_size=64), expected(), rtol=1e-5)
    model.add(Dense(1, "sigmoid"))  # rebuilt: new buffers
    assert model.predict(x, batch_size=64).shape == (300, 1)
    np.testing.assert_allclose(model.predict(x, batch_size=64), expected(), rtol=1e-5)
    for layer in model.layers:  # the per-neuron loop form computes the same
        layer.kernel_form = "loop"
    np.testing.assert_allclose(model.predict(x[:70], batch_size=64), expected()[:70], rtol=1e-5)


def test_predict_from_several_threads_at_once() -> None:
    """Threads predicting with one model each get their own rows' outputs (a kept chain is
    used by one call at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    model = Sequential([Input((30,)), Dense(64, "relu"), Dense(3)], seed=0)
    inputs_ = [blobs(2_000, 30, 2, seed=s)[0] for s in range(8)]
    expected = [model.predict(x, batch_size=500) for x in inputs_]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            outs = list(pool.map(lambda x: model.predict(x, batch_size=500), inputs_))
            for out, want in zip(outs, expected):
                np.testing.assert_array_equal(out, want)


def test_calling_the_model_keeps_device_arrays_on_the_device(xp: Any) -> None:
    x, _ = blobs(12, 400, 2, seed=2)
    model = seed_model()
    X = dev(x)
    out = model(X)
    assert array_module(out) is xp and type(out) is type(X) and out.shape == (12, 1)
    np.testing.assert_allclose(host(out), model.predict(x), rtol=1e-6)


def test_evaluate_returns_a_float_without_metrics_and_a_list_with(xp: Any) -> None:
    x, y = blobs(30, 400, 2, seed=11)
    model = seed_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    loss = model.evaluate(x, y)
    assert type(loss) is float
    p = np.clip(model.predict(x).astype(np.float64)[:, 0], 1e-7, 1 - 1e-7)
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-5)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x, y, batch_size=7)
    assert isinstance(result, list) and len(result) == 2
    assert all(type(v) is float for v in result)
    assert result[0] == pytest.approx(loss, rel=1e-6)
    assert result[1] == pytest.approx(np.mean((p > 0.5) == y))
    assert model.evaluate(x, y, return_dict=True) == pytest.approx(
        {"loss": result[0], "accuracy": result[1]}
    )


def test_evaluate_with_device_data(xp: Any) -> None:
    x, y = blobs(30, 400, 2, seed=12)
    model = seed_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    on_host = model.evaluate(x, y)
    on_device = model.evaluate(dev(x), dev(y.astype(np.float32)))
    assert on_device == pytest.approx(on_host, rel=1e-6)


def test_logit_accuracy_thresholds_at_zero(xp: Any) -> None:
    model = Sequential([Input((1,)), Dense(1)], seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])  # output = x, a logit
    model.compile(
        optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    x = np.array([[-0.3], [0.2], [0.7]])  # classes 0, 1, 1
    assert model.evaluate(x, [0, 1, 1])[1] == pytest.approx(1.0)  # 0.5 would say 0, 0, 1


def test_accuracy_picks_the_right_kind(xp: Any) -> None:
    model = Sequential([Input((2,)), Dense(3)], seed=0)
    model.set_weights([np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.zeros(3)])
    x = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [-1.0, -1.0]])  # argmax: 0, 1, 0, 2
    model.compile(
        optimizer="sgd",
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    assert model.evaluate(x, [0, 1, 1, 2])[1] == pytest.approx(0.75)
    model.compile(
        optimizer="sgd",
        loss=losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    assert model.evaluate(x, np.eye(3)[[0, 1, 1, 2]])[1] == pytest.approx(0.75)


# -- reproducibility --------------------------------------------------------------------------
def test_same_seed_same_weights_and_history(xp: Any) -> None:
    x, y = blobs(100, 20, 2, seed=9)

    def run(seed: int) -> tuple[list[np.ndarray], dict[str, list[float]]]:
        model = seed_model(features=20, seed=seed)
        w0 = model.get_weights()
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return w0, model.fit(x, y, epochs=3, validation_split=0.2, verbose=0).history

    (w_a, h_a), (w_b, h_b), (w_c, h_c) = run(1), run(1), run(2)
    assert h_a == h_b  # identical, not merely close
    assert all(np.array_equal(p, q) for p, q in zip(w_a, w_b))
    assert not any(np.array_equal(p, q) for p, q in zip(w_a[::2], w_c[::2]))
    assert h_a["loss"] != h_c["loss"]


def test_same_seed_shuffles_identically_with_the_same_initial_weights(xp: Any) -> None:
    """The seed drives the shuffling too: two models with the same weights but different seeds
    see the batches in different orders."""
    x, y = blobs(64, 4, 2, seed=3)

    def run(seed: int) -> list[float]:
        model = Sequential([Input((4,)), Dense(1, "sigmoid")], seed=seed)
        model.set_weights([np.full((4, 1), 0.1), np.zeros(1)])
        model.compile(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy")
        return model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_set_random_seed_makes_unseeded_models_reproducible(xp: Any) -> None:
    x, y = blobs(40, 6, 2, seed=4)

    def two_models() -> list[tuple[list[np.ndarray], list[float]]]:
        out = []
        for _ in range(2):
            model = seed_model(features=6, seed=None)
            w0 = model.get_weights()
            model.compile(optimizer="adam", loss="binary_crossentropy")
            out.append((w0, model.fit(x, y, epochs=2, verbose=0).history["loss"]))
        return out

    xpnn.set_random_seed(123)
    first = two_models()
    xpnn.set_random_seed(123)
    again = two_models()
    for (w_a, h_a), (w_b, h_b) in zip(first, again):
        assert h_a == h_b and all(np.array_equal(p, q) for p, q in zip(w_a, w_b))
    # the two models in one run are not copies of each other
    assert not np.array_equal(first[0][0][0], first[1][0][0])
    xpnn.set_random_seed(124)
    assert not np.array_equal(two_models()[0][0][0], first[0][0][0])


def test_same_seed_same_start_on_every_backend(xp: Any) -> None:
    """Weights and permutations are drawn on the host, so every backend starts identically and
    trains to the same figures (up to float32 rounding of different kernels)."""
    x, y = blobs(60, 8, 3, seed=5)

    def run() -> tuple[list[np.ndarray], list[float]]:
        model = Sequential([Input((8,)), Dense(6, "relu"), Dense(3, "softmax")], seed=7)
        w0 = model.get_weights()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return w0, model.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]

    w, h = run()
    with xpnn.use_backend("numpy"):
        w_ref, h_ref = run()
    assert all(np.array_equal(p, q) for p, q in zip(w, w_ref))
    np.testing.assert_allclose(h, h_ref, rtol=1e-4)


# -- kernel forms and dtypes ---------------------------------------------------------------------
def _history_and_weights(
    x: np.ndarray, y: np.ndarray, loss: Any, output: Dense, **kwargs: Any
) -> tuple[dict[str, list[float]], list[np.ndarray]]:
    layer_form = kwargs.pop("layer_form", None)
    model = Sequential(
        [
            Dense(4, "tanh", kernel_form=layer_form),
            Dense(3, "relu", use_bias=False),
            output,
        ],
        seed=12,
        dtype="float64",
        **kwargs,
    )
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    return history.history, model.get_weights()


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("sparse_categorical_crossentropy", "softmax"),
        (losses.SparseCategoricalCrossentropy(from_logits=True), None),
        ("mse", "sigmoid"),  # no output shortcut: dL/da chained through the activation
    ],
)
def test_loop_kernels_train_exactly_like_matrix_kernels(
    xp: Any, loss: Any, activation: str | None
) -> None:
    x, y = blobs(28, 5, 3, seed=12)
    if loss == "mse":
        y = np.eye(3)[y]
    matrix, w_matrix = _history_and_weights(x, y, loss, Dense(3, activation))
    for kwargs in ({"kernel": "loop"}, {"layer_form": "loop"}):
        history, weights = _history_and_weights(x, y, loss, Dense(3, activation), **kwargs)
        assert history.keys() == matrix.keys()
        for key in matrix:
            np.testing.assert_allclose(history[key], matrix[key], rtol=1e-10, atol=1e-12)
        for a, b in zip(weights, w_matrix):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_kernel_form_choice_per_layer_and_model() -> None:
    model = Sequential(
        [Dense(2, kernel_form="loop"), Dense(2, kernel_form="matrix"), Dense(1)], kernel="loop"
    )
    assert [layer.kernel_form for layer in model.layers] == ["loop", "matrix", None]
    assert model.kernel == "loop"
    assert model.get_config()["layers"][0]["kernel_form"] == "loop"


def test_float64_and_float32_agree(xp: Any) -> None:
    x, y = blobs(200, 20, 2, seed=13)
    histories, weights = [], []
    for dtype in ("float32", "float64"):
        model = seed_model(features=20, dtype=dtype)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x, y, epochs=4, verbose=0).history)
        weights.append(model.get_weights())
        assert model.get_weights()[0].dtype == dtype
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-4)
    assert histories[0]["accuracy"] == pytest.approx(histories[1]["accuracy"], abs=0.011)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


# -- gradcheck ------------------------------------------------------------------------------------
def _gradcheck_cases(rng: np.random.Generator) -> list[tuple[str, list[Dense], Any, np.ndarray]]:
    labels, binary = rng.integers(0, 3, 8), rng.integers(0, 2, (8, 1)).astype(float)
    return [
        ("sigmoid/bce", [Dense(5, "tanh"), Dense(1, "sigmoid")], "binary_crossentropy", binary),
        (
            "softmax/scce",
            [Dense(5, "relu"), Dense(3, "softmax")],
            "sparse_categorical_crossentropy",
            labels,
        ),
        (
            "linear/scce logits, no bias",
            [Dense(5, "sigmoid", use_bias=False), Dense(3, use_bias=False)],
            losses.SparseCategoricalCrossentropy(from_logits=True),
            labels,
        ),
        (
            "linear/bce logits",
            [Dense(5, "relu"), Dense(4, "tanh"), Dense(1)],
            losses.BinaryCrossentropy(from_logits=True),
            binary,
        ),
        (
            "multi-label sigmoid/bce",
            [Dense(5, "relu"), Dense(3, "sigmoid")],
            "binary_crossentropy",
            rng.integers(0, 2, (8, 3)),
        ),
        (
            "softmax/cce",
            [Dense(5, "tanh"), Dense(3, "softmax")],
            "categorical_crossentropy",
            np.eye(3)[labels],
        ),
        (
            "linear/mse",
            [Dense(5, "tanh"), Dense(4, "relu"), Dense(2)],
            "mse",
            rng.normal(size=(8, 2)),
        ),
        (
            "sigmoid/mse",
            [Dense(5, "relu", use_bias=False), Dense(2, "sigmoid")],
            "mse",
            rng.uniform(size=(8, 2)),
        ),
        ("softmax/mse", [Dense(5, "tanh"), Dense(3, "softmax")], "mse", np.eye(3)[labels]),
    ]


@pytest.mark.parametrize("case", range(9))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradcheck_on_several_architectures(xp: Any, case: int, dtype: str) -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(8, 4))
    name, layers, loss, y = _gradcheck_cases(rng)[case]
    model = Sequential(layers, seed=15, dtype=dtype)
    model.compile(optimizer="adam", loss=loss)
    report = xpnn.gradcheck(model, x, y)
    assert list(report) == [layer.name for layer in model.layers]
    for layer, entry in zip(model.layers, report.values()):
        assert set(entry) == {"kernel", "loop_vs_matrix"} | ({"bias"} if layer.use_bias else set())
        assert entry["kernel"] < 1e-5 and entry.get("bias", 0.0) < 1e-5, (name, report)
        assert entry["loop_vs_matrix"] < 1e-10, (name, report)


def test_gradcheck_needs_a_compiled_model() -> None:
    with pytest.raises(RuntimeError, match=r"compile\(\) before gradcheck\(\)"):
        xpnn.gradcheck(Sequential([Dense(1)]), np.ones((2, 2)), np.ones(2))
