"""Learning rate schedules: the formulas worked by hand, bad arguments, configs, and the device
form the optimizer evaluates inside a recorded step. Keras's own numbers for every schedule are
in test_optimizers_keras.py."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import optimizers, schedules
from xpnn.backend import array_module
from xpnn.testing import strict


def test_reachable_as_keras_places_it() -> None:
    assert optimizers.schedules is schedules
    assert issubclass(schedules.CosineDecay, optimizers.schedules.LearningRateSchedule)


# -- the formulas, worked by hand ----------------------------------------------------------------
def test_exponential_decay() -> None:
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    assert s(0) == 0.1 and s(4) == pytest.approx(0.05) and s(8) == pytest.approx(0.025)
    assert s(2) == pytest.approx(0.1 * 0.5**0.5, rel=1e-15)  # continuous between
    stairs = schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True)
    assert [stairs(k) for k in (0, 3, 4, 7, 8)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_inverse_time_decay() -> None:
    s = schedules.InverseTimeDecay(0.1, decay_steps=3, decay_rate=0.7)
    assert s(3) == pytest.approx(0.1 / 1.7, rel=1e-15)  # 0.1 / (1 + 0.7 * 3 / 3)
    assert s(1) == pytest.approx(0.1 / (1 + 0.7 / 3), rel=1e-15)
    stairs = schedules.InverseTimeDecay(0.1, 3, 0.7, staircase=True)
    assert stairs(2) == 0.1 and stairs(5) == pytest.approx(0.1 / 1.7, rel=1e-15)


def test_piecewise_constant_decay_boundaries_belong_to_the_interval_below() -> None:
    s = schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01])
    assert [s(k) for k in range(10)] == [0.1] * 4 + [0.05] * 4 + [0.01] * 2
    assert schedules.PiecewiseConstantDecay([], [0.3])(12) == 0.3


def test_polynomial_decay() -> None:
    s = schedules.PolynomialDecay(0.1, decay_steps=8, end_learning_rate=0.01, power=2.0)
    assert s(4) == pytest.approx(0.09 * 0.25 + 0.01, rel=1e-15)  # (1 - 4/8)^2
    assert s(8) == pytest.approx(0.01) and s(100) == pytest.approx(0.01)  # held at the end
    cyc = schedules.PolynomialDecay(0.1, 5, 0.01, cycle=True)
    # decay_steps grows to 5 * ceil(step / 5): step 6 decays over 10 steps, step 0 over 5
    assert cyc(0) == pytest.approx(0.1) and cyc(5) == pytest.approx(0.01)
    assert cyc(6) == pytest.approx(0.09 * (1 - 6 / 10) + 0.01, rel=1e-15)
    assert schedules.PolynomialDecay(1.0, 10).end_learning_rate == 0.0001  # Keras's default


def test_cosine_decay() -> None:
    s = schedules.CosineDecay(0.1, decay_steps=8, alpha=0.1)
    assert s(0) == pytest.approx(0.1) and s(8) == pytest.approx(0.01) and s(20) == s(8)
    assert s(4) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1), rel=1e-15)  # cos(pi / 2) = 0
    # warmup: linear from 0 to 0.1 over 4 steps, then the decay from 0.1 over 6
    w = schedules.CosineDecay(0.0, 6, alpha=0.2, warmup_target=0.1, warmup_steps=4)
    assert [w(k) for k in range(5)] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])
    assert w(7) == pytest.approx(0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi / 2)) + 0.2))
    assert w(10) == pytest.approx(0.02) and w(50) == pytest.approx(0.02)
    # as in Keras, warmup_steps without warmup_target does nothing
    plain = schedules.CosineDecay(0.1, 6, warmup_steps=4)
    assert [plain(k) for k in range(8)] == [schedules.CosineDecay(0.1, 6)(k) for k in range(8)]
    # and warmup_target with no warmup steps decays from the target at once
    assert schedules.CosineDecay(0.5, 6, warmup_target=0.1)(0) == pytest.approx(0.1)


# -- the device form ------------------------------------------------------------------------------
ALL = {
    "exponential": lambda: schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True),
    "inverse": lambda: schedules.InverseTimeDecay(0.1, 3, 0.7),
    "piecewise": lambda: schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]),
    "polynomial": lambda: schedules.PolynomialDecay(0.1, 5, 0.01, power=0.5, cycle=True),
    "cosine": lambda: schedules.CosineDecay(0.0, 6, alpha=0.2, warmup_target=0.1, warmup_steps=4),
}


@pytest.mark.parametrize("name", list(ALL))
def test_an_array_step_gives_an_array_on_its_backend(xp: Any, name: str) -> None:
    s = ALL[name]()
    steps = xpnn.to_device(np.arange(15, dtype=np.float64))
    rates = s(steps)
    assert array_module(rates) is xp and tuple(rates.shape) == (15,)
    assert xpnn.to_numpy(rates).tolist() == [s(k) for k in range(15)]


@pytest.mark.parametrize("name", list(ALL))
def test_a_recorded_evaluation_follows_the_step_count(name: str) -> None:
    """What the optimizer does inside a recorded step: the rate written in place from the
    device count. Replays read the count as it is then, with no transfer; a host value baked
    into the recording would repeat the rate of step 0."""
    with xpnn.use_backend("strict"):
        s = ALL[name]()
        t = xpnn.to_device(np.zeros(1))
        lr = xpnn.to_device(np.zeros(1))

        def step() -> None:
            lr[...] = s(t)
            t.__iadd__(1.0)

        tape = strict.record_tape(step)
        xpnn.transfer_counts(reset=True)
        got = []
        for _ in range(12):
            tape.launch()
            got.append(lr.copy())
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}
        assert [xpnn.to_numpy(r)[0] for r in got] == [s(k) for k in range(12)]


# -- a schedule of one's own, written Keras's way ------------------------------------------------
class OneOverT(schedules.LearningRateSchedule):
    def __init__(self, initial_learning_rate: float) -> None:
        self.initial_learning_rate = initial_learning_rate

    def __call__(self, step: Any) -> Any:
        return self.initial_learning_rate / (step + 1)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate}


def test_a_keras_style_schedule_runs_on_the_device_and_round_trips(xp: Any) -> None:
    opt = optimizers.SGD(learning_rate=OneOverT(0.5))
    w = xpnn.to_device(np.zeros(2))
    g = xpnn.to_device(np.ones(2))
    for _ in range(3):
        opt.step(w, g)
    # steps at rates 0.5, 0.25, 0.5/3 (schedule(0), (1), (2)), and the next is 0.125
    np.testing.assert_allclose(xpnn.to_numpy(w), -(0.5 + 0.25 + 0.5 / 3), rtol=1e-15)
    assert opt.learning_rate == 0.125
    config = json.loads(json.dumps(opt.get_config()))
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'OneOverT'"):
        optimizers.from_config(config)
    again = optimizers.from_config(config, custom_objects={"OneOverT": OneOverT})
    assert isinstance(again._schedule, OneOverT) and again.learning_rate == 0.5


def test_a_schedule_without_a_formula_or_config_says_so() -> None:
    class Empty(schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match="'Empty' must override _rate"):
        Empty()(3)
    with pytest.raises(NotImplementedError, match="'Empty' must override get_config"):
        optimizers.SGD(learning_rate=Empty()).get_config()
    assert repr(Empty()) == "Empty()"


# -- arguments and configs ------------------------------------------------------------------------
E, P, I, C = (
    schedules.ExponentialDecay,
    schedules.PiecewiseConstantDecay,
    schedules.InverseTimeDecay,
    schedules.CosineDecay,
)
BAD = [
    (E, (0.1, 0, 0.5), {}, ValueError, r"decay_steps must be > 0, received 0\."),
    (I, (0.1, -2, 0.5), {}, ValueError, r"decay_steps must be > 0, received -2"),
    (
        schedules.PolynomialDecay,
        (0.1, 0.0),
        {},
        ValueError,
        r"decay_steps must be > 0, received 0\.0",
    ),
    (C, (0.1, 0), {}, ValueError, r"decay_steps must be > 0"),
    (C, ("0.1", 5), {}, TypeError, r"initial_learning_rate must be a number, received '0.1'"),
    (C, (0.1, 5), {"warmup_steps": -1}, ValueError, r"warmup_steps must be >= 0, received -1"),
    (E, (math.nan, 5, 0.5), {}, ValueError, r"initial_learning_rate must be a finite number"),
    (E, (0.1, True, 0.5), {}, TypeError, r"decay_steps must be a number, received True"),
    (P, ([3, 7], [0.1, 0.05]), {}, ValueError, r"length of boundaries should be 1 less than"),
    (P, ([7, 3], [0.1, 0.05, 0.01]), {}, ValueError, r"strictly increasing, received \[7, 3\]"),
    (P, ([2.5], [0.1, 0.05]), {}, ValueError, r"whole step counts, received \[2.5\]"),
    (P, (3, [0.1, 0.05]), {}, TypeError, r"boundaries and values must be lists"),
]


@pytest.mark.parametrize(("cls", "args", "kwargs", "error", "match"), BAD)
def test_bad_arguments(cls: type, args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cls(*args, **kwargs)


@pytest.mark.parametrize("name", list(ALL))
def test_serialize_round_trips_through_json(name: str) -> None:
    s = ALL[name]()
    config = json.loads(json.dumps(schedules.serialize(s)))
    assert config["module"] == "keras.optimizers.schedules"
    assert config["class_name"] == type(s).__name__ and config["registered_name"] is None
    again = schedules.deserialize(config)
    assert type(again) is type(s) and again.get_config() == s.get_config()
    assert repr(again) == repr(s) and repr(s).startswith(f"{type(s).__name__}(")
    assert [again(k) for k in range(12)] == [s(k) for k in range(12)]


def test_configs_keep_keras_names_and_defaults() -> None:
    assert schedules.ExponentialDecay(0.1, 10, 0.9).get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "decay_rate": 0.9,
        "staircase": False,
        "name": "ExponentialDecay",
    }
    assert schedules.PiecewiseConstantDecay([1], [1, 2]).get_config()["name"] == "PiecewiseConstant"
    assert schedules.CosineDecay(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 5,
        "alpha": 0.0,
        "name": "CosineDecay",
        "warmup_target": None,
        "warmup_steps": 0,
    }


def test_deserialize_refuses_what_it_does_not_know() -> None:
    with pytest.raises(
        ValueError, match=r"Unknown learning rate schedule 'Cyclic': expected one of"
    ):
        schedules.deserialize({"class_name": "Cyclic", "config": {}})
    with pytest.raises(ValueError, match="must be a dict with 'class_name'"):
        schedules.deserialize({"config": {}})
    with pytest.raises(TypeError, match="serialize expects a LearningRateSchedule, received 0.1"):
        schedules.serialize(0.1)
