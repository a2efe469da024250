"""Optimizers: trajectories against the published update rules worked in plain Python floats
(SGD, Adam, RMSprop, Adagrad, Adamax, Nadam, AdamW's decay, Keras's clipping and weight decay),
Adam's bias correction, schedules driving the rate, bad settings, Keras's defaults, configs and
state, and recorded (replayed) training with every new option on the strict backend. Array
tests run on every backend; Keras's own numbers are in test_optimizers_keras.py."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import optimizers
from xpnn.backend import array_module
from xpnn.optimizers import schedules

from helpers import blobs

dev, host = xpnn.to_device, xpnn.to_numpy

# f(w) = 0.5 * sum(A * w^2), so the gradient is g = A * w
A = [1.0, 3.0, 0.5]
W0 = [1.0, -2.0, 0.25]


def run(
    opt: optimizers.Optimizer,
    steps: int,
    dtype: Any = np.float64,
    segments: list[int] | None = None,
) -> np.ndarray:
    """``steps`` updates of the quadratic on the active backend; the final weights on the host.
    ``segments``: the variables' sizes in the flat buffer (for clipnorm)."""
    w = dev(np.array(W0, dtype=dtype))
    a = dev(np.array(A, dtype=dtype))
    if segments is not None:
        opt.build(w, segments=segments)
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
ALL_CLASSES = [
    optimizers.SGD,
    optimizers.Adam,
    optimizers.AdamW,
    optimizers.RMSprop,
    optimizers.Adagrad,
    optimizers.Adamax,
    optimizers.Nadam,
]


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize("lr", [0, 0.0, -1e-3, float("nan"), float("inf")])
def test_bad_learning_rate_values(cls: type, lr: float) -> None:
    with pytest.raises(
        ValueError, match=r"learning_rate must be a positive finite number, received"
    ) as err:
        cls(learning_rate=lr)
    assert repr(lr) in str(err.value)  # the message echoes the value


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize("lr", ["x", None, True, [0.1]])
def test_bad_learning_rate_types(cls: type, lr: Any) -> None:
    with pytest.raises(
        TypeError,
        match=r"learning_rate must be a positive number or a LearningRateSchedule "
        r"\(xpnn.optimizers.schedules\), received",
    ):
        cls(learning_rate=lr)


def test_a_plain_callable_is_refused_as_a_learning_rate() -> None:
    """Keras takes a no-argument callable and calls it every step on the host; a recorded
    step cannot, so the message says what to write instead."""
    with pytest.raises(TypeError, match=r"plain callable would run on the host every step"):
        optimizers.Adam(learning_rate=lambda: 0.01)


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
KERAS_ADAMW = (1e-3, 0.004, 0.9, 0.999, 1e-7)  # learning_rate, weight_decay, betas, epsilon


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
    w = adamw = optimizers.get("adamw")
    assert type(adamw) is optimizers.AdamW and isinstance(adamw, optimizers.Adam)
    assert (w.learning_rate, w.weight_decay, w.beta_1, w.beta_2, w.epsilon) == KERAS_ADAMW
    g = adagrad = optimizers.get("adagrad")
    assert type(adagrad) is optimizers.Adagrad
    assert (g.learning_rate, g.initial_accumulator_value, g.epsilon) == (1e-3, 0.1, 1e-7)
    for name, cls in (("adamax", optimizers.Adamax), ("Nadam", optimizers.Nadam)):
        opt = optimizers.get(name)
        assert type(opt) is cls
        assert (opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon) == (1e-3, 0.9, 0.999, 1e-7)
    for opt in (adam, sgd, rms, adamw, adagrad):  # Keras's base arguments, off but AdamW's decay
        assert (opt.clipnorm, opt.clipvalue, opt.global_clipnorm) == (None, None, None)
        assert opt.weight_decay == (0.004 if opt is adamw else None)
    assert (adam.name, rms.name, adamw.name) == ("adam", "rmsprop", "adamw")
    with pytest.raises(ValueError, match=r"Unknown optimizer 'lion'.*adagrad, adam, adamax, adamw"):
        optimizers.get("lion")


