"""Metrics: Keras's numbers over several batches (with and without sample weights), summed on
the device and recordable; worked examples; names, History keys and configs; the reset each
epoch; fit and evaluate with metric lists of names, classes and instances. Array tests run on
every backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from test_losses import (
    BIN_P,
    BIN_Y,
    CAT_P,
    CAT_SCORE,
    LABELS10,
    ONEHOT10,
    REG_P,
    REG_Y,
    SCORE,
    W,
)

import xpnn
from xpnn import Dense, Input, Sequential, callbacks, losses, metrics, optimizers
from xpnn.backend import array_module
from xpnn.testing import strict

from helpers import blobs

dev, host = xpnn.to_device, xpnn.to_numpy
BCE, CCE, SCCE, MSE = (
    losses.BinaryCrossentropy,
    losses.CategoricalCrossentropy,
    losses.SparseCategoricalCrossentropy,
    losses.MeanSquaredError,
)

# name: (a factory of the xpnn metric, Keras's class and arguments, the loss, y_true, y_pred)
METRIC_CASES: dict[str, tuple[Any, tuple[str, dict[str, Any]], Any, Any, Any]] = {
    "binary_accuracy": (metrics.BinaryAccuracy, ("BinaryAccuracy", {}), BCE, BIN_Y, BIN_P),
    "binary_accuracy_threshold_0.7": (
        lambda: metrics.BinaryAccuracy(threshold=0.7),
        ("BinaryAccuracy", {"threshold": 0.7}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "categorical_accuracy": (
        metrics.CategoricalAccuracy,
        ("CategoricalAccuracy", {}),
        CCE,
        ONEHOT10,
        CAT_P,
    ),
    "sparse_categorical_accuracy": (
        metrics.SparseCategoricalAccuracy,
        ("SparseCategoricalAccuracy", {}),
        SCCE,
        LABELS10,
        CAT_P,
    ),
    "top_k_categorical_accuracy_2": (
        lambda: metrics.TopKCategoricalAccuracy(k=2),
        ("TopKCategoricalAccuracy", {"k": 2}),
        CCE,
        ONEHOT10,
        CAT_P,
    ),
    "top_k_categorical_accuracy_2_scores": (
        lambda: metrics.TopKCategoricalAccuracy(k=2),
        ("TopKCategoricalAccuracy", {"k": 2}),
        CCE,
        ONEHOT10,
        CAT_SCORE,
    ),
    "sparse_top_k_categorical_accuracy_2": (
        lambda: metrics.SparseTopKCategoricalAccuracy(k=2),
        ("SparseTopKCategoricalAccuracy", {"k": 2}),
        SCCE,
        LABELS10,
        CAT_P,
    ),
    "precision": (metrics.Precision, ("Precision", {}), BCE, BIN_Y, BIN_P),
    "precision_threshold_0.7": (
        lambda: metrics.Precision(thresholds=0.7),
        ("Precision", {"thresholds": 0.7}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "precision_top_k_2": (
        lambda: metrics.Precision(top_k=2),
        ("Precision", {"top_k": 2}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "precision_class_id_1": (
        lambda: metrics.Precision(class_id=1),
        ("Precision", {"class_id": 1}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "recall": (metrics.Recall, ("Recall", {}), BCE, BIN_Y, BIN_P),
    "recall_threshold_0.7": (
        lambda: metrics.Recall(thresholds=0.7),
        ("Recall", {"thresholds": 0.7}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "recall_top_k_1": (
        lambda: metrics.Recall(top_k=1),
        ("Recall", {"top_k": 1}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "recall_class_id_2": (
        lambda: metrics.Recall(class_id=2),
        ("Recall", {"class_id": 2}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "auc": (metrics.AUC, ("AUC", {}), BCE, BIN_Y, BIN_P),
    "auc_pr": (lambda: metrics.AUC(curve="PR"), ("AUC", {"curve": "PR"}), BCE, BIN_Y, BIN_P),
    "auc_minoring": (
        lambda: metrics.AUC(summation_method="minoring"),
        ("AUC", {"summation_method": "minoring"}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "auc_pr_majoring": (
        lambda: metrics.AUC(curve="PR", summation_method="majoring"),
        ("AUC", {"curve": "PR", "summation_method": "majoring"}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "auc_10_thresholds": (
        lambda: metrics.AUC(num_thresholds=10),
        ("AUC", {"num_thresholds": 10}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "auc_pr_10_thresholds": (
        lambda: metrics.AUC(num_thresholds=10, curve="PR"),
        ("AUC", {"num_thresholds": 10, "curve": "PR"}),
        BCE,
        BIN_Y,
        BIN_P,
    ),
    "mean_absolute_error": (
        metrics.MeanAbsoluteError,
        ("MeanAbsoluteError", {}),
        MSE,
        REG_Y,
        REG_P,
    ),
    "mean_squared_error": (metrics.MeanSquaredError, ("MeanSquaredError", {}), MSE, REG_Y, REG_P),
    "root_mean_squared_error": (
        metrics.RootMeanSquaredError,
        ("RootMeanSquaredError", {}),
        MSE,
        REG_Y,
        REG_P,
    ),
}

# name: (result, result with the sample weights W), from Keras 3.15.1 (JAX backend, float32),
# the ten samples fed as batches of 4, 4 and 2; tests/test_metrics_keras.py recomputes them.
KERAS_METRICS = {
    "binary_accuracy": (0.466666639, 0.439393908),
    "binary_accuracy_threshold_0.7": (0.366666645, 0.325757563),
    "categorical_accuracy": (0.100000001, 0.0),
    "sparse_categorical_accuracy": (0.100000001, 0.0),
    "top_k_categorical_accuracy_2": (0.400000006, 0.340909094),
    "top_k_categorical_accuracy_2_scores": (0.600000024, 0.545454562),
    "sparse_top_k_categorical_accuracy_2": (0.400000006, 0.340909094),
    "precision": (0.473684222, 0.544303775),
    "precision_threshold_0.7": (0.333333343, 0.428571433),
    "precision_top_k_2": (0.5, 0.590909064),
    "precision_class_id_1": (0.285714298, 0.45714286),
    "recall": (0.600000024, 0.530864179),
    "recall_threshold_0.7": (0.266666681, 0.296296299),
    "recall_top_k_1": (0.266666681, 0.271604925),
    "recall_class_id_2": (0.5, 0.434782594),
    "auc": (0.351111114, 0.341321707),
    "auc_pr": (0.3966465, 0.510311902),
    "auc_minoring": (0.346666664, 0.338416845),
    "auc_pr_majoring": (0.42387706, 0.553915083),
    "auc_10_thresholds": (0.313333333, 0.3261922),
    "auc_pr_10_thresholds": (0.382384777, 0.505945206),
    "mean_absolute_error": (0.846000075, 0.853939414),
    "mean_squared_error": (0.980493367, 1.0191288),
    "root_mean_squared_error": (0.990198672, 1.0095191),
}
BATCHES = (slice(0, 4), slice(4, 8), slice(8, 10))


def prepared(name: str) -> tuple[metrics.Metric, np.ndarray, np.ndarray]:
    """A case's metric, prepared for its loss, and its host targets (in the loss's layout) and
    predictions."""
    factory, _, loss_cls, y, p = METRIC_CASES[name]
    metric, loss = factory(), loss_cls()
    p = np.asarray(p, dtype=np.float32)
    metric.prepare(loss, p.shape[1])
    return metric, loss.prepare_targets(np.asarray(y), p.shape, p.dtype), p


def accumulate(metric: metrics.Metric, y: Any, p: Any, w: Any, batches: Any = BATCHES) -> float:
    """The metric over ``batches``, summed on the active backend and read once."""
    acc = xpnn.get_xp().zeros(metric.size, dtype=np.float64)
    for s in batches:
        metric.update(acc, dev(y[s]), dev(p[s]), None if w is None else dev(w[s]))
    assert array_module(acc) is xpnn.get_xp() and acc.dtype == np.float64
    return metric.result(host(acc))


@pytest.mark.parametrize("name", list(METRIC_CASES))
def test_every_metric_gives_keras_numbers_over_batches(xp: Any, name: str) -> None:
    metric, y, p = prepared(name)
    plain, weighted = KERAS_METRICS[name]
    w = np.asarray(W, dtype=np.float32)
    assert accumulate(metric, y, p, None) == pytest.approx(plain, rel=1e-6, abs=1e-7)
    assert accumulate(metric, y, p, w) == pytest.approx(weighted, rel=1e-6, abs=1e-7)
    # one batch of all ten gives the same epoch figure as three
    assert accumulate(metric, y, p, w, [slice(0, 10)]) == pytest.approx(weighted, rel=1e-6)


@pytest.mark.parametrize("name", list(METRIC_CASES))
def test_every_update_is_recordable(name: str) -> None:
    """Recorded once on the strict backend's tape (CUDA graph capture's rules: no transfer,
    no host value read) and replayed on new batches written into the same buffers, an update
    sums what eager updates sum: it bakes in nothing from the batch it was recorded on."""
    metric, y, p = prepared(name)
    w = np.asarray(W, dtype=np.float32)
    with xpnn.use_backend("strict"):
        expected = accumulate(metric, y, p, w, [slice(0, 4), slice(4, 8)])
        yb, pb, wb = dev(y[4:8]), dev(p[4:8]), dev(w[4:8])
        acc = strict.xp.zeros(metric.size, dtype=np.float64)
        tape = strict.record_tape(lambda: metric.update(acc, yb, pb, wb))
        assert not host(acc).any()  # recording changes nothing
        for s in (slice(0, 4), slice(4, 8)):
            yb[...], pb[...], wb[...] = dev(y[s]), dev(p[s]), dev(w[s])
            tape.launch()
        assert metric.result(host(acc)) == pytest.approx(expected, rel=1e-12)


# -- worked examples --------------------------------------------------------------------------
def test_auc_worked_example_from_keras_docs(xp: Any) -> None:
    # thresholds [-1e-7, 0.5, 1 + 1e-7]: tp = [2, 1, 0], fp = [2, 0, 0], fn = [0, 1, 2],
    # tn = [0, 2, 2]; recall [1, 0.5, 0], fp rate [1, 0, 0]:
    # auc = (1 + 0.5) / 2 * (1 - 0) + (0.5 + 0) / 2 * (0 - 0) = 0.75
    auc = metrics.AUC(num_thresholds=3)
    auc.prepare(BCE(), 1)
    y = np.array([[0.0], [0.0], [1.0], [1.0]], dtype=np.float32)
    p = np.array([[0.0], [0.5], [0.3], [0.9]], dtype=np.float32)
    acc = xp.zeros(auc.size, dtype=np.float64)
    auc.update(acc, dev(y), dev(p), None)
    counts = host(acc)
    np.testing.assert_array_equal(counts[:3], [2, 1, 0])  # true positives
    np.testing.assert_array_equal(counts[3:6], [2, 0, 0])  # false positives
    np.testing.assert_array_equal(counts[6:], [2, 2])  # positives, negatives
    assert auc.result(counts) == pytest.approx(0.75)
    assert auc.thresholds == [-1e-7, 0.5, 1 + 1e-7]
    assert len(metrics.AUC().thresholds) == 200


def test_a_perfect_ranking_has_auc_1_on_both_curves(xp: Any) -> None:
    y = np.array([[0], [0], [1], [1], [0], [1]], dtype=np.float32)
    p = np.array([[0.1], [0.2], [0.8], [0.9], [0.3], [0.7]], dtype=np.float32)
    for curve in ("ROC", "PR"):
        auc = metrics.AUC(curve=curve)
        auc.prepare(BCE(), 1)
        assert accumulate(auc, y, p, None, [slice(0, 6)]) == pytest.approx(1.0, abs=1e-6)


def test_precision_and_recall_by_hand(xp: Any) -> None:
    # decisions at 0.5: [1, 1, 0, 1]; labels [1, 0, 1, 1]: tp 2, fp 1, fn 1
    y = np.array([[1], [0], [1], [1]], dtype=np.float32)
    p = np.array([[0.9], [0.6], [0.4], [0.55]], dtype=np.float32)
    for cls, expected in ((metrics.Precision, 2 / 3), (metrics.Recall, 2 / 3)):
        m = cls()
        m.prepare(BCE(), 1)
        assert accumulate(m, y, p, None, [slice(0, 4)]) == pytest.approx(expected)
    # weights 1, 3, 1, 1: precision (1 + 1) / (1 + 3 + 1)
    m = metrics.Precision()
    m.prepare(BCE(), 1)
    w = np.array([1, 3, 1, 1], dtype=np.float32)
    assert accumulate(m, y, p, w, [slice(0, 4)]) == pytest.approx(2 / 5)
    # nothing predicted positive: 0, not NaN (Keras's divide_no_nan)
    assert m.result(np.zeros(2)) == 0.0


def test_top_k_counts_ties_in_favour(xp: Any) -> None:
    # the label's score ties the second largest: it is in the top 2 (Keras's in_top_k on JAX)
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    m.prepare(SCCE(), 3)
    y, p = np.array([1]), np.array([[0.5, 0.2, 0.2]], dtype=np.float32)
    assert accumulate(m, y, p, None, [slice(0, 1)]) == 1.0
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.prepare(SCCE(), 3)
    assert accumulate(m, y, p, None, [slice(0, 1)]) == 0.0


def test_precision_top_k_breaks_ties_by_index(xp: Any) -> None:
    # two outputs tie for the top 1: the lower index is the one kept (jax.lax.top_k, so
    # Keras on JAX gives 0.0 and 1.0 here)
    p = np.array([[0.5, 0.5, 0.1]], dtype=np.float32)
    for y, expected in (([[0, 1, 0]], 0.0), ([[1, 0, 0]], 1.0)):
        m = metrics.Precision(top_k=1)
        m.prepare(BCE(), 3)
        got = accumulate(m, np.asarray(y, dtype=np.float32), p, None, [slice(0, 1)])
        assert got == expected


def test_root_mean_squared_error_is_the_root_of_the_epoch_mean(xp: Any) -> None:
    m = metrics.RootMeanSquaredError()
    m.prepare(MSE(), 1)
    y = np.array([[0.0], [0.0]], dtype=np.float32)
    p = np.array([[3.0], [1.0]], dtype=np.float32)
    # sqrt((9 + 1) / 2), not the mean of the per-batch roots (3 + 1) / 2
    assert accumulate(m, y, p, None, [slice(0, 1), slice(1, 2)]) == pytest.approx(math.sqrt(5))


# -- logits: xpnn's documented difference ----------------------------------------------------------
def test_logit_outputs_threshold_at_0_unless_a_threshold_is_given(xp: Any) -> None:
    y = np.asarray(BIN_Y, dtype=np.float32)
    z = np.asarray(SCORE, dtype=np.float32)
    p = 1 / (1 + np.exp(-z))
    for cls in (metrics.BinaryAccuracy, metrics.Precision, metrics.Recall, metrics.AUC):
        on_logits, on_probabilities = cls(), cls()
        on_logits.prepare(BCE(from_logits=True), 3)
        on_probabilities.prepare(BCE(), 3)
        from_z = accumulate(on_logits, y, z, None)
        assert from_z == pytest.approx(accumulate(on_probabilities, y, p, None), abs=1e-6)
    # a threshold given is kept, as in Keras
    given = metrics.BinaryAccuracy(threshold=0.5)
    given.prepare(BCE(from_logits=True), 3)
    assert given.threshold == 0.5
    auc = metrics.AUC(from_logits=False)
    auc.prepare(BCE(from_logits=True), 3)
    assert auc._sigmoid is False


@pytest.mark.parametrize(
    ("loss", "units", "chosen"),
    [
        (SCCE(), 3, metrics.SparseCategoricalAccuracy),
        (CCE(), 3, metrics.CategoricalAccuracy),
        (BCE(), 3, metrics.BinaryAccuracy),
        (MSE(), 1, metrics.BinaryAccuracy),
        (MSE(), 3, metrics.CategoricalAccuracy),
        (losses.Hinge(), 1, metrics.BinaryAccuracy),
        (losses.CategoricalHinge(), 3, metrics.CategoricalAccuracy),
        (losses.KLDivergence(), 3, metrics.CategoricalAccuracy),
    ],
    ids=repr,
)
def test_accuracy_picks_its_form_from_the_loss_and_output(loss: Any, units: int, chosen) -> None:
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss, units)
        assert type(m.inner) is chosen and m.name == name


# -- names, instances, configs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("binary_accuracy", metrics.BinaryAccuracy),
        ("BinaryAccuracy", metrics.BinaryAccuracy),
        ("categorical_accuracy", metrics.CategoricalAccuracy),
        ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
        ("mae", metrics.MeanAbsoluteError),
        ("mean_absolute_error", metrics.MeanAbsoluteError),
        ("mse", metrics.MeanSquaredError),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("auc", metrics.AUC),
        ("AUC", metrics.AUC),
    ],
)
def test_get_by_name_keeps_the_name_as_given(name: str, cls: type) -> None:
    m = metrics.get(name, BCE() if cls is not metrics.MeanSquaredError else MSE(), 3)
    assert type(m) is cls and m.name == name  # Keras: a string becomes the History key


def test_get_instances_classes_and_configs() -> None:
    m = metrics.AUC(curve="PR", name="pr_auc")
    assert metrics.get(m, BCE(), 1) is m and m.name == "pr_auc"
    assert metrics.get(metrics.Recall, BCE(), 1).name == "recall"
    again = metrics.get(m.get_config(), BCE(), 1)
    assert type(again) is metrics.AUC and again.curve == "PR" and again.name == "pr_auc"
    sparse = metrics.get("sparse_top_k_categorical_accuracy", SCCE(), 6)
    assert sparse.k == 5  # Keras's default
    with pytest.raises(ValueError, match=r"Unknown metric 'f1_score'.*expected a Metric .*auc"):
        metrics.get("f1_score", BCE(), 1)
    assert "accuracy" in metrics.names() and "acc" in metrics.names()


@pytest.mark.parametrize(
    "metric",
    [
        metrics.BinaryAccuracy(),
        metrics.BinaryAccuracy("ba", threshold=0.3),
        metrics.CategoricalAccuracy(name="ca"),
        metrics.TopKCategoricalAccuracy(k=3),
        metrics.Precision(thresholds=0.7, name="p70"),
        metrics.Precision(top_k=2, class_id=1),
        metrics.Recall(thresholds=[0.25]),
        metrics.AUC(num_thresholds=50, curve="PR", summation_method="majoring", from_logits=True),
        metrics.RootMeanSquaredError(),
        metrics.get("acc", BCE(), 1),
    ],
    ids=repr,
)
def test_config_round_trip(metric: metrics.Metric) -> None:
    config = metric.get_config()
    again = metrics.from_config(config)
    assert type(again) is type(metric) and again.get_config() == config
    assert repr(again) == repr(metric)


def test_from_config_refuses_what_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="Unknown metric in config"):
        metrics.from_config({"class_name": "F1Score", "name": "f1"})
    with pytest.raises(ValueError, match=r"AUC takes .*unknown keys \['multi_label'\]"):
        metrics.from_config({"class_name": "AUC", "multi_label": True})
    with pytest.raises(ValueError, match="Invalid metric config.*num_thresholds"):
        metrics.from_config({"class_name": "AUC", "num_thresholds": 1})
    with pytest.raises(ValueError, match="A metric config must be a dict"):
        metrics.from_config(["auc"])


def test_constructor_arguments_are_checked() -> None:
    cases = [
        (lambda: metrics.AUC(num_thresholds=1), r"num_thresholds must be an integer > 1"),
        (lambda: metrics.AUC(curve="PRGAIN"), r"curve must be 'ROC' or 'PR', received 'PRGAIN'"),
        (lambda: metrics.AUC(summation_method="mid"), r"summation_method must be one of"),
        (lambda: metrics.AUC(from_logits="yes"), r"from_logits must be True, False or None"),
        (lambda: metrics.Precision(thresholds=[0.3, 0.6]), r"takes one threshold here"),
        (lambda: metrics.Recall(thresholds=1.5), r"thresholds must lie in \[0, 1\]"),
        (lambda: metrics.Recall(thresholds="0.5"), r"thresholds must be a finite number"),
        (lambda: metrics.Precision(top_k=0), r"top_k must be a positive integer, received 0"),
        (lambda: metrics.Precision(class_id=-1), r"class_id must be a non-negative integer"),
        (lambda: metrics.TopKCategoricalAccuracy(k=2.5), r"k must be a positive integer"),
        (lambda: metrics.BinaryAccuracy(threshold=math.nan), r"threshold must be a finite"),
        (lambda: metrics.MeanAbsoluteError(name=""), r"A metric's name must be a non-empty"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()


def test_compile_refuses_a_metric_that_needs_the_other_target_layout() -> None:
    with pytest.raises(ValueError, match=r"'mae' .*compares targets shaped like the output, but"):
        metrics.get("mae", SCCE(), 3)
    with pytest.raises(ValueError, match=r"'sparse_categorical_accuracy' .*takes integer class"):
        metrics.get("sparse_categorical_accuracy", CCE(), 3)
    with pytest.raises(
        ValueError, match=r"class_id must be below the output's 3 units, received 3"
    ):
        metrics.get(metrics.Recall(class_id=3), BCE(), 3)
    with pytest.raises(ValueError, match=r"top_k must be at most the output's 2 units"):
        metrics.get(metrics.Precision(top_k=3), BCE(), 2)


# -- through fit and evaluate ----------------------------------------------------------------------
def _binary_model(metric_list: list[Any], seed: int = 0, lr: float = 0.05) -> Sequential:
    model = Sequential([Input((4,)), Dense(6, "tanh"), Dense(1, "sigmoid")], seed=seed)
    model.compile(optimizer=optimizers.SGD(lr), loss="binary_crossentropy", metrics=metric_list)
    return model


def _binary_data() -> tuple[np.ndarray, np.ndarray]:
    x, labels = blobs(90, 4, 2, seed=7)
    rng = np.random.default_rng(7)
    flip = rng.random(90) < 0.2  # noisy labels: no metric sits at 0 or 1
    return x, np.where(flip, 1 - labels, labels).astype(np.float32)


def test_history_keys_follow_metric_names(xp: Any) -> None:
    x, y = _binary_data()
    model = _binary_model(
        [
            metrics.Precision(name="prec"),
            "acc",
            metrics.AUC(curve="PR", name="pr_auc"),
            metrics.Recall,
        ]
    )
    history = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.2, verbose=0).history
    keys = ["loss", "prec", "acc", "pr_auc", "recall"]
    assert list(history) == keys + [f"val_{k}" for k in keys]
    logs = model.evaluate(x, y, return_dict=True)
    assert list(logs) == keys


def test_fit_and_evaluate_figures_are_the_metrics_of_the_outputs(xp: Any) -> None:
    """evaluate() with a list of names, classes and instances gives each metric's figure on
    the model's outputs (checked against the metric summed over one batch on the host)."""
    x, y = _binary_data()
    metric_list = [
        "accuracy",
        metrics.AUC(name="roc"),
        metrics.AUC(curve="PR"),
        metrics.Precision(thresholds=0.6),
        metrics.Recall,
        "mse",
        metrics.RootMeanSquaredError(name="rmse"),
    ]
    model = _binary_model(metric_list)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    w = np.linspace(0.2, 2.0, 90).astype(np.float32)
    for weights in (None, w):
        logs = model.evaluate(x, y, batch_size=25, sample_weight=weights, return_dict=True)
        out = model.predict(x)
        yc = y[:, None]
        for metric, key in zip(model.metrics, list(logs)[1:]):
            # as in Keras 3, sample weights weight the loss and weighted_metrics only
            with xpnn.use_backend("numpy"):
                expected = accumulate(metric, yc, out, None, [slice(0, 90)])
            assert logs[key] == pytest.approx(expected, rel=1e-6), key
        as_list = model.evaluate(x, y, batch_size=25, sample_weight=weights)
        assert as_list == pytest.approx(list(logs.values()), rel=1e-12)
    assert 0 < logs["roc"] < 1 and 0 < logs["auc"] < 1


