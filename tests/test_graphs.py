"""jit_compile=True: the training step recorded once per batch size as a graph and replayed.

On CuPy the recording is a CUDA graph; on the strict backend it is the tape of
xpnn.testing.strict, which replays the recorded operations on the recorded arrays with the
recorded scalars and refuses transfers while recording, as CUDA does. The training tests run on
both (CuPy where a GPU is), so a CPU-only run already proves the step recordable: no host scalar
that changes between steps, no copy to or from the host, no sync. The optimizer keeps its step
count and learning rate in backend arrays for that reason; the last section checks them.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, graphs, optimizers
from xpnn.backend import array_module
from xpnn.testing import strict

from helpers import BACKEND_PARAMS, blobs

RECORDING = [p for p in BACKEND_PARAMS if p.id in ("strict", "cupy")]


@pytest.fixture(params=RECORDING)
def gx(request: pytest.FixtureRequest) -> Any:
    """A backend that records graphs: strict (the tape) and CuPy where a GPU is."""
    with xpnn.use_backend(request.param):
        yield xpnn.get_xp()


@pytest.fixture
def recordings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per step recorded (a tape on strict, a stream capture on CuPy)."""
    recorded: list[int] = []
    real = graphs.Replayed._record

    def counting(self: graphs.Replayed, step: Any) -> Any:
        recorded.append(1)
        return real(self, step)

    monkeypatch.setattr(graphs.Replayed, "_record", counting)
    return recorded


CASES = {
    "sigmoid-bce": (["relu", "sigmoid"], 1, "sigmoid", "binary_crossentropy"),
    "logits-bce": (["tanh"], 1, "linear", xpnn.losses.BinaryCrossentropy(from_logits=True)),
    "softmax-scce": (["relu"], 3, "softmax", "sparse_categorical_crossentropy"),
    "logits-scce": (
        ["sigmoid", "relu"],
        3,
        "linear",
        xpnn.losses.SparseCategoricalCrossentropy(from_logits=True),
    ),
    "softmax-cce": (["relu"], 3, "softmax", "categorical_crossentropy"),
    "linear-mse": (["tanh", "relu"], 1, "linear", "mse"),
}

OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "sgd-nesterov": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.005),
}


def _model(case: str, optimizer: Any, jit: bool, metrics: list[str] | None = None) -> Sequential:
    hidden, outputs, out_act, loss = CASES[case]
    layers = [Input((5,))] + [Dense(7, a) for a in hidden] + [Dense(outputs, out_act)]
    model = Sequential(layers, seed=3)
    opt = optimizers.get(optimizer) if isinstance(optimizer, str) else optimizer
    model.compile(optimizer=opt, loss=loss, metrics=metrics, jit_compile=jit)
    return model


def _data(case: str) -> tuple[np.ndarray, np.ndarray]:
    x, labels = blobs(70, 5, 3, seed=4)
    if case.endswith("cce") and not case.endswith("scce"):
        return x, np.eye(3, dtype=np.float32)[labels]
    if case.endswith("scce"):
        return x, labels
    if case.endswith("mse"):
        return x, labels.astype(np.float32) - 1.0
    return x, (labels > 0).astype(np.float32)


def _fit_both(case: str, optimizer: Any, **fit: Any) -> tuple[Any, Any]:
    """History, weights and step count of an eager and a replayed fit from the same start."""
    x, y = _data(case)
    runs = []
    for jit in (False, True):
        opt = optimizer() if callable(optimizer) else optimizer
        model = _model(case, opt, jit)
        history = model.fit(x, y, verbose=0, **fit)
        runs.append((history.history, model.get_weights(), model.optimizer.iterations))
    return runs[0], runs[1]


