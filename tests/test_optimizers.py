"""Optimizers: trajectories against the published update rules worked in plain Python floats,
Adam's bias correction, bad settings, Keras's defaults, configs and state. Array tests run on
every backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import optimizers
from xpnn.backend import array_module

dev, host = xpnn.to_device, xpnn.to_numpy

# f(w) = 0.5 * sum(A * w^2), so the gradient is g = A * w
A = [1.0, 3.0, 0.5]
W0 = [1.0, -2.0, 0.25]


def run(opt: optimizers.Optimizer, steps: int, dtype: Any = np.float64) -> np.ndarray:
    """``steps`` updates of the quadratic on the active backend; the final weights on the host."""
    w = dev(np.array(W0, dtype=dtype))
    a = dev(np.array(A, dtype=dtype))
    for _ in range(steps):
        opt.step(w, a * w)
    assert w.dtype == dtype and array_module(w) is xpnn.get_xp()
    return host(w)


# -- references in plain Python floats, from the published rules -------------------------------
def adam_by_hand(
    steps: int, lr: float = 0.01, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7
) -> list[float]:
    """Keras's Adam (Kingma & Ba, Algorithm 1 with the bias corrections folded into the step
    size, epsilon added to sqrt(v) uncorrected), t counting from 1."""
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
    """Keras's SGD: velocity = momentum * velocity - lr * g; w += velocity,
    or with Nesterov w += momentum * velocity - lr * g."""
    out = []
    for a, w in zip(A, W0):
        velocity = 0.0
        for _ in range(steps):
            g = a * w
            velocity = momentum * velocity - lr * g
            w += momentum * velocity - lr * g if nesterov else velocity
        out.append(w)
    return out


def test_the_references_by_hand() -> None:
    # plain SGD, lr 0.1: w1 = w0 - 0.1 * A * w0 = [0.9, -1.4, 0.2375]
    assert sgd_by_hand(1, 0.1, 0.0, False) == pytest.approx([0.9, -1.4, 0.2375])
    # momentum 0.9: v1 = -0.1 g0 = [-0.1, 0.6, -0.0125]; g1 = A w1 = [0.9, -4.2, 0.11875]
    # v2 = 0.9 v1 - 0.1 g1 = [-0.18, 0.96, -0.023125]; w2 = w1 + v2 = [0.72, -0.44, 0.214375]
    assert sgd_by_hand(2, 0.1, 0.9, False) == pytest.approx([0.72, -0.44, 0.214375])
    # Nesterov: w1 = w0 + 0.9 v1 - 0.1 g0 = [1 - 0.09 - 0.1, -2 + 0.54 + 0.6, ...]
    assert sgd_by_hand(1, 0.1, 0.9, True) == pytest.approx([0.81, -0.86, 0.22625])
    # Adam step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so w moves by
    # lr g / (|g| + eps / sqrt(0.001)): lr * sign(g) to within 3.2e-6 / |g| relative
    g = [a * w for a, w in zip(A, W0)]  # [1, -6, 0.125]
    moved = [0.01 * v / (abs(v) + 1e-7 / math.sqrt(0.001)) for v in g]
    assert adam_by_hand(1) == pytest.approx([w - d for w, d in zip(W0, moved)], rel=1e-15)
    assert adam_by_hand(1) == pytest.approx([0.99, -1.99, 0.24], rel=2e-6)


# -- trajectories -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_trajectory(xp: Any, dtype: Any) -> None:
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    got = run(optimizers.Adam(learning_rate=0.01), 5, dtype)
    np.testing.assert_allclose(got, adam_by_hand(5), rtol=rtol)
    opt = optimizers.Adam(learning_rate=0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3)
    got = run(opt, 4, dtype)
    np.testing.assert_allclose(got, adam_by_hand(4, 0.05, 0.5, 0.9, 1e-3), rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("momentum", "nesterov"), [(0.0, False), (0.9, False), (0.9, True)], ids=["plain", "mom", "nag"]
)
def test_sgd_trajectory(xp: Any, momentum: float, nesterov: bool, dtype: Any) -> None:
    opt = optimizers.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    got = run(opt, 5, dtype)
    np.testing.assert_allclose(got, sgd_by_hand(5, 0.1, momentum, nesterov), rtol=rtol)
    assert opt.iterations == 5


def test_rmsprop_trajectory(xp: Any) -> None:
    expected = []
    for a, w in zip(A, W0):  # v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps)
        v = 0.0
        for _ in range(3):
            g = a * w
            v = 0.9 * v + 0.1 * g * g
            w -= 0.01 * g / math.sqrt(v + 1e-7)
        expected.append(w)
    np.testing.assert_allclose(run(optimizers.RMSprop(learning_rate=0.01), 3), expected, rtol=1e-13)


def test_adam_bias_correction_at_step_1(xp: Any) -> None:
    opt = optimizers.Adam(learning_rate=0.01)
    w = run(opt, 1)
    # every weight moves by about lr against the sign of its gradient, whatever |g| is:
    # lr g / (|g| + eps / sqrt(1 - beta_2)) with g = [1, -6, 0.125]
    np.testing.assert_allclose(np.array(W0) - w, [0.01, -0.01, 0.01], rtol=5e-5)
    g = np.array(A) * np.array(W0)
    np.testing.assert_allclose(np.array(W0) - w, 0.01 * g / (abs(g) + 1e-7 / math.sqrt(1e-3)))
    assert opt.iterations == 1
    assert opt.step_size() == pytest.approx(0.01 * math.sqrt(1 - 0.999) / (1 - 0.9), rel=1e-15)


def test_adam_bias_correction_at_step_1000(xp: Any) -> None:
    opt = optimizers.Adam(learning_rate=0.01)
    w = run(opt, 1000)
    assert opt.iterations == 1000
    expected = 0.01 * math.sqrt(1 - 0.999**1000) / (1 - 0.9**1000)  # = 0.0079502...
    assert opt.step_size() == pytest.approx(expected, rel=1e-14)
    assert opt.step_size() == pytest.approx(0.00795, rel=1e-3)
    np.testing.assert_allclose(w, adam_by_hand(1000), rtol=1e-9, atol=1e-12)


def test_state_is_built_like_the_params(xp: Any) -> None:
    w = dev(np.zeros(4, dtype=np.float32))
    adam = optimizers.Adam()
    adam.step(w, w)
    assert set(adam.state) == {"m", "v"}
    sgd = optimizers.SGD(momentum=0.5)
    sgd.step(w, w)
    assert set(sgd.state) == {"velocity"}
    for s in (*adam.state.values(), *sgd.state.values()):
        assert s.dtype == np.float32 and tuple(s.shape) == (4,) and array_module(s) is xp
    plain = optimizers.SGD()
    plain.step(w, w)
    assert plain.state == {}  # no momentum, no state


# -- bad settings -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.Adam, optimizers.RMSprop])
@pytest.mark.parametrize("lr", [0, 0.0, -1e-3, float("nan"), float("inf")])
def test_bad_learning_rate_values(cls: type, lr: float) -> None:
    with pytest.raises(
        ValueError, match=r"learning_rate must be a positive finite number, received"
    ) as err:
        cls(learning_rate=lr)
    assert repr(lr) in str(err.value)  # the message echoes the value


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.Adam, optimizers.RMSprop])
@pytest.mark.parametrize("lr", ["x", None, True, [0.1]])
def test_bad_learning_rate_types(cls: type, lr: Any) -> None:
    with pytest.raises(TypeError, match=r"learning_rate must be a positive number, received"):
        cls(learning_rate=lr)


def test_learning_rate_accepts_numpy_and_int() -> None:
    assert optimizers.Adam(learning_rate=np.float32(0.5)).learning_rate == 0.5
    assert optimizers.SGD(learning_rate=1).learning_rate == 1.0


@pytest.mark.parametrize("name", ["beta_1", "beta_2"])
@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_betas_outside_0_1(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\), received"):
        optimizers.Adam(**{name: bad})


def test_other_bad_settings() -> None:
    with pytest.raises(TypeError, match=r"beta_1 must be a number in \[0, 1\), received '0.9'"):
        optimizers.Adam(beta_1="0.9")
    assert optimizers.Adam(beta_1=0.0).beta_1 == 0.0  # 0 is allowed
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\], received"):
            optimizers.SGD(momentum=bad)
    with pytest.raises(ValueError, match="epsilon must be a non-negative number, received -1"):
        optimizers.Adam(epsilon=-1)
    with pytest.raises(ValueError, match=r"rho must be in \[0, 1\)"):
        optimizers.RMSprop(rho=1.0)


# -- names, defaults, configs ------------------------------------------------------------------
def test_names_give_keras_defaults() -> None:
    adam = optimizers.get("adam")
    assert type(adam) is optimizers.Adam
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (1e-3, 0.9, 0.999, 1e-7)
    sgd = optimizers.get("sgd")
    assert type(sgd) is optimizers.SGD
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    rms = optimizers.get("RMSprop")
    assert (rms.learning_rate, rms.rho, rms.epsilon) == (1e-3, 0.9, 1e-7)
    assert type(optimizers.get("ADAM")) is optimizers.Adam
    assert optimizers.get(adam) is adam
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamw'.*adam, rmsprop, sgd"):
        optimizers.get("adamw")


@pytest.mark.parametrize(
    "opt",
    [
        optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        optimizers.SGD(learning_rate=0.3, momentum=0.5, nesterov=True),
        optimizers.RMSprop(learning_rate=0.004, rho=0.8),
    ],
    ids=repr,
)
def test_config_round_trip(opt: optimizers.Optimizer) -> None:
    again = optimizers.from_config(opt.get_config())
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert repr(again) == repr(opt)
    with pytest.raises(ValueError, match="Unknown optimizer in config"):
        optimizers.from_config({"name": "adamw"})


# -- state for saving -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(learning_rate=0.01),
        lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(learning_rate=0.01),
    ],
    ids=["adam", "sgd", "rmsprop"],
)
def test_state_round_trip(xp: Any, make: Any) -> None:
    a = dev(np.array(A))
    opt = make()
    w = dev(np.array(W0))
    for _ in range(3):
        opt.step(w, a * w)
    state = opt.get_state()
    assert all(type(v) is np.ndarray for v in state.values())  # host arrays, for saving
    assert int(state["iterations"]) == 3 and set(state) == {*opt.state, "iterations"}
    fresh = make()
    fresh.set_state(state, w)
    assert fresh.iterations == 3
    for slot, v in fresh.state.items():
        assert array_module(v) is xp
        np.testing.assert_array_equal(host(v), state[slot])
    w2 = w.copy()
    for _ in range(2):  # both continue the same way, to the bit
        opt.step(w, a * w)
        fresh.step(w2, a * w2)
    np.testing.assert_array_equal(host(w), host(w2))


def test_set_state_checks_shapes(xp: Any) -> None:
    opt = optimizers.Adam()
    w = dev(np.zeros(3))
    with pytest.raises(ValueError, match=r"slot 'm' has shape \(2,\), expected \(3,\)"):
        opt.set_state({"m": np.zeros(2), "v": np.zeros(2), "iterations": np.array(1)}, w)


def test_get_state_on_strict_copies_only_the_state() -> None:
    with xpnn.use_backend("strict"):
        opt = optimizers.Adam()
        w = dev(np.ones(3))
        opt.step(w, w * 2.0)
        xpnn.transfer_counts(reset=True)
        opt.step(w, w * 2.0)  # a step moves nothing between host and device
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}
        opt.get_state()
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 3}  # m, v and the step count
