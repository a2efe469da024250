"""Losses: Keras's numbers worked by hand, stable logits, gradients against finite differences,
the output-layer shortcut, target checks, names and configs. Array tests run on every backend."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations, losses
from xpnn.backend import array_module

dev, host = xpnn.to_device, xpnn.to_numpy
BCE, MSE = losses.BinaryCrossentropy, losses.MeanSquaredError
SCCE, CCE = losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy


def value(loss: losses.Loss, y: Any, p: Any, dtype: Any = np.float64) -> float:
    """The loss of host data ``y, p`` computed on the active backend."""
    p = dev(np.asarray(p, dtype=dtype))
    y = dev(loss.prepare_targets(np.asarray(y), tuple(p.shape)))
    result = loss.value(y, p)
    assert array_module(result) is array_module(p) and result.shape == ()
    return float(host(result))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


# -- values by hand -------------------------------------------------------------------------
def test_binary_crossentropy_by_hand(xp: Any) -> None:
    # y = [1, 0], p = [0.9, 0.2]: mean(-log 0.9, -log 0.8) = (0.1053605 + 0.2231436) / 2
    expected = (-math.log(0.9) - math.log(0.8)) / 2
    assert expected == pytest.approx(0.164252033486018, rel=1e-15)
    assert value(BCE(), [[1], [0]], [[0.9], [0.2]]) == pytest.approx(expected, rel=1e-14)
    assert value(BCE(), [1, 0], [[0.9], [0.2]]) == pytest.approx(expected, rel=1e-14)  # (n,)
    # the same probabilities given as logits log(p / (1 - p))
    z = [[_logit(0.9)], [_logit(0.2)]]
    assert value(BCE(from_logits=True), [[1], [0]], z) == pytest.approx(expected, rel=1e-14)
    # logits 2 (y=1) and -1 (y=0): log(1 + e^-2) and log(1 + e^-1)
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1))) / 2
    got = value(BCE(from_logits=True), [[1], [0]], [[2.0], [-1.0]])
    assert got == pytest.approx(expected, rel=1e-14)
    assert got == pytest.approx(0.2200948492805977, rel=1e-14)


def test_mean_squared_error_by_hand_has_no_half(xp: Any) -> None:
    # ((2 - 1)^2 + (1 - 3)^2) / 2 = 5 / 2 (with a 1/2 factor it would be 1.25)
    assert value(MSE(), [[1.0], [3.0]], [[2.0], [1.0]]) == 2.5
    # several outputs: the mean over every entry, (1 + 4 + 0 + 9) / 4
    assert value(MSE(), [[0.0, 1.0], [2.0, 0.0]], [[1.0, 3.0], [2.0, 3.0]]) == 3.5


P = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
LABELS = [0, 2]
ONEHOT = [[1, 0, 0], [0, 0, 1]]
EXPECTED_CE = (-math.log(0.7) - math.log(0.6)) / 2  # (0.3566749 + 0.5108256) / 2


@pytest.mark.parametrize(("loss", "y"), [(SCCE(), LABELS), (CCE(), ONEHOT)], ids=["scce", "cce"])
def test_categorical_from_probabilities_by_hand(xp: Any, loss: losses.Loss, y: Any) -> None:
    assert EXPECTED_CE == pytest.approx(0.4337502838523616, rel=1e-15)
    assert value(loss, y, P) == pytest.approx(EXPECTED_CE, rel=1e-14)
    # rows are normalised first, p / sum(p), as Keras does
    scaled = [[1.4, 0.4, 0.2], [0.05, 0.15, 0.3]]
    assert value(loss, y, scaled) == pytest.approx(EXPECTED_CE, rel=1e-14)


@pytest.mark.parametrize(("loss", "y"), [(SCCE(True), LABELS), (CCE(True), ONEHOT)], ids=["s", "c"])
def test_categorical_from_logits_by_hand(xp: Any, loss: losses.Loss, y: Any) -> None:
    # log p plus any constant per row are logits of p
    z = [[math.log(v) + shift for v in row] for row, shift in zip(P, (3.0, -7.0))]
    assert value(loss, y, z) == pytest.approx(EXPECTED_CE, rel=1e-13)
    # z = [1, 2, 3], class 0: log(e + e^2 + e^3) - 1 = 3.4076059644 - 1
    y0 = [0] if isinstance(loss, SCCE) else [[1, 0, 0]]
    got = value(loss, y0, [[1.0, 2.0, 3.0]])
    assert got == pytest.approx(2.40760596444438, rel=1e-14)


def test_categorical_with_soft_targets(xp: Any) -> None:
    # y = [1/2, 1/2, 0], p = [1/4, 1/4, 1/2]: -(1/2 log 1/4 + 1/2 log 1/4) = log 4
    got = value(CCE(), [[0.5, 0.5, 0.0]], [[0.25, 0.25, 0.5]])
    assert got == pytest.approx(math.log(4), rel=1e-14)


def test_multilabel_bce_averages_labels_then_samples(xp: Any) -> None:
    y = [[1, 0, 1], [0, 0, 1]]
    p = [[0.9, 0.2, 0.6], [0.3, 0.1, 0.8]]
    per_sample = [
        (-math.log(0.9) - math.log(0.8) - math.log(0.6)) / 3,
        (-math.log(0.7) - math.log(0.9) - math.log(0.8)) / 3,
    ]
    assert value(BCE(), y, p) == pytest.approx(sum(per_sample) / 2, rel=1e-14)
    z = [[_logit(v) for v in row] for row in p]
    assert value(BCE(from_logits=True), y, z) == pytest.approx(sum(per_sample) / 2, rel=1e-13)


# -- Keras's clipping -----------------------------------------------------------------------
def test_keras_clipping_figures(xp: Any) -> None:
    # float32: 1 - 1e-7 rounds to 0.99999988, so a true 0 predicted as 1 costs
    # -log(1 - 0.99999988) = -log(1.19e-7) = 15.942, a true 1 predicted as 0 -log(1e-7) = 16.118
    f32 = np.float32
    assert value(BCE(), [[1]], [[0.0]], f32) == pytest.approx(16.118095, abs=1e-4)
    assert value(BCE(), [[0]], [[1.0]], f32) == pytest.approx(15.942385, abs=1e-4)
    assert value(SCCE(), [0], [[0.0, 1.0]], f32) == pytest.approx(16.118095, abs=1e-4)
    assert value(CCE(), [[1, 0]], [[0.0, 1.0]], f32) == pytest.approx(16.118095, abs=1e-4)
    # float64 keeps 1 - 1e-7, so both sides cost -log(1e-7) = 16.1181
    assert value(BCE(), [[1]], [[0.0]]) == pytest.approx(-math.log(1e-7), rel=1e-12)
    assert value(BCE(), [[0]], [[1.0]]) == pytest.approx(-math.log(1e-7), rel=1e-6)


def test_clipped_probabilities_pass_no_gradient(xp: Any) -> None:
    y = dev(np.array([[1.0], [0.0], [1.0]]))
    p = dev(np.array([[0.0], [1.0], [0.5]]))
    g = host(BCE().gradient(y, p))
    # outside [eps, 1 - eps] the clip is flat; inside: (p - y) / (p (1 - p)) / n = -2 / 3
    np.testing.assert_allclose(g, [[0.0], [0.0], [-2.0 / 3.0]], rtol=1e-14)


# -- logits of +-1000 -----------------------------------------------------------------------
LOGITS = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("loss", "y", "expected", "grad"),
    [
        # elementwise: right, right, wrong by 1000, wrong by 1000: mean 500;
        # dL/dz = (sigmoid(z) - y) / 4
        (BCE(True), [[1, 0], [1, 0]], 500.0, [[0, 0], [-0.25, 0.25]]),
        # row 0 right (0), row 1 wrong by 2000: mean 1000; dL/dz = (softmax - onehot) / 2
        (SCCE(True), [0, 0], 1000.0, [[0, 0], [-0.5, 0.5]]),
        (CCE(True), [[1, 0], [1, 0]], 1000.0, [[0, 0], [-0.5, 0.5]]),
    ],
    ids=["bce", "scce", "cce"],
)
def test_logits_of_1000_are_finite_and_right(
    xp: Any, loss: losses.Loss, y: Any, expected: float, grad: Any, dtype: Any
) -> None:
    z = dev(LOGITS.astype(dtype))
    yd = dev(loss.prepare_targets(np.array(y), (2, 2)))
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        got = host(loss.value(yd, z))
        g = host(loss.gradient(yd, z))
        delta = host(loss.output_delta(yd, z, activations.linear))
    assert got == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(g, grad, atol=1e-7)
    np.testing.assert_allclose(delta, grad, atol=1e-7)
    assert g.dtype == dtype and delta.dtype == dtype


# -- gradients against finite differences ---------------------------------------------------
CASES = [
    (BCE(), "sigmoid", "multilabel"),
    (BCE(from_logits=True), "linear", "multilabel"),
    (MSE(), "linear", "multilabel"),
    (MSE(), "tanh", "onehot"),
    (CCE(), "softmax", "onehot"),
    (CCE(from_logits=True), "linear", "onehot"),
    (SCCE(), "softmax", "sparse"),
    (SCCE(from_logits=True), "linear", "sparse"),
]
CASE_IDS = [f"{type(c[0]).__name__}-{c[0].from_logits}-{c[1]}" for c in CASES]


def _case(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(5, 3)) * 2
    y = {
        "multilabel": (rng.random((5, 3)) > 0.5).astype(float),
        "onehot": np.eye(3)[rng.integers(0, 3, 5)],
        "sparse": rng.integers(0, 3, 5),
    }[kind]
    return z, y


@pytest.mark.parametrize(("loss", "act", "kind"), CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, 0)
    p = host(activations.get(act).forward(dev(z)))
    if isinstance(loss, CCE) and not loss.from_logits:
        p = p * np.array([[1.7], [0.5], [1.0], [2.0], [0.9]])  # rows off 1: the p / sum(p) step
    yd = dev(loss.prepare_targets(y, p.shape))
    g = host(loss.gradient(yd, dev(p)))
    assert g.shape == p.shape
    h = 1e-6
    fd = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = float(host(loss.value(yd, dev(up)))) - float(host(loss.value(yd, dev(down))))
        fd[idx] /= 2 * h
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("loss", "act", "kind"), CASES, ids=CASE_IDS)
def test_gradient_writes_into_out(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, 3)
    p = activations.get(act).forward(dev(z))
    yd = dev(loss.prepare_targets(y, z.shape))
    out = xp.empty(z.shape)
    loss.gradient(yd, p, out=out)
    np.testing.assert_allclose(host(out), host(loss.gradient(yd, p)), rtol=1e-15)


# -- the output-layer shortcut ----------------------------------------------------------------
SHORTCUTS = [c for c in CASES if not isinstance(c[0], MSE)]


@pytest.mark.parametrize(("loss", "act", "kind"), SHORTCUTS, ids=CASE_IDS[:2] + CASE_IDS[4:])
def test_output_delta_equals_the_chained_gradient(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, 1)
    activation = activations.get(act)
    zd = dev(z)
    a = activation.forward(zd)
    yd = dev(loss.prepare_targets(y, z.shape))
    delta = loss.output_delta(yd, a, activation)
    assert delta is not None and array_module(delta) is xp
    chained = activation.backward(loss.gradient(yd, a), zd, a)
    np.testing.assert_allclose(host(delta), host(chained), rtol=1e-10, atol=1e-14)
    # into a buffer, and together with the value (one fused pass where there is one)
    out = xp.empty(z.shape)
    loss.output_delta(yd, a, activation, out=out)
    np.testing.assert_allclose(host(out), host(chained), rtol=1e-10, atol=1e-14)
    buffer = xp.empty(z.shape)
    v, d = loss.value_and_delta(yd, a, activation, out=buffer)
    assert float(host(v)) == pytest.approx(float(host(loss.value(yd, a))), rel=1e-12)
    np.testing.assert_allclose(host(d), host(chained), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(host(buffer), host(chained), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    ("loss", "act", "kind"),
    [
        (BCE(), "linear", "multilabel"),  # probabilities from a linear output
        (BCE(), "tanh", "multilabel"),
        (BCE(from_logits=True), "sigmoid", "multilabel"),  # logits from a sigmoid output
        (CCE(), "sigmoid", "onehot"),
        (CCE(), "linear", "onehot"),
        (CCE(from_logits=True), "softmax", "onehot"),
        (SCCE(), "relu", "sparse"),
        (SCCE(from_logits=True), "softmax", "sparse"),
        (MSE(), "linear", "multilabel"),
        (MSE(), "sigmoid", "multilabel"),
    ],
    ids=lambda v: v if isinstance(v, str) else repr(v),
)
def test_output_delta_is_none_for_other_pairs(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, 2)
    activation = activations.get(act)
    a = activation.forward(dev(z))
    yd = dev(loss.prepare_targets(y, z.shape))
    assert loss.output_delta(yd, a, activation) is None
    v, delta = loss.value_and_delta(yd, a, activation, out=xp.empty(z.shape))
    assert delta is None
    assert float(host(v)) == float(host(loss.value(yd, a)))


# -- dtypes and __call__ ------------------------------------------------------------------------
@pytest.mark.parametrize(("loss", "act", "kind"), CASES, ids=CASE_IDS)
def test_float32_stays_float32(xp: Any, loss, act, kind) -> None:
    z, y = _case(kind, 4)
    activation = activations.get(act)
    a = activation.forward(dev(z, dtype=np.float32))
    yd = loss.prepare_targets(y.astype(np.float32) if kind != "sparse" else y, z.shape)
    yd = dev(yd)
    results = [loss.value(yd, a), loss.gradient(yd, a)]
    delta = loss.output_delta(yd, a, activation)
    results += [delta] if delta is not None else []
    for r in results:
        assert r.dtype == np.float32 and array_module(r) is xp


def test_call_returns_the_mean_loss_on_the_predictions_backend(xp: Any) -> None:
    loss = BCE()
    got = loss(dev(np.array([1.0, 0.0])), dev(np.array([[0.9], [0.2]])))
    assert array_module(got) is xp and got.shape == ()
    assert float(host(got)) == pytest.approx((-math.log(0.9) - math.log(0.8)) / 2, rel=1e-14)


@pytest.mark.parametrize(
    ("loss", "y", "p", "expected"),
    [
        (BCE(), [1.0, 0.0], [[0.9], [0.2]], (-math.log(0.9) - math.log(0.8)) / 2),
        (SCCE(), [0, 2], P, EXPECTED_CE),
        (CCE(), ONEHOT, P, EXPECTED_CE),
        (MSE(), [[1.0], [3.0]], [[2.0], [1.0]], 2.5),
    ],
    ids=["bce", "scce", "cce", "mse"],
)
def test_call_takes_host_targets(xp: Any, loss: losses.Loss, y: Any, p: Any, expected) -> None:
    """``loss(y_true, y_pred)`` as in Keras: targets from the host (a list, a NumPy array), the
    predictions where the model made them. The checked targets must follow the predictions
    to their backend before the arithmetic (on CuPy, mixing the two raises)."""
    for targets in (y, np.asarray(y)):
        got = loss(targets, dev(np.asarray(p)))
        assert array_module(got) is xp
        assert float(host(got)) == pytest.approx(expected, rel=1e-14)


# -- target checks --------------------------------------------------------------------------
def test_sparse_label_checks() -> None:
    scce, out = SCCE(), (3, 4)
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\) for an output of 4 units.*0 to 4"):
        scce.prepare_targets([0, 1, 4], out)
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\).*from -1 to 2"):
        scce.prepare_targets([0, -1, 2], out)
    with pytest.raises(ValueError, match="must be whole numbers"):
        scce.prepare_targets([0, 1.5, 2], out)
    with pytest.raises(ValueError, match=r"of shape \(3,\), received shape \(2,\)"):
        scce.prepare_targets([0, 1], out)
    with pytest.raises(ValueError, match=r"received shape \(3, 4\)\. One-hot.*CategoricalCross"):
        scce.prepare_targets(np.eye(4)[[0, 1, 2]], out)
    with pytest.raises(TypeError, match="labels must be integers, received dtype <U1"):
        scce.prepare_targets(np.array(["a", "b", "c"]), out)
    labels = scce.prepare_targets(np.array([[0], [3], [1]]), out)  # a (n, 1) column is fine
    assert labels.shape == (3,) and labels.dtype == np.int64
    assert scce.prepare_targets([0.0, 3.0, 1.0], out).dtype == np.int64  # whole floats too


def test_binary_target_checks() -> None:
    bce = BCE()
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], received values from 0 to 2"):
        bce.prepare_targets([0, 1, 2], (3, 1))
    with pytest.raises(ValueError, match=r"from -0.5 to 1\. For more than two classes use Sparse"):
        bce.prepare_targets([[-0.5], [1.0], [0.0]], (3, 1))
    with pytest.raises(ValueError, match=r"have shape \(3, 2\), but the model's output .*\(3, 1\)"):
        bce.prepare_targets(np.zeros((3, 2)), (3, 1))
    with pytest.raises(ValueError, match=r"have shape \(3,\), but .* shape \(3, 2\)"):
        bce.prepare_targets(np.zeros(3), (3, 2))  # (n,) means one column only
    with pytest.raises(TypeError, match="binary_crossentropy targets must be numeric"):
        bce.prepare_targets(np.array(["0", "1", "1"]), (3, 1))
    y = bce.prepare_targets([0, 1, 1], (3, 1))
    assert y.shape == (3, 1) and y.dtype == np.float32  # integers become float32


def test_other_target_checks() -> None:
    with pytest.raises(ValueError, match=r"categorical_crossentropy targets must be one-hot rows"):
        CCE().prepare_targets([[0, 2, 0]], (1, 3))
    with pytest.raises(ValueError, match=r"categorical_crossentropy targets have shape \(2,\)"):
        CCE().prepare_targets([0, 2], (2, 3))  # labels belong to the sparse loss
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="mean_squared_error targets contain NaN or infinity"):
            MSE().prepare_targets([0.0, bad, 1.0], (3, 1))


def test_device_targets_have_their_shape_checked(xp: Any) -> None:
    with pytest.raises(ValueError, match=r"targets have shape \(3, 2\)"):
        BCE().prepare_targets(dev(np.zeros((3, 2))), (3, 1))
    with pytest.raises(ValueError, match=r"of shape \(3,\), received shape \(2,\)"):
        SCCE().prepare_targets(dev(np.array([0, 1])), (3, 4))
    labels = SCCE().prepare_targets(dev(np.array([0, 3, 1])), (3, 4))
    assert array_module(labels) is xp and tuple(labels.shape) == (3,)
    y = BCE().prepare_targets(dev(np.array([0.0, 1.0, 1.0])), (3, 1))
    assert array_module(y) is xp and tuple(y.shape) == (3, 1)


def test_from_logits_must_be_a_bool() -> None:
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match=r"from_logits must be True or False, received"):
            BCE(from_logits=bad)
    assert SCCE(from_logits=np.bool_(True)).from_logits is True


# -- names and configs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mse", MSE),
        ("mean_squared_error", MSE),
        ("binary_crossentropy", BCE),
        ("bce", BCE),
        ("sparse_categorical_crossentropy", SCCE),
        ("categorical_crossentropy", CCE),
        ("cce", CCE),
        ("MSE", MSE),
    ],
)
def test_get_by_name(name: str, cls: type) -> None:
    loss = losses.get(name)
    assert type(loss) is cls and loss.from_logits is False


def test_get_instances_classes_and_unknown_names() -> None:
    loss = BCE(from_logits=True)
    assert losses.get(loss) is loss
    assert type(losses.get(SCCE)) is SCCE
    for bad in ("hinge", None, 3):
        with pytest.raises(
            ValueError, match=r"Unknown loss .*expected a Loss or one of .*binary_crossentropy"
        ):
            losses.get(bad)
    assert "sparse_categorical_crossentropy" in losses.names()


@pytest.mark.parametrize(
    "loss",
    [BCE(), BCE(True), SCCE(), SCCE(True), CCE(), CCE(True), MSE()],
    ids=repr,
)
def test_config_round_trip(loss: losses.Loss) -> None:
    config = loss.get_config()
    again = losses.from_config(config)
    assert type(again) is type(loss) and again.from_logits == loss.from_logits
    assert again.get_config() == config and repr(again) == repr(loss)


def test_from_config_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="Unknown loss in config"):
        losses.from_config({"name": "hinge"})
