"""Losses with Keras's numbers: a value, its gradient, and the output-layer shortcut.

Reduction is Keras's ``sum_over_batch_size``: each sample's loss (for elementwise losses the
mean over the last axis), then the mean over samples; with per-sample weights ``w``,
``sum(w_i * L_i) / batch`` (``keras/src/losses/loss.py``, ``reduce_values``). Probabilities
are clipped to ``[1e-7, 1 - 1e-7]`` before the log, as Keras does; logits
(``from_logits=True``) go through softplus / log-sum-exp instead, finite for any input.

``gradient(y_true, y_pred)`` is dL/dy_pred. ``output_delta(y_true, a, activation)`` is dL/dz of
the output layer in one step, for the pairs where the chain rule collapses:

* sigmoid output + binary cross-entropy, or a linear output + BCE(from_logits=True):
  ``dL/dz = (sigmoid(z) - y) / (n * k)``;
* softmax output + (sparse) categorical cross-entropy, or a linear output with
  ``from_logits=True``: ``dL/dz = (softmax(z) - onehot(y)) / n``;
* a linear output + mean squared error: ``dL/dz = dL/da = 2 (a - y) / (n * k)`` (nothing
  collapses; it lets the loss's value and delta come from one pass).

These are exact where the probabilities are inside the clip range; where Keras's clip is active
(|z| beyond about 16) the shortcut keeps the true gradient while the clipped one is zero.
For any other pair ``output_delta`` returns None and the model chains ``gradient`` through the
activation. The pair is recognised by the activation object itself, not its name: a custom
activation that happens to be called "sigmoid" gets the chain rule, not sigmoid's shortcut.

Where a loss has a kink (MAE at 0, the hinges at their margin, a clip's edge) ``gradient``
takes the one-sided value 0 or the sign, as the frameworks' subgradients do.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import config as config_module
from . import fused
from .activations import Activation, linear, sigmoid, softmax
from .backend import array_module

__all__ = [
    "EPSILON",
    "Loss",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "from_config",
    "get",
    "names",
]

EPSILON = 1e-7  # keras.config.epsilon()


class Loss:
    """Base class. Subclasses define ``per_sample``, ``_gradient`` and ``prepare_targets``
    (and ``_value`` where one pass over the elements beats the mean of ``per_sample``)."""

    default_name = "loss"

    def __init__(self, from_logits: bool = False, *, name: str | None = None) -> None:
        if not isinstance(from_logits, bool | np.bool_):
            raise TypeError(f"from_logits must be True or False, received {from_logits!r}.")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"A loss's name must be a non-empty string, received {name!r}.")
        self.from_logits = bool(from_logits)
        self.name = name or self.default_name

    # -- public ---------------------------------------------------------------------------
    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The mean loss over the batch (a 0-d array of ``y_pred``'s backend); with
        ``sample_weight`` (one per sample), ``sum(w_i * L_i) / batch`` as in Keras."""
        xp = array_module(y_pred)
        if xp is np:
            y_pred = np.asarray(y_pred, dtype=np.result_type(np.asarray(y_pred).dtype, np.float32))
        y_true = self.prepare_targets(y_true, y_pred.shape, dtype=y_pred.dtype)
        if array_module(y_true) is not xp:  # host targets follow the predictions to the device
            y_true = xp.asarray(y_true)
        if sample_weight is None:
            return self.value(y_true, y_pred)
        w = sample_weight
        if array_module(w) is np:  # host weights follow the predictions too
            w = np.asarray(w, dtype=y_pred.dtype)
            w = w if xp is np else xp.asarray(w)
        w = w.astype(y_pred.dtype, copy=False).reshape(-1)
        if w.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"sample_weight must hold one weight per sample ({y_pred.shape[0]}), received "
                f"shape {tuple(np.shape(sample_weight))}."
            )
        return (self.per_sample(y_true, y_pred) * w).mean()

    def value(self, y_true: Any, y_pred: Any) -> Any:
        """Mean loss of prepared targets (see ``prepare_targets``); no checks, no copies home."""
        return self._value(y_true, y_pred)

    def _value(self, y_true: Any, y_pred: Any) -> Any:
        return self.per_sample(y_true, y_pred).mean()

    def gradient(self, y_true: Any, y_pred: Any, out: Any = None, w: Any = None) -> Any:
        """dL/dy_pred of the mean loss, shaped like ``y_pred``; with per-sample weights ``w``,
        of the weighted loss ``mean(w_i * L_i)`` (Keras's ``sum_over_batch_size``)."""
        g = self._gradient(y_true, y_pred, out)
        if w is not None:
            g *= w.reshape(-1, *([1] * (g.ndim - 1)))
        return g

    def _gradient(self, y_true: Any, y_pred: Any, out: Any) -> Any:
        raise NotImplementedError

    def per_sample(self, y_true: Any, y_pred: Any) -> Any:
        """The loss of each sample (for elementwise losses the mean over its outputs), shape
        ``(batch,)``."""
        raise NotImplementedError

    def output_delta(
        self, y_true: Any, a: Any, activation: Activation, out: Any = None
    ) -> Any | None:
        """dL/dz of the output layer when the activation + loss pair collapses, else None."""
        return None

    def fused_kernel(self, activation: Activation | None) -> tuple[str, tuple[Any, ...]] | None:
        """The one-pass kernel (fused/) that gives this loss's value and ``dL/dz`` after
        ``activation``, unweighted: its name and the arguments after ``(a, y, delta)``; None
        when there is none (the array code runs)."""
        return None

    def value_and_delta(
        self, y_true: Any, a: Any, activation: Activation | None, out: Any = None, w: Any = None
    ) -> tuple[Any, Any | None]:
        """``value`` and ``output_delta`` together (one pass where a fused kernel exists).
        With per-sample weights ``w``: ``mean(w_i * L_i)`` and its ``dL/dz``."""
        if (
            w is None
            and out is not None
            and (spec := self.fused_kernel(activation)) is not None
            and (kernels := fused.pick(y_true, a, out))
        ):
            name, args = spec
            return getattr(kernels, name)(a, y_true, out, *args), out
        if w is None:
            return self.value(y_true, a), self.output_delta(y_true, a, activation, out)
        value = (self.per_sample(y_true, a) * w).mean()
        delta = self.output_delta(y_true, a, activation, out)
        if delta is not None:
            delta *= w.reshape(-1, *([1] * (delta.ndim - 1)))
        return value, delta

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        """Check ``y_true`` against the output and return it in the layout the loss uses.

        Float targets are cast to ``dtype`` (the predictions' float type, as Keras casts
        ``y_true``; default float32 for integer targets); class labels stay integers.
        Host (NumPy or list) targets have their values checked too; device arrays only their
        shape, since checking values would copy them home.
        """
        raise NotImplementedError

    def _arguments(self) -> dict[str, Any]:
        """The constructor's arguments besides ``name`` (for the config and repr)."""
        return {"from_logits": self.from_logits}

    def get_config(self) -> dict[str, Any]:
        """``class_name``, ``name`` and the constructor's arguments (``from_config`` reverses
        it)."""
        return {"class_name": type(self).__name__, "name": self.name, **self._arguments()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**{k: v for k, v in config.items() if k != "class_name"})

    def __repr__(self) -> str:
        args = dict(self._arguments())
        if self.name != self.default_name:
            args["name"] = self.name
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


