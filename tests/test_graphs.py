"""jit_compile=True: the training step recorded once as a graph and replayed.

On CuPy the recording is a CUDA graph; on the strict backend it is graphs.py's tape, which
replays the recorded operations on the recorded arrays with the recorded scalars and refuses
transfers while recording, as CUDA does. Every test here runs on both (CuPy where a GPU is),
so a CPU-only run already proves the step recordable: no host scalar that changes between
steps, no copy to or from the host, no sync.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, graphs, optimizers
from xpnn.backend import array_module

from helpers import BACKEND_PARAMS, blobs

RECORDING = [p for p in BACKEND_PARAMS if p.id in ("strict", "cupy")]


@pytest.fixture(params=RECORDING)
def gx(request: pytest.FixtureRequest) -> Any:
    """A backend that records graphs: strict (the tape) and CuPy where a GPU is."""
    with xpnn.use_backend(request.param):
        yield xpnn.get_xp()


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


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.Adam(learning_rate=0.01),
        lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(learning_rate=0.005),
    ],
    ids=["adam", "sgd-nesterov", "rmsprop"],
)
def test_replayed_training_equals_eager_training(gx: Any, case: str, optimizer: Any) -> None:
    """Same start, same shuffles: every epoch's loss, the final weights and the step count
    agree; batch 16 of 70 samples gives two batch sizes, so two recordings."""
    eager, replayed = _fit_both(case, optimizer, epochs=4, batch_size=16)
    assert replayed[2] == eager[2] == 4 * 5
    np.testing.assert_allclose(replayed[0]["loss"], eager[0]["loss"], rtol=1e-6)
    for a, b in zip(replayed[1], eager[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_metrics_validation_and_unshuffled_data_replay_too(gx: Any) -> None:
    x, y = _data("softmax-scce")
    runs = []
    for jit in (False, True):
        model = _model("softmax-scce", "adam", jit, metrics=["accuracy"])
        h = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, shuffle=False, verbose=0)
        runs.append(h.history)
    assert runs[0].keys() == runs[1].keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in runs[0]:
        np.testing.assert_allclose(runs[1][key], runs[0][key], rtol=1e-6)


def test_each_batch_size_is_recorded_once_and_kept_between_fits(
    gx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = []
    real = graphs.Recorder.record

    def counting(self: graphs.Recorder, step: Any) -> Any:
        recorded.append(1)
        return real(self, step)

    monkeypatch.setattr(graphs.Recorder, "record", counting)
    x, y = _data("sigmoid-bce")
    model = _model("sigmoid-bce", "adam", jit=True)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)  # 16 and the last 6
    assert len(recorded) == 2
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)  # the same buffers: no new recording
    assert len(recorded) == 2
    model.fit(x, y, epochs=1, batch_size=35, verbose=0)  # a new batch size: warm-up, one more
    assert len(recorded) == 3
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=2, batch_size=35, verbose=0)  # a new optimizer: recorded again
    assert len(recorded) == 4


def test_a_new_learning_rate_reaches_the_replayed_step(gx: Any) -> None:
    """The rate lives on the device in a recorded step; a change between epochs (a schedule
    written as a callback) must reach it, as it reaches the eager step."""

    class Halve(xpnn.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.model.optimizer.learning_rate /= 2

    x, y = _data("sigmoid-bce")
    runs = []
    for jit in (False, True):
        model = _model("sigmoid-bce", optimizers.Adam(0.05), jit)
        h = model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[Halve()])
        runs.append((h.history["loss"], model.get_weights()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    for a, b in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_saved_after_replayed_training_resumes_like_eager(gx: Any, tmp_path: Any) -> None:
    x, y = _data("logits-scce")
    model = _model("logits-scce", "adam", jit=True)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_step_that_cannot_be_recorded_trains_on_eagerly(
    gx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host copy inside the step (here a loss that peeks at its value) fails the recording:
    fit warns once, turns jit_compile off and trains exactly as an eager fit."""
    x, y = _data("sigmoid-bce")
    loss_cls = xpnn.losses.BinaryCrossentropy
    real = loss_cls.value_and_delta

    def peeking(self: Any, *args: Any, **kwargs: Any) -> Any:
        value, delta = real(self, *args, **kwargs)
        xpnn.to_numpy(value)  # a device-to-host copy: refused while recording
        return value, delta

    monkeypatch.setattr(loss_cls, "value_and_delta", peeking)
    eager = _model("sigmoid-bce", "adam", jit=False)
    h_eager = eager.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model = _model("sigmoid-bce", "adam", jit=True)
    with pytest.warns(RuntimeWarning, match="could not record the training step"):
        h = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert model.jit_compile is False and not model.optimizer.capturable
    assert model.optimizer.iterations == eager.optimizer.iterations == 10
    np.testing.assert_allclose(h.history["loss"], h_eager.history["loss"], rtol=1e-6)


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
        for a, b in zip(replayed[1], eager[1]):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(xpnn.BackendError, match="needs CuPy 11 or later"):
            graphs.Recorder(np)


