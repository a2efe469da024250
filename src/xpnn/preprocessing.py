"""Per-feature scaling that keeps the training statistics for test data.

The seed notes scaled with one global min and max; here every feature gets its own
``(x - min) / (max - min)`` (or ``(x - mean) / std``), fitted on the training split only and
reused unchanged on validation and test data, so the test set's own range never leaks into the
model. A constant feature has no spread: its scale is taken as 1, so it maps to 0 instead of
dividing by zero.

Scalers take NumPy or device arrays (CuPy, the strict stand-in) and return the same kind. The
statistics themselves are a few numbers per feature, kept on the host in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import array_module, to_device, to_numpy

__all__ = ["MinMaxScaler", "Scaler", "StandardScaler", "scaler_from_dict"]


class Scaler:
    """The shared machinery: ``y = (x - offset_) / scale_`` per feature."""

    kind = ""

    def __init__(self) -> None:
        self.offset_: np.ndarray | None = None  # (features,) subtracted
        self.scale_: np.ndarray | None = None  # (features,) divided by; never 0

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def n_features(self) -> int | None:
        """Features seen by ``fit`` (None before)."""
        return None if self.offset_ is None else int(self.offset_.shape[0])

    def _check(self, x: Any, fitting: bool) -> Any:
        """Validate at the edge; returns ``x`` as a floating array on its own backend."""
        name = type(self).__name__
        xp = array_module(x)
        if xp is np:
            x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} needs numeric data, received dtype {x.dtype}.")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)  # integers (pixel counts) would truncate the scaled values
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(
                f"{name} expects a non-empty (samples, features) array, "
                f"received shape {tuple(x.shape)}."
            )
        if not fitting:
            if self.offset_ is None:
                raise RuntimeError(f"{name} is not fitted: call fit() first.")
            if x.shape[1] != self.n_features:
                raise ValueError(
                    f"{name} was fitted on {self.n_features} features, received {x.shape[1]}."
                )
        # One reduction, one scalar to the host: cheap even for device arrays.
        if not bool(to_numpy(xp.isfinite(x).all())):
            raise ValueError(f"{name} received NaN or infinity; clean the data first.")
        return x

    def fit(self, x: Any) -> Scaler:
        """Learn the per-feature statistics of ``x`` (the training split); returns self."""
        x = to_numpy(self._check(x, fitting=True)).astype(np.float64)
        offset, spread = self._statistics(x)
        self.offset_ = offset
        self.scale_ = np.where(spread > 0, spread, 1.0)  # constant feature: scale 1, result 0
        return self

    def transform(self, x: Any) -> Any:
        """Scale ``x`` with the fitted statistics; the result stays on ``x``'s backend."""
        x = self._check(x, fitting=False)
        offset, scale = self._stats_like(x)
        return (x - offset) / scale

    def fit_transform(self, x: Any) -> Any:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> Any:
        """Undo ``transform``: scaled values back to the original units."""
        x = self._check(x, fitting=False)
        offset, scale = self._stats_like(x)
        return x * scale + offset

    def _stats_like(self, x: Any) -> tuple[Any, Any]:
        """The statistics in ``x``'s dtype, on ``x``'s backend."""
        offset, scale = self.offset_.astype(x.dtype), self.scale_.astype(x.dtype)
        if array_module(x) is np:
            return offset, scale
        return to_device(offset), to_device(scale)

    def to_dict(self) -> dict[str, Any]:
        """The fitted statistics as plain JSON-able lists (see :meth:`from_dict`)."""
        if self.offset_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: nothing to save.")
        return {"kind": self.kind, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        """Rebuild a fitted scaler from :meth:`to_dict`'s dictionary.

        ``Scaler.from_dict`` rebuilds whichever kind was saved; ``MinMaxScaler.from_dict``
        insists on its own kind.
        """
        kinds = {k.kind: k for k in (MinMaxScaler, StandardScaler)}
        if not isinstance(data, dict) or data.get("kind") not in kinds:
            kind = data.get("kind") if isinstance(data, dict) else data
            raise ValueError(
                f"Unknown scaler kind {kind!r}: expected one of {', '.join(sorted(kinds))}."
            )
        if cls is not Scaler and data["kind"] != cls.kind:
            raise ValueError(f"{cls.__name__}.from_dict received a {data['kind']!r} scaler.")
        offset = np.asarray(data.get("offset"), dtype=np.float64)
        scale = np.asarray(data.get("scale"), dtype=np.float64)
        if offset.ndim != 1 or offset.shape != scale.shape or not (scale > 0).all():
            raise ValueError("Scaler data needs equal-length 'offset' and positive 'scale' lists.")
        scaler = kinds[data["kind"]]()
        scaler.offset_, scaler.scale_ = offset, scale
        return scaler

    def __repr__(self) -> str:
        fitted = "unfitted" if self.offset_ is None else f"{self.n_features} features"
        return f"{type(self).__name__}({fitted})"


class MinMaxScaler(Scaler):
    """``(x - min) / (max - min)`` per feature: the training data lands in [0, 1]."""

    kind = "minmax"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = x.min(axis=0)
        return lo, x.max(axis=0) - lo


class StandardScaler(Scaler):
    """``(x - mean) / std`` per feature (population std, as scikit-learn)."""

    kind = "standard"

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.std(axis=0)


def scaler_from_dict(data: dict[str, Any]) -> Scaler:
    """Rebuild a fitted scaler of either kind from ``to_dict()`` (``Scaler.from_dict``)."""
    return Scaler.from_dict(data)