@pytest.mark.parametrize(
    "opt",
    [
        optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        optimizers.SGD(learning_rate=0.3, momentum=0.5, nesterov=True),
        optimizers.RMSprop(learning_rate=0.004, rho=0.8),
        optimizers.AdamW(learning_rate=0.01, weight_decay=0.1, clipnorm=1.5, name="my_adamw"),
        optimizers.Adagrad(learning_rate=0.2, initial_accumulator_value=0.5, clipvalue=0.3),
        optimizers.Adamax(learning_rate=0.02, beta_2=0.99, global_clipnorm=4.0),
        optimizers.Nadam(
            learning_rate=schedules.CosineDecay(0.1, 8, warmup_target=0.2, warmup_steps=2),
            weight_decay=0.01,
        ),
        optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01])),
    ],
    ids=repr,
)
def test_config_round_trip(opt: optimizers.Optimizer) -> None:
    config = json.loads(json.dumps(opt.get_config()))  # saving stores it as JSON
    again = optimizers.from_config(config)
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert repr(again) == repr(opt) and again.name == opt.name
    assert again.signature() == opt.signature() or opt._schedule is not None
    with pytest.raises(ValueError, match="Unknown optimizer in config"):
        optimizers.from_config({"name": "lion"})


# -- state for saving -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(learning_rate=0.01),
        lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(learning_rate=0.01),
        lambda: optimizers.AdamW(learning_rate=0.01, clipnorm=1.0),
        lambda: optimizers.Adagrad(learning_rate=0.1, global_clipnorm=2.0),
        lambda: optimizers.Adamax(learning_rate=0.01, weight_decay=0.1),
        lambda: optimizers.Nadam(learning_rate=schedules.ExponentialDecay(0.01, 2, 0.5)),
    ],
    ids=["adam", "sgd", "rmsprop", "adamw", "adagrad", "adamax", "nadam"],
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


# -- the new update rules, by hand (Keras's formulas in plain Python floats) --------------------
def adagrad_by_hand(steps: int, lr: float, init: float = 0.1, eps: float = 1e-7) -> list[float]:
    out = []
    for a, w in zip(A, W0):
        acc = init
        for _ in range(steps):
            g = a * w
            acc += g * g
            w -= lr * g / math.sqrt(acc + eps)
        out.append(w)
    return out


def adamax_by_hand(steps: int, lr: float, b1: float = 0.9, b2: float = 0.999) -> list[float]:
    out = []
    for a, w in zip(A, W0):
        m = u = 0.0
        for t in range(1, steps + 1):
            g = a * w
            m += (g - m) * (1 - b1)
            u = max(b2 * u, abs(g))
            w -= lr * m / ((1 - b1**t) * (u + 1e-7))
        out.append(w)
    return out