def test_weighted_metrics_take_the_sample_weights_and_metrics_do_not(xp: Any) -> None:
    x, y = _binary_data()
    model = _binary_model(["mse"])
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["mse"],
        weighted_metrics=[metrics.MeanSquaredError(name="weighted_mse")],
    )
    w = np.linspace(0.2, 2.0, 90).astype(np.float32)
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True)
    out = model.predict(x)[:, 0].astype(np.float64)
    errors = (out - y) ** 2
    assert logs["mse"] == pytest.approx(errors.mean(), rel=1e-6)
    assert logs["weighted_mse"] == pytest.approx((errors * w).sum() / w.sum(), rel=1e-6)
    history = model.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "mse", "weighted_mse"}
    with pytest.raises(ValueError, match=r"unique.*\['mse'\]"):
        model.compile(optimizer="adam", loss="mse", metrics=["mse"], weighted_metrics=["mse"])


class _SwapWeights(callbacks.Callback):
    """At the end of the first epoch, loads other weights: the second epoch's outputs differ."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        self.weights = weights

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == 0:
            self.model.set_weights(self.weights)


def test_metrics_restart_every_epoch(xp: Any) -> None:
    """A learning rate of 1e-30 leaves the weights as they are, so an epoch's metrics are
    those of evaluate() on its weights; a callback swaps the weights after the first epoch.
    Sums carried over from the first epoch would blend the two."""
    x, y = _binary_data()
    metric_list = ["accuracy", "auc", metrics.AUC(curve="PR", name="pr"), "precision", "mae"]
    model = _binary_model(metric_list, lr=1e-30)
    other = _binary_model(metric_list, seed=11)
    first = model.evaluate(x, y, return_dict=True)
    second = other.evaluate(x, y, return_dict=True)
    swap = _SwapWeights(other.get_weights())
    history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0, callbacks=[swap])
    for key in first:
        assert history.history[key] == pytest.approx([first[key], second[key]], rel=1e-5), key
    assert first["auc"] != pytest.approx(second["auc"], abs=1e-3)  # the check has teeth
    # and a second fit starts from zero too
    again = model.fit(x[:45], y[:45], epochs=1, batch_size=32, shuffle=False, verbose=0)
    part = other.evaluate(x[:45], y[:45], return_dict=True)
    for key in part:
        assert again.history[key] == pytest.approx([part[key]], rel=1e-5), key


# Every metric kind in one list per target layout, for the recorded training step.
LAYOUTS = {
    "binary": (
        lambda: [
            "accuracy",
            metrics.BinaryAccuracy(threshold=0.3, name="ba"),
            "precision",
            metrics.Recall(thresholds=0.7),
            metrics.Precision(top_k=1, name="p_top"),
            metrics.Recall(class_id=1, name="r1"),
            "auc",
            metrics.AUC(curve="PR", name="pr"),
            "mae",
            "mse",
            "root_mean_squared_error",
        ],
        "sigmoid",
        BCE,
    ),
    "onehot": (
        lambda: ["accuracy", metrics.TopKCategoricalAccuracy(k=2), "categorical_accuracy"],
        "softmax",
        CCE,
    ),
    "labels": (
        lambda: ["acc", metrics.SparseTopKCategoricalAccuracy(k=2), "sparse_categorical_accuracy"],
        "softmax",
        SCCE,
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_replayed_steps_sum_the_metrics_as_eager_ones(layout: str) -> None:
    """On the strict backend jit_compile=True records the training step, metric updates
    included, and replays it: with sample weights and two batch sizes, every epoch's figures
    equal the eager run's."""
    make, last, loss = LAYOUTS[layout]
    x, labels = blobs(70, 4, 3, seed=2)
    y = {"binary": np.eye(3, dtype=np.float32)[labels], "onehot": None, "labels": labels}[layout]
    y = np.eye(3, dtype=np.float32)[labels] if y is None else y
    if layout == "binary":
        y = np.where(np.random.default_rng(2).random(y.shape) < 0.2, 1 - y, y)
    w = np.linspace(0.5, 1.5, 70)
    runs = []
    with xpnn.use_backend("strict"):
        for jit in (False, True):
            model = Sequential([Input((4,)), Dense(5, "tanh"), Dense(3, last)], seed=4)
            model.compile(optimizer="adam", loss=loss(), metrics=make(), jit_compile=jit)
            runs.append(model.fit(x, y, sample_weight=w, epochs=3, batch_size=16, verbose=0))
    eager, replayed = runs[0].history, runs[1].history
    assert list(eager) == list(replayed)
    for key in eager:
        np.testing.assert_allclose(replayed[key], eager[key], rtol=1e-6, err_msg=key)
