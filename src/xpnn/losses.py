"""Losses with Keras's numbers: a value, its gradient, and the output-layer shortcut.

Reduction is Keras's ``sum_over_batch_size``: mean over the last axis per sample, then the mean
over samples. Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` before the log, as Keras does;
logits (``from_logits=True``) go through softplus / log-sum-exp instead, finite for any input.

``gradient(y_true, y_pred)`` is dL/dy_pred. ``output_delta(y_true, a, activation)`` is dL/dz of
the output layer in one step, for the pairs where the chain rule collapses:

* sigmoid output + binary cross-entropy, or a linear output + BCE(from_logits=True):
  ``dL/dz = (sigmoid(z) - y) / (n * k)``;
* softmax output + (sparse) categorical cross-entropy, or a linear output with
  ``from_logits=True``: ``dL/dz = (softmax(z) - onehot(y)) / n``.

These are exact where the probabilities are inside the clip range; where Keras's clip is active
(|z| beyond about 16) the shortcut keeps the true gradient while the clipped one is zero.
For any other pair ``output_delta`` returns None and the model chains ``gradient`` through the
activation. The pair is recognised by the activation object itself, not its name: a custom
activation that happens to be called "sigmoid" gets the chain rule, not sigmoid's shortcut.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import fused
from .activations import Activation, linear, sigmoid, softmax
from .backend import array_module

__all__ = [
    "EPSILON",
    "Loss",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "get",
    "names",
]

EPSILON = 1e-7  # keras.config.epsilon()


class Loss:
    """Base class. Subclasses define ``_value``, ``_gradient`` and the target checks."""

    name = "loss"

    def __init__(self, from_logits: bool = False) -> None:
        if not isinstance(from_logits, bool | np.bool_):
            raise TypeError(f"from_logits must be True or False, received {from_logits!r}.")
        self.from_logits = bool(from_logits)

    # -- public ---------------------------------------------------------------------------
    def __call__(self, y_true: Any, y_pred: Any) -> Any:
        """The mean loss over the batch (a 0-d array of ``y_pred``'s backend)."""
        xp = array_module(y_pred)
        if xp is np:
            y_pred = np.asarray(y_pred, dtype=np.result_type(np.asarray(y_pred).dtype, np.float32))
        y_true = self.prepare_targets(y_true, y_pred.shape, dtype=y_pred.dtype)
        if array_module(y_true) is not xp:  # host targets follow the predictions to the device
            y_true = xp.asarray(y_true)
        return self.value(y_true, y_pred)

    def value(self, y_true: Any, y_pred: Any) -> Any:
        """Mean loss of prepared targets (see ``prepare_targets``); no checks, no copies home."""
        return self._value(y_true, y_pred)

    def gradient(self, y_true: Any, y_pred: Any, out: Any = None, w: Any = None) -> Any:
        """dL/dy_pred of the mean loss, shaped like ``y_pred``; with per-sample weights ``w``,
        of the weighted loss ``mean(w_i * L_i)`` (Keras's ``sum_over_batch_size``)."""
        g = self._gradient(y_true, y_pred, out)
        if w is not None:
            g *= w.reshape(-1, *([1] * (g.ndim - 1)))
        return g

    def per_sample(self, y_true: Any, y_pred: Any) -> Any:
        """The loss of each sample (the mean over its outputs), shape ``(batch,)``."""
        raise NotImplementedError

    def output_delta(
        self, y_true: Any, a: Any, activation: Activation, out: Any = None
    ) -> Any | None:
        """dL/dz of the output layer when the activation + loss pair collapses, else None."""
        return None

    def value_and_delta(
        self, y_true: Any, a: Any, activation: Activation | None, out: Any = None, w: Any = None
    ) -> tuple[Any, Any | None]:
        """``value`` and ``output_delta`` together (one pass where a fused kernel exists).
        With per-sample weights ``w``: ``mean(w_i * L_i)`` and its ``dL/dz``."""
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

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


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


def _log_softmax(z: Any) -> Any:
    xp = array_module(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


# -- binary cross-entropy -----------------------------------------------------------------------
class BinaryCrossentropy(Loss):
    """Binary (and multi-label) cross-entropy; targets in [0, 1], shape of the output.

    ``L = -(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``, or from
    logits ``z``: ``max(z, 0) - z y + log(1 + exp(-|z|))``.
    """

    name = "binary_crossentropy"

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        y = _float_targets(y_true, output_shape, "binary_crossentropy", dtype)
        if array_module(y) is np and y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "binary_crossentropy targets must lie in [0, 1], received values from "
                f"{y.min():g} to {y.max():g}. For more than two classes use "
                "SparseCategoricalCrossentropy with a softmax output."
            )
        return y

    def _value(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        if self.from_logits:
            z = p
            loss = xp.maximum(z, 0.0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))
        else:
            p = xp.clip(p, EPSILON, 1.0 - EPSILON)
            loss = -(y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p))
        return loss.mean()

    def per_sample(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        if self.from_logits:
            loss = xp.maximum(p, 0.0) - p * y + xp.log1p(xp.exp(-xp.abs(p)))
        else:
            q = xp.clip(p, EPSILON, 1.0 - EPSILON)
            loss = -(y * xp.log(q) + (1.0 - y) * xp.log(1.0 - q))
        return loss.mean(axis=-1)

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

    def value_and_delta(
        self, y_true: Any, a: Any, activation: Activation | None, out: Any = None, w: Any = None
    ) -> tuple[Any, Any | None]:
        if w is None and out is not None and (kernels := fused.pick(y_true, a, out)):
            if self.from_logits and activation is linear:
                return kernels.bce_logits(a, y_true, out), out
            if not self.from_logits and activation is sigmoid:
                return kernels.bce_sigmoid(a, y_true, out, EPSILON), out
        return super().value_and_delta(y_true, a, activation, out, w)

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


# -- mean squared error -------------------------------------------------------------------------
class MeanSquaredError(Loss):
    """``mean((y - p)^2)``: no 1/2 factor, as in Keras."""

    name = "mean_squared_error"

    def __init__(self) -> None:
        super().__init__(from_logits=False)

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _float_targets(y_true, output_shape, "mean_squared_error", dtype)

    def _value(self, y: Any, p: Any) -> Any:
        d = p - y
        return (d * d).mean()

    def per_sample(self, y: Any, p: Any) -> Any:
        d = p - y
        return (d * d).mean(axis=-1)

    def _gradient(self, y: Any, p: Any, out: Any) -> Any:
        xp = array_module(p)
        g = xp.subtract(p, y, out=out)
        g *= 2.0 / p.size
        return g

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "MeanSquaredError()"


# -- categorical cross-entropy, dense and sparse ------------------------------------------------
class _CategoricalBase(Loss):
    def _onehot_like(self, y: Any, p: Any) -> Any:
        raise NotImplementedError

    def _value(self, y: Any, p: Any) -> Any:
        xp = array_module(p)
        if self.from_logits:
            logq = _log_softmax(p)
        else:
            q = xp.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON)
            logq = xp.log(q)
        return -self._pick(y, logq).mean()

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

    name = "categorical_crossentropy"

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

    name = "sparse_categorical_crossentropy"

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
            y = y.astype(np.int64)
        elif y.dtype.kind not in "iu":
            raise TypeError(
                f"sparse_categorical_crossentropy labels must be integers, received {y.dtype}."
            )
        return y

    def value_and_delta(
        self, y_true: Any, a: Any, activation: Activation | None, out: Any = None, w: Any = None
    ) -> tuple[Any, Any | None]:
        if w is None and out is not None and (kernels := fused.pick(y_true, a, out)):
            if self.from_logits and activation is linear:
                return kernels.softmax_ce_sparse(a, y_true, out, True, EPSILON), out
            if not self.from_logits and activation is softmax:
                return kernels.softmax_ce_sparse(a, y_true, out, False, EPSILON), out
        return super().value_and_delta(y_true, a, activation, out, w)

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


_REGISTRY: dict[str, type[Loss]] = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
}


def names() -> list[str]:
    """The accepted loss names."""
    return sorted(_REGISTRY)


def get(identifier: str | Loss) -> Loss:
    """Resolve a loss from a name (``"mse"``, ``"binary_crossentropy"``, ...) or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Unknown loss {identifier!r}: expected a Loss or one of {', '.join(names())}."
    )


def from_config(config: dict[str, Any]) -> Loss:
    """Rebuild a loss from ``get_config()``'s dictionary."""
    cls = _REGISTRY.get(str(config.get("name", "")))
    if cls is None:
        raise ValueError(f"Unknown loss in config: {config!r}.")
    return cls() if cls is MeanSquaredError else cls(from_logits=bool(config["from_logits"]))