# -- helpers ------------------------------------------------------------------------------------
def _float_targets(y: Any, output_shape: tuple[int, ...], loss: str, dtype: Any = None) -> Any:
    xp = array_module(y)
    if xp is np:
        y = np.asarray(y)
    if dtype is None:
        dtype = y.dtype if y.dtype.kind == "f" else np.float32
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{loss} targets must be numeric, received dtype {y.dtype}.")
    y = y.astype(dtype, copy=False)
    if y.ndim == 1 and len(output_shape) == 2 and output_shape[1] == 1:
        y = y.reshape(-1, 1)  # (n,) and (n, 1) both mean one output column, as in Keras
    if tuple(y.shape) != tuple(output_shape):
        raise ValueError(
            f"{loss} targets have shape {tuple(y.shape)}, but the model's output has shape "
            f"{tuple(output_shape)}; they must match."
        )
    if xp is np and not np.all(np.isfinite(y)):
        raise ValueError(f"{loss} targets contain NaN or infinity.")
    return y


def _check_range(y: Any, low: float, high: float, loss: str, hint: str) -> None:
    """Host targets must lie in ``[low, high]`` (device targets are not read back)."""
    if array_module(y) is np and y.size and (y.min() < low or y.max() > high):
        raise ValueError(
            f"{loss} targets must lie in [{low:g}, {high:g}], received values from "
            f"{y.min():g} to {y.max():g}.{hint}"
        )


