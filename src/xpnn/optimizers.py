"""Optimizers as state plus one in-place update over a flat parameter buffer.

The model keeps every weight and bias in one contiguous array (per-layer views into it), and
the gradients likewise, so a step is a few whole-buffer passes, not one small pass per layer.
The update rules are Keras 3's (``keras/src/optimizers/{sgd,adam,rmsprop,adagrad,adamax,
nadam}.py``), written once here, and so is what Keras's base optimizer does around them
(``base_optimizer.py``): per step, in this order, the learning rate from its schedule, gradient
clipping, weight decay, the update, the step count.

A step takes nothing from the host that changes between steps (graphs.py records it once and
replays it): the step count, the learning rate and Nadam's momentum product live in
one-element backend arrays, and a schedule is evaluated there with array operations.
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import fused, schedules
from .backend import array_module, to_device, to_numpy
from .schedules import LearningRateSchedule

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adamax",
    "Nadam",
    "schedules",
    "get",
    "from_config",
]


def _check_rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, received {value!r}.")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a positive finite number, received {value!r}.")
    return float(value)


def _check_unit(value: Any, name: str, closed: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), received {value!r}.")
    v = float(value)
    if not (0.0 <= v < 1.0 or (closed and v == 1.0)):
        raise ValueError(f"{name} must be in [0, {'1]' if closed else '1)'}, received {value!r}.")
    return v


def _check_non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative number, received {value!r}.")
    if not (math.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"{name} must be a non-negative number, received {value!r}.")
    return float(value)


def _check_epsilon(value: Any) -> float:
    return _check_non_negative(value, "epsilon")


def _optional(value: Any, name: str, check: Any) -> float | None:
    if value is None:
        return None
    try:
        return check(value, name)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{exc} (None turns it off)") from None


def _check_learning_rate(value: Any) -> float | LearningRateSchedule:
    if isinstance(value, LearningRateSchedule):
        return value
    if callable(value):
        raise TypeError(
            f"learning_rate must be a positive number or a LearningRateSchedule, received "
            f"{value!r}: a plain callable would run on the host every step; subclass "
            "xpnn.optimizers.schedules.LearningRateSchedule with a __call__(step) that uses "
            "array operations instead."
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            "learning_rate must be a positive number or a LearningRateSchedule "
            f"(xpnn.optimizers.schedules), received {value!r}."
        )
    return _check_rate(value, "learning_rate")


def _check_segments(segments: Any, size: int) -> tuple[int, ...]:
    if isinstance(segments, str | bytes) or not isinstance(segments, Sequence):
        raise TypeError(f"segments must be a list of sizes, received {segments!r}.")
    sizes = []
    for s in segments:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"segments must be non-negative integers, received {segments!r}.")
        sizes.append(int(s))
    if sum(sizes) != size:
        raise ValueError(
            f"segments must add up to the {size} parameters, received {segments!r} "
            f"(sum {sum(sizes)})."
        )
    return tuple(sizes)


class Optimizer:
    """Base class: ``build(params)`` allocates the state (like the flat ``params``);
    ``step(params, grads)`` updates ``params`` in place. ``iterations`` counts the steps.

    The step count and the learning rate live in backend arrays beside the state (as optax's
    state and PyTorch's ``capturable=True``), so a step takes nothing from the host that
    changes between steps: the same step can be recorded once as a CUDA graph and replayed
    (graphs.py), and a learning rate set between epochs reaches it. ``iterations`` and
    ``learning_rate`` read and write those arrays (reading is a copy home: not in the step).

    Args (Keras's base arguments, taken by every optimizer):
        learning_rate: a positive float or a ``schedules.LearningRateSchedule``.
        weight_decay: if set, every step first does ``w -= w * weight_decay * lr`` (on every
            parameter: Keras excludes none unless told to).
        clipnorm: if set, each variable's gradient is scaled to an L2 norm of at most this
            (variables: the ``segments`` given to ``build``; the whole buffer otherwise).
        clipvalue: if set, each gradient element is clipped to ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients together are scaled to a norm of at most this.
        name: the optimizer's name (default: its registry name, e.g. ``"adam"``).
    """

    _key = "optimizer"  # the registry name, and the default name
    _slots: tuple[str, ...] = ()
    # hyperparameters besides the learning rate, in Keras's config order: get_config and the
    # signature of a recorded step read them
    _config_keys: tuple[str, ...] = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue")
    # Keras options xpnn does not offer: a Keras config may carry them at these values
    _keras_defaults: dict[str, Any] = {
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
    }

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        rate = _check_learning_rate(learning_rate)
        self._schedule = rate if isinstance(rate, LearningRateSchedule) else None
        self._learning_rate = 0.0 if self._schedule is not None else rate
        self.weight_decay = _optional(weight_decay, "weight_decay", _check_non_negative)
        self.clipnorm = _optional(clipnorm, "clipnorm", _check_rate)
        self.clipvalue = _optional(clipvalue, "clipvalue", _check_rate)
        self.global_clipnorm = _optional(global_clipnorm, "global_clipnorm", _check_rate)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set. Received: "
                f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string or None, received {name!r}.")
        self.name = name or self._key
        self._iterations = 0  # until build gives the count a device array
        self.state: dict[str, Any] = {}
        self._shape: tuple[int, ...] | None = None
        self._segments: tuple[int, ...] | None = None  # variable sizes, for clipnorm
        self._tmp: list[Any] = []  # scratch buffers like the params
        self._clipped: Any = None  # the clipped gradients
        self._t: Any = None  # the step count (float64, one element)
        self._lr: Any = None  # the learning rate in the parameters' dtype (one element)
        self._lr64: Any = None  # and in float64, for the bias corrections
        self._owner: Any = None  # the model this optimizer was compiled into

    # -- the step count and learning rate, kept on the backend ------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate of the next step: with a schedule, its value at ``iterations`` (as Keras).
        Setting a number replaces any schedule; setting a schedule replaces the number."""
        if self._schedule is None:
            return self._learning_rate
        return self._rate_at(self.iterations)

    def _rate_at(self, count: int) -> float:
        if self._schedule is None:
            return self._learning_rate
        value = self._schedule(count)
        if isinstance(value, numbers.Real):
            return float(value)
        return float(to_numpy(value).ravel()[0])  # a schedule of one's own gave an array

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        # Keras refuses a number once a schedule is set; here it replaces the schedule (a
        # callback such as ReduceLROnPlateau can take over), and the recorded step is redone
        # because the signature changes.
        rate = _check_learning_rate(value)
        if isinstance(rate, LearningRateSchedule):
            self._schedule = rate  # the step writes its value into the arrays
            return
        self._schedule = None
        self._learning_rate = rate  # a float, whatever came
        if self._lr is not None:
            # a fill on the backend, not a copy from the host (outside any recorded step)
            self._lr64.fill(rate)
            self._lr[...] = self._lr64

    @property
    def iterations(self) -> int:
        return self._iterations if self._t is None else int(to_numpy(self._t)[0])

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)
        if self._t is not None:
            self._t.fill(float(self._iterations))
            self._count_set(self._t, self._iterations)

    def _count_set(self, t: Any, count: int) -> None:
        """Called when the step count is set from the host: state derived from it follows."""

    def build(self, params: Any, segments: Sequence[int] | None = None) -> None:
        """Allocate the state (shaped like the flat ``params``) on its backend, and the step
        count and learning rate beside it.

        Args:
            params: the flat parameter buffer.
            segments: the sizes of the variables laid end to end in ``params`` (a Keras
                model's per-variable order: kernel, bias, ...), for ``clipnorm``, which Keras
                applies per variable. Kept across rebuilds of the same size; without any, the
                whole buffer is one variable.
        """
        xp = array_module(params)
        count = self.iterations
        if segments is not None:
            self._segments = _check_segments(segments, int(params.size))
        elif self._segments is not None and sum(self._segments) != params.size:
            self._segments = None
        self.state = {slot: self._initial_slot(slot, params) for slot in self._slots}
        self._shape = tuple(params.shape)
        self._tmp = []
        self._clipped = None
        self._t = xp.full(1, float(count), dtype=np.float64)
        self._lr64 = xp.full(1, self._rate_at(count), dtype=np.float64)
        self._lr = self._lr64.astype(params.dtype)
        self._count_set(self._t, count)

    def _initial_slot(self, slot: str, params: Any) -> Any:
        return array_module(params).zeros_like(params)

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
        """Apply one update to ``params`` in place from ``grads`` (same shape; not modified).

        Keras's order (base_optimizer.py ``apply``): the learning rate at ``iterations``
        before the increment, clipping, weight decay, the update; then ``iterations += 1``
        (here before the update, which reads this step's count ``t``, counting from 1)."""
        if self._shape != params.shape:  # a tuple on every backend
            self.build(params)
        if self._schedule is not None:
            self._lr64[...] = self._schedule(self._t)
            self._lr[...] = self._lr64
        grads = self._clip(grads)
        if self.weight_decay:
            self._decay(params)
        if type(self._t) is np.ndarray:  # an element write: a ufunc call costs ~1 us per step
            self._t[0] += 1.0
        else:  # on a device, one kernel (an element write would be two and a scalar)
            self._t += 1.0
        self._update(params, grads)

    def fused_update(self, params: Any, grads: Any) -> tuple[Any, ...] | None:
        """What a compiled CPU training pass (fused/cpu.py ``stack_train_*``) needs to run this
        optimizer's whole ``step`` itself, after each of its steps: ``(params, grads, m, v, t,
        lr, hyper)``; None when the step must run here (the default: only plain Adam has one)."""
        return None

    def _scratch(self, like: Any, k: int = 0) -> Any:
        """Work buffer ``k`` for the multi-pass array code (the fused kernels need none)."""
        while len(self._tmp) <= k:
            self._tmp.append(array_module(like).empty_like(like))
        return self._tmp[k]

    def _clip(self, g: Any) -> Any:
        """The gradients clipped as Keras clips them (``_clip_gradients``), in a buffer of
        their own; ``g`` itself when no clipping is set."""
        if not (self.clipnorm or self.global_clipnorm or self.clipvalue):
            return g
        xp = array_module(g)
        if self._clipped is None:
            self._clipped = xp.empty_like(g)
        out = self._clipped
        if self.clipnorm:
            # per variable: g * clipnorm / max(||g||, clipnorm)  (base_optimizer._clip_by_norm)
            start = 0
            for size in self._segments or (g.size,):
                gs, cs = g[start : start + size], out[start : start + size]
                start += size
                xp.multiply(gs, gs, out=cs)
                norm = xp.sqrt(cs.sum())
                xp.multiply(gs, self.clipnorm, out=cs)
                cs /= xp.maximum(norm, self.clipnorm)
        elif self.global_clipnorm:
            # one norm over all gradients (clip_by_global_norm); Keras's scale
            # c * min(1/n, 1/c) written as c / max(n, c), the same without a 1/0 at n = 0;
            # (n - n) makes it NaN when the norm is not finite, as in Keras
            c = self.global_clipnorm
            xp.multiply(g, g, out=out)
            norm = xp.sqrt(out.sum())
            scale = c / xp.maximum(norm, c) + (norm - norm)
            xp.multiply(g, scale, out=out)
        else:
            xp.clip(g, -self.clipvalue, self.clipvalue, out=out)
        return out

    def _decay(self, w: Any) -> None:
        """Keras's weight decay (``_apply_weight_decay``): ``w -= w * weight_decay * lr``,
        before the update, with this step's rate."""
        tmp = array_module(w).multiply(w, self.weight_decay, out=self._scratch(w))
        tmp *= self._lr
        w -= tmp

    def _update(self, params: Any, grads: Any) -> None:
        raise NotImplementedError

    def signature(self) -> str:
        """Everything a recorded step bakes in: the class, every hyperparameter, and the
        schedule if there is one (a plain rate is read from the device, so not)."""
        schedule = self._schedule
        part = None
        if schedule is not None:
            try:
                config = repr(schedule.get_config())
            except NotImplementedError:
                config = None
            part = (type(schedule).__qualname__, id(schedule), config)
        values = [(k, getattr(self, k)) for k in self._config_keys]
        return repr((type(self).__qualname__, values, self._segments, part))

    # -- saving ---------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Keras's config keys (a schedule nested as Keras nests it), plus ``class_name``."""
        if self._schedule is not None:
            rate: Any = schedules.serialize(self._schedule)
        else:
            rate = self._learning_rate
        return {
            "class_name": type(self).__name__,
            "name": self.name,
            "learning_rate": rate,
            **{k: getattr(self, k) for k in self._config_keys},
        }

    def get_state(self) -> dict[str, np.ndarray]:
        """The state as host arrays, plus ``iterations``, for saving."""
        out = {k: to_numpy(v) for k, v in self.state.items()}
        out["iterations"] = np.array(self.iterations, dtype=np.int64)
        return out

    def set_state(self, state: Any, like: Any) -> None:
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
        config = self.get_config()
        del config["class_name"]
        if config["name"] == self._key:
            del config["name"]
        if self._schedule is not None:
            config["learning_rate"] = self._schedule
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if v is not None)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as Keras:

    ``velocity = momentum * velocity - lr * g``; ``w += velocity``
    (Nesterov: ``w += momentum * velocity - lr * g``). Without momentum, ``w -= lr * g``.
    """

    _key = "sgd"
    _config_keys = (*Optimizer._config_keys, "momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
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


class Adam(Optimizer):
    """Adam with Keras's form and defaults (t counts from 1):

    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``; ``w -= alpha m / (sqrt(v) + epsilon)``.
    """

    _key = "adam"
    _slots = ("m", "v")
    _config_keys = (*Optimizer._config_keys, "beta_1", "beta_2", "epsilon")
    _keras_defaults = {**Optimizer._keras_defaults, "amsgrad": False}

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = _check_unit(beta_1, "beta_1")
        self.beta_2 = _check_unit(beta_2, "beta_2")
        self.epsilon = _check_epsilon(epsilon)

    def step_size(self) -> float:
        """``alpha_t``, the bias-corrected learning rate of the last step ``t``."""
        t = self.iterations
        lr = self.learning_rate if self._lr64 is None else float(to_numpy(self._lr64)[0])
        return lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)

    def fused_update(self, params: Any, grads: Any) -> tuple[Any, ...] | None:
        # the whole step is t += 1 and the update when nothing else is set: no schedule (the
        # rate would change per step), clipping, weight decay, or subclass (AdamW decays)
        m, v = self.state.get("m"), self.state.get("v")
        plain = type(self) is Adam and self._schedule is None and not self.weight_decay
        plain = plain and not (self.clipnorm or self.clipvalue or self.global_clipnorm)
        if not plain or self._shape != params.shape or not fused.cpu.accepts(params, grads, m, v):
            return None
        hyper = np.array([fused.cpu.ADAM, self.beta_1, self.beta_2, self.epsilon])
        return params, grads, m, v, self._t, self._lr64, hyper

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


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): Keras's ``AdamW`` is Adam with
    the base optimizer's ``weight_decay`` on by default, ``w -= w * weight_decay * lr`` before
    each update (``keras/src/optimizers/adamw.py``)."""

    _key = "adamw"

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        if weight_decay is None:
            raise ValueError("weight_decay must be a float for AdamW, received None.")
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
        )


