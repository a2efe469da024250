"""Metrics, accumulated on the device batch by batch and read once per epoch.

A metric owns ``size`` float64 accumulators, a slice of the epoch's sums on the device:
``update(acc, y, a, w)`` adds a batch into them (``w``: per-sample weights, or None) and
``result(acc)`` turns the host copy into the figure. Nothing crosses to the host per step, and
every update is device work on fixed shapes (recordable as a graph); the trainer zeroes the
sums at the start of each epoch.

Mean metrics (accuracies, errors) keep ``[sum of w * value, sum of w]``: the per-sample value is
the mean over outputs first, as Keras's ``MeanMetricWrapper`` does, so the epoch's figure is the
weighted mean over samples. Confusion metrics (``Precision``, ``Recall``, ``AUC``) keep weighted
counts of true and false positives, each output of each sample counting with its sample's
weight, as in Keras's ``update_confusion_matrix_variables``.

``y`` arrives in the loss's layout (``Loss.prepare_targets``): integer class labels for
``SparseCategoricalCrossentropy``, arrays shaped like the output otherwise; ``compile`` refuses
a metric that needs the other layout. Where a threshold is not given and the loss takes logits
(``from_logits=True``), xpnn thresholds at 0 (where sigmoid crosses 0.5) and ``AUC`` applies
the sigmoid first; Keras keeps 0.5 and raw scores there, which is a known trap.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import config as config_module
from . import fused
from . import losses as losses_module
from .activations import sigmoid
from .backend import array_module
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    SparseCategoricalCrossentropy,
)

__all__ = [
    "Metric",
    "MeanMetric",
    "AUC",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "from_config",
    "get",
    "names",
    "register",
]

NEG_INF = -1e10  # Keras's stand-in for "not in the top k" (metrics_utils.NEG_INF)


class Metric:
    """Base class: ``size`` accumulators, ``update`` adds a batch, ``result`` reads them.

    ``targets`` says which target layout the metric reads: ``"labels"`` (integer classes),
    ``"dense"`` (shaped like the output) or None (either).
    """

    size = 2
    default_name = "metric"
    direction = "down"  # which way is better, for callbacks' mode="auto" (Keras's _direction)
    targets: str | None = "dense"

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"A metric's name must be a non-empty string, received {name!r}.")
        self.name = name or self.default_name

    def prepare(self, loss: Loss, output_units: int) -> None:
        """Called by ``compile`` with the model's loss and output width: checks the target
        layout, and lets metrics pick their form from them."""
        labels = isinstance(loss, SparseCategoricalCrossentropy)
        if self.targets == "dense" and labels:
            raise ValueError(
                f"The metric {self.name!r} ({type(self).__name__}) compares targets shaped "
                f"like the output, but the loss {loss.name} takes integer class labels; with "
                "it use sparse_categorical_accuracy or sparse_top_k_categorical_accuracy."
            )
        if self.targets == "labels" and not labels:
            raise ValueError(
                f"The metric {self.name!r} ({type(self).__name__}) takes integer class labels, "
                f"but the loss {loss.name} takes targets shaped like the output; with it use "
                "categorical_accuracy or top_k_categorical_accuracy."
            )

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        """Add the batch ``y`` (targets), ``a`` (outputs), ``w`` (weights or None) into the
        device accumulators ``acc``."""
        raise NotImplementedError

    def result(self, acc: np.ndarray) -> float:
        """The figure from the host copy of the accumulators."""
        raise NotImplementedError

    def fused_kernel(self, output_units: int) -> tuple[float, float] | None:
        """How a compiled CPU training pass (fused/cpu.py ``_add_metrics``) adds this metric's
        batches up itself: its code and argument; None when only ``update`` can (the
        default)."""
        return None

    def _arguments(self) -> dict[str, Any]:
        """The constructor's arguments besides ``name`` (for the config and repr)."""
        return {}

    def get_config(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "name": self.name, **self._arguments()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**{k: v for k, v in config.items() if k != "class_name"})

    def __repr__(self) -> str:
        args = {"name": self.name, **self._arguments()}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b``, 0 where ``b`` is 0 (Keras's ``divide_no_nan``)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _check_threshold(value: Any, argument: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{argument} must be a finite number, received {value!r}.")
    return float(value)


def _check_positive_int(value: Any, argument: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, received {value!r}.")
    return int(value)


# -- mean metrics ---------------------------------------------------------------------------------
class MeanMetric(Metric):
    """The weighted mean over samples of ``values(y, a)`` (one value per sample)."""

    def values(self, y: Any, a: Any) -> Any:
        raise NotImplementedError

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        v = self.values(y, a)  # (batch,)
        if w is None:
            acc[0] += v.sum(dtype=np.float64)
            acc[1] += v.shape[0]  # the batch size: fixed for a recorded step
        else:
            acc[0] += (v * w).sum(dtype=np.float64)
            acc[1] += w.sum(dtype=np.float64)

    def result(self, acc: np.ndarray) -> float:
        return float(acc[0] / acc[1]) if acc[1] else 0.0


class BinaryAccuracy(MeanMetric):
    """Share of outputs on the right side of ``threshold`` (Keras compares the 0/1 decision
    with ``y`` exactly, so soft targets never match).

    Args:
        name: the History key (default ``"binary_accuracy"``).
        threshold: the decision threshold; by default 0.5, or 0 when the loss takes logits.
    """

    default_name = "binary_accuracy"
    direction = "up"

    def __init__(self, name: str | None = None, threshold: float | None = None) -> None:
        super().__init__(name)
        self._given = None if threshold is None else _check_threshold(threshold, "threshold")
        self.threshold = 0.5 if threshold is None else self._given

    def prepare(self, loss: Loss, output_units: int) -> None:
        super().prepare(loss, output_units)
        if self._given is None:
            self.threshold = 0.0 if loss.from_logits else 0.5

    def values(self, y: Any, a: Any) -> Any:
        return ((a > self.threshold) == y).mean(axis=-1, dtype=a.dtype)

    def fused_kernel(self, output_units: int) -> tuple[float, float] | None:
        # one output: each sample's value is 0 or 1, and their sum is exact in any order
        if type(self) is not BinaryAccuracy or output_units != 1:
            return None
        return fused.cpu.BINARY_ACCURACY, self.threshold

    def _arguments(self) -> dict[str, Any]:
        return {"threshold": self._given}


class CategoricalAccuracy(MeanMetric):
    """Share of samples whose largest output is the target row's largest entry."""

    default_name = "categorical_accuracy"
    direction = "up"

    def values(self, y: Any, a: Any) -> Any:
        xp = array_module(a)
        return xp.argmax(a, axis=-1) == xp.argmax(y, axis=-1)

    def fused_kernel(self, output_units: int) -> tuple[float, float] | None:
        # each sample's value is 0 or 1, and their sum is exact in any order
        if type(self) is not CategoricalAccuracy:
            return None
        return fused.cpu.CATEGORICAL_ACCURACY, 0.0


class SparseCategoricalAccuracy(MeanMetric):
    """Share of samples whose largest output is at the integer label."""

    default_name = "sparse_categorical_accuracy"
    direction = "up"
    targets = "labels"

    def values(self, y: Any, a: Any) -> Any:
        return array_module(a).argmax(a, axis=-1) == y

    def fused_kernel(self, output_units: int) -> tuple[float, float] | None:
        if type(self) is not SparseCategoricalAccuracy:
            return None
        return fused.cpu.SPARSE_CATEGORICAL_ACCURACY, 0.0


def _in_top_k(a: Any, labels: Any, k: int) -> Any:
    """Whether each label's output is among its row's ``k`` largest: fewer than ``k`` outputs
    are strictly larger (ties count in favour, as in Keras's ``in_top_k`` on JAX); a NaN at
    the label counts as -inf."""
    xp = array_module(a)
    at_label = xp.take_along_axis(a, labels.reshape(-1, 1), axis=-1)  # (batch, 1)
    at_label = xp.where(xp.isnan(at_label), -xp.inf, at_label)
    return (a > at_label).sum(axis=-1) < k


class TopKCategoricalAccuracy(MeanMetric):
    """Share of samples whose one-hot target is among the ``k`` largest outputs.

    Args:
        k: how many of the largest outputs count (Keras's default 5).
        name: the History key (default ``"top_k_categorical_accuracy"``).
    """

    default_name = "top_k_categorical_accuracy"
    direction = "up"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(name)
        self.k = _check_positive_int(k, "k")

    def values(self, y: Any, a: Any) -> Any:
        return _in_top_k(a, array_module(a).argmax(y, axis=-1), self.k)

    def _arguments(self) -> dict[str, Any]:
        return {"k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Share of samples whose integer label is among the ``k`` largest outputs."""

    default_name = "sparse_top_k_categorical_accuracy"
    targets = "labels"

    def values(self, y: Any, a: Any) -> Any:
        return _in_top_k(a, y, self.k)


class MeanSquaredError(MeanMetric):
    default_name = "mean_squared_error"

    def values(self, y: Any, a: Any) -> Any:
        d = a - y
        return (d * d).mean(axis=-1)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the epoch's (weighted) mean squared error."""

    default_name = "root_mean_squared_error"

    def result(self, acc: np.ndarray) -> float:
        return math.sqrt(super().result(acc))


class MeanAbsoluteError(MeanMetric):
    default_name = "mean_absolute_error"

    def values(self, y: Any, a: Any) -> Any:
        return array_module(a).abs(a - y).mean(axis=-1)


class _Accuracy(MeanMetric):
    """``"accuracy"``: binary, categorical or sparse categorical accuracy, chosen at compile
    from the loss and the output (``prepare``)."""

    default_name = "accuracy"
    direction = "up"
    targets = None

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.inner: MeanMetric | None = None

    def prepare(self, loss: Loss, output_units: int) -> None:
        if isinstance(loss, SparseCategoricalCrossentropy):
            self.inner = SparseCategoricalAccuracy()
        elif isinstance(loss, CategoricalCrossentropy):
            self.inner = CategoricalAccuracy()
        elif isinstance(loss, BinaryCrossentropy) or output_units == 1:
            self.inner = BinaryAccuracy()
        else:
            self.inner = CategoricalAccuracy()
        self.inner.prepare(loss, output_units)

    def values(self, y: Any, a: Any) -> Any:
        return self.inner.values(y, a)

    def fused_kernel(self, output_units: int) -> tuple[float, float] | None:
        return None if self.inner is None else self.inner.fused_kernel(output_units)


# -- confusion metrics ----------------------------------------------------------------------------
def _top_k_mask(a: Any, k: int) -> Any:
    """The ``k`` largest outputs of each row, exactly ``k`` of them: on ties the lower index
    wins, as ``jax.lax.top_k`` (Keras's ``ops.top_k``) picks. A (batch, units, units)
    comparison: fixed shapes, no sort."""
    xp = array_module(a)
    idx = xp.arange(a.shape[-1])
    other, this = a[:, None, :], a[:, :, None]  # [b, j, i]: output i against output j
    ahead = (other > this) | ((other == this) & (idx[None, :] < idx[:, None]))
    return ahead.sum(axis=-1) < k  # (batch, units)


class _Confusion(Metric):
    """Precision and Recall: weighted counts at one threshold (Keras's
    ``update_confusion_matrix_variables``; ``y`` counts as positive where it is not 0)."""

    direction = "up"

    def __init__(
        self,
        thresholds: float | list[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        given = thresholds
        if isinstance(given, list | tuple):
            if len(given) != 1:
                raise ValueError(
                    f"{type(self).__name__} takes one threshold here (History keeps one "
                    f"number per metric), received thresholds={thresholds!r}; use one metric "
                    "per threshold, each with its own name."
                )
            given = given[0]
        if given is not None:
            given = _check_threshold(given, "thresholds")
            if not 0 <= given <= 1:
                raise ValueError(f"thresholds must lie in [0, 1], received {thresholds!r}.")
        self._given = given
        self.top_k = None if top_k is None else _check_positive_int(top_k, "top_k")
        if class_id is not None and (
            not isinstance(class_id, numbers.Integral) or isinstance(class_id, bool) or class_id < 0
        ):
            raise ValueError(f"class_id must be a non-negative integer, received {class_id!r}.")
        self.class_id = None if class_id is None else int(class_id)
        self.threshold = self._default_threshold(False) if given is None else given

    def _default_threshold(self, from_logits: bool) -> float:
        # Keras: 0.5, or NEG_INF with top_k (every top-k output counts as predicted positive)
        if self.top_k is not None:
            return NEG_INF
        return 0.0 if from_logits else 0.5

    def prepare(self, loss: Loss, output_units: int) -> None:
        super().prepare(loss, output_units)
        if self.class_id is not None and self.class_id >= output_units:
            raise ValueError(
                f"class_id must be below the output's {output_units} units, received "
                f"{self.class_id}."
            )
        if self.top_k is not None and self.top_k > output_units:
            raise ValueError(
                f"top_k must be at most the output's {output_units} units, received {self.top_k}."
            )
        if self._given is None:
            self.threshold = self._default_threshold(loss.from_logits)

    def _hits(self, y: Any, a: Any, w: Any | None) -> tuple[Any, Any, Any]:
        """(true label, predicted positive, weight) per output: arrays of one shape."""
        xp = array_module(a)
        if self.top_k is not None:
            a = xp.where(_top_k_mask(a, self.top_k), a, NEG_INF)
        if self.class_id is not None:
            c = self.class_id
            y, a = y[:, c : c + 1], a[:, c : c + 1]
        weight = 1.0 if w is None else w.reshape(-1, 1)
        return y != 0, a > self.threshold, weight

    def _arguments(self) -> dict[str, Any]:
        return {"thresholds": self._given, "top_k": self.top_k, "class_id": self.class_id}


class Precision(_Confusion):
    """``tp / (tp + fp)`` over the epoch, at one threshold.

    Args:
        thresholds: the decision threshold in [0, 1] (one); by default 0.5, or 0 when the
            loss takes logits.
        top_k: count only each row's ``top_k`` largest outputs as predicted positives.
        class_id: score one output column only.
        name: the History key (default ``"precision"``).
    """

    default_name = "precision"

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        true, predicted, weight = self._hits(y, a, w)
        acc[0] += ((true & predicted) * weight).sum(dtype=np.float64)  # true positives
        acc[1] += ((~true & predicted) * weight).sum(dtype=np.float64)  # false positives

    def result(self, acc: np.ndarray) -> float:
        return float(_divide(acc[0], acc[0] + acc[1]))


class Recall(_Confusion):
    """``tp / (tp + fn)`` over the epoch, at one threshold (arguments as ``Precision``;
    default name ``"recall"``)."""

    default_name = "recall"

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        true, predicted, weight = self._hits(y, a, w)
        acc[0] += ((true & predicted) * weight).sum(dtype=np.float64)  # true positives
        acc[1] += ((true & ~predicted) * weight).sum(dtype=np.float64)  # false negatives

    def result(self, acc: np.ndarray) -> float:
        return float(_divide(acc[0], acc[0] + acc[1]))


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at ``num_thresholds``
    thresholds, as Keras approximates it (``confusion_metrics.AUC``).

    The thresholds are Keras's: ``i / (num_thresholds - 1)`` for the inner ones, with
    ``-1e-7`` and ``1 + 1e-7`` at the ends, so outputs of exactly 0 and 1 fall inside. The
    counts follow Keras's bucket form for evenly spaced thresholds: outputs clipped to
    [0, 1], bucket ``max(ceil(p (T - 1)) - 1, 0)``, positive at threshold ``i`` where the
    bucket is at least ``i``: one (outputs, thresholds) comparison per batch. Every output of
    a multi-output model is one more point (Keras's ``multi_label=False``).

    Args:
        num_thresholds: how many thresholds (more than 1; Keras's default 200).
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"`` (trapezoids for ROC; for PR, Keras's
            interpolation of true and false positives, Davis & Goadrich 2006), ``"minoring"``
            or ``"majoring"``.
        name: the History key (default ``"auc"``).
        from_logits: apply the sigmoid to the outputs first; by default, when the loss takes
            logits.
    """

    direction = "up"

    default_name = "auc"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        from_logits: bool | None = None,
    ) -> None:
        super().__init__(name)
        if (
            not isinstance(num_thresholds, numbers.Integral)
            or isinstance(num_thresholds, bool)
            or num_thresholds < 2
        ):
            raise ValueError(f"num_thresholds must be an integer > 1, received {num_thresholds!r}.")
        if not isinstance(curve, str) or curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', received {curve!r}.")
        methods = ("interpolation", "minoring", "majoring")
        if not isinstance(summation_method, str) or summation_method.lower() not in methods:
            raise ValueError(
                f"summation_method must be one of {', '.join(methods)}, received "
                f"{summation_method!r}."
            )
        if from_logits is not None and not isinstance(from_logits, bool | np.bool_):
            raise ValueError(f"from_logits must be True, False or None, received {from_logits!r}.")
        self.num_thresholds = int(num_thresholds)
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.from_logits = None if from_logits is None else bool(from_logits)
        self._sigmoid = bool(from_logits)
        # [true positives (T), false positives (T), positives' weight, negatives' weight]
        self.size = 2 * self.num_thresholds + 2

    @property
    def thresholds(self) -> list[float]:
        """Keras's thresholds, end points included."""
        t = self.num_thresholds
        inner = [(i + 1) * 1.0 / (t - 1) for i in range(t - 2)]
        return [0.0 - 1e-7, *inner, 1.0 + 1e-7]

    def prepare(self, loss: Loss, output_units: int) -> None:
        super().prepare(loss, output_units)
        self._sigmoid = loss.from_logits if self.from_logits is None else self.from_logits

    def update(self, acc: Any, y: Any, a: Any, w: Any | None) -> None:
        xp = array_module(a)
        t = self.num_thresholds
        p = sigmoid.forward(a) if self._sigmoid else a
        p = xp.clip(p, 0.0, 1.0)
        bucket = xp.maximum(xp.ceil(p * (t - 1)) - 1.0, 0.0).reshape(-1, 1)  # (outputs, 1)
        above = (bucket >= xp.arange(t)).astype(np.float64)  # (outputs, thresholds)
        true = (y != 0).astype(np.float64)
        false = 1.0 - true
        if w is not None:
            true *= w.reshape(-1, 1)
            false *= w.reshape(-1, 1)
        true, false = true.reshape(-1), false.reshape(-1)
        acc[:t] += true @ above
        acc[t : 2 * t] += false @ above
        acc[2 * t] += true.sum()
        acc[2 * t + 1] += false.sum()

    def result(self, acc: np.ndarray) -> float:
        t = self.num_thresholds
        tp, fp = acc[:t], acc[t : 2 * t]
        fn, tn = acc[2 * t] - tp, acc[2 * t + 1] - fp
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr(tp, fp, fn)
        recall = _divide(tp, tp + fn)
        if self.curve == "ROC":
            x, height = _divide(fp, fp + tn), recall
        else:
            x, height = recall, _divide(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (height[:-1] + height[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(height[:-1], height[1:])
        else:
            heights = np.maximum(height[:-1], height[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    @staticmethod
    def _interpolated_pr(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
        # Keras's AUC.interpolate_pr_auc: true and predicted positives vary linearly between
        # thresholds, and the precision integral over each interval has a closed form,
        # slope * (dtp + intercept * log(P_A / P_B)) / (tp_B + fn_B).
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide(
            slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
        )
        return float(np.sum(increments))

    def _arguments(self) -> dict[str, Any]:
        return {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "from_logits": self.from_logits,
        }


# -- names ----------------------------------------------------------------------------------------
class _LossMetric(MeanMetric):
    """A loss as a metric (Keras's ``BinaryCrossentropy`` metric, ``"mape"``, ...): the
    weighted mean over samples of the loss's per-sample values."""

    loss_class: type = Loss

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._loss = self.loss_class()

    def values(self, y: Any, a: Any) -> Any:
        return self._loss.per_sample(y, a)


class _LogitsLossMetric(_LossMetric):
    def __init__(self, name: str | None = None, from_logits: bool = False) -> None:
        Metric.__init__(self, name)
        self.from_logits = bool(from_logits)
        self._loss = self.loss_class(from_logits=self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


def _loss_metric(class_name: str, loss_class: type, default: str, logits: bool) -> type:
    base = _LogitsLossMetric if logits else _LossMetric
    return type(class_name, (base,), {"loss_class": loss_class, "default_name": default})


_LOSS_METRICS = [
    _loss_metric("BinaryCrossentropy", BinaryCrossentropy, "binary_crossentropy", True),
    _loss_metric(
        "CategoricalCrossentropy", CategoricalCrossentropy, "categorical_crossentropy", True
    ),
    _loss_metric(
        "SparseCategoricalCrossentropy",
        SparseCategoricalCrossentropy,
        "sparse_categorical_crossentropy",
        True,
    ),
    _loss_metric(
        "MeanAbsolutePercentageError",
        losses_module.MeanAbsolutePercentageError,
        "mean_absolute_percentage_error",
        False,
    ),
    _loss_metric("LogCoshError", losses_module.LogCosh, "logcosh", False),
    _loss_metric("KLDivergence", losses_module.KLDivergence, "kl_divergence", False),
    _loss_metric("Hinge", losses_module.Hinge, "hinge", False),
    _loss_metric("CategoricalHinge", losses_module.CategoricalHinge, "categorical_hinge", False),
]
(
    BinaryCrossentropyMetric,
    CategoricalCrossentropyMetric,
    SparseCategoricalCrossentropyMetric,
    MeanAbsolutePercentageError,
    LogCoshError,
    KLDivergence,
    Hinge,
    CategoricalHinge,
) = _LOSS_METRICS

_REGISTRY: dict[str, type[Metric]] = {}
_BY_CLASS_NAME: dict[str, type[Metric]] = {}


def register(cls: type[Metric], *aliases: str) -> type[Metric]:
    """Make ``cls`` resolvable by its class name, its default name and ``aliases``."""
    _BY_CLASS_NAME[cls.__name__.lower()] = cls
    for key in (cls.default_name, *aliases):
        _REGISTRY[key.lower()] = cls
    return cls


# Keras's names: the snake_case class names and the aliases of keras/src/metrics/__init__.py.
register(_Accuracy, "acc")
register(BinaryAccuracy)
register(CategoricalAccuracy)
register(SparseCategoricalAccuracy)
register(TopKCategoricalAccuracy)
register(SparseTopKCategoricalAccuracy)
register(MeanSquaredError, "mse")
register(RootMeanSquaredError)
register(MeanAbsoluteError, "mae")
register(Precision)
register(Recall)
register(AUC)
for _cls, _aliases in zip(
    _LOSS_METRICS,
    [("bce",), ("cce",), (), ("mape",), ("log_cosh", "logcosh_error"), ("kld",), (), ()],
):
    register(_cls, *_aliases)


def names() -> list[str]:
    """The accepted metric names (class names such as ``"AUC"`` are accepted too)."""
    return sorted(_REGISTRY)


def _lookup(name: str) -> type[Metric] | None:
    key = name.lower()
    return _REGISTRY.get(key) or _BY_CLASS_NAME.get(key)


def from_config(config: dict[str, Any]) -> Metric:
    """Rebuild a metric from ``get_config()``'s dictionary."""
    if not isinstance(config, dict):
        raise ValueError(f"A metric config must be a dict, received {config!r}.")
    class_name = config.get("class_name")
    cls = _BY_CLASS_NAME.get(class_name.lower()) if isinstance(class_name, str) else None
    if cls is None:
        raise ValueError(f"Unknown metric in config: {config!r}.")
    arguments = {k: v for k, v in config.items() if k != "class_name"}
    return config_module.construct(cls, arguments, config, "metric")


def get(
    identifier: str | Metric | type[Metric] | dict[str, Any], loss: Loss, output_units: int
) -> Metric:
    """Resolve a metric from a name (``"accuracy"``, ``"mae"``, ``"auc"``, ...), a class, an
    instance or a ``get_config()`` dictionary, prepared for ``loss`` and an output of
    ``output_units``. A name becomes the History key as given (``"acc"`` logs as ``acc``), as
    in Keras; an instance logs under its ``name``."""
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        metric = identifier()
    elif isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, dict):
        metric = from_config(identifier)
    elif isinstance(identifier, str) and (cls := _lookup(identifier)) is not None:
        metric = cls(name=identifier)
    else:
        raise ValueError(
            f"Unknown metric {identifier!r}: expected a Metric or one of {', '.join(names())}."
        )
    metric.prepare(loss, output_units)
    return metric


def resolve(
    metrics: Any, weighted_metrics: Any, loss: Loss, output_units: int
) -> list[tuple[Metric, bool]]:
    """``compile``'s ``metrics`` and ``weighted_metrics`` as ``(metric, weighted)`` pairs, in
    order; the names (the History's keys) must be unique."""
    resolved = []
    for argument, given, weighted in (
        ("metrics", metrics, False),
        ("weighted_metrics", weighted_metrics, True),
    ):
        if given is not None and not isinstance(given, list | tuple):
            raise TypeError(
                f"{argument} must be a list of metric names or Metric instances, "
                f"received {given!r}."
            )
        resolved += [(get(m, loss, output_units), weighted) for m in given or []]
    names = [m.name for m, _ in resolved]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            f"Metric names must be unique (they are the History's keys); {twice} appear "
            "twice: give one of them another name=."
        )
    return resolved
