"""The compiled Dense stack: ``fused.cpu.matmul`` is NumPy's ``matmul`` to the last bit,
training and inference through ``DenseStack`` give the layer-by-layer ``Chain``'s numbers
exactly, and whatever the stack cannot take goes through the plain ``Chain``."""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

import numpy as np
import pytest

from xpnn import (
    Dense,
    Input,
    Sequential,
    callbacks,
    losses,
    metrics,
    optimizers,
    schedules,
    training,
)
from xpnn.callbacks import ProgressBar
from xpnn.fused import blas, cpu, team
from xpnn.layers import BatchNormalization, Chain, DenseStack, Dropout, chain
from xpnn.layers import dense as dense_module

pytestmark = pytest.mark.skipif(
    not cpu.STACK_ENABLED,
    reason="the compiled Dense stack needs numba and NumPy's own scipy-openblas",
)


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal to the last bit (``-0.0`` and ``+0.0`` differ), with the same dtype and shape."""
    assert got.dtype == want.dtype and got.shape == want.shape
    got_b, want_b = (
        np.ascontiguousarray(got).view(np.uint8),
        np.ascontiguousarray(want).view(np.uint8),
    )
    assert np.array_equal(got_b, want_b), f"largest difference {np.abs(got - want).max()}"


# -- cpu.matmul -------------------------------------------------------------------------------
# (m, k, p): dot (1x1), gemv both ways, the outer-product and 1-wide noblas loops, empty, gemm
SHAPES = [(1, 1, 1), (1, 7, 1), (1, 7, 5), (6, 7, 1), (6, 1, 5), (1, 1, 5), (6, 1, 1)]
SHAPES += [(0, 3, 2), (2, 0, 3), (2, 3, 4), (33, 17, 9), (130, 257, 65)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("zeros", [False, True], ids=["random", "signed-zeros"])
def test_matmul_is_numpys_to_the_bit(
    dtype: Any, ta: bool, tb: bool, shape: Any, zeros: bool
) -> None:
    m, k, p = shape
    rng = np.random.default_rng([m, k, p, ta, tb])
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, p)).astype(dtype)
    if zeros:  # products 0 * (negative) are -0.0: NumPy's loop starts each sum at +0.0
        a[: max(m // 2, 1)] = 0
        b = -np.abs(b) - 1
    a_arg = np.ascontiguousarray(a.T) if ta else a
    b_arg = np.ascontiguousarray(b.T) if tb else b
    want = np.matmul(a_arg.T if ta else a_arg, b_arg.T if tb else b_arg)
    out = np.full((m, p), np.nan, dtype=dtype)
    cpu.matmul(a_arg, ta, b_arg, tb, out)
    same_bits(out, want)


def test_blas_is_the_openblas_numpy_loaded() -> None:
    """Thread limits set for NumPy (threadpoolctl) must reach the library blas.py calls."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    class DlInfo(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p)]
        _fields_ += [("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]

    info = DlInfo()
    dladdr = getattr(ctypes.CDLL(None), "dladdr", None)
    if dladdr is None or not dladdr(ctypes.c_void_p(blas.ADDRESSES["dgemm"]), ctypes.byref(info)):
        pytest.skip("dladdr is not available here")
    path = os.path.realpath(info.fname.decode())
    loaded = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    assert path in {os.path.realpath(i["filepath"]) for i in loaded}
    get_threads = ctypes.CDLL(path).scipy_openblas_get_num_threads64_  # the same instance
    (reported,) = [i["num_threads"] for i in loaded if os.path.realpath(i["filepath"]) == path]
    assert get_threads() == reported
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert get_threads() == 1
    assert get_threads() == reported


# -- training and inference: the stack against the layer-by-layer chain --------------------------
RNG = np.random.default_rng(7)
X = RNG.normal(size=(65, 6)).astype(np.float32)  # batches of 16 leave a last batch of 1
X[3] = 0  # a row of zeros: products of zeros
WEIGHTS = np.random.default_rng(8).uniform(0.2, 2.0, size=X.shape[0])
TARGETS = {
    "binary": (X[:, 0] + X[:, 1] > 0).astype(np.float32),
    "classes": np.argmax(X[:, :3], axis=1),
    "regression": X[:, :2] * 2 + 0.5,
    "positive": np.abs(X[:, :1]),
    "one-hot": np.eye(3, dtype=np.float32)[np.argmax(X[:, :3], axis=1)],
}
BCE, CCE = "binary_crossentropy", "categorical_crossentropy"
SCCE = "sparse_categorical_crossentropy"
BCE_LOGITS = functools.partial(losses.BinaryCrossentropy, from_logits=True)
SCCE_LOGITS = functools.partial(losses.SparseCategoricalCrossentropy, from_logits=True)
CCE_LOGITS = functools.partial(losses.CategoricalCrossentropy, from_logits=True)
# the compiled training passes, one per fused loss kernel, and the cases that use one
TRAIN_KERNELS = ("bce_sigmoid", "bce_logits", "softmax_ce_sparse", "softmax_ce", "mse")
ONE_CALL = {"sigmoid-bce", "logits-bce", "logits-scce", "logits-cce", "single-layer"}
ONE_CALL |= {"softmax-scce", "softmax-cce", "hidden-softmax", "linear-mse"}
PER_STEP = {"linear-mse"}  # its metric (mae) is not added up in the pass: a call per step
# hidden activations, (output activation, units), loss, metrics, targets
CASES = {
    "sigmoid-bce": (["relu", "sigmoid"], ("sigmoid", 1), BCE, ["accuracy"], "binary"),
    "logits-bce": (["sigmoid"], ("linear", 1), BCE_LOGITS, ["accuracy"], "binary"),
    "logits-scce": (["relu", "linear"], ("linear", 3), SCCE_LOGITS, ["accuracy"], "classes"),
    "logits-cce": (["sigmoid", "relu"], ("linear", 3), CCE_LOGITS, ["accuracy"], "one-hot"),
    "softmax-scce": (["relu", "sigmoid"], ("softmax", 3), SCCE, ["accuracy"], "classes"),
    "softmax-cce": (["relu", "relu"], ("softmax", 3), CCE, ["accuracy"], "one-hot"),
    "hidden-softmax": (["softmax", "relu"], ("linear", 3), SCCE_LOGITS, ["accuracy"], "classes"),
    "softmax-mse": (["sigmoid", "relu"], ("softmax", 3), "mse", None, "one-hot"),
    "linear-mse": (["linear", "relu"], ("linear", 2), "mse", ["mae"], "regression"),
    "relu-mae": (["sigmoid", "relu"], ("relu", 1), "mae", None, "positive"),
    "single-layer": ([], ("sigmoid", 1), BCE, ["accuracy"], "binary"),
}


def spy(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Chain], dict[str, list[Any]]]:
    """Every chain training.py makes from now on (the step's and inference's), and the first
    argument of every call of the compiled ``cpu.stack_forward`` and ``cpu.stack_backward``."""
    made: list[Chain] = []
    real_chain = training.chain

    def recording(*args: Any, **kwargs: Any) -> Chain:
        made.append(real_chain(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(training, "chain", recording)
    calls: dict[str, list[Any]] = {"forward": [], "backward": [], "train": []}
    keys = {"stack_forward": "forward", "stack_backward": "backward"}
    keys.update((f"stack_train_{loss}", "train") for loss in TRAIN_KERNELS)

    class Spy:
        """fused.cpu as layers/dense.py sees it, the stack kernels counted. (The module itself
        stays as it is: the compiled kernels look each other up in it.)"""

        def __getattr__(self, name: str) -> Any:
            real = getattr(cpu, name)
            if name not in keys:
                return real
            seen = calls[keys[name]]
            return lambda a, *rest: seen.append(a) or real(a, *rest)

    monkeypatch.setattr(dense_module, "cpu", Spy())
    return made, calls


def run(
    layers: list[Any],
    loss: Any,
    metrics: Any,
    y: np.ndarray,
    *,
    x: np.ndarray = X,
    w: Any = None,
    dtype: str = "float32",
    kernel: str = "matrix",
) -> tuple[Sequential, dict[str, list[float]], np.ndarray]:
    model = Sequential([Input((x.shape[1],)), *layers], seed=3, dtype=dtype, kernel=kernel)
    model.compile(optimizer="adam", loss=loss() if callable(loss) else loss, metrics=metrics)
    history = model.fit(
        x, y, batch_size=16, epochs=3, verbose=0, sample_weight=w, validation_data=(x[:20], y[:20])
    )
    return model, history.history, model.predict(x, batch_size=16)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_stack_trains_exactly_as_the_chain(
    monkeypatch: pytest.MonkeyPatch, case: str, dtype: str, use_bias: bool, weighted: bool
) -> None:
    hidden, (out_act, units), loss, metrics, target = CASES[case]
    w = WEIGHTS if weighted else None
    results = {}
    for enabled, kind in [(True, DenseStack), (False, Chain)]:
        monkeypatch.setattr(cpu, "STACK_ENABLED", enabled)
        made, calls = spy(monkeypatch)
        layers = [Dense(n, act, use_bias=use_bias) for n, act in zip([7, 5], hidden)]
        layers.append(Dense(units, out_act, use_bias=use_bias))
        model, history, predicted = run(layers, loss, metrics, TARGETS[target], w=w, dtype=dtype)
        spaces = model._trainer.spaces
        assert sorted(b for b, _ in spaces) == [1, 16]
        assert all(type(ws.chain) is kind for ws in spaces.values())
        assert {c.training for c in made} == {True, False} and all(type(c) is kind for c in made)
        # every batch compiled: 3 epochs of 5 steps, 2 validation batches per epoch, 5 predicted;
        # where the loss has a fused kernel and no sample weights, the compiled pass takes the
        # whole step (gather, forward, metrics, loss, backward, Adam): one call for each
        # epoch's 4 full batches, one for its last (one per step with a metric it cannot add)
        counts = [len(calls[k]) for k in ("forward", "backward", "train")]
        one_call = case in ONE_CALL and not weighted
        expected = [6 + 5, 0, 3 * (5 if case in PER_STEP else 2)]
        expected = expected if one_call else [15 + 6 + 5, 15, 0]
        assert counts == (expected if enabled else [0, 0, 0])
        if enabled:
            assert all((ws.train is not None) == one_call for ws in spaces.values())
        results[enabled] = model.get_weights(), history, predicted
    (w_on, h_on, p_on), (w_off, h_off, p_off) = results[True], results[False]
    assert all(np.isfinite(v).all() for v in h_on.values())
    assert h_on == h_off
    for got, want in zip(w_on, w_off, strict=True):
        same_bits(got, want)
    same_bits(p_on, p_off)


# optimizers whose whole step the compiled pass makes itself (plain Adam: fused_update), and
# others whose step runs after each call of it
OPTIMIZERS = {
    "adam": (lambda: optimizers.Adam(0.01), True),
    "adam-schedule": (
        lambda: optimizers.Adam(schedules.ExponentialDecay(0.01, 3, 0.5)),
        False,
    ),
    "adam-clipnorm": (lambda: optimizers.Adam(0.01, clipnorm=0.1), False),
    "adamw": (lambda: optimizers.AdamW(0.01), False),
    "sgd-momentum": (lambda: optimizers.SGD(0.1, momentum=0.9), False),
}


def case_model(case: str, optimizer: Any, metrics: Any = None) -> Sequential:
    """The CASES model ``case`` (hidden layers of 7 and 5 units), compiled."""
    hidden, (out_act, units), loss, _, _ = CASES[case]
    layers = [Dense(n, act) for n, act in zip([7, 5], hidden)] + [Dense(units, out_act)]
    model = Sequential([Input((6,)), *layers], seed=3)
    model.compile(optimizer=optimizer, loss=loss() if callable(loss) else loss, metrics=metrics)
    return model


def optimizer_state(opt: Any) -> list[np.ndarray]:
    return [np.array(opt.iterations), *(np.array(v) for v in opt.state.values())]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("case", sorted(ONE_CALL))
def test_whole_epochs_run_in_one_call_with_the_chains_numbers(
    monkeypatch: pytest.MonkeyPatch, case: str, name: str
) -> None:
    """With nothing to do between steps (no metrics, batch hooks or progress bar), an epoch's
    full batches take one call of the compiled pass when it makes the optimizer's step too,
    one call per step when the step runs after it; the numbers are the chain's either way."""
    make, whole = OPTIMIZERS[name]
    results = {}
    for enabled in (True, False):
        monkeypatch.setattr(cpu, "STACK_ENABLED", enabled)
        _, calls = spy(monkeypatch)
        model = case_model(case, make())
        assert (model.optimizer.fused_update(model._params, model._grads) is not None) == whole
        history = model.fit(X, TARGETS[CASES[case][4]], batch_size=16, epochs=3, verbose=0)
        # 3 epochs of 4 full batches and a last one of 1
        assert len(calls["train"]) == (0 if not enabled else 3 * 2 if whole else 3 * 5)
        results[enabled] = history.history, model.get_weights(), optimizer_state(model.optimizer)
    (h_on, w_on, s_on), (h_off, w_off, s_off) = results[True], results[False]
    assert np.isfinite(h_on["loss"]).all() and h_on == h_off
    for got, want in zip(w_on + s_on, w_off + s_off, strict=True):
        same_bits(got, want)


# metrics with the number of calls of the compiled pass they leave (3 epochs of 5 batches):
# those it adds up itself keep each epoch's full batches in one call; any other, a call a step
PASS_METRICS = {
    "accuracy": (["accuracy"], 3 * 2),
    "threshold": ([metrics.BinaryAccuracy(threshold=0.7)], 3 * 2),
    "and-auc": (["accuracy", "auc"], 3 * 5),
    "subclass": ([type("MyAccuracy", (metrics.BinaryAccuracy,), {})()], 3 * 5),
}


@pytest.mark.parametrize("name", list(PASS_METRICS))
@pytest.mark.parametrize("case", ["sigmoid-bce", "logits-bce", "logits-scce", "logits-cce"])
def test_metrics_the_pass_adds_up_have_the_chains_numbers(
    monkeypatch: pytest.MonkeyPatch, case: str, name: str
) -> None:
    """Binary, categorical and sparse categorical accuracy, added up inside the compiled pass,
    give the chain's figures; a metric the pass cannot add up brings back a call per step."""
    chosen, calls_expected = PASS_METRICS[name]
    if case == "logits-cce" and name == "threshold":  # the class itself, added up in the pass
        chosen = [metrics.CategoricalAccuracy()]
    elif case.endswith("cce") and name != "accuracy":  # three outputs: the categorical metrics
        top_k = "top_k_categorical_accuracy"
        chosen = ["accuracy", f"sparse_{top_k}" if case == "logits-scce" else top_k]
        calls_expected = 3 * 5
    results = {}
    for enabled in (True, False):
        monkeypatch.setattr(cpu, "STACK_ENABLED", enabled)
        _, calls = spy(monkeypatch)
        model = case_model(case, "adam", chosen)
        history = model.fit(X, TARGETS[CASES[case][4]], batch_size=16, epochs=3, verbose=0)
        assert len(calls["train"]) == (calls_expected if enabled else 0)
        results[enabled] = history.history
    assert results[True] == results[False]
    assert all(0 < v < 1 for v in results[True][model.metrics[0].name])


def test_the_pass_argmax_is_numpys() -> None:
    """The sparse accuracy's argmax: the first largest of a row, or its first NaN."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, size=(400, 5)).astype(np.float32)  # many ties
    a[rng.random(a.shape) < 0.05] = np.nan
    a[0] = [np.inf, np.nan, np.inf, -np.inf, 0]
    got = [cpu._argmax_row(a, r) for r in range(a.shape[0])]
    assert got == list(np.argmax(a, axis=-1))


def test_a_diverging_step_is_reported_alike_from_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled pass returns the first step after which the running loss is not finite,
    so fit warns of the same epoch and step whether the epoch ran in one call, step by step
    (a batch hook asks for that) or layer by layer."""
    x = X.copy()
    x[40] = 3e38  # finite, but with the first layer's weights at 1 its sums overflow
    hook = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    messages = []
    for enabled, cbs in ((True, []), (True, [hook]), (False, [])):
        monkeypatch.setattr(cpu, "STACK_ENABLED", enabled)
        _, calls = spy(monkeypatch)
        model = Sequential([Input((6,)), Dense(7, "relu"), Dense(1)], seed=3)
        model.layers[0].kernel[...] = 1.0
        model.compile(optimizer="adam", loss=BCE_LOGITS())  # inf logits: a NaN or inf loss
        with pytest.warns(RuntimeWarning, match="became NaN or infinite") as caught:
            model.fit(x, TARGETS["binary"], batch_size=4, epochs=2, verbose=0, callbacks=cbs)
        assert len(calls["train"]) == (2 * 2 if enabled and not cbs else 2 * 17 if enabled else 0)
        # (layer by layer, NumPy's matmul warns of the overflow too)
        messages.append([str(w.message) for w in caught if "became NaN" in str(w.message)])
    assert len(messages[0]) == 1 and "epoch 1, step " in messages[0][0]
    assert "epoch 1, step 1:" not in messages[0][0]  # the bad row is not in the first batch
    assert messages[0] == messages[1] == messages[2]


def test_a_progress_bar_counts_every_step_of_a_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """With a progress bar, the compiled pass runs a hundredth of an epoch per call and the bar
    advances by that many steps; with none, the whole epoch is one call."""
    pytest.importorskip("tqdm")
    counts: list[int] = []
    real = ProgressBar.step

    def step(self: ProgressBar, logs: Any = None, count: int = 1) -> None:
        counts.append(count)
        real(self, logs, count)

    monkeypatch.setattr(ProgressBar, "step", step)
    x = np.random.default_rng(1).normal(size=(650, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = Sequential([Input((6,)), Dense(7, "relu"), Dense(1, "sigmoid")], seed=3)
    model.compile(optimizer="adam", loss=BCE)
    model.fit(x, y, batch_size=2, epochs=1, verbose=1)  # 325 steps, 3 per update
    assert sum(counts) == 325 and counts == [3] * 108 + [1]
    assert "325/325" in capsys.readouterr().out
    counts.clear()
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert counts == [325]


class MyDense(Dense):
    pass


# the first layer of each model (the rest: a sigmoid output), or the whole model
FALLBACKS = {
    "tanh": lambda: [Dense(5, "tanh")],
    "kernel_regularizer": lambda: [Dense(5, "relu", kernel_regularizer="l2")],
    "bias_regularizer": lambda: [Dense(5, "relu", bias_regularizer="l1")],
    "activity_regularizer": lambda: [Dense(5, "relu", activity_regularizer="l2")],
    "dropout": lambda: [Dense(5, "relu"), Dropout(0.3)],
    "batch_norm": lambda: [Dense(5, "relu"), BatchNormalization()],
    "subclass": lambda: [MyDense(5, "relu")],
    "kernel_form": lambda: [Dense(5, "relu", kernel_form="loop")],
    "model_kernel_loop": lambda: [Dense(5, "relu")],
}


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_what_the_stack_cannot_take_runs_through_the_chain(
    monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    layers, loss, y = [*FALLBACKS[case](), Dense(1, "sigmoid")], BCE, TARGETS["binary"]
    made, _ = spy(monkeypatch)
    kernel = "loop" if case == "model_kernel_loop" else "matrix"
    model, history, predicted = run(layers, loss, None, y, kernel=kernel)
    assert made and all(type(c) is Chain for c in made)
    assert all(type(ws.chain) is Chain for ws in model._trainer.spaces.values())
    assert np.isfinite(history["loss"]).all() and np.isfinite(predicted).all()


def test_training_stack_keeps_relu_outputs_in_the_product_buffer() -> None:
    """In a training stack a ReLU layer's ``z`` is its ``a`` (one buffer, written in place);
    other activations, and every layer of an inference stack, keep the two apart."""
    model = Sequential([Input((6,)), Dense(7, "relu"), Dense(5, "sigmoid"), Dense(2)], seed=1)
    for learning in (True, False):
        spaces = [layer.workspace(8, np, np.float32, i > 0) for i, layer in enumerate(model.layers)]
        made = chain(model.layers, spaces, learning)
        assert type(made) is DenseStack
        assert [ws.z is ws.a for ws in spaces] == [learning, False, True]  # linear: always one
        assert [z is a for z, a in zip(made.zs, made.As)] == [learning, False, True]


def test_stack_falls_back_call_by_call() -> None:
    """A forward or backward the kernels cannot take (another layout or dtype) runs the plain
    chain, and the next one they can take runs compiled again, with the chain's numbers."""
    model = Sequential([Input((6,)), Dense(7, "relu"), Dense(5, "sigmoid"), Dense(2)], seed=1)
    x = X[:8]
    inputs = [x, np.asfortranarray(x), x, x.astype(np.float64), x]
    delta = RNG.normal(size=(8, 2)).astype(np.float32)
    outputs = {}
    for kind in (DenseStack, Chain):
        spaces = [layer.workspace(8, np, np.float32, i > 0) for i, layer in enumerate(model.layers)]
        c = (
            chain(model.layers, spaces, True)
            if kind is DenseStack
            else Chain(model.layers, spaces, True)
        )
        assert type(c) is kind
        outputs[kind] = []
        for xb in inputs:
            outputs[kind].append(c.forward(xb).copy())
            c.backward(delta.copy(), shortcut=False)
            outputs[kind].append(model._grads.copy())
    for got, want in zip(outputs[DenseStack], outputs[Chain], strict=True):
        same_bits(got, want)


def test_predict_on_other_layouts_and_read_only_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """predict casts a float64 x to the model's dtype keeping its layout: a Fortran-ordered x
    runs through the plain chain, a C-ordered one compiled; a read-only one compiled, as is."""
    y = TARGETS["binary"]
    layers = [Dense(7, "relu"), Dense(1, "sigmoid")]
    model, history, want = run(layers, BCE, None, y)
    frozen = X.copy()
    frozen.setflags(write=False)
    for x in (
        np.asfortranarray(X),
        X.astype(np.float64),
        np.asfortranarray(X.astype(np.float64)),
        frozen,
    ):
        same_bits(model.predict(x, batch_size=16), want)
    _, calls = spy(monkeypatch)
    same_bits(model.predict(frozen, batch_size=16), want)
    assert len(calls["forward"]) == 5 and not any(a.flags.writeable for a in calls["forward"])
    again = run([Dense(7, "relu"), Dense(1, "sigmoid")], BCE, None, y, x=frozen)
    assert again[1] == history
    same_bits(again[2], want)


@pytest.mark.parametrize(
    "variant", ["fortran", "float64-data", "int32-labels", "no-shuffle", "read-only"]
)
def test_one_call_step_matches_the_chain_on_other_data(
    monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    """The compiled pass gathers the batch itself: from data in another layout or dtype, from
    other label dtypes, and without shuffling (the plain gather then) it trains as the chain."""
    x, y = X, TARGETS["classes"]
    x = np.asfortranarray(x) if variant == "fortran" else x
    x = x.astype(np.float64) if variant == "float64-data" else x
    y = y.astype(np.int32) if variant == "int32-labels" else y
    if variant == "read-only":
        x, y = x.copy(), y.copy()
        x.setflags(write=False)
        y.setflags(write=False)
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(cpu, "STACK_ENABLED", enabled)
        made, calls = spy(monkeypatch)
        model = Sequential([Input((x.shape[1],)), Dense(7, "relu"), Dense(3)], seed=3)
        model.compile(optimizer="adam", loss=SCCE_LOGITS(), metrics=["accuracy"])
        history = model.fit(
            x, y, batch_size=16, epochs=2, verbose=0, shuffle=variant != "no-shuffle"
        )
        trained = 0 if variant == "no-shuffle" else 2 * 2  # per epoch: full batches, the last
        assert len(calls["train"]) == (trained if enabled else 0)
        results.append((model.get_weights(), history.history))
    (w_on, h_on), (w_off, h_off) = results
    assert h_on == h_off
    for got, want in zip(w_on, w_off, strict=True):
        same_bits(got, want)


@pytest.mark.parametrize("shape", [(3, 5), (16, 64), (7, 130)])
def test_relu_backward_with_its_sums_is_the_two_kernels(shape: tuple[int, int]) -> None:
    """The one-pass ReLU backward and bias gradient give the two kernels' bits: the products
    (-0.0 and NaN included) and the column sums, rows added in order."""
    rng = np.random.default_rng(11)
    d = rng.normal(size=shape).astype(np.float32)
    z = rng.normal(size=shape).astype(np.float32)
    z[0, :2], d[-1, -1], d[0, 0] = 0.0, np.nan, -0.0
    want_d = cpu.relu_backward_inplace(d.copy(), z)
    want_sums = cpu.column_sums(want_d, np.empty(shape[1], np.float32))
    got_d, got_sums = d.copy(), np.full(shape[1], 7.0, np.float32)
    cpu.relu_backward_sums(got_d, z, got_sums)
    same_bits(got_d, want_d)
    same_bits(got_sums, want_sums)


@pytest.mark.parametrize("shape", [(3, 5), (64, 300), (700, 300)])
def test_relu_backward_takes_its_mask_from_the_activation(shape: tuple[int, int]) -> None:
    """The stack's ReLU backward reads ``a = relu(z)`` in place of ``z`` (``a`` is in cache
    then, ``z`` is not): ``a > 0`` exactly where ``z > 0``, for NaN, infinities, signed zeros
    and the smallest subnormals too, so the products and sums are ``z``'s to the bit (700 x
    300 goes across the team, in column parts, where there is one)."""
    rng = np.random.default_rng(12)
    z = rng.normal(size=shape).astype(np.float32)
    special = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45]
    z.reshape(-1)[: len(special)] = special[: z.size]
    a = np.empty_like(z)
    cpu._bias_activate(z, np.zeros(0, np.float32), cpu.RELU, a)
    d = rng.normal(size=shape).astype(np.float32)
    want_d, want_sums = d.copy(), np.empty(shape[1], np.float32)
    cpu.relu_backward_sums(want_d, z, want_sums)
    got_d, got_sums = d.copy(), np.full(shape[1], 7.0, np.float32)
    cpu._team_relu_sums(team.team(), got_d, a, got_sums)
    same_bits(got_d, want_d)
    same_bits(got_sums, want_sums)
    got_d = cpu.relu_backward_inplace(d.copy(), a)
    same_bits(got_d, cpu.relu_backward_inplace(d.copy(), z))