def _assert_same_training(replayed: Any, eager: Any) -> None:
    """Loss histories and final weights (``_fit_both``'s first two items) agree."""
    for key in eager[0]:
        np.testing.assert_allclose(replayed[0][key], eager[0][key], rtol=1e-6, err_msg=key)
    for a, b in zip(replayed[1], eager[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- replayed training equals eager training --------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_replayed_training_equals_eager_training(
    gx: Any, recordings: list[int], case: str, optimizer: str
) -> None:
    """Same start, same shuffles: every epoch's loss, the final weights and the step count
    agree; batch 16 of 70 samples gives two batch sizes, so two recordings."""
    eager, replayed = _fit_both(case, OPTIMIZERS[optimizer], epochs=4, batch_size=16)
    assert replayed[2] == eager[2] == 4 * 5
    assert len(recordings) == 2
    _assert_same_training(replayed, eager)


def test_metrics_validation_and_unshuffled_data_replay_too(gx: Any) -> None:
    x, y = _data("softmax-scce")
    runs = []
    for jit in (False, True):
        model = _model("softmax-scce", "adam", jit, metrics=["accuracy"])
        h = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, shuffle=False, verbose=0)
        runs.append(h.history)
    assert runs[0].keys() == runs[1].keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in runs[0]:
        np.testing.assert_allclose(runs[1][key], runs[0][key], rtol=1e-6, err_msg=key)


def test_a_new_learning_rate_reaches_the_replayed_step(gx: Any) -> None:
    """The rate lives in a backend array that the recorded step reads; a schedule written as a
    callback that sets ``optimizer.learning_rate`` between epochs must reach it, as it reaches
    the eager step (a rate baked in at recording would replay 0.05 throughout)."""
    x, y = _data("sigmoid-bce")
    runs = []
    for jit in (False, True):
        model = _model("sigmoid-bce", optimizers.Adam(0.05), jit)
        schedule = xpnn.LambdaCallback(
            on_epoch_begin=lambda epoch, logs=None, m=model: setattr(
                m.optimizer, "learning_rate", 0.05 * 0.5**epoch
            )
        )
        h = model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[schedule])
        assert model.optimizer.learning_rate == 0.05 * 0.5**3
        runs.append((h.history, model.get_weights()))
    _assert_same_training(runs[1], runs[0])


def test_saved_after_replayed_training_resumes_like_eager(gx: Any, tmp_path: Any) -> None:
    x, y = _data("logits-scce")
    model = _model("logits-scce", "adam", jit=True)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 15
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_each_batch_size_is_recorded_once_and_kept_between_fits(
    gx: Any, recordings: list[int]
) -> None:
    x, y = _data("sigmoid-bce")
    model = _model("sigmoid-bce", "adam", jit=True)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)  # 16 and the last 6
    assert len(recordings) == 2
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)  # the same buffers: no new recording
    assert len(recordings) == 2
    model.fit(x, y, epochs=1, batch_size=35, verbose=0)  # a new batch size: warm-up, one more
    assert len(recordings) == 3
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=2, batch_size=35, verbose=0)  # a new optimizer: recorded again
    assert len(recordings) == 4


def _set(obj: Any, name: str, value: Any) -> Any:
    return lambda model: setattr(obj(model), name, value)