# -- the tape (strict backend) ------------------------------------------------------------------
def test_recording_runs_nothing_and_launch_runs_it() -> None:
    with xpnn.use_backend("strict"):
        xp = xpnn.get_xp()
        a = xpnn.to_device(np.arange(4.0))
        b = xpnn.to_device(np.ones(4))
        recorder = graphs.Recorder(xp)

        def step() -> None:
            a[1:] += b[1:] * 2.0  # a view, a temporary and an in-place add
            xp.multiply(a, 3.0, out=b)

        graph = recorder.record(step)
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 1, 2, 3])  # untouched
        np.testing.assert_array_equal(xpnn.to_numpy(b), [1, 1, 1, 1])
        graph.launch()
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 3, 4, 5])
        np.testing.assert_array_equal(xpnn.to_numpy(b), [0, 9, 12, 15])
        graph.launch()  # the same operations on the current contents
        np.testing.assert_array_equal(xpnn.to_numpy(a), [0, 21, 28, 35])


def test_the_tape_bakes_in_host_scalars_as_a_cuda_graph_does() -> None:
    """What makes a step unreplayable must show: a host value read at recording time stays."""
    with xpnn.use_backend("strict"):
        a = xpnn.to_device(np.zeros(2))
        state = {"rate": 1.0}
        graph = graphs.Recorder(xpnn.get_xp()).record(lambda: a.__iadd__(state["rate"]))
        state["rate"] = 5.0
        graph.launch()
        graph.launch()
        np.testing.assert_array_equal(xpnn.to_numpy(a), [2.0, 2.0])  # 1.0 twice, not 5.0


def test_a_host_scalar_in_the_optimizer_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check has teeth: an Adam that bakes its step size (a host float) into the recorded
    step replays the first step's size forever, and the replayed training drifts."""
    monkeypatch.setattr(optimizers.Adam, "_device_step_size", lambda self: self.step_size())
    with xpnn.use_backend("strict"):
        eager, replayed = _fit_both("sigmoid-bce", lambda: optimizers.Adam(0.01), epochs=3)
    assert not np.allclose(replayed[0]["loss"], eager[0]["loss"], rtol=1e-6)


@pytest.mark.parametrize("move", ["to_device", "to_numpy"])
def test_transfers_are_refused_while_recording(move: str) -> None:
    with xpnn.use_backend("strict"):
        a = xpnn.to_device(np.ones(2))
        recorder = graphs.Recorder(xpnn.get_xp())
        if move == "to_device":
            step = lambda: xpnn.to_device(np.ones(2))  # noqa: E731
        else:
            step = lambda: xpnn.to_numpy(a)  # noqa: E731
        with pytest.raises(RuntimeError, match="the current stream is capturing"):
            recorder.record(step)
        xpnn.to_numpy(a)  # and recording has ended


# -- capturable optimizers --------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(learning_rate=0.01),
        lambda: optimizers.SGD(learning_rate=0.1, momentum=0.5),
        lambda: optimizers.SGD(learning_rate=0.1),
        lambda: optimizers.RMSprop(),
    ],
    ids=["adam", "sgd-momentum", "sgd", "rmsprop"],
)
def test_capturable_optimizers_take_the_same_steps(xp: Any, make: Any) -> None:
    """Device step count and rate give the host path's numbers, bias correction included
    (1,200 steps), and the host count of record stays right."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=64).astype(np.float32)
    grads = rng.normal(size=(1200, 64)).astype(np.float32)
    results = []
    for capturable in (False, True):
        opt, w = make(), xpnn.to_device(w0)
        opt.build(w)
        if capturable:
            opt.make_capturable(w)
        for k, g in enumerate(grads):
            if k == 600:
                opt.learning_rate *= 0.5
                opt.sync_learning_rate()
            opt.step(w, xpnn.to_device(g))
        assert opt.iterations == 1200 and opt.capturable is capturable
        results.append(xpnn.to_numpy(w))
    np.testing.assert_allclose(results[1], results[0], rtol=2e-6, atol=1e-7)
    assert array_module(xpnn.to_device(w0)) is xp