def nadam_by_hand(
    steps: int, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7
) -> list[float]:
    """Keras 3's Nadam: momentum schedule mu_t = b1 (1 - 0.5 * 0.96^t) and its running
    product, folded into the Nesterov-corrected first moment."""
    out = []
    for a, w in zip(A, W0):
        m = v = 0.0
        product = 1.0
        for t in range(1, steps + 1):
            g = a * w
            mu, mu_next = b1 * (1 - 0.5 * 0.96**t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
            product *= mu
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            m_hat = mu_next * m / (1 - product * mu_next) + (1 - mu) * g / (1 - product)
            w -= lr * m_hat / (math.sqrt(v / (1 - b2**t)) + eps)
        out.append(w)
    return out


def test_adagrad_adamax_nadam_trajectories(xp: Any) -> None:
    np.testing.assert_allclose(
        run(optimizers.Adagrad(learning_rate=0.1), 6), adagrad_by_hand(6, 0.1), rtol=1e-13
    )
    opt = optimizers.Adagrad(learning_rate=0.2, initial_accumulator_value=0.5, epsilon=1e-3)
    np.testing.assert_allclose(run(opt, 6), adagrad_by_hand(6, 0.2, 0.5, 1e-3), rtol=1e-13)
    np.testing.assert_allclose(
        run(optimizers.Adamax(learning_rate=0.05), 6), adamax_by_hand(6, 0.05), rtol=1e-13
    )
    opt = optimizers.Adamax(learning_rate=0.05, beta_1=0.5, beta_2=0.8)
    np.testing.assert_allclose(run(opt, 6), adamax_by_hand(6, 0.05, 0.5, 0.8), rtol=1e-13)
    np.testing.assert_allclose(
        run(optimizers.Nadam(learning_rate=0.05), 8), nadam_by_hand(8, 0.05), rtol=1e-12
    )
    opt = optimizers.Nadam(learning_rate=0.02, beta_1=0.5, beta_2=0.9, epsilon=1e-4)
    np.testing.assert_allclose(run(opt, 8), nadam_by_hand(8, 0.02, 0.5, 0.9, 1e-4), rtol=1e-12)


def test_adamw_is_adam_after_a_decay_of_the_weights(xp: Any) -> None:
    """Keras's decoupled decay, w -= w * wd * lr, then Adam's update from the gradient taken
    before it: after one step from W0, adam(W0) - W0 * wd * lr exactly (the update of step 1
    does not depend on w)."""
    wd, lr = 0.1, 0.01
    got = run(optimizers.AdamW(learning_rate=lr, weight_decay=wd), 1)
    decayed = [w - w * wd * lr for w in W0]
    moved = [w0 - w for w0, w in zip(W0, adam_by_hand(1, lr))]
    np.testing.assert_allclose(got, [d - m for d, m in zip(decayed, moved)], rtol=1e-14)
    assert not np.allclose(got, adam_by_hand(1, lr), rtol=1e-6)


# -- Keras's base arguments, by hand with SGD -----------------------------------------------------
def sgd_options_by_hand(steps: int, lr: float, **option: float) -> list[float]:
    """SGD from W0 with one of Keras's base arguments; ``A``'s first two weights are one
    variable and the last another (segments [2, 1]), as a kernel and a bias."""
    w = list(W0)
    for _ in range(steps):
        g = [a * x for a, x in zip(A, w)]
        if "clipnorm" in option:
            c = option["clipnorm"]
            for part in (slice(0, 2), slice(2, 3)):
                norm = math.sqrt(sum(v * v for v in g[part]))
                g[part] = [v * c / max(norm, c) for v in g[part]]
        if "global_clipnorm" in option:
            c = option["global_clipnorm"]
            norm = math.sqrt(sum(v * v for v in g))
            g = [v * c / max(norm, c) for v in g]
        if "clipvalue" in option:
            g = [min(max(v, -option["clipvalue"]), option["clipvalue"]) for v in g]
        if "weight_decay" in option:
            w = [x - x * option["weight_decay"] * lr for x in w]
        w = [x - lr * v for x, v in zip(w, g)]
    return w


@pytest.mark.parametrize(
    "option",
    [
        {"clipnorm": 1.5},  # clips the first variable ([1, -6] at start), not the second
        {"global_clipnorm": 2.0},
        {"clipvalue": 0.5},
        {"weight_decay": 0.3},
    ],
    ids=lambda o: next(iter(o)),
)
def test_clipping_and_weight_decay_by_hand(xp: Any, option: dict[str, float]) -> None:
    opt = optimizers.SGD(learning_rate=0.1, **option)
    got = run(opt, 4, segments=[2, 1])
    np.testing.assert_allclose(got, sgd_options_by_hand(4, 0.1, **option), rtol=1e-14)
    assert not np.allclose(got, sgd_by_hand(4, 0.1, 0.0, False), rtol=1e-3)  # it did something


def test_clipnorm_is_per_variable_and_the_whole_buffer_without_segments(xp: Any) -> None:
    """With segments [2, 1] the third weight's gradient (0.125) is far under the norm and stays;
    without segments the buffer is one variable and its norm (about 6.1) scales all three."""
    opt = optimizers.SGD(learning_rate=1.0, clipnorm=1.5)
    w = dev(np.array(W0))
    g = dev(np.array(A) * np.array(W0))  # [1, -6, 0.125]
    opt.build(w, segments=[2, 1])
    opt.step(w, g)
    first = 1.5 / math.sqrt(37.0)
    np.testing.assert_allclose(host(w), [1 - first, -2 + 6 * first, 0.25 - 0.125], rtol=1e-14)
    np.testing.assert_array_equal(host(g), [1.0, -6.0, 0.125])  # the gradients are left alone
    whole = optimizers.SGD(learning_rate=1.0, clipnorm=1.5)
    w = dev(np.array(W0))
    whole.step(w, g)
    scale = 1.5 / math.sqrt(37.0 + 0.125**2)
    np.testing.assert_allclose(host(w), np.array(W0) - scale * np.array([1.0, -6.0, 0.125]))


def test_global_clipnorm_keeps_keras_nan_for_a_non_finite_norm(xp: Any) -> None:
    """Keras's scale turns NaN when the norm is infinite or NaN (``+ (norm - norm)``), so one
    bad gradient poisons the step instead of being silently scaled to zero."""
    opt = optimizers.SGD(learning_rate=0.1, global_clipnorm=1.0)
    w = dev(np.ones(3))
    with np.errstate(invalid="ignore"):
        opt.step(w, dev(np.array([np.inf, 1.0, 0.0])))
    assert np.isnan(host(w)).all()
    opt = optimizers.SGD(learning_rate=0.1, global_clipnorm=1.0)
    w = dev(np.ones(3))
    opt.step(w, dev(np.zeros(3)))  # a zero norm: nothing to scale, no 1/0
    np.testing.assert_array_equal(host(w), [1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"clipnorm": 0}, ValueError, r"clipnorm must be a positive finite number, received 0\. "),
        ({"clipvalue": -1.0}, ValueError, r"clipvalue must be a positive finite number"),
        ({"global_clipnorm": float("nan")}, ValueError, r"global_clipnorm must be a positive"),
        ({"clipnorm": "1"}, TypeError, r"clipnorm must be a positive number, received '1'"),
        ({"weight_decay": -0.1}, ValueError, r"weight_decay must be a non-negative number"),
        ({"weight_decay": -0.1}, ValueError, r"received -0.1. \(None turns it off\)"),
        (
            {"clipnorm": 1.0, "clipvalue": 0.5},
            ValueError,
            r"Only one of clipnorm, clipvalue and global_clipnorm can be set\. Received: "
            r"clipnorm=1\.0, clipvalue=0\.5, global_clipnorm=None",
        ),
        ({"name": 3}, TypeError, r"name must be a string or None, received 3"),
    ],
)
@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_bad_base_arguments(cls: type, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_other_bad_settings_of_the_new_optimizers() -> None:
    with pytest.raises(ValueError, match="weight_decay must be a float for AdamW, received None"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="initial_accumulator_value must be a non-negative"):
        optimizers.Adagrad(initial_accumulator_value=-1)
    with pytest.raises(ValueError, match=r"beta_1 must be in \[0, 1\), received 1"):
        optimizers.Nadam(beta_1=1)
    with pytest.raises(ValueError, match=r"beta_2 must be in \[0, 1\), received 1.5"):
        optimizers.Adamax(beta_2=1.5)
    assert optimizers.SGD(weight_decay=0).weight_decay == 0.0  # allowed, and a no-op


# -- segments: where the variables lie in the flat buffer ----------------------------------------
def test_segments_are_checked_and_kept_while_the_size_holds(xp: Any) -> None:
    opt = optimizers.SGD(clipnorm=1.0)
    w = dev(np.zeros(5))
    with pytest.raises(ValueError, match=r"segments must add up to the 5 parameters, received "):
        opt.build(w, segments=[2, 2])
    with pytest.raises(ValueError, match=r"segments must be non-negative integers, received"):
        opt.build(w, segments=[2.5, 2.5])
    with pytest.raises(TypeError, match=r"segments must be a list of sizes, received 5"):
        opt.build(w, segments=5)
    opt.build(w, segments=[3, 0, 2])
    opt.build(w)  # a rebuild (compile again, set_state) keeps them
    assert opt._segments == (3, 0, 2)
    opt.step(dev(np.zeros(7)), dev(np.zeros(7)))  # another size: they no longer apply
    assert opt._segments is None


# -- the learning rate as a schedule ---------------------------------------------------------------
def test_a_schedule_gives_each_step_its_rate_from_step_0(xp: Any) -> None:
    """Keras evaluates the schedule at ``iterations`` before the increment: the first step
    runs at schedule(0). SGD from 0 with g = 1 moves by exactly each step's rate."""
    schedule = schedules.PiecewiseConstantDecay([0, 1], [1.0, 0.5, 0.25])
    opt = optimizers.SGD(learning_rate=schedule)
    assert opt.learning_rate == 1.0  # schedule(0), before any step
    w, g = dev(np.zeros(1)), dev(np.ones(1))
    moved = []
    for _ in range(3):
        before = host(w)[0]
        opt.step(w, g)
        moved.append(before - host(w)[0])
    assert moved == [1.0, 0.5, 0.25]
    assert opt.learning_rate == 0.25 and type(opt.learning_rate) is float  # schedule(3)
    np.testing.assert_array_equal(host(opt._lr64), [0.25])  # the rate of the last step


def test_weight_decay_uses_the_scheduled_rate(xp: Any) -> None:
    schedule = schedules.ExponentialDecay(0.2, 1, 0.5)  # 0.2, 0.1, 0.05, ...
    opt = optimizers.SGD(learning_rate=schedule, weight_decay=0.5)
    w = dev(np.array([1.0]))
    for _ in range(3):
        opt.step(w, dev(np.zeros(1)))
    np.testing.assert_allclose(host(w), [(1 - 0.1) * (1 - 0.05) * (1 - 0.025)], rtol=1e-15)


def test_setting_the_learning_rate_replaces_a_schedule_and_back(xp: Any) -> None:
    """Keras refuses a float once a schedule is set; here it takes over (so a callback such as
    ReduceLROnPlateau can), and the signature says the recorded step must be redone."""
    opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.2, 1, 0.5))
    w, g = dev(np.zeros(1)), dev(np.ones(1))
    opt.step(w, g)
    with_schedule = opt.signature()
    opt.learning_rate = 0.03
    assert opt.learning_rate == 0.03 and opt.get_config()["learning_rate"] == 0.03
    assert opt.signature() != with_schedule
    opt.step(w, g)
    np.testing.assert_allclose(host(w), [-0.2 - 0.03], rtol=1e-15)
    opt.learning_rate = schedules.ExponentialDecay(0.4, 1, 0.5)  # and a schedule again
    opt.step(w, g)  # at step 2: 0.4 * 0.25
    np.testing.assert_allclose(host(w), [-0.2 - 0.03 - 0.1], rtol=1e-15)
    assert opt.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(schedules.CosineDecay(0.1, 4, warmup_target=0.2, warmup_steps=2)),
        lambda: optimizers.Nadam(learning_rate=0.01, clipnorm=1.0, weight_decay=0.1),
        lambda: optimizers.Adagrad(schedules.InverseTimeDecay(0.1, 1, 1.0), global_clipnorm=1.0),
        lambda: optimizers.Adamax(learning_rate=0.01, clipvalue=0.1),
    ],
    ids=["adam-schedule", "nadam-clipnorm-decay", "adagrad-global", "adamax-clipvalue"],
)
def test_steps_with_schedules_and_options_move_nothing_between_host_and_device(make: Any) -> None:
    with xpnn.use_backend("strict"):
        opt = make()
        w, g = dev(np.ones(4, dtype=np.float32)), dev(np.full(4, 2.0, dtype=np.float32))
        opt.build(w, segments=[3, 1])
        xpnn.transfer_counts(reset=True)
        for _ in range(3):
            opt.step(w, g)
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}


