"""Losses: Keras's numbers worked by hand and recorded from Keras itself, stable logits,
gradients against finite differences (with sample weights too), the output-layer shortcut,
target checks, names and configs, and a model learning with each loss. Array tests run on
every backend."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, activations, losses, optimizers
from xpnn.backend import array_module

from helpers import blobs

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
SHORTCUTS = [c for c in CASES if not (isinstance(c[0], MSE) and c[1] != "linear")]


@pytest.mark.parametrize(("loss", "act", "kind"), SHORTCUTS, ids=CASE_IDS[:3] + CASE_IDS[4:])
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
        (MSE(), "sigmoid", "multilabel"),
        (type("MyMSE", (MSE,), {})(), "linear", "multilabel"),  # a subclass: its own gradient
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
        # Keras's function names, aliases and class names
        ("mae", losses.MeanAbsoluteError),
        ("mean_absolute_error", losses.MeanAbsoluteError),
        ("mape", losses.MeanAbsolutePercentageError),
        ("mean_absolute_percentage_error", losses.MeanAbsolutePercentageError),
        ("huber", losses.Huber),
        ("Huber", losses.Huber),
        ("log_cosh", losses.LogCosh),
        ("logcosh", losses.LogCosh),
        ("LogCosh", losses.LogCosh),
        ("hinge", losses.Hinge),
        ("categorical_hinge", losses.CategoricalHinge),
        ("CategoricalHinge", losses.CategoricalHinge),
        ("kld", losses.KLDivergence),
        ("kl_divergence", losses.KLDivergence),
        ("KLDivergence", losses.KLDivergence),
        ("BinaryCrossentropy", BCE),
    ],
)
def test_get_by_name(name: str, cls: type) -> None:
    loss = losses.get(name)
    assert type(loss) is cls and loss.from_logits is False


def test_get_instances_classes_and_unknown_names() -> None:
    loss = BCE(from_logits=True)
    assert losses.get(loss) is loss
    assert type(losses.get(SCCE)) is SCCE
    for bad in ("squared_hinge", None, 3):
        with pytest.raises(
            ValueError, match=r"Unknown loss .*expected a Loss or one of .*binary_crossentropy"
        ):
            losses.get(bad)
    assert "sparse_categorical_crossentropy" in losses.names()


@pytest.mark.parametrize(
    "loss",
    [
        BCE(),
        BCE(True),
        SCCE(),
        SCCE(True),
        CCE(),
        CCE(True),
        MSE(),
        BCE(from_logits=True, name="my_bce"),
        losses.MeanAbsoluteError(),
        losses.MeanAbsolutePercentageError(),
        losses.Huber(),
        losses.Huber(delta=0.25, name="robust"),
        losses.LogCosh(),
        losses.Hinge(),
        losses.CategoricalHinge(),
        losses.KLDivergence(name="kl"),
    ],
    ids=repr,
)
def test_config_round_trip(loss: losses.Loss) -> None:
    config = loss.get_config()
    assert config["class_name"] == type(loss).__name__ and config["name"] == loss.name
    again = losses.from_config(config)
    assert type(again) is type(loss) and again.from_logits == loss.from_logits
    assert again.get_config() == config and repr(again) == repr(loss)
    assert type(losses.get(config)) is type(loss)  # get() takes a config too, as Keras's


def test_configs_saved_before_class_names_still_load() -> None:
    """Files saved before configs carried ``class_name`` hold only the name."""
    loss = losses.from_config({"name": "binary_crossentropy", "from_logits": True})
    assert type(loss) is BCE and loss.from_logits is True
    assert type(losses.from_config({"name": "mean_squared_error"})) is MSE


def test_default_names_are_keras_s() -> None:
    expected = {
        BCE: "binary_crossentropy",
        CCE: "categorical_crossentropy",
        SCCE: "sparse_categorical_crossentropy",
        MSE: "mean_squared_error",
        losses.MeanAbsoluteError: "mean_absolute_error",
        losses.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
        losses.Huber: "huber_loss",  # Keras's class default (the function is "huber")
        losses.LogCosh: "log_cosh",
        losses.Hinge: "hinge",
        losses.CategoricalHinge: "categorical_hinge",
        losses.KLDivergence: "kl_divergence",
    }
    for cls, name in expected.items():
        assert cls().name == name
    assert losses.Huber(name="h").name == "h"
    assert repr(losses.Huber(name="h")) == "Huber(delta=1.0, name='h')"
    for bad in ("", 3):
        with pytest.raises(ValueError, match="A loss's name must be a non-empty string"):
            losses.LogCosh(name=bad)


def test_from_config_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="Unknown loss in config"):
        losses.from_config({"name": "squared_hinge"})
    with pytest.raises(ValueError, match="Unknown loss in config"):
        losses.from_config({"class_name": "SquaredHinge", "name": "hinge"})
    with pytest.raises(ValueError, match=r"Huber takes \['delta', 'name'\].*\['alpha'\]"):
        losses.from_config({"class_name": "Huber", "name": "huber_loss", "alpha": 1})
    with pytest.raises(ValueError, match="Invalid loss config.*delta must be a positive"):
        losses.from_config({"class_name": "Huber", "delta": "big"})
    with pytest.raises(ValueError, match="A loss config must be a dict, received 'mse'"):
        losses.from_config("mse")


# == Keras's numbers for every loss ================================================================
# Ten samples, and what Keras 3.15.1 (JAX backend, float32) gives for them: the mean, the mean
# with the sample weights W (Keras: sum(w_i L_i) / batch), and each sample's loss.
# tests/test_losses_keras.py recomputes all of it, gradients included, where Keras is installed.
REG_Y = [[1.46, 1.42, 1.24], [-0.95, -1.69, 1.79], [0.46, -1.99, 1.64], [1.94, -0.85, 1.25], [-1.67, -0.25, 1.27], [-0.37, 0.07, -1.53], [1.26, -0.01, -1.01], [1.11, 1.92, 0.15], [0.95, 1.97, -1.88], [0.4, 1.87, -1.53]]  # fmt: skip  # noqa: E501
REG_P = [[-0.32, 1.83, 2.52], [-0.68, -2.13, 0.82], [0.05, -0.73, 2.71], [1.63, -2.35, 2.06], [-3.41, -0.89, 0.39], [0.52, 0.35, -0.98], [1.59, -0.82, -0.37], [2.8, 1.88, 0.91], [0.8, 3.2, -1.08], [1.45, 2.29, 0.44]]  # fmt: skip  # noqa: E501
REG_Y0 = [row[:] for row in REG_Y]
REG_Y0[6][1] = 0.0  # a target of 0: MAPE divides by max(|y|, 1e-7)
W = [0.5, 1.0, 2.0, 0.0, 1.5, 1.0, 0.25, 3.0, 1.0, 0.75]
BIN_Y = [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 0, 1], [1, 1, 0]]  # fmt: skip  # noqa: E501
BIN_P = [[0.401, 0.978, 0.803], [0.507, 0.507, 0.909], [0.378, 0.776, 0.725], [0.733, 0.457, 0.682], [0.831, 0.3, 0.758], [0.482, 0.534, 0.466], [0.377, 0.747, 0.394], [0.188, 0.782, 0.402], [0.578, 0.973, 0.645], [0.524, 0.288, 0.705]]  # fmt: skip  # noqa: E501
SCORE = [[1.84, 0.83, 1.08], [-0.73, -0.75, -0.57], [-0.08, 1.57, -0.13], [-1.29, 0.13, -0.96], [0.54, -0.65, 1.81], [-0.25, 0.33, 0.34], [-0.34, 1.91, -1.83], [0.97, -0.94, -1.76], [-1.28, 1.0, 1.63], [1.1, -0.86, -0.01]]  # fmt: skip  # noqa: E501
PM_Y = [[2 * v - 1 for v in row] for row in BIN_Y]  # the same labels as -1/1
LABELS10 = [3, 0, 2, 1, 2, 1, 1, 0, 3, 1]
ONEHOT10 = np.eye(4)[LABELS10].tolist()
CAT_P = [[0.586, 0.107, 0.29, 0.018], [0.068, 0.778, 0.025, 0.129], [0.085, 0.425, 0.401, 0.089], [0.126, 0.448, 0.31, 0.115], [0.396, 0.382, 0.053, 0.169], [0.626, 0.027, 0.009, 0.338], [0.733, 0.035, 0.083, 0.149], [0.132, 0.387, 0.003, 0.478], [0.029, 0.265, 0.362, 0.345], [0.253, 0.323, 0.045, 0.379]]  # fmt: skip  # noqa: E501
CAT_SCORE = [[-0.65, 0.72, 0.96, 1.27], [1.26, -0.71, 0.13, 0.95], [0.45, 0.32, 1.25, 1.78], [1.59, -0.92, -1.52, -0.85], [1.2, -0.74, 0.97, 0.37], [1.97, -1.52, 1.31, -1.81], [0.56, 0.15, -1.02, -0.95], [-0.45, -0.06, -1.37, -0.24], [-1.65, -0.0, 0.16, -0.45], [-0.03, 0.28, 0.09, -1.28]]  # fmt: skip  # noqa: E501
PROB_Y = [[0.223, 0.269, 0.0, 0.508], [0.379, 0.109, 0.279, 0.234], [1.0, 0.0, 0.0, 0.0], [0.465, 0.0, 0.21, 0.324], [0.555, 0.429, 0.0, 0.017], [0.401, 0.076, 0.297, 0.226], [0.0, 0.846, 0.1, 0.054], [0.595, 0.308, 0.0, 0.097], [0.43, 0.57, 0.0, 0.0], [0.113, 0.0, 0.265, 0.622]]  # fmt: skip  # noqa: E501

# name: (a factory of the xpnn loss, its Keras constructor as text, y_true, y_pred)
LOSS_CASES: dict[str, tuple[Any, tuple[str, dict[str, Any]], Any, Any]] = {
    "bce": (BCE, ("BinaryCrossentropy", {}), BIN_Y, BIN_P),
    "bce_logits": (lambda: BCE(True), ("BinaryCrossentropy", {"from_logits": True}), BIN_Y, SCORE),
    "cce": (CCE, ("CategoricalCrossentropy", {}), ONEHOT10, CAT_P),
    "cce_logits": (
        lambda: CCE(True),
        ("CategoricalCrossentropy", {"from_logits": True}),
        ONEHOT10,
        CAT_SCORE,
    ),
    "scce": (SCCE, ("SparseCategoricalCrossentropy", {}), LABELS10, CAT_P),
    "scce_logits": (
        lambda: SCCE(True),
        ("SparseCategoricalCrossentropy", {"from_logits": True}),
        LABELS10,
        CAT_SCORE,
    ),
    "mse": (MSE, ("MeanSquaredError", {}), REG_Y, REG_P),
    "mae": (losses.MeanAbsoluteError, ("MeanAbsoluteError", {}), REG_Y, REG_P),
    "mape": (
        losses.MeanAbsolutePercentageError,
        ("MeanAbsolutePercentageError", {}),
        REG_Y,
        REG_P,
    ),
    "mape_zero_target": (
        losses.MeanAbsolutePercentageError,
        ("MeanAbsolutePercentageError", {}),
        REG_Y0,
        REG_P,
    ),
    "huber": (losses.Huber, ("Huber", {}), REG_Y, REG_P),
    "huber_delta_0.5": (lambda: losses.Huber(0.5), ("Huber", {"delta": 0.5}), REG_Y, REG_P),
    "log_cosh": (losses.LogCosh, ("LogCosh", {}), REG_Y, REG_P),
    "hinge_01": (losses.Hinge, ("Hinge", {}), BIN_Y, SCORE),
    "hinge_pm1": (losses.Hinge, ("Hinge", {}), PM_Y, SCORE),
    "categorical_hinge": (losses.CategoricalHinge, ("CategoricalHinge", {}), ONEHOT10, CAT_SCORE),
    "kl_divergence": (losses.KLDivergence, ("KLDivergence", {}), PROB_Y, CAT_P),
}

# name: (mean, weighted mean, per-sample losses), from Keras 3.15.1
KERAS_LOSSES = {
    "bce": (
        1.0671556,
        1.12448049,
        [
            2.11835241,
            1.26112866,
            1.25331819,
            0.68898648,
            0.272957474,
            0.63749969,
            0.926326275,
            0.942839026,
            1.53286827,
            1.03727949,
        ],
    ),  # fmt: skip  # noqa: E501
    "bce_logits": (
        0.890568256,
        0.981055915,
        [
            0.903887868,
            0.652807891,
            1.04106951,
            0.872531414,
            0.343594402,
            0.665055275,
            1.5214653,
            1.16997468,
            1.00583708,
            0.729458749,
        ],
    ),  # fmt: skip  # noqa: E501
    "cce": (
        2.25444412,
        2.33688879,
        [
            4.01838303,
            2.68824744,
            0.913793862,
            0.801961541,
            2.93746328,
            3.61191845,
            3.35240722,
            2.02495337,
            1.06521034,
            1.13010287,
        ],
    ),  # fmt: skip  # noqa: E501
    "cce_logits": (
        1.58188403,
        1.61896384,
        [
            0.898942649,
            0.786608934,
            1.26492167,
            2.70312142,
            1.09469712,
            3.9411869,
            1.14742017,
            1.41322291,
            1.54967475,
            1.01904309,
        ],
    ),  # fmt: skip  # noqa: E501
    "scce": (
        2.25444412,
        2.33688879,
        [
            4.01838303,
            2.68824744,
            0.913793862,
            0.801961541,
            2.93746328,
            3.61191845,
            3.35240722,
            2.02495337,
            1.06521034,
            1.13010287,
        ],
    ),  # fmt: skip  # noqa: E501
    "scce_logits": (
        1.58188403,
        1.61896384,
        [
            0.898942649,
            0.786608934,
            1.26492167,
            2.70312142,
            1.09469712,
            3.9411869,
            1.14742017,
            1.41322291,
            1.54967475,
            1.01904309,
        ],
    ),  # fmt: skip  # noqa: E501
    "mse": (
        0.980493367,
        1.12104166,
        [
            1.65829992,
            0.402466655,
            0.966866672,
            1.00073326,
            1.40386677,
            0.390999973,
            0.391533345,
            1.1451,
            0.725133359,
            1.71993351,
        ],
    ),  # fmt: skip  # noqa: E501
    "mae": (
        0.846000016,
        0.93933332,
        [
            1.15666676,
            0.560000062,
            0.913333356,
            0.873333335,
            1.08666682,
            0.573333323,
            0.593333364,
            0.829999924,
            0.726666629,
            1.14666677,
        ],
    ),  # fmt: skip  # noqa: E501
    "mape": (
        377.621063,
        215.107132,
        [
            84.672287,
            36.2155037,
            72.5636444,
            85.7499847,
            143.160995,
            225.496078,
            2729.85229,
            220.334106,
            40.2597389,
            137.906021,
        ],
    ),  # fmt: skip  # noqa: E501
    "mape_zero_target": (
        27333440.0,
        6833481.5,
        [
            84.672287,
            36.2155037,
            72.5636444,
            85.7499847,
            143.160995,
            225.496078,
            273333376.0,
            220.334106,
            40.2597389,
            137.906021,
        ],
    ),  # fmt: skip  # noqa: E501
    "huber": (
        0.43975836,
        0.50221169,
        [
            0.714683414,
            0.201233327,
            0.471350044,
            0.458699942,
            0.610666752,
            0.195499986,
            0.195766672,
            0.493200004,
            0.35374999,
            0.702733397,
        ],
    ),  # fmt: skip  # noqa: E501
    "huber_delta_0.5": (
        0.306776673,
        0.347074568,
        [
            0.454683363,
            0.164416671,
            0.333016694,
            0.317683339,
            0.418333381,
            0.169733331,
            0.176483333,
            0.325266659,
            0.258750021,
            0.449400038,
        ],
    ),  # fmt: skip  # noqa: E501
    "log_cosh": (
        0.385922849,
        0.439694077,
        [
            0.619335175,
            0.180323064,
            0.404706806,
            0.40005374,
            0.538325489,
            0.178526089,
            0.181029901,
            0.431926817,
            0.306931764,
            0.618069828,
        ],
    ),  # fmt: skip  # noqa: E501
    "hinge_01": (
        1.20433331,
        1.3195833,
        [
            1.30333328,
            0.803333402,
            1.50666666,
            1.15333343,
            0.270000011,
            0.920000017,
            2.13333321,
            1.57666671,
            1.42666662,
            0.949999988,
        ],
    ),  # fmt: skip  # noqa: E501
    "hinge_pm1": (
        1.20433331,
        1.3195833,
        [
            1.30333328,
            0.803333402,
            1.50666666,
            1.15333343,
            0.270000011,
            0.920000017,
            2.13333321,
            1.57666671,
            1.42666662,
            0.949999988,
        ],
    ),  # fmt: skip  # noqa: E501
    "categorical_hinge": (
        1.74199986,
        1.73500001,
        [
            0.689999998,
            0.689999998,
            1.52999997,
            3.50999999,
            1.23000002,
            4.48999977,
            1.40999997,
            1.45000005,
            1.61000001,
            0.810000002,
        ],
    ),  # fmt: skip  # noqa: E501
    "kl_divergence": (
        1.29626727,
        1.29773688,
        [
            1.72930968,
            1.24929738,
            2.46509981,
            0.860990047,
            0.198077008,
            0.847546458,
            2.65847826,
            0.67089659,
            1.59605408,
            0.686924279,
        ],
    ),  # fmt: skip  # noqa: E501
}


def case_arrays(name: str, dtype: Any = np.float32) -> tuple[losses.Loss, Any, Any]:
    """A case's loss and its prepared targets and predictions on the active backend."""
    factory, _, y, p = LOSS_CASES[name]
    loss = factory()
    pd = dev(np.asarray(p, dtype=dtype))
    return loss, dev(loss.prepare_targets(np.asarray(y), tuple(pd.shape), dtype)), pd


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_every_loss_gives_keras_numbers(xp: Any, name: str) -> None:
    loss, y, p = case_arrays(name)
    mean, weighted, per_sample = KERAS_LOSSES[name]
    w = dev(np.asarray(W, dtype=np.float32))
    assert float(host(loss.value(y, p))) == pytest.approx(mean, rel=1e-6)
    np.testing.assert_allclose(host(loss.per_sample(y, p)), per_sample, rtol=1e-6)
    # the weights enter through the same door as in the training step
    value, _ = loss.value_and_delta(y, p, None, None, w)
    assert float(host(value)) == pytest.approx(weighted, rel=1e-6)
    # and loss(y_true, y_pred, sample_weight) takes host data, as Keras's
    got = loss(LOSS_CASES[name][2], p, sample_weight=W)
    assert array_module(got) is xp and float(host(got)) == pytest.approx(weighted, rel=1e-6)


