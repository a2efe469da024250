"""Activations: hand-computed values and derivatives, extreme inputs, finite differences,
the backward product, the registry. Every array test runs on every backend."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations
from xpnn.backend import array_module

dev, host = xpnn.to_device, xpnn.to_numpy
NAMES = ["linear", "relu", "sigmoid", "softmax", "tanh"]
ELEMENTWISE = [n for n in NAMES if n != "softmax"]


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# -- values and derivatives worked by hand ----------------------------------------------------
def test_sigmoid_by_hand(xp: Any) -> None:
    z = dev(np.array([-2.0, 0.0, 2.0]))
    a = activations.sigmoid.forward(z)
    # sigmoid(0) = 1/2; sigmoid(2) = 1/(1 + e^-2) = 0.8807970779778823; sigmoid(-2) = 1 - that
    np.testing.assert_allclose(host(a), [0.11920292202211755, 0.5, 0.8807970779778823], rtol=1e-15)
    np.testing.assert_allclose(host(a), [_sig(-2), 0.5, _sig(2)], rtol=1e-15)
    # g' = a (1 - a): 1/4 at 0; 0.8808 * 0.1192 = 0.10499358540350652 at +-2
    d = activations.sigmoid.derivative(z, a)
    np.testing.assert_allclose(host(d), [0.10499358540350652, 0.25, 0.10499358540350652])


def test_relu_by_hand(xp: Any) -> None:
    z = dev(np.array([-1.5, 0.0, 3.0]))
    a = activations.relu.forward(z)
    np.testing.assert_array_equal(host(a), [0.0, 0.0, 3.0])
    # relu'(0) = 0, as TensorFlow and PyTorch take it
    np.testing.assert_array_equal(host(activations.relu.derivative(z, a)), [0.0, 0.0, 1.0])


def test_tanh_by_hand(xp: Any) -> None:
    z = dev(np.array([-1.0, 0.0, 0.5]))
    a = activations.tanh.forward(z)
    t = [math.tanh(v) for v in (-1.0, 0.0, 0.5)]  # tanh(-1) = -0.7615941559557649
    np.testing.assert_allclose(host(a), t, rtol=1e-15)
    np.testing.assert_allclose(host(a)[0], -0.7615941559557649, rtol=1e-15)
    d = activations.tanh.derivative(z, a)
    np.testing.assert_allclose(host(d), [1 - v * v for v in t], rtol=1e-15)  # 1 - tanh^2


def test_linear_by_hand(xp: Any) -> None:
    z = dev(np.array([-1.0, 0.0, 2.0]))
    a = activations.linear.forward(z)
    np.testing.assert_array_equal(host(a), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(host(activations.linear.derivative(z, a)), [1.0, 1.0, 1.0])


def test_softmax_by_hand(xp: Any) -> None:
    z = dev(np.array([[1.0, 2.0, 3.0]]))
    a = activations.softmax.forward(z)
    # e^1 + e^2 + e^3 = 2.718281828 + 7.389056099 + 20.085536923 = 30.192874850
    e = [math.exp(1), math.exp(2), math.exp(3)]
    np.testing.assert_allclose(host(a), [[v / sum(e) for v in e]], rtol=1e-14)
    np.testing.assert_allclose(host(a), [[0.09003057, 0.24472847, 0.66524096]], rtol=1e-7)
    # Jacobian J_ij = a_i (delta_ij - a_j)
    p = host(a)[0]
    jac = host(activations.softmax.derivative(z, a))[0]
    np.testing.assert_allclose(jac[0, 0], p[0] * (1 - p[0]), rtol=1e-14)
    np.testing.assert_allclose(jac[0, 2], -p[0] * p[2], rtol=1e-14)
    np.testing.assert_allclose(jac.sum(axis=0), 0.0, atol=1e-16)  # columns of J sum to 0
    np.testing.assert_allclose(
        host(activations.softmax.forward(dev(np.array([1.0, 2.0, 3.0])))), p, rtol=1e-15
    )  # a 1-D vector is one row


def test_calling_an_activation_is_its_forward(xp: Any) -> None:
    z = dev(np.array([[-1.0, 0.5]]))
    for name in NAMES:
        act = activations.get(name)
        np.testing.assert_array_equal(host(act(z)), host(act.forward(z)), err_msg=name)


# -- extreme inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_do_not_overflow(xp: Any, name: str, dtype: Any) -> None:
    z = dev(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype))
    act = activations.get(name)
    # Overflow, division by zero and invalid operations (inf - inf, 0/0) must not happen.
    # Underflow must: e^-10000 is 0 in any float, and 0 is the right answer there.
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        a = act.forward(z)
        d = act.derivative(z, a)
        back = act.backward(xp.ones_like(z), z, a)
    a, d, back = host(a), host(d), host(back)
    for v in (a, d, back):
        assert np.isfinite(v).all() and v.dtype == dtype
    if name == "sigmoid":
        assert a[0, 0] == 0.0 and a[0, 2] == 0.5 and a[0, -1] == 1.0
        assert a[0, 1] == pytest.approx(math.exp(-50), rel=1e-6)  # tiny values stay accurate
        assert d[0, 0] == 0.0 and d[0, -1] == 0.0
    elif name == "tanh":
        np.testing.assert_array_equal(a[0, [0, -1]], [-1.0, 1.0])
    elif name == "relu":
        np.testing.assert_array_equal(a[0], [0, 0, 0, 50, 1e4])
    elif name == "softmax":
        np.testing.assert_array_equal(a[0], [0, 0, 0, 0, 1])


# -- softmax's row properties -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_sum_to_one_and_ignore_shifts(xp: Any, dtype: Any) -> None:
    rng = np.random.default_rng(2)
    z = (rng.normal(size=(5, 7)) * 10).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    a = host(activations.softmax.forward(dev(z)))
    assert a.dtype == dtype
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=tol)
    shifts = np.array([[0.0], [1.0], [-50.0], [1000.0], [-1000.0]], dtype=dtype)
    shifted = host(activations.softmax.forward(dev(z + shifts)))
    np.testing.assert_allclose(shifted, a, rtol=tol * 1e3 if dtype == np.float32 else 1e-10)
    big = host(activations.softmax.forward(dev(np.array([[1e4, 1e4 - 1.0]], dtype=dtype))))
    np.testing.assert_allclose(big, [[1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))]], rtol=tol)


# -- derivative against central differences -----------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(xp: Any, name: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4)) * 2
    z[np.abs(z) < 1e-2] = 0.5  # keep away from relu's kink
    act = activations.get(name)
    h = 1e-6
    deriv = host(act.derivative(dev(z), act.forward(dev(z))))

    def g(v: np.ndarray) -> np.ndarray:
        return host(act.forward(dev(v)))

    if name == "softmax":  # the Jacobian per row: J[r, i, j] = da_i / dz_j
        assert deriv.shape == (3, 4, 4)
        fd = np.zeros_like(deriv)
        for j in range(4):
            step = np.zeros_like(z)
            step[:, j] = h
            fd[:, :, j] = (g(z + step) - g(z - step)) / (2 * h)
    else:
        assert deriv.shape == z.shape
        fd = (g(z + h) - g(z - h)) / (2 * h)
    np.testing.assert_allclose(deriv, fd, rtol=1e-7, atol=1e-9)


# -- backward: the vector-Jacobian product ------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_backward_is_delta_times_derivative(xp: Any, name: str) -> None:
    rng = np.random.default_rng(1)
    z, delta = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    act = activations.get(name)
    a = act.forward(dev(z))
    deriv = host(act.derivative(dev(z), a))
    if name == "softmax":  # J^T delta: (J^T delta)_j = sum_i J_ij delta_i
        expected = np.einsum("rij,ri->rj", deriv, delta)
    else:
        expected = delta * deriv
    delta_d = dev(delta)
    got = act.backward(delta_d, dev(z), a)
    np.testing.assert_allclose(host(got), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(host(delta_d), delta)  # without out, delta is left alone
    buffer = xp.empty((3, 4))
    act.backward(dev(delta), dev(z), a, out=buffer)
    np.testing.assert_allclose(host(buffer), expected, rtol=1e-13, atol=1e-15)
    inplace = dev(delta)  # the training step's layout: delta_z overwrites delta_a
    act.backward(inplace, dev(z), a, out=inplace)
    np.testing.assert_allclose(host(inplace), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_into_out_and_dtypes(xp: Any, name: str, dtype: Any) -> None:
    z = np.random.default_rng(3).normal(size=(4, 3)).astype(dtype)
    act = activations.get(name)
    expected = host(act.forward(dev(z)))
    assert expected.dtype == dtype
    # with out, NumPy arrays may take a fused one-pass kernel whose exp can differ in the last place
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    out = xp.empty((4, 3), dtype=dtype)
    returned = act.forward(dev(z), out=out)
    np.testing.assert_allclose(host(out), expected, rtol=rtol)
    np.testing.assert_allclose(host(returned), expected, rtol=rtol)
    inplace = dev(z)
    act.forward(inplace, out=inplace)
    np.testing.assert_allclose(host(inplace), expected, rtol=rtol)
    a = act.forward(dev(z))
    for v in (act.derivative(dev(z), a), act.backward(dev(z), dev(z), a)):
        assert v.dtype == dtype and array_module(v) is xp


# -- the registry -----------------------------------------------------------------------------
def test_registry_resolves_names_none_and_instances() -> None:
    assert activations.names() == NAMES
    for name in NAMES:
        act = activations.get(name)
        assert act.name == name and activations.get(name.upper()) is act
        assert activations.get(act) is act
        assert repr(act) == f"Activation({name!r})"
    assert activations.get(None) is activations.linear  # Keras: no activation means linear


@pytest.mark.parametrize("bad", ["sigmpid", "", 3, np.tanh])
def test_registry_error_lists_the_valid_names(bad: Any) -> None:
    with pytest.raises(
        ValueError,
        match=r"Unknown activation .*expected one of linear, relu, sigmoid, softmax, tanh or None",
    ):
        activations.get(bad)
