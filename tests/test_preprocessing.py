"""Scalers: per feature, training statistics reused, constant features survive, any backend."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.backend import array_module
from xpnn.preprocessing import MinMaxScaler, Scaler, StandardScaler, scaler_from_dict
from xpnn.testing.strict import StrictArray

# Three features: spread 4, spread 20, and a constant one.
TRAIN = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0], [4.0, 20.0, 5.0]])
dev, host = xpnn.to_device, xpnn.to_numpy


def test_min_max_is_per_feature_and_reuses_training_statistics(xp: Any) -> None:
    scaler = MinMaxScaler().fit(dev(TRAIN))
    out = scaler.transform(dev(TRAIN))
    assert array_module(out) is xp  # stays on the device
    np.testing.assert_allclose(host(out), [[0, 0, 0], [0.5, 1, 0], [1, 0.5, 0]])
    # Test data is scaled with the training min and max, not its own.
    test = scaler.transform(dev(np.array([[8.0, 0.0, 7.0]])))
    np.testing.assert_allclose(host(test), [[2.0, -0.5, 2.0]])
    back = scaler.inverse_transform(out)
    assert array_module(back) is xp
    np.testing.assert_allclose(host(back), TRAIN)


def test_standard_scaler(xp: Any) -> None:
    out = host(StandardScaler().fit_transform(dev(TRAIN)))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [1, 1, 0], atol=1e-12)  # constant -> 0


def test_constant_feature_scale_is_one_and_result_zero() -> None:
    x = np.full((4, 2), 7.0)
    for scaler in (MinMaxScaler(), StandardScaler()):
        with np.errstate(all="raise"):  # no division by zero anywhere
            out = scaler.fit_transform(x)
        np.testing.assert_array_equal(scaler.scale_, [1.0, 1.0])
        np.testing.assert_array_equal(out, 0.0)
        np.testing.assert_array_equal(scaler.inverse_transform(out), x)


def test_fit_transform_is_fit_then_transform() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5, 3, size=(50, 4))
    for kind in (MinMaxScaler, StandardScaler):
        np.testing.assert_allclose(kind().fit_transform(x), kind().fit(x).transform(x))


def test_dtypes(xp: Any) -> None:
    pixels = np.array([[0, 16], [8, 4]], dtype=np.uint8)
    out = MinMaxScaler().fit(pixels).transform(dev(pixels))
    # Integers are scaled as floats, not truncated to 0 and 1.
    np.testing.assert_allclose(host(out), [[0.0, 1.0], [1.0, 0.0]])
    single = StandardScaler().fit(TRAIN).transform(dev(TRAIN.astype(np.float32)))
    assert single.dtype == np.float32  # float32 data stays float32


def test_strict_backend_makes_no_implicit_host_conversion() -> None:
    with xpnn.use_backend("strict"):
        x = xpnn.to_device(TRAIN)
        assert isinstance(x, StrictArray)
        scaler = MinMaxScaler().fit(x)  # statistics come back to the host explicitly
        out = scaler.transform(x)
        back = scaler.inverse_transform(out)
        assert isinstance(out, StrictArray) and isinstance(back, StrictArray)
        np.testing.assert_allclose(xpnn.to_numpy(back), TRAIN)
        with pytest.raises(ValueError, match="NaN or infinity"):
            scaler.transform(xpnn.to_device(np.array([[np.nan, 1.0, 2.0]])))


def test_round_trip_through_json() -> None:
    for kind in (MinMaxScaler, StandardScaler):
        scaler = kind().fit(TRAIN)
        text = json.dumps(scaler.to_dict())
        again = Scaler.from_dict(json.loads(text))
        assert type(again) is kind and again.n_features == 3
        np.testing.assert_array_equal(again.transform(TRAIN), scaler.transform(TRAIN))
        assert type(kind.from_dict(json.loads(text))) is kind
        assert type(scaler_from_dict(json.loads(text))) is kind


def test_from_dict_errors() -> None:
    with pytest.raises(ValueError, match="Unknown scaler kind 'robust'"):
        Scaler.from_dict({"kind": "robust"})
    with pytest.raises(ValueError, match="received a 'standard' scaler"):
        MinMaxScaler.from_dict(StandardScaler().fit(TRAIN).to_dict())
    with pytest.raises(ValueError, match="positive 'scale'"):
        Scaler.from_dict({"kind": "minmax", "offset": [0.0, 1.0], "scale": [1.0, 0.0]})


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: MinMaxScaler().transform(TRAIN), RuntimeError, "not fitted: call fit"),
        (lambda: MinMaxScaler().inverse_transform(TRAIN), RuntimeError, "not fitted"),
        (lambda: MinMaxScaler().to_dict(), RuntimeError, "not fitted: nothing to save"),
        (
            lambda: MinMaxScaler().fit(TRAIN).transform(TRAIN[:, :2]),
            ValueError,
            "fitted on 3 features, received 2",
        ),
        (lambda: MinMaxScaler().fit([[1.0], [np.nan]]), ValueError, "NaN or infinity"),
        (lambda: StandardScaler().fit([[1.0], [np.inf]]), ValueError, "NaN or infinity"),
        (
            lambda: MinMaxScaler().fit(TRAIN).transform([[np.nan, 1.0, 2.0]]),
            ValueError,
            "NaN or infinity",
        ),
        (lambda: MinMaxScaler().fit(np.ones(3)), ValueError, r"received shape \(3,\)"),
        (lambda: MinMaxScaler().fit(np.ones((0, 2))), ValueError, "non-empty"),
        (lambda: MinMaxScaler().fit([["a"], ["b"]]), TypeError, "needs numeric data"),
    ],
)
def test_errors(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()