def _log_softmax(z: Any) -> Any:
    xp = array_module(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _softplus(z: Any) -> Any:
    """log(1 + e^z), finite for any z."""
    xp = array_module(z)
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


# -- binary cross-entropy -----------------------------------------------------------------------
class BinaryCrossentropy(Loss):
    """Binary (and multi-label) cross-entropy; targets in [0, 1], shape of the output.

    ``L = -(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``, or from
    logits ``z``: ``max(z, 0) - z y + log(1 + exp(-|z|))``.
    """

    default_name = "binary_crossentropy"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "binary_crossentropy", dtype)
        hint = " For more than two classes use SparseCategoricalCrossentropy with a softmax output."
        _check_range(y, 0, 1, "binary_crossentropy", hint)
        return y

    def _elements(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        if self.from_logits:
            return xp.maximum(p, 0.0) - p * y + xp.log1p(xp.exp(-xp.abs(p)))
        q = xp.clip(p, EPSILON, 1.0 - EPSILON)
        return -(y * xp.log(q) + (1.0 - y) * xp.log(1.0 - q))

    def _value(self, y: Any, p: Any) -> Any:
        return self._elements(y, p).mean()

    def per_sample(self, y: Any, p: Any) -> Any:
        return self._elements(y, p).mean(axis=-1)

    def _gradient(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        n = p.size
        if self.from_logits:
            g = xp.subtract(sigmoid.forward(p), y, out=out)
        else:
            q = xp.clip(p, EPSILON, 1.0 - EPSILON)
            inside = (p >= EPSILON) & (p <= 1.0 - EPSILON)  # the clip passes no gradient
            g = xp.multiply((q - y) / (q * (1.0 - q)), inside, out=out)
        g /= n
        return g

    def fused_kernel(self, activation: Activation | None) -> tuple[str, tuple[Any, ...]] | None:
        if self.from_logits and activation is linear:
            return "bce_logits", ()
        if not self.from_logits and activation is sigmoid:
            return "bce_sigmoid", (EPSILON,)
        return None

    def output_delta(
        self, y_true: Any, a: Any, activation: Activation, out: Any = None
    ) -> Any | None:
        xp = array_module(a)
        if self.from_logits and activation is linear:
            delta = sigmoid.forward(a, out=out)  # a is z
        elif not self.from_logits and activation is sigmoid:
            delta = a.copy() if out is None else _copy(a, out)
        else:
            return None
        xp.subtract(delta, y_true, out=delta)
        delta /= a.size
        return delta


# -- categorical cross-entropy, dense and sparse ------------------------------------------------
class _CategoricalBase(Loss):
    kernel = ""  # the fused kernel's name (fused/): the same for softmax outputs and logits

    def fused_kernel(self, activation: Activation | None) -> tuple[str, tuple[Any, ...]] | None:
        if self.from_logits and activation is linear:
            return self.kernel, (True, EPSILON)
        if not self.from_logits and activation is softmax:
            return self.kernel, (False, EPSILON)
        return None

    def _onehot_like(self, y: Any, p: Any) -> Any:
        raise NotImplementedError

    def _pick(self, y: Any, logq: Any) -> Any:
        raise NotImplementedError

    def _subtract_onehot(self, delta: Any, y: Any) -> None:
        raise NotImplementedError

    def per_sample(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        if self.from_logits:
            return -self._pick(y, _log_softmax(p))
        q = xp.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON)
        return -self._pick(y, xp.log(q))

    def _gradient(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        n = p.shape[0]
        onehot = self._onehot_like(y, p)
        if self.from_logits:
            g = xp.subtract(softmax.forward(p), onehot, out=out)
        else:
            s = p.sum(axis=-1, keepdims=True)
            q = p / s
            inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
            gq = -onehot / xp.clip(q, EPSILON, 1.0 - EPSILON) * inside  # dL/dq
            # q = p / s couples the row: dL/dp_i = (gq_i - sum_j gq_j q_j) / s
            g = xp.subtract(gq, (gq * q).sum(axis=-1, keepdims=True), out=out)
            g /= s
        g /= n
        return g

    def output_delta(
        self, y_true: Any, a: Any, activation: Activation, out: Any = None
    ) -> Any | None:
        if self.from_logits and activation is linear:
            delta = softmax.forward(a, out=out)
        elif not self.from_logits and activation is softmax:
            delta = a.copy() if out is None else _copy(a, out)
        else:
            return None
        self._subtract_onehot(delta, y_true)
        delta /= a.shape[0]
        return delta


class CategoricalCrossentropy(_CategoricalBase):
    """Cross-entropy against one-hot (or probability) targets of the output's shape."""

    default_name = "categorical_crossentropy"
    kernel = "softmax_ce"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "categorical_crossentropy", dtype)
        if array_module(y) is np and y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "categorical_crossentropy targets must be one-hot rows (values in [0, 1]), "
                f"received values from {y.min():g} to {y.max():g}. For integer class labels "
                "use SparseCategoricalCrossentropy."
            )
        return y

    def _onehot_like(self, y: Any, p: Any) -> Any:
        return y

    def _pick(self, y: Any, logq: Any) -> Any:
        return (y * logq).sum(axis=-1)

    def _subtract_onehot(self, delta: Any, y: Any) -> None:
        delta -= y


class SparseCategoricalCrossentropy(_CategoricalBase):
    """Cross-entropy against integer class labels in ``[0, classes)``, shape ``(n,)``."""

    default_name = "sparse_categorical_crossentropy"
    kernel = "softmax_ce_sparse"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        xp = array_module(y_true)
        classes = output_shape[-1]
        y = np.asarray(y_true) if xp is np else y_true
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1 or y.shape[0] != output_shape[0]:
            raise ValueError(
                "sparse_categorical_crossentropy targets must be integer class labels of shape "
                f"({output_shape[0]},), received shape {tuple(np.shape(y_true))}. One-hot "
                "targets go with CategoricalCrossentropy."
            )
        if xp is np:
            if y.dtype.kind not in "biuf":
                raise TypeError(
                    f"sparse_categorical_crossentropy labels must be integers, received "
                    f"dtype {y.dtype}."
                )
            if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
                raise ValueError(
                    "sparse_categorical_crossentropy labels must be whole numbers (class "
                    "indices), received fractional values."
                )
            if y.size and (y.min() < 0 or y.max() >= classes):
                raise ValueError(
                    f"sparse_categorical_crossentropy labels must lie in [0, {classes}) for an "
                    f"output of {classes} units, received values from {y.min():g} to "
                    f"{y.max():g}."
                )
            y = y.astype(np.int64, copy=False)
        elif y.dtype.kind not in "iu":
            raise TypeError(
                f"sparse_categorical_crossentropy labels must be integers, received {y.dtype}."
            )
        return y

    def _onehot_like(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        onehot = xp.zeros_like(p)
        onehot[xp.arange(p.shape[0]), y] = 1.0
        return onehot

    def _pick(self, y: Any, logq: Any) -> Any:
        xp = array_module(logq)
        return logq[xp.arange(logq.shape[0]), y]

    def _subtract_onehot(self, delta: Any, y: Any) -> None:
        xp = array_module(delta)
        delta[xp.arange(delta.shape[0]), y] -= 1.0  # no repeated index: safe on CuPy too


def _copy(a: Any, out: Any) -> Any:
    out[...] = a
    return out


# -- elementwise regression losses --------------------------------------------------------------
class _Elementwise(Loss):
    """A loss ``f(y, p)`` per output, averaged over the outputs of a sample, then over
    samples (Keras's ``mean(..., axis=-1)`` then ``sum_over_batch_size``): for a 2-d batch,
    the mean over every entry. ``_slope`` is ``df/dp`` per entry."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(from_logits=False, name=name)

    def _arguments(self) -> dict[str, Any]:
        return {}

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _float_targets(y_true, output_shape, self.default_name, dtype)

    def _elements(self, y: Any, p: Any) -> Any:
        raise NotImplementedError

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        raise NotImplementedError

    def _value(self, y: Any, p: Any) -> Any:
        return self._elements(y, p).mean()

    def per_sample(self, y: Any, p: Any) -> Any:
        return self._elements(y, p).mean(axis=-1)

    def _gradient(self, y: Any, p: Any, out: Any) -> Any:
        g = self._slope(y, p, out)
        g /= p.size
        return g


class MeanSquaredError(_Elementwise):
    """``mean((y - p)^2)``: no 1/2 factor, as in Keras."""

    default_name = "mean_squared_error"

    def _elements(self, y: Any, p: Any) -> Any:
        d = p - y
        return d * d

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        g = array_module(p).subtract(p, y, out=out)
        g *= 2.0
        return g

    def fused_kernel(self, activation: Activation | None) -> tuple[str, tuple[Any, ...]] | None:
        # a subclass may change the elements or the slope: it keeps to the array code
        if type(self) is MeanSquaredError and activation is linear:
            return "mse", ()
        return None

    def output_delta(
        self, y_true: Any, a: Any, activation: Activation, out: Any = None
    ) -> Any | None:
        if type(self) is not MeanSquaredError or activation is not linear:
            return None
        return self._gradient(y_true, a, out)  # a linear output: dL/dz is dL/da


class MeanAbsoluteError(_Elementwise):
    """``mean(|y - p|)``; the slope at ``p == y`` is taken as 0."""

    default_name = "mean_absolute_error"

    def _elements(self, y: Any, p: Any) -> Any:
        return array_module(p).abs(p - y)

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        return xp.sign(xp.subtract(p, y, out=out), out=out)


class MeanAbsolutePercentageError(_Elementwise):
    """``100 * mean(|y - p| / max(|y|, eps))``: Keras divides by ``max(|y|, 1e-7)``, so a
    target of 0 costs ``1e9`` per unit of error rather than infinity."""

    default_name = "mean_absolute_percentage_error"

    def _elements(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        return 100.0 * xp.abs((y - p) / xp.maximum(xp.abs(y), EPSILON))

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        g = xp.sign(xp.subtract(p, y, out=out), out=out)
        g *= 100.0
        g /= xp.maximum(xp.abs(y), EPSILON)
        return g


class Huber(_Elementwise):
    """``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2`` (``e = p - y``);
    its slope is ``e`` clipped to ``[-delta, delta]``.

    Args:
        delta: where the loss turns from quadratic to linear (Keras's default 1.0).
    """

    default_name = "huber_loss"  # Keras's class default; the function is called "huber"

    def __init__(self, delta: float = 1.0, *, name: str | None = None) -> None:
        if (
            not isinstance(delta, numbers.Real)
            or isinstance(delta, bool)
            or not math.isfinite(delta)
            or delta <= 0
        ):
            raise ValueError(f"Huber's delta must be a positive number, received {delta!r}.")
        super().__init__(name=name)
        self.delta = float(delta)

    def _arguments(self) -> dict[str, Any]:
        return {"delta": self.delta}

    def _elements(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        e = p - y
        a = xp.abs(e)
        d = self.delta
        return xp.where(a <= d, 0.5 * e * e, d * a - 0.5 * d * d)

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        return xp.clip(xp.subtract(p, y, out=out), -self.delta, self.delta, out=out)


class LogCosh(_Elementwise):
    """``mean(log(cosh(p - y)))``, computed as Keras does, ``x + softplus(-2x) - log 2``,
    which cannot overflow; its slope is ``tanh(p - y)``."""

    default_name = "log_cosh"

    def _elements(self, y: Any, p: Any) -> Any:
        x = p - y
        return x + _softplus(-2.0 * x) - math.log(2.0)

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        return xp.tanh(xp.subtract(p, y, out=out), out=out)


class Hinge(_Elementwise):
    """``mean(max(1 - y p, 0))`` for labels ``y`` in {-1, 1}.

    As Keras (``convert_binary_labels_to_hinge``), a batch whose labels are all 0 or 1 is
    read as 0/1 labels and mapped to -1/1 (``2y - 1``); the test runs on the device, per
    batch, so nothing is read back. The model's output is a score, thresholded at 0.
    """

    default_name = "hinge"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "hinge", dtype)
        if array_module(y) is np and y.size:
            found = np.unique(y)
            if not (set(found) <= {0.0, 1.0} or set(found) <= {-1.0, 1.0}):
                shown = ", ".join(f"{v:g}" for v in found[:6]) + (", ..." if found.size > 6 else "")
                raise ValueError(
                    "hinge targets must be labels -1/1, or 0/1 (which become -1/1, as in "
                    f"Keras), received the values {shown}."
                )
        return y

    @staticmethod
    def _signs(y: Any) -> Any:
        xp = array_module(y)
        binary = xp.all((y == 0) | (y == 1))  # a 0-d device array: no sync
        return xp.where(binary, 2.0 * y - 1.0, y)

    def _elements(self, y: Any, p: Any) -> Any:
        return array_module(p).maximum(1.0 - self._signs(y) * p, 0.0)

    def _slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        s = self._signs(y)
        g = xp.multiply(s, (1.0 - s * p) > 0, out=out)  # -s inside the margin, 0 outside
        return xp.negative(g, out=g)


# -- per-sample (row) losses ---------------------------------------------------------------------
class _RowLoss(Loss):
    """A loss of each sample's whole row, averaged over samples; ``_row_slope`` is
    ``dL_i/dp_i`` per row."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(from_logits=False, name=name)

    def _arguments(self) -> dict[str, Any]:
        return {}

    def _row_slope(self, y: Any, p: Any, out: Any) -> Any:
        raise NotImplementedError

    def _gradient(self, y: Any, p: Any, out: Any) -> Any:
        g = self._row_slope(y, p, out)
        g /= p.shape[0]
        return g


class CategoricalHinge(_RowLoss):
    """``max(neg - pos + 1, 0)`` per sample, with ``pos = sum(y p)`` and
    ``neg = max((1 - y) p)``, for one-hot (or -1/+1) targets of the output's shape."""

    default_name = "categorical_hinge"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "categorical_hinge", dtype)
        hint = " Targets are one-hot rows (or -1/+1); integer labels need one-hot encoding."
        _check_range(y, -1, 1, "categorical_hinge", hint)
        return y

    def per_sample(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        pos = (y * p).sum(axis=-1)
        neg = ((1.0 - y) * p).max(axis=-1)
        return xp.maximum(neg - pos + 1.0, 0.0)

    def _row_slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        other = (1.0 - y) * p
        top = xp.argmax(other, axis=-1)  # (batch,): the entry neg comes from (first on ties)
        active = other.max(axis=-1) - (y * p).sum(axis=-1) + 1.0 > 0  # (batch,)
        at_top = xp.arange(p.shape[-1]) == top[:, None]  # (batch, units), fixed shape
        # d neg / dp = (1 - y) at the top entry; d pos / dp = y
        g = xp.subtract((1.0 - y) * at_top, y, out=out)
        g *= active[:, None]
        return g


class KLDivergence(_RowLoss):
    """``sum(y log(y / p))`` per sample, with ``y`` and ``p`` clipped to ``[eps, 1]`` as in
    Keras; targets are probability rows of the output's shape."""

    default_name = "kl_divergence"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "kl_divergence", dtype)
        _check_range(y, 0, 1, "kl_divergence", " Targets are probabilities.")
        return y

    def per_sample(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        yc = xp.clip(y, EPSILON, 1.0)
        pc = xp.clip(p, EPSILON, 1.0)
        return (yc * xp.log(yc / pc)).sum(axis=-1)

    def _row_slope(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        yc = xp.clip(y, EPSILON, 1.0)
        inside = (p >= EPSILON) & (p <= 1.0)  # the clip passes no gradient
        g = xp.divide(yc, xp.clip(p, EPSILON, 1.0), out=out)
        g *= inside
        return xp.negative(g, out=g)


# -- names ----------------------------------------------------------------------------------------
_CLASSES: tuple[type[Loss], ...] = (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    Huber,
    LogCosh,
    Hinge,
    CategoricalHinge,
    KLDivergence,
)

# Keras's function names and aliases (keras/src/losses/__init__.py, losses.py's exports).
_REGISTRY: dict[str, type[Loss]] = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "huber": Huber,
    "huber_loss": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "hinge": Hinge,
    "categorical_hinge": CategoricalHinge,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
}
_BY_CLASS_NAME: dict[str, type[Loss]] = {c.__name__.lower(): c for c in _CLASSES}


def names() -> list[str]:
    """The accepted loss names (class names such as ``"Huber"`` are accepted too)."""
    return sorted(_REGISTRY)


def _lookup(name: str) -> type[Loss] | None:
    key = name.lower()
    return _REGISTRY.get(key) or _BY_CLASS_NAME.get(key)


def get(identifier: str | Loss | type[Loss] | dict[str, Any]) -> Loss:
    """Resolve a loss from a name (``"mse"``, ``"huber"``, ``"KLDivergence"``, ...), a class,
    an instance or a ``get_config()`` dictionary."""
    if isinstance(identifier, Loss):
        kind = type(identifier)
        if "call" in vars(kind) and kind.per_sample is Loss.per_sample:
            raise NotImplementedError(
                f"{kind.__name__} is written as a Keras Loss subclass (call); xpnn has no "
                "automatic differentiation, so a loss of its own subclasses xpnn.losses.Loss "
                "with per_sample (the values) and _gradient (dL/dpredictions)."
            )
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        return from_config(identifier)
    if isinstance(identifier, str) and (cls := _lookup(identifier)) is not None:
        return cls()
    raise ValueError(
        f"Unknown loss {identifier!r}: expected a Loss or one of {', '.join(names())}."
    )


def from_config(config: dict[str, Any]) -> Loss:
    """Rebuild a loss from ``get_config()``'s dictionary (older configs without
    ``class_name`` are found by their ``name``)."""
    if not isinstance(config, dict):
        raise ValueError(f"A loss config must be a dict, received {config!r}.")
    class_name = config.get("class_name")
    if class_name is not None:
        cls = _BY_CLASS_NAME.get(class_name.lower()) if isinstance(class_name, str) else None
    else:
        name = config.get("name")
        cls = _lookup(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"Unknown loss in config: {config!r}.")
    arguments = {k: v for k, v in config.items() if k != "class_name"}
    return config_module.construct(cls, arguments, config, "loss")
