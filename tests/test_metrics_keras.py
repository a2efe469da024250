"""Every metric against Keras 3 itself: the cases of tests/test_metrics.py (and the figures
committed there), random data in uneven batches, and evaluate() of the same model in both.

Skipped where Keras or JAX is not installed (as in CI); run it where they are:
``pip install keras jax`` then ``python -m pytest tests/test_metrics_keras.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import numpy as np
import pytest
from test_losses import W
from test_metrics import BATCHES, KERAS_METRICS, METRIC_CASES, prepared

import xpnn
from xpnn import metrics

if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
    pytest.skip("Keras 3 with JAX is not installed", allow_module_level=True)
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("Keras was already imported with another backend", allow_module_level=True)


def _keras_result(
    class_name: str, kwargs: dict[str, Any], y: Any, p: Any, w: Any, batches
) -> float:
    m = getattr(keras.metrics, class_name)(**kwargs)
    for s in batches:
        m.update_state(y[s], p[s], sample_weight=None if w is None else w[s])
    return float(m.result())


def _xpnn_result(metric: metrics.Metric, y: Any, p: Any, w: Any, batches) -> float:
    acc = np.zeros(metric.size)
    for s in batches:
        metric.update(acc, y[s], p[s], None if w is None else w[s])
    return metric.result(acc)


@pytest.mark.parametrize("name", list(METRIC_CASES))
def test_cases_match_keras_and_the_committed_figures(name: str) -> None:
    metric, y, p = prepared(name)
    _, (class_name, kwargs), _, y_raw, _ = METRIC_CASES[name]
    y_keras = np.asarray(y_raw, dtype=np.int64 if "Sparse" in class_name else np.float32)
    w = np.asarray(W, dtype=np.float32)
    for i, weights in enumerate((None, w)):
        expected = _keras_result(class_name, kwargs, y_keras, p, weights, BATCHES)
        assert _xpnn_result(metric, y, p, weights, BATCHES) == pytest.approx(expected, abs=2e-7)
        assert KERAS_METRICS[name][i] == pytest.approx(expected, rel=1e-6, abs=1e-7)


RANDOM_CASES = {
    "BinaryAccuracy": {},
    "Precision": {"thresholds": 0.35},
    "Recall": {"top_k": 2},
    "AUC": {},
    "AUC-PR": {"curve": "PR"},
    "AUC-PR-37": {"curve": "PR", "num_thresholds": 37},
    "AUC-majoring": {"summation_method": "majoring"},
    "MeanSquaredError": {},
    "RootMeanSquaredError": {},
    "MeanAbsoluteError": {},
}


@pytest.mark.parametrize("case", list(RANDOM_CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_multi_output_data_in_uneven_batches_matches_keras(case: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, units = 301, 3
    y = (rng.random((n, units)) < 0.4).astype(np.float32)
    p = np.clip(y * 0.3 + rng.random((n, units)) * 0.7, 0, 1).astype(np.float32)
    p[:5] = [[0, 1, 0.5]]  # the ends and a threshold exactly
    w = rng.random(n).astype(np.float32) * 2
    class_name, kwargs = case.split("-")[0], RANDOM_CASES[case]
    metric = getattr(metrics, class_name)(**kwargs)
    metric.prepare(xpnn.losses.BinaryCrossentropy(), units)
    batches = [slice(0, 64), slice(64, 200), slice(200, 201), slice(201, n)]
    for weights in (None, w):
        expected = _keras_result(class_name, kwargs, y, p, weights, batches)
        assert _xpnn_result(metric, y, p, weights, batches) == pytest.approx(expected, abs=1e-6)


def test_evaluate_matches_keras_with_names_and_instances() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, :2] @ np.array([1.0, -1.0]) + rng.normal(size=120) > 0).astype(np.float32)
    k_model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, "tanh"), keras.layers.Dense(1, "sigmoid")]
    )
    x_model = xpnn.Sequential([xpnn.Input((5,)), xpnn.Dense(4, "tanh"), xpnn.Dense(1, "sigmoid")])
    x_model.set_weights(k_model.get_weights())
    k_model.compile(
        loss="binary_crossentropy",
        metrics=[
            "acc",
            keras.metrics.AUC(name="roc"),
            keras.metrics.AUC(curve="PR", name="pr"),
            keras.metrics.Precision(thresholds=0.4, name="p40"),
            "mae",
        ],
    )
    x_model.compile(
        loss="binary_crossentropy",
        metrics=[
            "acc",
            metrics.AUC(name="roc"),
            metrics.AUC(curve="PR", name="pr"),
            metrics.Precision(thresholds=0.4, name="p40"),
            "mae",
        ],
    )
    expected = k_model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    got = x_model.evaluate(x, y, batch_size=32, return_dict=True)
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_keras_names_resolve_to_the_same_metrics() -> None:
    for name in metrics.names():
        if name in ("accuracy", "acc"):  # compile's special case, in both
            continue
        k_metric = keras.metrics.get(name)
        sparse = name.startswith("sparse")
        loss = (
            xpnn.losses.SparseCategoricalCrossentropy()
            if sparse
            else xpnn.losses.MeanSquaredError()
        )
        x_metric = metrics.get(name, loss, 6)
        assert type(k_metric).__name__ == type(x_metric).__name__, name
        # default names (Keras numbers a second unnamed instance: auc_1)
        assert re.sub(r"_\d+$", "", type(k_metric)().name) == type(x_metric)().name, name