class RMSprop(Optimizer):
    """RMSprop as Keras (its default optimizer), without momentum or centering:
    ``v = rho v + (1 - rho) g^2``; ``w -= lr g / sqrt(v + epsilon)`` (epsilon inside the root).
    """

    _key = "rmsprop"
    _slots = ("v",)
    _config_keys = (*Optimizer._config_keys, "rho", "epsilon")
    _keras_defaults = {**Optimizer._keras_defaults, "momentum": 0.0, "centered": False}

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
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


class Adagrad(Optimizer):
    """Adagrad as Keras (``adagrad.py``): the accumulator starts at
    ``initial_accumulator_value``; ``acc += g^2``; ``w -= lr g / sqrt(acc + epsilon)``."""

    _key = "adagrad"
    _slots = ("accumulator",)
    _config_keys = (*Optimizer._config_keys, "initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.initial_accumulator_value = _check_non_negative(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.epsilon = _check_epsilon(epsilon)

    def _initial_slot(self, slot: str, params: Any) -> Any:
        return array_module(params).full_like(params, self.initial_accumulator_value)

    def _update(self, w: Any, g: Any) -> None:
        xp = array_module(w)
        acc, tmp = self.state["accumulator"], self._scratch(w)
        xp.multiply(g, g, out=tmp)
        acc += tmp
        xp.add(acc, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= self._lr
        w -= tmp


class Adamax(Optimizer):
    """Adamax, Adam under the infinity norm, as Keras (``adamax.py``; t counts from 1):
    ``m += (g - m)(1 - beta_1)``; ``u = max(beta_2 u, |g|)``;
    ``w -= lr m / ((1 - beta_1^t)(u + epsilon))``."""

    _key = "adamax"
    _slots = ("m", "u")
    _config_keys = (*Optimizer._config_keys, "beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = _check_unit(beta_1, "beta_1")
        self.beta_2 = _check_unit(beta_2, "beta_2")
        self.epsilon = _check_epsilon(epsilon)

    def _update(self, w: Any, g: Any) -> None:
        xp = array_module(w)
        m, u, tmp = self.state["m"], self.state["u"], self._scratch(w)
        # lr / (1 - beta_1^t) in float64 from the device count, then in the params' dtype
        step = (self._lr64 / (1.0 - xp.power(self.beta_1, self._t))).astype(w.dtype)
        xp.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.beta_1
        m += tmp  # m += (g - m)(1 - beta_1)
        u *= self.beta_2
        xp.abs(g, out=tmp)
        xp.maximum(u, tmp, out=u)  # u = max(beta_2 u, |g|)
        xp.add(u, self.epsilon, out=tmp)
        xp.divide(m, tmp, out=tmp)
        tmp *= step
        w -= tmp


def _u_product_at(steps: int, beta_1: float) -> np.ndarray:
    """Nadam's momentum product after ``steps`` steps, by the step's own float64 operations
    (so a restored optimizer goes on as the saved one would have)."""
    u, t = np.ones(1), np.zeros(1)
    for k in range(steps):
        t += 1.0
        factor = 1.0 - 0.5 * np.power(0.96, t)
        if factor[0] == 1.0:
            # 0.96^t has fallen below float64's resolution at 1 (t > 899): from here on
            # each step multiplies by beta_1 alone, until the product stops changing (0, or
            # a subnormal that beta_1 no longer moves)
            value = float(u[0])
            for _ in range(steps - k):
                if value * beta_1 == value:
                    break
                value *= beta_1
            return np.full(1, value)
        u *= beta_1
        u *= factor
    return u


class Nadam(Optimizer):
    """Nadam (Dozat), Adam with Nesterov momentum, in Keras 3's form (``nadam.py``; t counts
    from 1) with its momentum schedule ``mu_t = beta_1 (1 - 0.5 * 0.96^t)`` and their running
    product ``u_product`` (one more device number, updated each step before the update):

    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``m_hat = mu_{t+1} m / (1 - u_product mu_{t+1}) + (1 - mu_t) g / (1 - u_product)``;
    ``w -= lr m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)``.

    ``u_product`` depends only on the step count and ``beta_1``, so it is not saved: setting
    ``iterations`` (as loading does) recomputes it.
    """

    _key = "nadam"
    _slots = ("m", "v")
    _config_keys = (*Optimizer._config_keys, "beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = _check_unit(beta_1, "beta_1")
        self.beta_2 = _check_unit(beta_2, "beta_2")
        self.epsilon = _check_epsilon(epsilon)
        self._u_product: Any = None

    def _count_set(self, t: Any, count: int) -> None:
        value = _u_product_at(count, self.beta_1)
        if self._u_product is None or array_module(self._u_product) is not array_module(t):
            self._u_product = array_module(t).full(1, float(value[0]), dtype=np.float64)
        else:
            self._u_product.fill(float(value[0]))

    def build(self, params: Any, segments: Sequence[int] | None = None) -> None:
        self._u_product = None  # a new array beside the new step count
        super().build(params, segments)

    def _update(self, w: Any, g: Any) -> None:
        xp, t, b1 = array_module(w), self._t, self.beta_1
        s0, s1 = self._scratch(w, 0), self._scratch(w, 1)
        m, v, u = self.state["m"], self.state["v"], self._u_product
        # the scalars in float64 from the device count (Keras: in the variables' dtype)
        u *= b1
        u *= 1.0 - 0.5 * xp.power(0.96, t)  # u_product = u_product * beta_1 * (1 - 0.5 0.96^t)
        mu_t = b1 * (1.0 - 0.5 * xp.power(0.96, t))
        mu_next = b1 * (1.0 - 0.5 * xp.power(0.96, t + 1.0))
        c_m = (mu_next / (1.0 - u * mu_next)).astype(w.dtype)
        c_g = ((1.0 - mu_t) / (1.0 - u)).astype(w.dtype)
        c_v = (1.0 / (1.0 - xp.power(self.beta_2, t))).astype(w.dtype)
        xp.subtract(g, m, out=s0)
        s0 *= 1.0 - b1
        m += s0  # m += (g - m)(1 - beta_1)
        xp.multiply(g, g, out=s0)
        s0 -= v
        s0 *= 1.0 - self.beta_2
        v += s0  # v += (g^2 - v)(1 - beta_2)
        xp.multiply(m, c_m, out=s0)
        xp.multiply(g, c_g, out=s1)
        s0 += s1  # m_hat
        xp.multiply(v, c_v, out=s1)
        xp.sqrt(s1, out=s1)
        s1 += self.epsilon  # sqrt(v_hat) + epsilon
        s0 /= s1
        s0 *= self._lr
        w -= s0


_REGISTRY: dict[str, type[Optimizer]] = {
    cls._key: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam)
}
_BY_CLASS: dict[str, type[Optimizer]] = {cls.__name__: cls for cls in _REGISTRY.values()}


def get(identifier: str | dict[str, Any] | Optimizer) -> Optimizer:
    """Resolve an optimizer: an instance, a name (``"sgd"``, ``"adam"``, ``"adamw"``,
    ``"rmsprop"``, ``"adagrad"``, ``"adamax"``, ``"nadam"``: Keras's defaults) or a config."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier)
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Unknown optimizer {identifier!r}: expected an Optimizer or one of "
        f"{', '.join(sorted(_REGISTRY))}."
    )


def from_config(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Rebuild an optimizer from ``get_config()``'s dictionary; also takes Keras's serialized
    form (``{"class_name": "Adam", "config": {...}}``) where its options are ones xpnn has or
    are at Keras's defaults, and the configs of older xpnn files (the class in ``name``).

    Args:
        config: the dictionary.
        custom_objects: classes of one's own learning rate schedules, by class name.
    """
    config = dict(config)
    if isinstance(config.get("config"), dict):  # keras.optimizers.serialize's form
        class_name, config = config.get("class_name"), dict(config["config"])
    else:
        class_name = config.pop("class_name", None)
    if class_name is not None:
        cls = _BY_CLASS.get(str(class_name))
    else:
        cls = _REGISTRY.get(str(config.get("name", "")).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer in config: {config!r}.")
    for key, default in cls._keras_defaults.items():
        value = config.pop(key, default)
        if key.startswith("ema_"):
            continue  # use_ema (checked first) is off: EMA's settings mean nothing
        if value != default:
            raise ValueError(
                f"{cls.__name__}'s config sets {key}={value!r}, a Keras option xpnn does not "
                f"offer (only {key}={default!r})."
            )
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        config["learning_rate"] = schedules.deserialize(rate, custom_objects)
    return cls(**config)
