"""The layer protocol: a layer defined here, in the test file, trains, gradchecks, saves and
loads with no change to the library. It has trainable parameters (a per-unit scale and shift)
and non-trainable state (a moving mean of its input, updated in training), so it exercises
both flat buffers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential
from xpnn.backend import array_module
from xpnn.layers import Layer

from helpers import blobs


class _Cache:
    __slots__ = ("x", "out", "dx")

    def __init__(self, batch: int, dim: int, xp: Any, dtype: Any, need_dx: bool) -> None:
        self.x: Any = None
        self.out = xp.empty((batch, dim), dtype=dtype)
        self.dx = xp.empty((batch, dim), dtype=dtype) if need_dx else None


class ScaleShift(Layer):
    """``y = x * gamma + beta`` per unit; in training, ``moving_mean`` follows the input."""

    def __init__(self, momentum: float = 0.9, name: str | None = None) -> None:
        super().__init__(name)
        self.momentum = momentum

    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(input_dim,), (input_dim,)]

    def state_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(input_dim,)]

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [1.0 + 0.1 * rng.standard_normal(input_dim), np.zeros(input_dim)]

    def initial_state(self, input_dim: int) -> list[np.ndarray]:
        return [np.zeros(input_dim)]

    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> _Cache:
        return _Cache(batch, self.input_dim, xp, dtype, need_dx)

    def forward(self, x: Any, training: bool = False, ws: _Cache | None = None) -> Any:
        gamma, beta = self.params
        if training:
            (mean,) = self.state
            mean *= self.momentum
            mean += (1.0 - self.momentum) * x.mean(axis=0)
        if ws is None:
            return x * gamma + beta
        ws.x = x
        xp = array_module(x)
        xp.multiply(x, gamma, out=ws.out)
        ws.out += beta
        return ws.out

    def backward(self, delta: Any, ws: _Cache, need_dx: bool = True) -> Any:
        xp = array_module(delta)
        gamma, _ = self.params
        d_gamma, d_beta = self.grads
        (delta * ws.x).sum(axis=0, out=d_gamma)
        delta.sum(axis=0, out=d_beta)
        if not need_dx:
            return None
        return xp.multiply(delta, gamma, out=ws.dx)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}


def _model(seed: int = 0) -> Sequential:
    model = Sequential(
        [Input((4,)), Dense(6, "tanh"), ScaleShift(name="scale"), Dense(3, "softmax")],
        seed=seed,
        dtype="float64",
    )
    model.compile(
        optimizer=xpnn.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_buffers_hold_params_and_state_apart(xp: Any) -> None:
    model = _model()
    scale = model.layers[1]
    assert model._params.size == 4 * 6 + 6 + 2 * 6 + 6 * 3 + 3
    assert model._state.size == 6
    assert array_module(scale.state[0]) is xp
    # Keras's order: each layer's trainable weights, then its state
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(4, 6), (6,), (6,), (6,), (6,), (6, 3), (3,)]
    assert model.count_params() == model._params.size + 6
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "scale (ScaleShift)" in text and "Non-trainable params: 6 " in text


def test_it_trains_and_the_optimizer_never_touches_the_state(xp: Any) -> None:
    x, y = blobs(120, 4, 3, seed=1)
    model = _model()
    before = model.evaluate(x, y)[1]
    state_seen: list[np.ndarray] = []

    class Watch(xpnn.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            state_seen.append(xpnn.to_numpy(model._state).copy())

    model.fit(x, y, epochs=15, batch_size=16, verbose=0, callbacks=[Watch()])
    assert model.evaluate(x, y)[1] > max(before, 0.9)
    # the moving mean follows the first layer's output (tanh: inside (-1, 1)), not a gradient
    mean = state_seen[-1]
    expected = np.tanh(x.astype(np.float64) @ model.get_weights()[0] + model.get_weights()[1])
    np.testing.assert_allclose(mean, expected.mean(axis=0), atol=0.15)
    assert np.all(np.abs(mean) < 1) and not np.allclose(state_seen[0], 0)
    assert model.optimizer.state["m"].size == model._params.size  # the state is not in it


def test_gradcheck_covers_the_new_layer() -> None:
    x, y = blobs(8, 4, 3, seed=2)
    model = _model()
    report = xpnn.gradcheck(model, x, y)
    assert set(report["scale"]) == {"param0", "param1", "loop_vs_matrix"}
    for layer, entry in report.items():
        for name, err in entry.items():
            limit = 1e-9 if name == "loop_vs_matrix" else 1e-6
            assert err < limit, (layer, name, err)


def test_gradcheck_catches_a_wrong_backward() -> None:
    class Wrong(ScaleShift):
        def backward(self, delta: Any, ws: _Cache, need_dx: bool = True) -> Any:
            dx = super().backward(delta, ws, need_dx)
            self.grads[0][...] *= 1.5  # a wrong d_gamma
            return dx

    x, y = blobs(8, 4, 3, seed=2)
    model = Sequential([Input((4,)), Wrong(name="w"), Dense(3, "softmax")], dtype="float64")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert xpnn.gradcheck(model, x, y)["w"]["param0"] > 0.1


def test_it_saves_and_loads_with_custom_objects(xp: Any, tmp_path: Path) -> None:
    x, y = blobs(64, 4, 3, seed=3)
    model = _model(seed=5)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "m.xpnn"
    model.save(path)
    with pytest.raises(ValueError, match="ScaleShift"):
        xpnn.load_model(path)  # a layer class the library does not know is refused, by name
    loaded = xpnn.load_model(path, custom_objects={"ScaleShift": ScaleShift})
    assert isinstance(loaded.layers[1], ScaleShift) and loaded.layers[1].momentum == 0.9
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # training on from the file equals training on in memory
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    loaded.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