# -- Nadam's momentum product ----------------------------------------------------------------------
def test_nadam_u_product_follows_the_step_count(xp: Any) -> None:
    """It is recomputed when the count is set (as loading does) with the step's own
    operations, so it equals the stepped one to the bit; long runs are quick (past step 899
    each step multiplies by beta_1 alone, until the product no longer changes)."""
    opt = optimizers.Nadam(learning_rate=1e-3)
    w, g = dev(np.ones(2)), dev(np.ones(2))
    for _ in range(1000):
        opt.step(w, g)
    stepped = host(opt._u_product)
    other = optimizers.Nadam(learning_rate=1e-3)
    other.build(w)
    other.iterations = 1000
    np.testing.assert_array_equal(host(other._u_product), stepped)
    other.iterations = 0
    np.testing.assert_array_equal(host(other._u_product), [1.0])
    assert optimizers._u_product_at(3, 0.9)[0] == pytest.approx(
        math.prod(0.9 * (1 - 0.5 * 0.96**t) for t in (1, 2, 3)), rel=1e-15
    )
    tiny = optimizers._u_product_at(10**9, 0.999)[0]  # a subnormal 0.999 no longer moves
    assert 0 < tiny < 1e-300 and tiny * 0.999 == tiny


# -- Keras's configs -------------------------------------------------------------------------------
def test_from_config_takes_keras_serialized_form_and_old_xpnn_configs() -> None:
    keras_form = {
        "module": "keras.optimizers",
        "class_name": "RMSprop",
        "config": {
            "name": "rm_sprop",
            "learning_rate": {
                "module": "keras.optimizers.schedules",
                "class_name": "ExponentialDecay",
                "config": {
                    "initial_learning_rate": 0.1,
                    "decay_steps": 10,
                    "decay_rate": 0.9,
                    "staircase": False,
                    "name": "ExponentialDecay",
                },
                "registered_name": None,
            },
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": 1.0,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.9,  # unused while use_ema is off
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
            "rho": 0.8,
            "momentum": 0.0,
            "epsilon": 1e-07,
            "centered": False,
        },
        "registered_name": None,
    }
    opt = optimizers.from_config(keras_form)
    assert type(opt) is optimizers.RMSprop and opt.name == "rm_sprop"
    assert (opt.rho, opt.global_clipnorm) == (0.8, 1.0)
    assert isinstance(opt._schedule, schedules.ExponentialDecay)
    keras_form["config"]["centered"] = True
    with pytest.raises(ValueError, match=r"sets centered=True, a Keras option xpnn does not"):
        optimizers.from_config(keras_form)
    keras_form["config"]["centered"], keras_form["config"]["use_ema"] = False, True
    with pytest.raises(ValueError, match=r"sets use_ema=True, a Keras option xpnn does not"):
        optimizers.from_config(keras_form)
    old = optimizers.from_config({"name": "adam", "learning_rate": 0.02, "beta_1": 0.8})
    assert type(old) is optimizers.Adam and (old.learning_rate, old.beta_1) == (0.02, 0.8)
    assert type(optimizers.get({"class_name": "Adagrad", "name": "x"})) is optimizers.Adagrad


