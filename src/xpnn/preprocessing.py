"""Per-feature scaling that keeps the training statistics for test data.

The seed notes scaled with one global min and max and divided by ``max``; here every feature
gets its own ``(x - min) / (max - min)`` (or ``(x - mean) / std``), fitted on the training split
only and reused unchanged on validation and test data. A constant feature has no spread: its
scale is taken as 1, so it maps to 0 instead of dividing by zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import array_module, to_device, to_numpy

__all__ = ["MinMaxScaler", "StandardScaler", "scaler_from_dict"]


class _Scaler:
    kind = ""

    def __init__(self) -> None:
        self.offset_: np.ndarray | None = None  # subtracted
        self.scale_: np.ndarray | None = None  # divided by

    def _check(self, x: Any, fitting: bool) -> Any:
        xp = array_module(x)
        if xp is np:
            x = np.asarray(x)
            if x.dtype.kind not in "biuf":
                raise TypeError(f"{type(self).__name__} needs numeric data, received {x.dtype}.")
            x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(
                f"{type(self).__name__} expects a non-empty (samples, features) array, "
                f"received shape {tuple(x.shape)}."
            )
        if not bool(to_numpy(xp.isfinite(x).all())):
            raise ValueError(f"{type(self).__name__} received NaN or infinity.")
        if not fitting:
            if self.offset_ is None:
                raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first.")
            if x.shape[1] != self.offset_.shape[0]:
                raise ValueError(
                    f"{type(self).__name__} was fitted on {self.offset_.shape[0]} features, "
                    f"received {x.shape[1]}."
                )
        return x

    def fit(self, x: Any) -> _Scaler:
        """Learn the per-feature statistics of ``x`` (the training split)."""
        x = to_numpy(self._check(x, fitting=True)).astype(np.float64)
        offset, spread = self._statistics(x)
        self.offset_ = offset
        self.scale_ = np.where(spread > 0, spread, 1.0)  # constant features: scale 1, not 1/0
        return self

    def transform(self, x: Any) -> Any:
        """Scale ``x`` with the fitted statistics; stays on ``x``'s backend."""
        x = self._check(x, fitting=False)
        offset, scale = self._stats_like(x)
        return (x - offset) / scale

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> Any:
        """Undo ``transform``."""
        x = self._check(x, fitting=False)
        offset, scale = self._stats_like(x)
        return x * scale + offset

    def _stats_like(self, x: Any) -> tuple[Any, Any]:
        """The statistics in ``x``'s dtype, on ``x``'s backend."""
        stats = (self.offset_.astype(x.dtype), self.scale_.astype(x.dtype))
        if array_module(x) is np:
            return stats
        return to_device(stats[0]), to_device(stats[1])

    def to_dict(self) -> dict[str, Any]:
        """The fitted statistics as plain JSON-able lists."""
        if self.offset_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: nothing to save.")
        return {"kind": self.kind, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}


class MinMaxScaler(_Scaler):
    """``(x - min) / (max - min)`` per feature, mapping the training data into [0, 1]."""

    kind = "minmax"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = x.min(axis=0)
        return lo, x.max(axis=0) - lo


class StandardScaler(_Scaler):
    """``(x - mean) / std`` per feature (population std, as scikit-learn)."""

    kind = "standard"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.std(axis=0)


def scaler_from_dict(data: dict[str, Any]) -> _Scaler:
    """Rebuild a fitted scaler from ``to_dict()``."""
    kinds = {"minmax": MinMaxScaler, "standard": StandardScaler}
    if data.get("kind") not in kinds:
        raise ValueError(f"Unknown scaler kind {data.get('kind')!r}: expected minmax or standard.")
    scaler = kinds[data["kind"]]()
    scaler.offset_ = np.asarray(data["offset"], dtype=np.float64)
    scaler.scale_ = np.asarray(data["scale"], dtype=np.float64)
    return scaler
