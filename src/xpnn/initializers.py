"""Weight initialisers: Keras 3's classes, names, arguments and formulas, drawn on the host.

An initialiser is called as ``initializer(shape, rng)`` and returns a float64 NumPy array; the
model copies it to the device in its dtype. Weights are drawn with NumPy from the model's seeded
generator ``rng``, so the same model seed gives the same weights on every backend. An
initialiser given its own ``seed`` draws from a generator of that seed instead, afresh on each
call: the same values every time, whatever the model's seed (Keras: "an initializer seeded with
an integer ... will produce the same random values across multiple calls").

As in Keras (``keras/src/initializers/``) ``glorot_uniform`` and the other snake-case names
are the classes themselves, and the variance-scaling family draws a *truncated* normal whose
standard deviation is divided by .87962566103423978, the standard deviation of a unit normal
truncated to [-2, 2], so that the values have the intended variance.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import config as config_module

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "get",
    "names",
    "serialize",
    "deserialize",
]

Shape = tuple[int, ...]


class Initializer(config_module.Configured):
    """Base class: ``initializer(shape, rng=None) -> np.ndarray`` (float64, on the host)."""

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, received {name}={value!r}.")
    return float(value)


def _fans(shape: Shape) -> tuple[int, int]:
    # Keras's compute_fans: a vector is its own fan in and out; a kernel is (in, out)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(shape: Shape, std: float, rng: np.random.Generator) -> np.ndarray:
    # Keras's truncated normal: anything beyond two standard deviations is drawn again.
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2.0
    return x * std


# -- constants ----------------------------------------------------------------------------------
class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    """Every entry ``value``.

    Args:
        value: a scalar (default 0.0, as in Keras).
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = _number(value, "value")

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


# -- random ---------------------------------------------------------------------------------------
class RandomInitializer(Initializer):
    """An initialiser that draws: from its own ``seed`` when it has one, else from ``rng``."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"seed must be an integer or None, received seed={seed!r}.")
        self.seed = None if seed is None else int(seed)

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        # no model generator (an initialiser called on its own): fresh entropy, as Keras's
        # unseeded initialisers; never the process-wide NumPy state
        return rng if rng is not None else np.random.default_rng()

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal draws.

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation (default 0.05).
        seed: an integer for the same values on every call, or None to draw from the model.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean = _number(mean, "mean")
        self.stddev = _number(stddev, "stddev")

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return self._generator(rng).normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws, drawn again beyond two standard deviations from the mean.

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 0.05).
        seed: an integer for the same values on every call, or None to draw from the model.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean = _number(mean, "mean")
        self.stddev = _number(stddev, "stddev")

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.mean + _truncated_normal(shape, self.stddev, self._generator(rng))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform draws on ``[minval, maxval)``.

    Args:
        minval: the lower bound (default -0.05).
        maxval: the upper bound (default 0.05).
        seed: an integer for the same values on every call, or None to draw from the model.
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.minval = _number(minval, "minval")
        self.maxval = _number(maxval, "maxval")

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        return self._generator(rng).uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Draws of variance ``scale / n``, ``n`` the fan in, the fan out or their mean.

    Args:
        scale: a positive factor (default 1.0).
        mode: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (default; ``"normal"`` means it too, as in
            Keras), ``"untruncated_normal"`` or ``"uniform"`` (on ``[-limit, limit]``,
            ``limit = sqrt(3 * scale / n)``).
        seed: an integer for the same values on every call, or None to draw from the model.
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if _number(scale, "scale") <= 0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Please use one of {_MODES}.")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r}. "
                f"Please use one of {_DISTRIBUTIONS}."
            )
        self.scale, self.mode, self.distribution = float(scale), mode, dist

    def __call__(self, shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._generator(rng)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)  # glorot_uniform: sqrt(6 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(shape, math.sqrt(variance) / 0.87962566103423978, rng)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
        }


class _Preset(VarianceScaling):
    """A named variance scaling: only ``seed`` is an argument."""

    _preset: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._preset
        super().__init__(scale, mode, distribution, seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out))``."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal, ``stddev = sqrt(2 / fan_in)``."""

    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal, ``stddev = sqrt(1 / fan_in)``."""

    _preset = (1.0, "fan_in", "truncated_normal")


# Keras exports every class under its snake-case name as well (keras.initializers.zeros IS
# Zeros), plus a few aliases.
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal

_SNAKE: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
}
_CLASSES: dict[str, type[Initializer]] = {
    **_SNAKE,
    **{cls.__name__: cls for cls in _SNAKE.values()},
    "normal": RandomNormal,  # Keras's aliases
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
}


def names() -> list[str]:
    """The accepted initialiser names (each class's name is accepted too)."""
    return sorted(_SNAKE)


def serialize(initializer: Initializer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, as Keras writes it."""
    return config_module.serialize(initializer)


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Initializer:
    """The initialiser a ``serialize`` dict describes."""
    known = {**_CLASSES, **(custom_objects or {})}
    return config_module.deserialize(config, known, Initializer, "initializer")


def get(identifier: Any) -> Initializer:
    """An initialiser from a name (``"glorot_uniform"`` or ``"GlorotUniform"``), a class, an
    instance or a ``serialize`` dict, as ``keras.initializers.get``."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _CLASSES.get(identifier.lower())
        if cls is not None:
            return cls()
    raise ValueError(f"Unknown initializer {identifier!r}: expected one of {', '.join(names())}.")


def identifier_config(identifier: Any) -> Any:
    """What a layer's config records for an initialiser it was given: a name as it was given
    (readable, and what older model files hold), anything else serialized."""
    return identifier if isinstance(identifier, str) else serialize(get(identifier))