# -- recorded steps (graphs.py): replayed training equals eager training ---------------------------
RECORDABLE = {
    "adamw-cosine-warmup": lambda: optimizers.AdamW(
        schedules.CosineDecay(0.0, 10, alpha=0.1, warmup_target=0.02, warmup_steps=4)
    ),
    "nadam-clipnorm": lambda: optimizers.Nadam(learning_rate=0.01, clipnorm=0.5),
    "adagrad-global-exponential": lambda: optimizers.Adagrad(
        schedules.ExponentialDecay(0.1, 3, 0.8), global_clipnorm=1.0
    ),
    "adamax-clipvalue-decay": lambda: optimizers.Adamax(0.01, clipvalue=0.2, weight_decay=0.1),
    "sgd-piecewise-decay": lambda: optimizers.SGD(
        schedules.PiecewiseConstantDecay([5, 12], [0.05, 0.02, 0.01]),
        momentum=0.9,
        weight_decay=0.01,
    ),
    "rmsprop-inverse-clipnorm": lambda: optimizers.RMSprop(
        schedules.InverseTimeDecay(0.01, 2, 0.5, staircase=True), clipnorm=0.3
    ),
    "adam-polynomial-cycle": lambda: optimizers.Adam(
        schedules.PolynomialDecay(0.02, 7, 0.001, power=2.0, cycle=True)
    ),
}


