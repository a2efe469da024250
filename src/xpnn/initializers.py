"""Weight initialisers, Keras's names and formulas, drawn on the host.

Weights are drawn with NumPy from the model's seeded generator and only then copied to the
device, so the same seed gives the same weights on every backend.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["get", "names"]

Initializer = Callable[[tuple[int, int] | tuple[int], np.random.Generator], np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])


def _truncated_normal(shape: tuple[int, ...], std: float, rng: np.random.Generator) -> np.ndarray:
    # Keras's truncated normal: redraw anything beyond two standard deviations.
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2.0
    return x * std


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    def init(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, n)
        if distribution == "uniform":
            limit = np.sqrt(3.0 * variance)  # glorot_uniform: sqrt(6 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=shape)
        # 0.8796... is the std of a unit normal truncated to [-2, 2]
        return _truncated_normal(shape, np.sqrt(variance) / 0.87962566103423978, rng)

    return init


_REGISTRY: dict[str, Initializer] = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "random_normal": lambda shape, rng: rng.normal(0.0, 0.05, size=shape),
    "random_uniform": lambda shape, rng: rng.uniform(-0.05, 0.05, size=shape),
    "zeros": lambda shape, rng: np.zeros(shape),
    "ones": lambda shape, rng: np.ones(shape),
}


def names() -> list[str]:
    """The accepted initialiser names."""
    return sorted(_REGISTRY)


def get(name: str) -> Initializer:
    """Look an initialiser up by name."""
    if isinstance(name, str) and name.lower() in _REGISTRY:
        return _REGISTRY[name.lower()]
    raise ValueError(f"Unknown initializer {name!r}: expected one of {', '.join(names())}.")