# What a recorded step bakes in besides arrays (issue 11, item 9): each change between two fits
# must give a fresh recording, never a replay of the old settings.
CHANGES = {
    "adam-beta_1": (OPTIMIZERS["adam"], _set(lambda m: m.optimizer, "beta_1", 0.5)),
    "adam-epsilon": (OPTIMIZERS["adam"], _set(lambda m: m.optimizer, "epsilon", 0.1)),
    "sgd-momentum": (OPTIMIZERS["sgd-nesterov"], _set(lambda m: m.optimizer, "momentum", 0.3)),
    "rmsprop-epsilon": (OPTIMIZERS["rmsprop"], _set(lambda m: m.optimizer, "epsilon", 0.1)),
    "kernel_form": (OPTIMIZERS["adam"], _set(lambda m: m.layers[0], "kernel_form", "loop")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_setting_changed_between_fits_is_recorded_again(
    gx: Any, recordings: list[int], change: str
) -> None:
    """The second fit gives the numbers of a fresh eager model taken through the same
    sequence (fit, change, fit), and records both batch sizes again."""
    make_optimizer, apply = CHANGES[change]
    x, y = _data("sigmoid-bce")
    runs = []
    for jit in (False, True):
        model = _model("sigmoid-bce", make_optimizer(), jit)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        apply(model)
        h = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        runs.append((h.history, model.get_weights()))
    assert len(recordings) == 4  # batch sizes 16 and 6, before and after the change
    _assert_same_training(runs[1], runs[0])


def test_a_step_that_cannot_be_recorded_warns_once_and_trains_on_eagerly(
    gx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host copy inside the step (here a loss that peeks at its value) fails the recording:
    fit warns once, in this fit and the next, and trains exactly as an eager fit."""
    x, y = _data("sigmoid-bce")
    loss_cls = xpnn.losses.BinaryCrossentropy
    real = loss_cls.value_and_delta

    def peeking(self: Any, *args: Any, **kwargs: Any) -> Any:
        value, delta = real(self, *args, **kwargs)
        xpnn.to_numpy(value)  # a device-to-host copy: refused while recording
        return value, delta

    monkeypatch.setattr(loss_cls, "value_and_delta", peeking)
    runs = []
    for jit in (False, True):
        model = _model("sigmoid-bce", "adam", jit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h1 = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
            h2 = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
        assert len(messages) == jit, messages
        runs.append(({"loss": h1.history["loss"] + h2.history["loss"]}, model.get_weights()))
        assert model.optimizer.iterations == 15
    assert "could not record the training step" in messages[0]
    assert "the current stream is capturing" in messages[0]
    assert model.jit_compile is True and model._trainer.step.failed
    _assert_same_training(runs[1], runs[0])


def test_jit_compile_is_checked() -> None:
    model = Sequential([Input((2,)), Dense(1)])
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        model.compile(loss="mse", jit_compile="yes")
    model.compile(loss="mse", jit_compile="auto")
    assert model.jit_compile is False


def test_on_numpy_jit_compile_changes_nothing() -> None:
    with xpnn.use_backend("numpy"):
        assert not graphs.supported(np)
        eager, replayed = _fit_both("sigmoid-bce", "adam", epochs=2, batch_size=16)
        assert replayed[0]["loss"] == eager[0]["loss"]
        for a, b in zip(replayed[1], eager[1], strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(xpnn.BackendError, match="needs CuPy 11 or later"):
            graphs.Replayed(lambda ws: None, np)


# -- Replayed, on its own -----------------------------------------------------------------------
class _Workspace:
    def __init__(self, values: list[float]) -> None:
        self.x = xpnn.to_device(np.array(values))
        self.total = xpnn.get_xp().zeros(len(values))


def test_replayed_warms_up_records_once_then_only_launches(gx: Any, recordings: list[int]) -> None:
    """Per workspace: the first call runs the function, the second records it (running it once
    more, in recording) and launches it; every later call is a launch alone, reading the
    workspace's current contents."""
    calls: list[int] = []

    def step(ws: _Workspace) -> None:
        calls.append(1)
        ws.total += ws.x

    replayed = graphs.Replayed(step, gx)
    a, b = _Workspace([1.0, 2.0]), _Workspace([5.0])
    with replayed.stream():
        for _ in range(4):
            replayed(a)
        assert len(calls) == 2 and len(recordings) == 1
        a.x.fill(10.0)  # the caller fills the buffers; the graph reads them
        replayed(a)
        for _ in range(3):
            replayed(b)
        totals = xpnn.to_numpy(a.total), xpnn.to_numpy(b.total)
    assert len(calls) == 4 and len(recordings) == 2 and not replayed.failed
    np.testing.assert_array_equal(totals[0], [14.0, 18.0])
    np.testing.assert_array_equal(totals[1], [15.0])


def test_replayed_falls_back_to_calling_the_function(gx: Any) -> None:
    calls: list[int] = []

    def step(ws: _Workspace) -> None:
        calls.append(1)
        xpnn.to_numpy(ws.x)  # refused while recording
        ws.total += ws.x

    replayed = graphs.Replayed(step, gx)
    ws = _Workspace([1.0, 2.0])
    with replayed.stream():
        replayed(ws)
        with pytest.warns(RuntimeWarning, match="could not record the training step"):
            replayed(ws)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warned once only
            for _ in range(3):
                replayed(ws)
        total = xpnn.to_numpy(ws.total)
    assert replayed.failed and len(calls) == 6  # the failed recording's call, then eager calls
    np.testing.assert_array_equal(total, [5.0, 10.0])


# -- the tape (strict backend) ------------------------------------------------------------------
def test_recording_changes_nothing_and_launch_runs_it() -> None:
    with xpnn.use_backend("strict"):
        xp = xpnn.get_xp()
        a = xpnn.to_device(np.arange(4.0))
        b = xpnn.to_device(np.ones(4))

        def step() -> None:
            a[1:] += b[1:] * 2.0  # a view, a temporary and an in-place add
            xp.multiply(a, 3.0, out=b)

        tape = strict.record_tape(step)
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 1, 2, 3])  # untouched
        np.testing.assert_array_equal(xpnn.to_numpy(b), [1, 1, 1, 1])
        tape.launch()
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 3, 4, 5])
        np.testing.assert_array_equal(xpnn.to_numpy(b), [0, 9, 12, 15])
        tape.launch()  # the same operations on the current contents
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 21, 28, 35])