def _segments(model: xpnn.Sequential) -> list[int]:
    """The model's variables in Keras's order (kernel, bias per layer), end to end."""
    return [int(v.size) for layer in model.layers for v in layer.params]


def _fit(make: Any, jit: bool, epochs: int = 3) -> tuple[dict, list, int]:
    x, labels = blobs(70, 5, 3, seed=4)
    model = xpnn.Sequential(
        [xpnn.Input((5,)), xpnn.Dense(7, "relu"), xpnn.Dense(3, "softmax")], seed=3
    )
    model.compile(make(), "sparse_categorical_crossentropy", jit_compile=jit)
    model.optimizer.build(model._params, segments=_segments(model))  # per-variable clipnorm
    history = model.fit(x, labels, epochs=epochs, batch_size=16, verbose=0)
    return history.history, model.get_weights(), model.optimizer.iterations


@pytest.mark.parametrize("name", list(RECORDABLE))
def test_replayed_training_equals_eager_with_schedules_and_options(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the strict backend, where jit_compile records the step as a tape with CUDA's rules:
    each batch size is recorded once, the replays recompute the rate from the device count
    (the schedules change it within the fit), and the numbers are the eager fit's."""
    recorded: list[int] = []
    real = xpnn.graphs.Replayed._record
    monkeypatch.setattr(
        xpnn.graphs.Replayed, "_record", lambda self, step: recorded.append(1) or real(self, step)
    )
    with xpnn.use_backend("strict"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed recording would warn and run eagerly
        eager = _fit(RECORDABLE[name], jit=False)
        replayed = _fit(RECORDABLE[name], jit=True)
    assert len(recorded) == 2  # batch sizes 16 and 6
    assert replayed[2] == eager[2] == 15
    np.testing.assert_allclose(replayed[0]["loss"], eager[0]["loss"], rtol=1e-6)
    for a, b in zip(replayed[1], eager[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class _HostStepSchedule(schedules.LearningRateSchedule):
    """A schedule as it must not be written: it counts steps on the host, which a recording
    bakes in."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, step: Any) -> float:
        self.calls += 1
        return 0.05 / self.calls


def test_a_host_side_schedule_would_be_caught() -> None:
    """The replay test has teeth: this schedule records without complaint, then the replays
    repeat the rate of the recording, and the replayed training drifts from the eager one."""

    def make() -> optimizers.Optimizer:
        return optimizers.SGD(learning_rate=_HostStepSchedule())

    with xpnn.use_backend("strict"), warnings.catch_warnings():
        warnings.simplefilter("error")
        eager = _fit(make, jit=False)
        replayed = _fit(make, jit=True)
    assert replayed[2] == eager[2]
    assert not np.allclose(replayed[0]["loss"], eager[0]["loss"], rtol=1e-6)


def test_switching_a_schedule_for_a_rate_between_fits_records_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: list[int] = []
    real = xpnn.graphs.Replayed._record
    monkeypatch.setattr(
        xpnn.graphs.Replayed, "_record", lambda self, step: recorded.append(1) or real(self, step)
    )
    x, labels = blobs(70, 5, 3, seed=4)
    runs = []
    with xpnn.use_backend("strict"):
        for jit in (False, True):
            model = xpnn.Sequential([xpnn.Input((5,)), xpnn.Dense(3, "softmax")], seed=3)
            opt = optimizers.Adam(schedules.ExponentialDecay(0.05, 2, 0.5))
            model.compile(opt, "sparse_categorical_crossentropy", jit_compile=jit)
            model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
            model.optimizer.learning_rate = 0.01
            model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
            model.optimizer.learning_rate = schedules.ExponentialDecay(0.02, 2, 0.5)
            h = model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
            runs.append((h.history["loss"], model.get_weights()))
    assert len(recorded) == 6  # two batch sizes, three settings
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    for a, b in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_saved_model_resumes_with_its_schedule_and_nadam_state(tmp_path: Any) -> None:
    """The config (schedule nested) goes through the file's JSON, the slots through its
    arrays, and Nadam's momentum product is recomputed from the step count: the loaded model
    trains on exactly as the saved one."""
    x, labels = blobs(70, 5, 3, seed=4)
    model = xpnn.Sequential([xpnn.Input((5,)), xpnn.Dense(3, "softmax")], seed=3)
    opt = optimizers.Nadam(schedules.ExponentialDecay(0.05, 3, 0.7), clipvalue=0.5, name="n")
    model.compile(opt, "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.learning_rate == model.optimizer.learning_rate
    assert model.optimizer.learning_rate == pytest.approx(0.05 * 0.7 ** (10 / 3), rel=1e-15)
    np.testing.assert_array_equal(host(loaded.optimizer._u_product), host(opt._u_product))
    loaded.fit(x, labels, epochs=1, batch_size=16, verbose=0, shuffle=False)
    model.fit(x, labels, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