# Everything but the zero target, whose 1e9 slope drowns the finite differences of the rest.
SMOOTH_CASES = [n for n in LOSS_CASES if n != "mape_zero_target"]


@pytest.mark.parametrize("name", SMOOTH_CASES)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_every_gradient_matches_central_differences(xp: Any, name: str, weighted: bool) -> None:
    """dL/dp from ``gradient`` (with the sample weights: ``gradient(..., w)``) against central
    differences of the value. The inputs keep every kink (MAE's 0, the hinge margins,
    Huber's delta, the clips) at least 0.03 away, so the steps never cross one."""
    loss, y, p = case_arrays(name, np.float64)
    w = dev(np.asarray(W, dtype=np.float64)) if weighted else None

    def f(q: np.ndarray) -> float:
        return float(host(loss.value_and_delta(y, dev(q), None, None, w)[0]))

    g = host(loss.gradient(y, p, None, w))
    base, h = host(p), 1e-6
    fd = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (f(up) - f(down)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    if weighted:  # a sample of weight 0 (the fourth) passes no gradient
        assert not np.any(g[3])


NEW_LOSSES = {
    "mae": losses.MeanAbsoluteError,
    "mape": losses.MeanAbsolutePercentageError,
    "huber": losses.Huber,
    "log_cosh": losses.LogCosh,
    "hinge_01": losses.Hinge,
    "categorical_hinge": losses.CategoricalHinge,
    "kl_divergence": losses.KLDivergence,
}


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_new_losses_keep_float32_write_into_out_and_have_no_shortcut(xp: Any, name: str) -> None:
    loss, y, p = case_arrays(name)
    out = xp.empty(p.shape, dtype=np.float32)
    g = loss.gradient(y, p, out=out)
    assert g is out and out.dtype == np.float32 and loss.value(y, p).dtype == np.float32
    np.testing.assert_allclose(host(out), host(loss.gradient(y, p)), rtol=1e-7)
    assert loss.per_sample(y, p).dtype == np.float32
    for activation in (activations.linear, activations.sigmoid, activations.softmax):
        assert loss.output_delta(y, p, activation) is None  # the model chains the gradient


# -- the new losses by hand -------------------------------------------------------------------
def test_huber_by_hand(xp: Any) -> None:
    # errors 0.5 and 2 with delta 1: 0.5 * 0.5^2 = 0.125 and 1 * 2 - 0.5 = 1.5; mean 0.8125
    assert value(losses.Huber(), [[0.0], [0.0]], [[0.5], [-2.0]]) == pytest.approx(0.8125)
    # delta 3 keeps both quadratic: (0.125 + 2) / 2
    assert value(losses.Huber(3.0), [[0.0], [0.0]], [[0.5], [-2.0]]) == pytest.approx(1.0625)
    # the slope is the error clipped to [-delta, delta], over the 2 entries
    y, p = dev(np.zeros((2, 1))), dev(np.array([[0.5], [-2.0]]))
    np.testing.assert_allclose(host(losses.Huber().gradient(y, p)), [[0.25], [-0.5]])


def test_log_cosh_by_hand_and_far_out(xp: Any) -> None:
    x = 0.7
    assert value(losses.LogCosh(), [[0.0]], [[x]]) == pytest.approx(math.log(math.cosh(x)))
    # cosh(1000) overflows; x + softplus(-2x) - log 2 does not: 1000 - log 2
    with np.errstate(all="raise", under="ignore"):
        got = value(losses.LogCosh(), [[0.0], [0.0]], [[1000.0], [-1000.0]], np.float32)
    assert got == pytest.approx(1000 - math.log(2), rel=1e-6)


def test_mape_by_hand(xp: Any) -> None:
    # |100 - 90| / 100 and |200 - 210| / 200: 100 * (0.1 + 0.05) / 2 = 7.5
    assert value(losses.MeanAbsolutePercentageError(), [100, 200], [[90.0], [210.0]]) == (
        pytest.approx(7.5)
    )
    # a target of 0 divides by 1e-7: 100 * 1 / 1e-7 = 1e9
    got = value(losses.MeanAbsolutePercentageError(), [0.0], [[1.0]])
    assert got == pytest.approx(1e9)


def test_hinge_by_hand_and_keras_s_label_conversion(xp: Any) -> None:
    # y = 1, p = 0.3: 1 - 0.3 = 0.7; y = -1, p = 0.4: 1 + 0.4 = 1.4; mean 1.05
    assert value(losses.Hinge(), [[1], [-1]], [[0.3], [0.4]]) == pytest.approx(1.05)
    # 0/1 labels are the same labels: 0 becomes -1
    assert value(losses.Hinge(), [[1], [0]], [[0.3], [0.4]]) == pytest.approx(1.05)
    # Keras decides per batch: a -1/1 batch that happens to hold only 1s is left alone
    assert value(losses.Hinge(), [[1], [1]], [[0.3], [2.0]]) == pytest.approx(0.35)
    # beyond the margin the slope is 0; inside it -y / n
    y, p = dev(np.array([[1.0], [-1.0], [1.0]])), dev(np.array([[2.0], [0.5], [0.5]]))
    np.testing.assert_allclose(host(losses.Hinge().gradient(y, p)), [[0], [1 / 3], [-1 / 3]])


def test_categorical_hinge_by_hand(xp: Any) -> None:
    # pos = 0.5 (the target's score), neg = 0.9 (the best other): max(0.9 - 0.5 + 1, 0) = 1.4
    loss = losses.CategoricalHinge()
    assert value(loss, [[0, 1, 0]], [[0.2, 0.5, 0.9]]) == pytest.approx(1.4)
    # a margin of more than 1 costs nothing and passes no gradient
    assert value(loss, [[0, 1, 0]], [[0.2, 2.5, 0.9]]) == 0.0
    y, p = dev(np.array([[0.0, 1.0, 0.0]])), dev(np.array([[0.2, 0.5, 0.9]]))
    np.testing.assert_allclose(host(loss.gradient(y, p)), [[0.0, -1.0, 1.0]])
    # every other score below 0: neg is the target's own 0 * p (Keras's formula)
    assert value(loss, [[0, 1, 0]], [[-2.0, 0.5, -3.0]]) == pytest.approx(0.5)


def test_kl_divergence_by_hand(xp: Any) -> None:
    # 0.5 log(0.5 / 0.25) + 0.5 log(0.5 / 0.75): a sum over the row, not a mean
    expected = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    assert value(losses.KLDivergence(), [[0.5, 0.5]], [[0.25, 0.75]]) == pytest.approx(expected)
    # y = 0 is clipped to 1e-7: its term is 1e-7 log(1e-7 / p), not 0
    got = value(losses.KLDivergence(), [[1.0, 0.0]], [[0.5, 0.5]])
    assert got == pytest.approx(math.log(2) + 1e-7 * math.log(1e-7 / 0.5), rel=1e-12)
    # p below 1e-7 is clipped: the loss is flat there
    y, p = dev(np.array([[1.0, 0.0]])), dev(np.array([[1e-9, 1.0]]))
    np.testing.assert_allclose(host(losses.KLDivergence().gradient(y, p))[0, 0], 0.0)


def test_weighted_shortcut_delta_is_the_weighted_chained_gradient(xp: Any) -> None:
    loss, y, z = case_arrays("bce_logits", np.float64)
    w = dev(np.asarray(W))
    value_w, delta = loss.value_and_delta(y, z, activations.linear, xp.empty(z.shape), w)
    chained = loss.gradient(y, z, None, w)  # from logits, linear: dL/dz = dL/dp
    np.testing.assert_allclose(host(delta), host(chained), rtol=1e-12, atol=1e-15)
    per_sample = host(loss.per_sample(y, z))
    assert float(host(value_w)) == pytest.approx(float(np.sum(per_sample * W) / 10), rel=1e-12)


# -- targets and arguments of the new losses --------------------------------------------------
def test_new_loss_target_checks() -> None:
    with pytest.raises(ValueError, match=r"hinge targets must be labels -1/1, or 0/1.*0, 0.5, 1"):
        losses.Hinge().prepare_targets([0, 0.5, 1], (3, 1))
    with pytest.raises(ValueError, match=r"hinge targets must be .* received the values -1, 0, 1"):
        losses.Hinge().prepare_targets([-1, 0, 1], (3, 1))  # Keras would read it per batch
    with pytest.raises(ValueError, match=r"kl_divergence targets must lie in \[0, 1\].*0 to 2"):
        losses.KLDivergence().prepare_targets([[0, 2]], (1, 2))
    with pytest.raises(ValueError, match=r"categorical_hinge targets must lie in \[-1, 1\]"):
        losses.CategoricalHinge().prepare_targets([[0, 3, 0]], (1, 3))
    with pytest.raises(ValueError, match=r"categorical_hinge targets have shape \(2,\)"):
        losses.CategoricalHinge().prepare_targets([0, 2], (2, 3))
    for cls in (losses.Huber, losses.LogCosh, losses.MeanAbsoluteError):
        name = cls().default_name
        with pytest.raises(ValueError, match=f"{name} targets contain NaN or infinity"):
            cls().prepare_targets([0.0, np.nan], (2, 1))
        with pytest.raises(TypeError, match=f"{name} targets must be numeric"):
            cls().prepare_targets(np.array(["a", "b"]), (2, 1))
    y = losses.Hinge().prepare_targets([0, 1, 1], (3, 1))
    assert y.shape == (3, 1) and y.dtype == np.float32  # 0/1 kept: the conversion is per batch


def test_huber_delta_must_be_a_positive_number() -> None:
    for bad in (0, -1.0, math.inf, math.nan, "1", True, None):
        with pytest.raises(ValueError, match="Huber's delta must be a positive number, received"):
            losses.Huber(bad)
    assert losses.Huber(2).delta == 2.0


def test_call_checks_the_sample_weight_length(xp: Any) -> None:
    with pytest.raises(ValueError, match=r"one weight per sample \(2\), received shape \(3,\)"):
        MSE()([1.0, 2.0], dev(np.array([[1.0], [2.0]])), sample_weight=[1.0, 2.0, 3.0])


# -- a model learns with each new loss ---------------------------------------------------------
def _learning_case(name: str) -> tuple[Any, Any, list[Any], str]:
    """Data, layers and the metric that should improve, for each new loss."""
    x, labels = blobs(160, 4, 3, seed=5)
    if name in ("mae", "mape", "huber", "log_cosh"):
        y = (x @ np.array([0.3, -0.2, 0.1, 0.25], dtype=np.float32) + 4.0)[:, None]
        return x, y, [Dense(8, "tanh"), Dense(1)], "mae"
    if name == "hinge_01":
        return x, (labels > 0).astype(np.float32), [Dense(8, "tanh"), Dense(1)], "accuracy"
    onehot = np.eye(3, dtype=np.float32)[labels]
    last = "softmax" if name == "kl_divergence" else "linear"
    return x, onehot, [Dense(8, "tanh"), Dense(3, last)], "accuracy"


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_a_model_learns_with_each_new_loss(xp: Any, name: str) -> None:
    x, y, layers, metric = _learning_case(name)
    model = Sequential([Input((4,)), *layers], seed=1)
    model.compile(optimizer=optimizers.Adam(0.03), loss=NEW_LOSSES[name](), metrics=[metric])
    before = model.evaluate(x, y, return_dict=True)
    history = model.fit(x, y, epochs=25, batch_size=16, verbose=0).history
    after = model.evaluate(x, y, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"], (before, after)
    assert history["loss"][-1] < history["loss"][0]
    if metric == "mae":
        assert after["mae"] < 0.5 * before["mae"], (before, after)
    else:
        assert after["accuracy"] >= 0.95 > before["accuracy"], (before, after)