def test_the_tape_bakes_in_host_scalars_as_a_cuda_graph_does() -> None:
    """What makes a step unreplayable must show: a host value read at recording time stays."""
    with xpnn.use_backend("strict"):
        a = xpnn.to_device(np.zeros(2))
        state = {"rate": 1.0}
        tape = strict.record_tape(lambda: a.__iadd__(state["rate"]))
        state["rate"] = 5.0
        tape.launch()
        tape.launch()
        np.testing.assert_array_equal(xpnn.to_numpy(a), [2.0, 2.0])  # 1.0 twice, not 5.0


class _HostScalarAdam(optimizers.Adam):
    """Adam as it must not be written: the step count kept on the host and the step size
    passed in as a Python float, which a recording bakes in."""

    host_t = 0

    def _update(self, w: Any, g: Any) -> None:
        self.host_t += 1
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2**self.host_t)
        alpha /= 1 - self.beta_1**self.host_t
        m, v = self.state["m"], self.state["v"]
        m += (g - m) * (1.0 - self.beta_1)
        v += (g * g - v) * (1.0 - self.beta_2)
        w -= alpha * m / (array_module(w).sqrt(v) + self.epsilon)


def test_a_host_scalar_in_the_optimizer_would_be_caught(gx: Any) -> None:
    """The check has teeth: the host-scalar Adam records without complaint, then replays the
    recorded step's size forever, and the replayed training drifts from the eager one."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recorded, not refused
        eager, replayed = _fit_both("sigmoid-bce", lambda: _HostScalarAdam(0.01), epochs=3)
    assert replayed[2] == eager[2]
    assert not np.allclose(replayed[0]["loss"], eager[0]["loss"], rtol=1e-6)


@pytest.mark.parametrize("move", ["to_device", "to_numpy"])
def test_transfers_are_refused_while_recording(move: str) -> None:
    with xpnn.use_backend("strict"):
        a = xpnn.to_device(np.ones(2))
        if move == "to_device":
            step = lambda: xpnn.to_device(np.ones(2))  # noqa: E731
        else:
            step = lambda: xpnn.to_numpy(a)  # noqa: E731
        with pytest.raises(RuntimeError, match="the current stream is capturing"):
            strict.record_tape(step)
        xpnn.to_numpy(a)  # and recording has ended


def test_recordings_do_not_nest() -> None:
    with xpnn.use_backend("strict"):
        with pytest.raises(RuntimeError, match="already being recorded"):
            strict.record_tape(lambda: strict.record_tape(lambda: None))
        strict.record_tape(lambda: None)  # and the outer one has ended


# -- the optimizer's step count and learning rate live on the backend ---------------------------
OPTIMIZER_KINDS = {
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "sgd-momentum": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.5),
    "sgd": lambda: optimizers.SGD(learning_rate=0.1),
    "rmsprop": lambda: optimizers.RMSprop(),
}


def _built(make: Any, size: int = 8, dtype: Any = np.float32) -> tuple[Any, Any, Any]:
    """An optimizer built for ``size`` parameters on the active backend, the parameters, and a
    gradient of ones (both on the device)."""
    opt = make()
    w = xpnn.to_device(np.zeros(size, dtype=dtype))
    g = xpnn.to_device(np.ones(size, dtype=dtype))
    opt.build(w)
    return opt, w, g


@pytest.mark.parametrize("kind", list(OPTIMIZER_KINDS))
def test_step_count_and_learning_rate_are_backend_arrays(xp: Any, kind: str) -> None:
    opt = OPTIMIZER_KINDS[kind]()
    assert opt.iterations == 0  # before build too
    opt, w, _ = _built(OPTIMIZER_KINDS[kind], dtype=np.float64)
    for name, dtype in (("_t", np.float64), ("_lr", np.float64), ("_lr64", np.float64)):
        array = getattr(opt, name)
        assert array_module(array) is xp, name
        assert tuple(array.shape) == (1,) and array.dtype == dtype, name
    opt, w, _ = _built(OPTIMIZER_KINDS[kind], dtype=np.float32)
    assert opt._lr.dtype == np.float32 and opt._lr64.dtype == np.float64  # the params' dtype
    np.testing.assert_array_equal(xpnn.to_numpy(opt._lr64), [opt.learning_rate])


@pytest.mark.parametrize("kind", list(OPTIMIZER_KINDS))
def test_a_step_moves_nothing_between_host_and_device(kind: str) -> None:
    """On strict, steps and a new learning rate cost no transfer; reading ``iterations`` is the
    one copy home."""
    with xpnn.use_backend("strict"):
        opt, w, g = _built(OPTIMIZER_KINDS[kind])
        xpnn.transfer_counts(reset=True)
        for _ in range(3):
            opt.step(w, g)
        opt.learning_rate = 0.02
        opt.step(w, g)
        assert xpnn.transfer_counts(reset=True) == {"h2d": 0, "d2h": 0}
        assert opt.iterations == 4
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 1}


@pytest.mark.parametrize("kind", list(OPTIMIZER_KINDS))
def test_iterations_counts_steps(xp: Any, kind: str) -> None:
    opt, w, g = _built(OPTIMIZER_KINDS[kind])
    for k in range(1, 6):
        opt.step(w, g)
        assert opt.iterations == k
    opt.iterations = 100  # written to the device count (as set_state does)
    opt.step(w, g)
    assert opt.iterations == 101
    opt.build(w)  # rebuilding (a grown model) keeps the count
    assert opt.iterations == 101


def test_a_numpy_learning_rate_is_a_float_and_takes_effect_on_the_next_step(
    xp: Any, tmp_path: Any
) -> None:
    """``learning_rate = np.float32(1e-4)`` (what a schedule computing in NumPy gives) is
    stored as a Python float, so the config is JSON, and the next step uses it: plain SGD
    from w = 0 with g = 1 moves w to exactly -lr."""
    opt, w, g = _built(lambda: optimizers.SGD(learning_rate=0.1))
    opt.step(w, g)
    np.testing.assert_array_equal(xpnn.to_numpy(w), np.float32(-0.1))
    opt.learning_rate = np.float32(1e-4)
    assert type(opt.learning_rate) is float and opt.learning_rate == float(np.float32(1e-4))
    assert json.loads(json.dumps(opt.get_config()))["learning_rate"] == opt.learning_rate
    w.fill(0.0)
    opt.step(w, g)
    np.testing.assert_array_equal(xpnn.to_numpy(w), -np.float32(1e-4))

    model = _model("linear-mse", "adam", jit=False)
    model.optimizer.learning_rate = np.float32(1e-4)
    model.save(tmp_path / "m.xpnn")
    assert xpnn.load_model(tmp_path / "m.xpnn").optimizer.learning_rate == float(np.float32(1e-4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_device_step_size_follows_the_host_formula(xp: Any, dtype: Any) -> None:
    """``alpha_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)`` from the device count and rate
    equals the host's float64 value (rounded to the parameters' dtype) for t = 1..1200, the
    rate halved after step 600. With m = v = g = 1 and epsilon = 0 before a step, the moments
    stay 1 and the step moves w from 0 to exactly -alpha_t."""
    lr, b1, b2 = 0.01, 0.9, 0.999
    opt, w, g = _built(lambda: optimizers.Adam(lr, b1, b2, epsilon=0.0), dtype=dtype)
    m, v = opt.state["m"], opt.state["v"]
    device, host = [], []
    for t in range(1, 1201):
        if t == 601:
            lr /= 2
            opt.learning_rate = lr
        w.fill(0.0)
        m.fill(1.0)
        v.fill(1.0)
        opt.step(w, g)
        device.append(-xpnn.to_numpy(w))
        host.append(lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t))
    assert opt.iterations == 1200
    device = np.array(device)
    expected = np.broadcast_to(np.array(host).astype(dtype)[:, None], device.shape)
    # float64: NumPy's power may differ from C's pow in the last place, and 1 - beta_2^t
    # magnifies that at small t; an off-by-one t or a stale rate is off by far more
    rtol = 1e-13 if dtype == np.float64 else 2 * np.finfo(np.float32).eps
    np.testing.assert_allclose(device, expected, rtol=rtol, atol=0)
