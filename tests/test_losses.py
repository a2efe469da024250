"""Losses: Keras's numbers by hand, stable logits, gradients, the output shortcut, checks."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations, losses

dev, host = xpnn.to_device, xpnn.to_numpy


def value(loss: losses.Loss, y: Any, p: Any, dtype=np.float64) -> float:
    p = dev(np.asarray(p, dtype=dtype))
    return float(host(loss.value(loss.prepare_targets(dev(np.asarray(y)), p.shape), p)))


def test_binary_crossentropy_by_hand(xp: Any) -> None:
    expected = (-math.log(0.9) - math.log(0.8)) / 2
    assert value(losses.BinaryCrossentropy(), [[1], [0]], [[0.9], [0.2]]) == pytest.approx(expected)
    z = [[2.0], [-1.0]]  # logits: sigmoid(2) for y=1, sigmoid(-1) for y=0
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1))) / 2
    got = value(losses.BinaryCrossentropy(from_logits=True), [[1], [0]], z)
    assert got == pytest.approx(expected, rel=1e-14)


def test_keras_clipping_figures_in_float32(xp: Any) -> None:
    bce = losses.BinaryCrossentropy()
    assert value(bce, [[1]], [[0.0]], np.float32) == pytest.approx(16.118, abs=1e-3)
    assert value(bce, [[0]], [[1.0]], np.float32) == pytest.approx(15.942, abs=1e-3)


def test_mean_squared_error_has_no_half(xp: Any) -> None:
    assert value(losses.MeanSquaredError(), [[1.0], [3.0]], [[2.0], [1.0]]) == pytest.approx(2.5)


def test_multilabel_bce_averages_labels_then_samples(xp: Any) -> None:
    y, p = [[1, 0, 1], [0, 0, 1]], [[0.9, 0.2, 0.6], [0.3, 0.1, 0.8]]
    per = [
        np.mean([-math.log(0.9), -math.log(0.8), -math.log(0.6)]),
        np.mean([-math.log(0.7), -math.log(0.9), -math.log(0.8)]),
    ]
    assert value(losses.BinaryCrossentropy(), y, p) == pytest.approx(np.mean(per))


def test_categorical_by_hand(xp: Any) -> None:
    p = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    expected = (-math.log(0.7) - math.log(0.6)) / 2
    assert value(losses.SparseCategoricalCrossentropy(), [0, 2], p) == pytest.approx(expected)
    onehot = [[1, 0, 0], [0, 0, 1]]
    assert value(losses.CategoricalCrossentropy(), onehot, p) == pytest.approx(expected)
    # probabilities are normalised first, as Keras does
    scaled = [[1.4, 0.4, 0.2], [0.1, 0.3, 0.6]]
    assert value(losses.CategoricalCrossentropy(), onehot, scaled) == pytest.approx(expected)
    z = [[1.0, 2.0, 3.0]]
    lse = math.log(sum(math.exp(v) for v in z[0]))
    got = value(losses.SparseCategoricalCrossentropy(from_logits=True), [0], z)
    assert got == pytest.approx(lse - 1.0, rel=1e-14)


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(from_logits=True),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        losses.CategoricalCrossentropy(from_logits=True),
    ],
    ids=repr,
)
def test_logits_of_1000_are_finite_and_right(xp: Any, loss: losses.Loss) -> None:
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    if isinstance(loss, losses.BinaryCrossentropy):
        y = np.array([[1, 0], [1, 0]])  # two right, two wrong by 1000 each: mean 500
        expected = 500.0
    elif isinstance(loss, losses.SparseCategoricalCrossentropy):
        y, expected = np.array([0, 0]), 1000.0  # second row wrong by 2000: loss 2000 / 2
    else:
        y, expected = np.array([[1, 0], [1, 0]]), 1000.0
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        got = value(loss, y, z, np.float32)
        grad = host(loss.gradient(dev(y), dev(z.astype(np.float32))))
    assert got == pytest.approx(expected, rel=1e-6)
    assert np.isfinite(grad).all()


CASES = [
    (losses.BinaryCrossentropy(), "sigmoid", "binary"),
    (losses.BinaryCrossentropy(from_logits=True), "linear", "binary"),
    (losses.MeanSquaredError(), "linear", "binary"),
    (losses.CategoricalCrossentropy(), "softmax", "onehot"),
    (losses.CategoricalCrossentropy(from_logits=True), "linear", "onehot"),
    (losses.SparseCategoricalCrossentropy(), "softmax", "sparse"),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "linear", "sparse"),
]


def _case(kind: str, rng: np.random.Generator):
    z = rng.normal(size=(5, 3)) * 2
    y = {
        "binary": (rng.random((5, 3)) > 0.5).astype(float),
        "onehot": np.eye(3)[rng.integers(0, 3, 5)],
        "sparse": rng.integers(0, 3, 5),
    }[kind]
    return z, y


@pytest.mark.parametrize(("loss", "act", "kind"), CASES, ids=lambda c: repr(c))
def test_gradient_matches_finite_differences(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, np.random.default_rng(0))
    p = host(activations.get(act).forward(dev(z)))
    if isinstance(loss, losses.CategoricalCrossentropy) and not loss.from_logits:
        p = p * 1.7  # unnormalised rows exercise the p / sum(p) step
    yd = dev(y)
    g = host(loss.gradient(yd, dev(p)))
    h = 1e-6
    fd = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (
            float(host(loss.value(yd, dev(up)))) - float(host(loss.value(yd, dev(down))))
        ) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(("loss", "act", "kind"), CASES, ids=lambda c: repr(c))
def test_output_delta_equals_the_chained_gradient(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, np.random.default_rng(1))
    activation = activations.get(act)
    a = activation.forward(dev(z))
    delta = loss.output_delta(dev(y), a, activation)
    if isinstance(loss, losses.MeanSquaredError):
        assert delta is None  # linear + MSE needs no shortcut: linear's backward is identity
        return
    chained = activation.backward(loss.gradient(dev(y), a), dev(z), a)
    np.testing.assert_allclose(host(delta), host(chained), atol=1e-12)


def test_output_delta_is_none_for_other_pairs(xp: Any) -> None:
    a = dev(np.full((2, 1), 0.5))
    assert (
        losses.BinaryCrossentropy().output_delta(dev(np.ones((2, 1))), a, activations.tanh) is None
    )
    assert (
        losses.SparseCategoricalCrossentropy().output_delta(
            dev(np.zeros(2, int)), a, activations.relu
        )
        is None
    )


def test_target_checks() -> None:
    out = (3, 4)
    scce = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\).*from 0 to 4"):
        scce.prepare_targets([0, 1, 4], out)
    with pytest.raises(ValueError, match="whole numbers"):
        scce.prepare_targets([0, 1.5, 2], out)
    with pytest.raises(ValueError, match=r"shape \(3,\), received shape \(2,\)"):
        scce.prepare_targets([0, 1], out)
    with pytest.raises(TypeError, match="must be integers"):
        scce.prepare_targets(np.array(["a", "b", "c"]), out)
    bce = losses.BinaryCrossentropy()
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*SparseCategoricalCrossentropy"):
        bce.prepare_targets([0, 1, 2], (3, 1))
    with pytest.raises(ValueError, match=r"targets have shape \(3, 2\).*\(3, 1\)"):
        bce.prepare_targets(np.zeros((3, 2)), (3, 1))
    with pytest.raises(ValueError, match="NaN"):
        losses.MeanSquaredError().prepare_targets([0.0, np.nan, 1.0], (3, 1))
    assert bce.prepare_targets([0, 1, 1], (3, 1)).shape == (3, 1)  # (n,) means one column


def test_names_and_config() -> None:
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("binary_crossentropy"), losses.BinaryCrossentropy)
    assert isinstance(
        losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy
    )
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        losses.get("hinge")
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        losses.BinaryCrossentropy(from_logits="yes")
    for loss in (losses.BinaryCrossentropy(from_logits=True), losses.MeanSquaredError()):
        again = losses.from_config(loss.get_config())
        assert type(again) is type(loss) and again.from_logits == loss.from_logits


def test_call_returns_the_mean_loss(xp: Any) -> None:
    loss = losses.BinaryCrossentropy()
    got = loss(dev(np.array([1.0, 0.0])), dev(np.array([[0.9], [0.2]])))
    assert float(host(got)) == pytest.approx((-math.log(0.9) - math.log(0.8)) / 2)
