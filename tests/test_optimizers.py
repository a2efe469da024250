"""Optimizers: trajectories worked from the published update rules, state, bad settings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import optimizers

dev, host = xpnn.to_device, xpnn.to_numpy
A = [1.0, 3.0]  # f(w) = 0.5 * sum(A * w^2), so g = A * w
W0 = [1.0, -2.0]


def run(xp: Any, opt: optimizers.Optimizer, steps: int, dtype=np.float64) -> np.ndarray:
    w = dev(np.array(W0, dtype=dtype))
    a = dev(np.array(A, dtype=dtype))
    for _ in range(steps):
        opt.step(w, a * w)
    return host(w)


def adam_by_hand(steps: int, lr=0.01, b1=0.9, b2=0.999, eps=1e-7) -> list[float]:
    out = []
    for a, w in zip(A, W0):
        m = v = 0.0
        for t in range(1, steps + 1):
            g = a * w
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            w -= alpha * m / (math.sqrt(v) + eps)
        out.append(w)
    return out


def sgd_by_hand(steps: int, lr: float, momentum: float, nesterov: bool) -> list[float]:
    out = []
    for a, w in zip(A, W0):
        velocity = 0.0
        for _ in range(steps):
            g = a * w
            velocity = momentum * velocity - lr * g
            w += momentum * velocity - lr * g if nesterov else velocity
        out.append(w)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_trajectory(xp: Any, dtype) -> None:
    got = run(xp, optimizers.Adam(learning_rate=0.01), 5, dtype)
    np.testing.assert_allclose(got, adam_by_hand(5), rtol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_trajectory(xp: Any, momentum: float, nesterov: bool) -> None:
    opt = optimizers.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    np.testing.assert_allclose(run(xp, opt, 4), sgd_by_hand(4, 0.1, momentum, nesterov), rtol=1e-13)


def test_adam_bias_correction_at_step_1_and_1000(xp: Any) -> None:
    opt = optimizers.Adam(learning_rate=0.01)
    w = run(xp, opt, 1)
    # step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1: w moves by lr * sign(g)
    np.testing.assert_allclose(np.array(W0) - w, [0.01, -0.01], rtol=1e-5)
    opt.iterations = 1000
    expected = 0.01 * math.sqrt(1 - 0.999**1000) / (1 - 0.9**1000)
    assert opt.step_size() == pytest.approx(expected, rel=1e-15)


def test_rmsprop_trajectory(xp: Any) -> None:
    got = run(xp, optimizers.RMSprop(learning_rate=0.01), 3)
    expected = []
    for a, w in zip(A, W0):
        v = 0.0
        for _ in range(3):
            g = a * w
            v = 0.9 * v + 0.1 * g * g
            w -= 0.01 * g / math.sqrt(v + 1e-7)
        expected.append(w)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("lr", [0, -1e-3, float("nan"), float("inf")])
def test_bad_learning_rates(lr: float) -> None:
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        optimizers.Adam(learning_rate=lr)


def test_bad_settings() -> None:
    with pytest.raises(TypeError, match="learning_rate must be a positive number, received 'x'"):
        optimizers.SGD(learning_rate="x")
    for kwargs in ({"beta_1": 1.0}, {"beta_2": -0.1}, {"beta_1": 1.5}):
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
            optimizers.Adam(**kwargs)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=2.0)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamw'"):
        optimizers.get("adamw")


def test_names_give_keras_defaults() -> None:
    adam, sgd = optimizers.get("adam"), optimizers.get("sgd")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (1e-3, 0.9, 0.999, 1e-7)
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    assert optimizers.get("rmsprop").learning_rate == 1e-3
    again = optimizers.from_config(adam.get_config())
    assert again.get_config() == adam.get_config()


def test_state_round_trip(xp: Any) -> None:
    opt = optimizers.Adam(learning_rate=0.01)
    w = dev(np.array(W0))
    for _ in range(3):
        opt.step(w, w * 2.0)
    state = opt.get_state()
    fresh = optimizers.Adam(learning_rate=0.01)
    fresh.set_state(state, w)
    assert fresh.iterations == 3
    w2 = w.copy()
    opt.step(w, w * 2.0)
    fresh.step(w2, w2 * 2.0)
    np.testing.assert_array_equal(host(w), host(w2))
