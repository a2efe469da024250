"""Learning rate schedules: Keras 3's, with the same names, arguments, defaults and formulas
(``keras/src/optimizers/schedules/learning_rate_schedule.py``). Also reachable as
``xpnn.optimizers.schedules``.

A schedule maps the optimizer's step count to a learning rate. The optimizer evaluates it once
per step *on the device*, from its step count (a one-element float64 array) before the count
moves on: Keras evaluates ``schedule(iterations)`` before ``iterations += 1``, so the first step
runs at ``schedule(0)``. The formulas are array operations only, with no branch on a value, so a
recorded step (graphs.py) recomputes the rate on every replay. Called with a number, a schedule
returns a float (the same code, on a NumPy array).

Keras computes in the dtype of ``initial_learning_rate`` (float32); these compute in float64.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .backend import array_module

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "CosineDecay",
    "serialize",
    "deserialize",
]


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, received {value!r}.")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, received {value!r}.")
    return float(value)


def _steps(value: Any, name: str) -> int | float:
    """A positive step count, kept as given (Keras's configs keep an int an int)."""
    _number(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, received {value!r}.")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


class LearningRateSchedule:
    """Base class. ``schedule(step)``: the learning rate at ``step``, a float for a number, an
    array on the step's backend for an array (the optimizer's device form).

    Subclasses write ``_rate(xp, step)`` with array operations on the float64 ``step``. A
    schedule written Keras's way, overriding ``__call__(step)`` with arithmetic that works on
    arrays (``self.initial / (step + 1)``), works too; ``get_config`` makes it savable.
    """

    def __call__(self, step: Any) -> Any:
        if isinstance(step, numbers.Real):
            return float(self._rate(np, np.full(1, float(step)))[0])
        return self._rate(array_module(step), step)

    def _rate(self, xp: Any, step: Any) -> Any:
        raise NotImplementedError(
            f"Learning rate schedule {type(self).__name__!r} must override _rate(xp, step) "
            "or __call__(step)."
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule {type(self).__name__!r} must override get_config() in "
            "order to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """What ``ExponentialDecay`` and ``InverseTimeDecay`` share: Keras gives both the same
    arguments, and both decay by the progress ``step / decay_steps``, floored with
    ``staircase``. A subclass declares Keras's signature (its default ``name`` is its own) and
    writes ``_rate`` from ``_progress``."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool,
        name: str,
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.decay_rate = _number(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, xp: Any, step: Any) -> Any:
        p = step / float(self.decay_steps)
        return xp.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the step count over which the rate is multiplied by
            ``decay_rate``.
        decay_rate: the factor per ``decay_steps``.
        staircase: decay at whole multiples of ``decay_steps`` only.
        name: the schedule's name.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, xp: Any, step: Any) -> Any:
        return self.initial_learning_rate * xp.power(self.decay_rate, self._progress(xp, step))


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase``
    ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; how often the decay applies.
        decay_rate: the decay rate.
        staircase: decay at whole multiples of ``decay_steps`` only.
        name: the schedule's name.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, xp: Any, step: Any) -> Any:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(xp, step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after ``boundaries[-1]``.

    Args:
        boundaries: strictly increasing whole step counts (Keras casts them to the step's
            integer type; a fraction is refused here rather than truncated).
        values: the rates, one more than ``boundaries``.
        name: the schedule's name.
    """

    def __init__(
        self, boundaries: list[int], values: list[float], name: str = "PiecewiseConstant"
    ) -> None:
        if not isinstance(boundaries, list | tuple) or not isinstance(values, list | tuple):
            raise TypeError(
                f"boundaries and values must be lists, received boundaries={boundaries!r} and "
                f"values={values!r}."
            )
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries!r} of length {len(boundaries)}, and values={values!r} "
                f"of length {len(values)}."
            )
        for b in boundaries:
            if not float(_number(b, "each boundary")).is_integer():
                raise ValueError(f"boundaries must be whole step counts, received {boundaries!r}.")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, received {boundaries!r}.")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [_number(v, "each value") for v in values]
        self.name = name

    def _rate(self, xp: Any, step: Any) -> Any:
        # Keras sums indicator * value over the intervals; exactly one indicator is 1, so
        # choosing the value is the same number.
        b, v = self.boundaries, self.values
        out = xp.where(step <= float(b[0]), v[0], v[-1]) if b else step * 0.0 + v[0]
        for low, high, value in zip(b[:-1], b[1:], v[1:-1]):
            out = xp.where((step > float(low)) & (step <= float(high)), value, out)
        return out

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps``:
    ``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``. With
    ``cycle``, ``decay_steps`` becomes its first multiple at or above ``step`` (1 at step 0).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the steps to reach ``end_learning_rate``.
        end_learning_rate: the final rate.
        power: the polynomial's power.
        cycle: restart the decay after ``decay_steps``.
        name: the schedule's name.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.end_learning_rate = _number(end_learning_rate, "end_learning_rate")
        self.power = _number(power, "power")
        self.cycle = bool(cycle)
        self.name = name

    def _rate(self, xp: Any, step: Any) -> Any:
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = xp.where(step == 0.0, 1.0, xp.ceil(step / decay_steps))
            decay_steps = decay_steps * multiplier
        else:
            step = xp.minimum(step, decay_steps)
        p = step / decay_steps
        delta = self.initial_learning_rate - self.end_learning_rate
        return delta * xp.power(1.0 - p, self.power) + self.end_learning_rate

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts), after an optional linear warmup.

    Without ``warmup_target``: ``lr(step) = initial * ((1 - alpha) * c + alpha)`` with
    ``c = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))``. With it: a linear ramp
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then the decay
    from ``warmup_target`` over the next ``decay_steps``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the steps of the decay.
        alpha: the final rate as a fraction of the rate the decay starts from.
        name: the schedule's name.
        warmup_target: the rate the warmup reaches; None (Keras's default): no warmup, even
            with ``warmup_steps``.
        warmup_steps: the steps of the warmup.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.alpha = _number(alpha, "alpha")
        self.name = name
        self.warmup_target = (
            None if warmup_target is None else _number(warmup_target, "warmup_target")
        )
        if _number(warmup_steps, "warmup_steps") < 0:
            raise ValueError(f"warmup_steps must be >= 0, received {warmup_steps!r}.")
        self.warmup_steps = warmup_steps

    def _decay(self, xp: Any, step: Any, start: float) -> Any:
        fraction = step / float(self.decay_steps)
        cosine = 0.5 * (1.0 + xp.cos(math.pi * fraction))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _rate(self, xp: Any, step: Any) -> Any:
        decay_steps = float(self.decay_steps)
        if self.warmup_target is None:
            return self._decay(xp, xp.minimum(step, decay_steps), self.initial_learning_rate)
        warmup_steps = float(self.warmup_steps)
        step = xp.minimum(step, decay_steps + warmup_steps)
        decayed = self._decay(xp, step - warmup_steps, self.warmup_target)
        if warmup_steps == 0:  # Keras's condition `step < 0` never holds: decay throughout
            return decayed
        delta = self.warmup_target - self.initial_learning_rate
        warmed = delta * (step / warmup_steps) + self.initial_learning_rate
        return xp.where(step < warmup_steps, warmed, decayed)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_BUILTIN: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        CosineDecay,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """The schedule as Keras nests it in an optimizer's config:
    ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize expects a LearningRateSchedule, received {schedule!r}.")
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(schedule).__name__,
        "config": schedule.get_config(),
        "registered_name": None,
    }


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> LearningRateSchedule:
    """A schedule from ``serialize``'s dictionary (or Keras's); ``custom_objects`` maps the
    class names of schedules of one's own to their classes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"A schedule's config must be a dict with 'class_name' and 'config', received "
            f"{config!r}."
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BUILTIN.get(name)
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule {name!r}: expected one of "
            f"{', '.join(sorted(_BUILTIN))}, or pass it in custom_objects."
        )
    return cls.from_config(dict(config.get("config", {})))
