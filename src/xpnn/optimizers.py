"""Optimizers as state plus one in-place update over a flat parameter buffer.

The model keeps every weight and bias in one contiguous array (per-layer views into it), and
the gradients likewise, so a step is a few whole-buffer passes, not one small pass per layer.
The update rules are Keras's (``keras/src/optimizers/{sgd,adam}.py``), written once here.
"""

from __future__ import annotations

import math
import weakref
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

    The step count and the learning rate live in backend arrays beside the state (as optax's
    state and PyTorch's ``capturable=True``), so a step takes nothing from the host that
    changes between steps: the same step can be recorded once as a CUDA graph and replayed
    (graphs.py), and a learning rate set between epochs reaches it. ``iterations`` and
    ``learning_rate`` read and write those arrays (reading is a copy home: not in the step).
    """

    name = "optimizer"
    _slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float) -> None:
        self._learning_rate = _check_rate(learning_rate, "learning_rate")
        self._iterations = 0  # until build gives the count a device array
        self.state: dict[str, Any] = {}
        self._shape: tuple[int, ...] | None = None
        self._tmp: Any = None
        self._t: Any = None  # the step count (float64, one element)
        self._lr: Any = None  # the learning rate in the parameters' dtype (one element)
        self._lr64: Any = None  # and in float64, for Adam's bias correction
        self._owner: Any = None  # the model this optimizer was compiled into

    # -- the step count and learning rate, kept on the backend ------------------------------
    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self._learning_rate = _check_rate(value, "learning_rate")  # a float, whatever came
        if self._lr is not None:
            # a fill on the backend, not a copy from the host (outside any recorded step)
            self._lr64.fill(self._learning_rate)
            self._lr[...] = self._lr64

    @property
    def iterations(self) -> int:
        return self._iterations if self._t is None else int(to_numpy(self._t)[0])

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)
        if self._t is not None:
            self._t.fill(float(self._iterations))

    def build(self, params: Any) -> None:
        """Allocate the state (zeros shaped like the flat ``params``) on its backend, and the
        step count and learning rate beside it."""
        xp = array_module(params)
        count = self.iterations
        self.state = {slot: xp.zeros_like(params) for slot in self._slots}
        self._shape = tuple(params.shape)
        self._tmp = None
        self._t = xp.full(1, float(count), dtype=np.float64)
        self._lr64 = xp.full(1, self._learning_rate, dtype=np.float64)
        self._lr = self._lr64.astype(params.dtype)

    def bind(self, model: Any) -> None:
        """Mark this optimizer as ``model``'s: one instance in two models would share (and mix)
        their moments, so a second model is refused."""
        owner = self._owner() if self._owner is not None else None
        if owner is not None and owner is not model:
            raise ValueError(
                f"This {type(self).__name__} is already compiled into model {owner.name!r}; "
                "give each model its own optimizer instance (e.g. optimizer='adam' or "
                f"{type(self).__name__}(learning_rate={self.learning_rate!r}))."
            )
        self._owner = weakref.ref(model)

    def step(self, params: Any, grads: Any) -> None:
        """Apply one update to ``params`` in place from ``grads`` (same shape)."""
        if self._shape != tuple(params.shape):
            self.build(params)
        self._t += 1.0
        self._update(params, grads)

    def _scratch(self, like: Any) -> Any:
        """A work buffer for the multi-pass array code (the fused kernels need none)."""
        if self._tmp is None:
            self._tmp = array_module(like).empty_like(like)
        return self._tmp

    def _update(self, params: Any, grads: Any) -> None:
        raise NotImplementedError

    def signature(self) -> str:
        """Everything a recorded step bakes in: the class and every hyperparameter but the
        learning rate, which the step reads from the device."""
        return repr(sorted((k, v) for k, v in self.get_config().items() if k != "learning_rate"))

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
        lr_g = xp.multiply(g, self._lr, out=self._scratch(w))
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

    def _update(self, w: Any, g: Any) -> None:
        m, v = self.state["m"], self.state["v"]
        if kernels := fused.pick(w, g, m, v):  # the same update in one pass
            kernels.adam_update(
                w, g, m, v, self._t, self._lr64, self.beta_1, self.beta_2, self.epsilon
            )
            return
        xp, tmp, t = array_module(w), self._scratch(w), self._t
        # alpha in float64 from the device count, then in the parameters' dtype
        alpha = (
            self._lr64 * xp.sqrt(1.0 - xp.power(self.beta_2, t)) / (1.0 - xp.power(self.beta_1, t))
        )
        alpha = alpha.astype(w.dtype)
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
        tmp *= self._lr
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
