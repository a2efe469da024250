"""``BatchNormalization``: Keras 3's, over the feature axis of ``(batch, features)`` inputs.

Training normalises with the batch's mean and *biased* variance and moves the moving statistics
towards them, ``moving = moving * momentum + batch * (1 - momentum)``; inference uses the
moving statistics. The output is computed in Keras's order (``ops.batch_normalization``):
``inv = gamma / sqrt(var + epsilon)``, ``y = x * inv + (beta - mean * inv)``, so the same
weights give the same float32 numbers.

Backward, for a training forward, with ``xhat = (x - mean) / sqrt(var + epsilon)`` and ``N``
the batch size: ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)``, and
``dx = gamma / sqrt(var + epsilon) / N * (N * dy - sum(dy) - xhat * sum(dy * xhat))``
(the batch statistics depend on every sample; the moving ones get no gradient).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import initializers
from ..backend import array_module
from .base import Layer

__all__ = ["BatchNormalization"]


class _Buffers:
    __slots__ = ("x", "out", "mean", "var", "inv_std", "inv", "shift", "dx", "training")

    def __init__(self, batch: int, dim: int, xp: Any, dtype: Any, need_dx: bool) -> None:
        self.x: Any = None  # the input of the last forward
        self.out = xp.empty((batch, dim), dtype=dtype)
        self.mean = xp.empty(dim, dtype=dtype)  # the statistics the forward used
        self.var = xp.empty(dim, dtype=dtype)
        self.inv_std = xp.empty(dim, dtype=dtype)  # 1 / sqrt(var + epsilon)
        self.inv = xp.empty(dim, dtype=dtype)  # inv_std * gamma
        self.shift = xp.empty(dim, dtype=dtype)  # beta - mean * inv
        self.dx = xp.empty((batch, dim), dtype=dtype) if need_dx else None
        self.training = False  # which statistics the last forward used


class BatchNormalization(Layer):
    """Normalise each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Args:
        axis: the feature axis: -1 (default) or 1, the same for ``(batch, features)`` inputs.
        momentum: of the moving statistics (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: learn ``beta`` (default True); else no shift.
        scale: learn ``gamma`` (default True); else no scaling.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer: initialisers, by name or instance (defaults zeros,
            ones, zeros, ones).
        name: the layer's name.

    Weights, in Keras's order: ``gamma``, ``beta`` (trainable), ``moving_mean``,
    ``moving_variance`` (non-trainable state).
    """

    rowwise = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis not in (-1, 1):
            raise ValueError(
                f"axis must be -1 or 1 (the feature axis of (batch, features) inputs), "
                f"received axis={axis!r}."
            )
        self.axis = int(axis)
        self.momentum = _real(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _real(epsilon, "epsilon", 0.0, None)
        if self.epsilon <= 0:
            raise ValueError(f"epsilon must be positive, received epsilon={epsilon!r}.")
        self.center = bool(center)
        self.scale = bool(scale)
        given = {
            "beta_initializer": beta_initializer,
            "gamma_initializer": gamma_initializer,
            "moving_mean_initializer": moving_mean_initializer,
            "moving_variance_initializer": moving_variance_initializer,
        }
        self._initializer_configs = {k: initializers.identifier_config(v) for k, v in given.items()}
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self._drawn_state: list[np.ndarray] | None = None

    # -- structure ------------------------------------------------------------------------
    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(input_dim,)] * (int(self.scale) + int(self.center))

    def state_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(input_dim,), (input_dim,)]

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        shape = (input_dim,)
        params = []
        if self.scale:  # Keras adds gamma, beta, moving mean, moving variance in this order
            params.append(self.gamma_initializer(shape, rng))
        if self.center:
            params.append(self.beta_initializer(shape, rng))
        # The model hands its generator to initial_params only; a random initialiser of the
        # moving statistics draws here, in Keras's order, for initial_state to return.
        self._drawn_state = [
            self.moving_mean_initializer(shape, rng),
            self.moving_variance_initializer(shape, rng),
        ]
        return params

    def initial_state(self, input_dim: int) -> list[np.ndarray]:
        drawn, self._drawn_state = self._drawn_state, None
        if drawn is not None and all(s.shape == (input_dim,) for s in drawn):
            return drawn
        shape = (input_dim,)
        return [self.moving_mean_initializer(shape), self.moving_variance_initializer(shape)]

    @property
    def gamma(self) -> Any:
        return self.params[0] if self.scale and self.params else None

    @property
    def beta(self) -> Any:
        return self.params[int(self.scale)] if self.center and self.params else None

    @property
    def moving_mean(self) -> Any:
        return self.state[0] if self.state else None

    @property
    def moving_variance(self) -> Any:
        return self.state[1] if self.state else None

    # -- running --------------------------------------------------------------------------
    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> _Buffers:
        return _Buffers(batch, self.input_dim, xp, dtype, need_dx)

    def forward(self, x: Any, training: bool = False, ws: _Buffers | None = None) -> Any:
        xp = array_module(x)
        if ws is None:
            ws = self.workspace(x.shape[0], xp, x.dtype, need_dx=False)
        ws.x, ws.training = x, bool(training)
        if training:
            x.mean(axis=0, out=ws.mean)
            xp.var(x, axis=0, out=ws.var)  # biased, as Keras's moments
            m = self.momentum
            for moving, batch_stat in ((self.moving_mean, ws.mean), (self.moving_variance, ws.var)):
                moving *= m
                moving += batch_stat * (1.0 - m)
        else:
            ws.mean[...] = self.moving_mean
            ws.var[...] = self.moving_variance
        xp.add(ws.var, self.epsilon, out=ws.inv_std)
        xp.sqrt(ws.inv_std, out=ws.inv_std)
        xp.divide(1.0, ws.inv_std, out=ws.inv_std)
        if self.scale:
            xp.multiply(ws.inv_std, self.gamma, out=ws.inv)
        else:
            ws.inv[...] = ws.inv_std
        xp.multiply(ws.mean, ws.inv, out=ws.shift)
        xp.negative(ws.shift, out=ws.shift)
        if self.center:
            ws.shift += self.beta
        xp.multiply(x, ws.inv, out=ws.out)
        ws.out += ws.shift
        return ws.out

    def backward(self, delta: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        xp = array_module(delta)
        n = delta.shape[0]
        xhat = (ws.x - ws.mean) * ws.inv_std  # (batch, features)
        sum_dy = delta.sum(axis=0)  # (features,)
        sum_dy_xhat = (delta * xhat).sum(axis=0)
        if self.scale:
            self.grads[0][...] = sum_dy_xhat
        if self.center:
            self.grads[int(self.scale)][...] = sum_dy
        if not need_dx:
            return None
        if not ws.training:  # the statistics were constants: the layer is affine in x
            return xp.multiply(delta, ws.inv, out=ws.dx)
        # dx = inv / N * (N * dy - sum(dy) - xhat * sum(dy * xhat)), written over delta
        delta *= n
        delta -= sum_dy
        xhat *= sum_dy_xhat
        delta -= xhat
        xp.multiply(delta, ws.inv / n, out=ws.dx)
        return ws.dx

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **self._initializer_configs,
        }

    def __repr__(self) -> str:
        return f"BatchNormalization(momentum={self.momentum}, name={self.name!r})"


def _real(value: Any, name: str, low: float, high: float | None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < low
        or (high is not None and value > high)
    ):
        expected = f"a number in [{low}, {high}]" if high is not None else f"a number >= {low}"
        raise ValueError(f"{name} must be {expected}, received {name}={value!r}.")
    return float(value)
