"""Optimizers as state plus one in-place update over a flat parameter buffer.

The model keeps every weight and bias in one contiguous array (per-layer views into it), and
the gradients likewise, so a step is a few whole-buffer passes, not one small pass per layer.
The update rules are Keras's (``keras/src/optimizers/{sgd,adam}.py``), written once here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import fused
from .backend import array_module, to_device, to_numpy

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get", "from_config"]


def _check_rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a positive number, received {value!r}.")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a positive finite number, received {value!r}.")
    return float(value)


def _check_unit(value: Any, name: str, closed: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number in [0, 1), received {value!r}.")
    v = float(value)
    if not (0.0 <= v < 1.0 or (closed and v == 1.0)):
        raise ValueError(f"{name} must be in [0, {'1]' if closed else '1)'}, received {value!r}.")
    return v


def _check_epsilon(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"epsilon must be a non-negative number, received {value!r}.")
    if not float(value) >= 0:
        raise ValueError(f"epsilon must be a non-negative number, received {value!r}.")
    return float(value)


class Optimizer:
    """Base class: ``build(params)`` allocates state like ``params``; ``step(params, grads)``
    updates ``params`` in place. ``iterations`` counts the steps taken.

    **Capturable mode** (``make_capturable``), for a training step recorded once as a CUDA
    graph and replayed: a replay repeats the recorded kernels with the recorded arguments, so
    nothing that changes from step to step may be a host scalar. In this mode the step count
    and the learning rate live in device arrays (as PyTorch's ``capturable=True``): the step
    increments the device count and derives Adam's step size from it on the device. The host
    ``iterations`` stays the count of record (saving reads it); whoever replays a recorded
    step calls ``count_replayed_step()`` for each replay, and ``sync_learning_rate()`` before
    it, outside the recording, so a changed ``learning_rate`` reaches the device.
    """

    name = "optimizer"
    _slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = _check_rate(learning_rate, "learning_rate")
        self.iterations = 0
        self.state: dict[str, Any] = {}
        self._shape: tuple[int, ...] | None = None
        self._tmp: Any = None
        self._dev: dict[str, Any] | None = None  # capturable mode's device scalars
        self._dev_rate: float | None = None  # the learning rate they hold

    def build(self, params: Any) -> None:
        """Allocate the state (zeros shaped like the flat ``params``) on its backend."""
        xp = array_module(params)
        self.state = {slot: xp.zeros_like(params) for slot in self._slots}
        self._shape = tuple(params.shape)
        self._tmp = None
        if self._dev is not None:
            self.make_capturable(params)

    def step(self, params: Any, grads: Any) -> None:
        """Apply one update to ``params`` in place from ``grads`` (same shape)."""
        if self._shape != tuple(params.shape):
            self.build(params)
        self.iterations += 1
        if self._dev is not None:
            self._dev["t"] += 1.0  # the device's count, for replays that skip this line
        self._update(params, grads)

    # -- capturable mode --------------------------------------------------------------------
    @property
    def capturable(self) -> bool:
        return self._dev is not None

    def make_capturable(self, params: Any) -> None:
        """Keep the step count and learning rate in device arrays beside ``params``."""
        xp = array_module(params)
        self._dev = {
            "t": to_device(np.full(1, self.iterations, dtype=np.float64)),
            "lr": xp.empty(1, dtype=params.dtype),  # the rate as the update multiplies by it
            "lr64": xp.empty(1, dtype=np.float64),  # and in full precision, for Adam's alpha
            "alpha": xp.empty(1, dtype=params.dtype),
        }
        self._dev_rate = None
        self.sync_learning_rate()

    def release_capturable(self) -> None:
        """Back to host scalars (the device count is dropped; ``iterations`` is the count)."""
        self._dev = None

    def sync_learning_rate(self) -> None:
        """Copy ``learning_rate`` to the device if it changed (call outside a recording)."""
        dev = self._dev
        if dev is not None and self._dev_rate != self.learning_rate:
            self.learning_rate = _check_rate(self.learning_rate, "learning_rate")
            dev["lr"][...] = to_device(np.full(1, self.learning_rate, dtype=dev["lr"].dtype))
            dev["lr64"][...] = to_device(np.full(1, self.learning_rate, dtype=np.float64))
            self._dev_rate = self.learning_rate

    def count_replayed_step(self) -> None:
        """Count a step that a replay took without running ``step`` on the host."""
        self.iterations += 1

    def _rate(self) -> Any:
        """The learning rate to multiply by: a host float, or the device array when capturable."""
        return self.learning_rate if self._dev is None else self._dev["lr"]

    def _scratch(self, like: Any) -> Any:
        """A work buffer for the multi-pass array code (the fused kernels need none)."""
        if self._tmp is None:
            self._tmp = array_module(like).empty_like(like)
        return self._tmp

    def _update(self, params: Any, grads: Any) -> None:
        raise NotImplementedError

    # -- saving ---------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate}

    def get_state(self) -> dict[str, np.ndarray]:
        """The state as host arrays, plus ``iterations``, for saving."""
        out = {k: to_numpy(v) for k, v in self.state.items()}
        out["iterations"] = np.array(self.iterations, dtype=np.int64)
        return out

    def set_state(self, state: dict[str, np.ndarray], like: Any) -> None:
        """Restore ``get_state()``'s arrays onto the backend of ``like`` (the flat params)."""
        self.build(like)
        for slot in self._slots:
            value = np.asarray(state[slot])
            if value.shape != tuple(like.shape):
                raise ValueError(
                    f"Optimizer slot {slot!r} has shape {value.shape}, "
                    f"expected {tuple(like.shape)}."
                )
            self.state[slot][...] = to_device(value, dtype=like.dtype)
        self.iterations = int(state["iterations"])
        if self._dev is not None:
            self.make_capturable(like)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as Keras:

    ``velocity = momentum * velocity - lr * g``; ``w += velocity``
    (Nesterov: ``w += momentum * velocity - lr * g``). Without momentum, ``w -= lr * g``.
    """

    name = "sgd"

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = _check_unit(momentum, "momentum", closed=True)
        self.nesterov = bool(nesterov)
        self._slots = ("velocity",) if self.momentum > 0 else ()

    def _update(self, w: Any, g: Any) -> None:
        xp = array_module(w)
        lr_g = xp.multiply(g, self._rate(), out=self._scratch(w))
        if not self._slots:
            w -= lr_g
            return
        v = self.state["velocity"]
        v *= self.momentum
        v -= lr_g
        if self.nesterov:
            w -= lr_g
            lr_g = xp.multiply(v, self.momentum, out=self._scratch(w))
            w += lr_g
        else:
            w += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's form and defaults (t counts from 1):

    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``; ``w -= alpha m / (sqrt(v) + epsilon)``.
    """

    name = "adam"
    _slots = ("m", "v")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = _check_unit(beta_1, "beta_1")
        self.beta_2 = _check_unit(beta_2, "beta_2")
        self.epsilon = _check_epsilon(epsilon)

    def step_size(self) -> float:
        """``alpha_t``, the bias-corrected learning rate of the current step ``t``."""
        t = self.iterations
        return self.learning_rate * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)

    def _device_step_size(self) -> Any:
        """``step_size()`` computed on the device from the device count (capturable mode):
        the same float64 formula, rounded into the parameters' dtype."""
        dev = self._dev
        kernels = fused.pick(dev["t"])
        if kernels is not None and kernels.DEVICE_SCALARS:  # one launch instead of six
            return kernels.adam_step_size(dev["lr64"], dev["t"], self.beta_1, self.beta_2, dev)
        xp, t = array_module(dev["t"]), dev["t"]
        num = xp.sqrt(1.0 - xp.power(self.beta_2, t))
        alpha64 = dev["lr64"] * num / (1.0 - xp.power(self.beta_1, t))
        dev["alpha"][...] = alpha64
        return dev["alpha"]

    def _update(self, w: Any, g: Any) -> None:
        m, v = self.state["m"], self.state["v"]
        alpha = self.step_size() if self._dev is None else self._device_step_size()
        kernels = fused.pick(w, g, m, v)
        # the same update in one pass (numba, or one CUDA kernel that reads alpha on the device)
        if kernels is not None and (self._dev is None or kernels.DEVICE_SCALARS):
            t = w.dtype.type
            c1, c2, eps = t(1.0 - self.beta_1), t(1.0 - self.beta_2), t(self.epsilon)
            if self._dev is None:
                kernels.adam_update(w, g, m, v, c1, c2, t(alpha), eps)
            else:
                kernels.adam_update_device_alpha(w, g, m, v, c1, c2, alpha, eps)
            return
        xp, tmp = array_module(w), self._scratch(w)
        xp.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.beta_1
        m += tmp  # m += (g - m)(1 - beta_1)
        xp.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1.0 - self.beta_2
        v += tmp  # v += (g^2 - v)(1 - beta_2)
        xp.sqrt(v, out=tmp)
        tmp += self.epsilon
        xp.divide(m, tmp, out=tmp)
        tmp *= alpha
        w -= tmp  # w -= alpha m / (sqrt(v) + eps)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop as Keras (its default optimizer):
    ``v = rho v + (1 - rho) g^2``; ``w -= lr g / sqrt(v + epsilon)`` (epsilon inside the root).
    """

    name = "rmsprop"
    _slots = ("v",)

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.rho = _check_unit(rho, "rho")
        self.epsilon = _check_epsilon(epsilon)

    def _update(self, w: Any, g: Any) -> None:
        xp = array_module(w)
        v, tmp = self.state["v"], self._scratch(w)
        v *= self.rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.rho
        v += tmp
        xp.add(v, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= self._rate()
        w -= tmp

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_REGISTRY: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier: str | Optimizer) -> Optimizer:
    """Resolve an optimizer from ``"sgd"``, ``"adam"``, ``"rmsprop"`` (Keras's defaults) or an
    instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Unknown optimizer {identifier!r}: expected an Optimizer or one of "
        f"{', '.join(sorted(_REGISTRY))}."
    )


def from_config(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from ``get_config()``'s dictionary."""
    config = dict(config)
    cls = _REGISTRY.get(str(config.pop("name", "")))
    if cls is None:
        raise ValueError(f"Unknown optimizer in config: {config!r}.")
    return cls(**config)
