"""Scalers: per feature, training statistics reused, constant features survive, any backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.preprocessing import MinMaxScaler, StandardScaler, scaler_from_dict

TRAIN = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0], [4.0, 20.0, 5.0]])


def test_min_max_is_per_feature_and_reuses_training_statistics(xp: Any) -> None:
    scaler = MinMaxScaler().fit(xpnn.to_device(TRAIN))
    out = xpnn.to_numpy(scaler.transform(xpnn.to_device(TRAIN)))
    np.testing.assert_allclose(out, [[0, 0, 0], [0.5, 1, 0], [1, 0.5, 0]])  # constant -> 0
    test = xpnn.to_numpy(scaler.transform(xpnn.to_device(np.array([[8.0, 0.0, 7.0]]))))
    np.testing.assert_allclose(test, [[2.0, -0.5, 2.0]])  # the test set's own range is not used
    back = scaler.inverse_transform(xpnn.to_device(out))
    np.testing.assert_allclose(xpnn.to_numpy(back), TRAIN)


def test_standard_scaler(xp: Any) -> None:
    scaler = StandardScaler().fit(TRAIN)
    out = scaler.transform(TRAIN)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [1, 1, 0], atol=1e-12)
    assert np.isfinite(out).all()


def test_round_trip_through_a_dict() -> None:
    scaler = StandardScaler().fit(TRAIN)
    again = scaler_from_dict(scaler.to_dict())
    np.testing.assert_allclose(again.transform(TRAIN), scaler.transform(TRAIN))


def test_errors() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MinMaxScaler().transform(TRAIN)
    with pytest.raises(ValueError, match="fitted on 3 features, received 2"):
        MinMaxScaler().fit(TRAIN).transform(TRAIN[:, :2])
    with pytest.raises(ValueError, match="NaN or infinity"):
        MinMaxScaler().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="non-empty"):
        MinMaxScaler().fit(np.ones((0, 2)))
    with pytest.raises(ValueError, match="Unknown scaler kind"):
        scaler_from_dict({"kind": "robust"})
