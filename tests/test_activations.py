"""Activations: hand-computed values, derivatives, extreme inputs, the registry."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations

dev, host = xpnn.to_device, xpnn.to_numpy


def test_values_by_hand(xp: Any) -> None:
    z = dev(np.array([[-2.0, 0.0, 2.0]]))
    s = 1 / (1 + math.exp(-2))
    expected = [[1 / (1 + math.exp(2)), 0.5, s]]
    np.testing.assert_allclose(host(activations.sigmoid(z)), expected, rtol=1e-15)
    np.testing.assert_allclose(host(activations.relu(z)), [[0, 0, 2]])
    np.testing.assert_allclose(host(activations.linear(z)), [[-2, 0, 2]])
    np.testing.assert_allclose(host(activations.tanh(z)), [[math.tanh(-2), 0, math.tanh(2)]])
    e = [math.exp(1), math.exp(2), math.exp(3)]
    soft = host(activations.softmax(dev(np.array([[1.0, 2.0, 3.0]]))))
    np.testing.assert_allclose(soft, [[v / sum(e) for v in e]], rtol=1e-14)


def test_derivatives_by_hand(xp: Any) -> None:
    z = dev(np.array([-1.0, 0.0, 3.0]))
    for name, expected in [
        ("sigmoid", [s * (1 - s) for s in (1 / (1 + math.exp(1)), 0.5, 1 / (1 + math.exp(-3)))]),
        ("relu", [0.0, 0.0, 1.0]),  # 0 at z = 0, as TensorFlow and PyTorch
        ("linear", [1.0, 1.0, 1.0]),
        ("tanh", [1 - math.tanh(v) ** 2 for v in (-1.0, 0.0, 3.0)]),
    ]:
        act = activations.get(name)
        got = host(act.derivative(z, act.forward(z)))
        np.testing.assert_allclose(got, expected, rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", activations.names())
def test_extreme_inputs_do_not_overflow(xp: Any, name: str, dtype) -> None:
    z = dev(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype))
    act = activations.get(name)
    # overflow, 0/0 and inf-inf must not happen; underflow to 0 (exp(-1e4)) is the right answer
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = act.forward(z)
        d = act.backward(xp.ones_like(z), z, a)
    a, d = host(a), host(d)
    assert np.isfinite(a).all() and np.isfinite(d).all()
    assert a.dtype == dtype
    if name == "sigmoid":
        assert a[0, 0] == 0.0 and a[0, -1] == 1.0
        assert a[0, 1] == pytest.approx(math.exp(-50), rel=1e-5)  # tiny values stay exact
    if name == "softmax":
        np.testing.assert_allclose(a[0], [0, 0, 0, 0, 1], atol=1e-30)


@pytest.mark.parametrize("name", activations.names())
def test_derivative_matches_central_differences(xp: Any, name: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4)) * 2
    z[np.abs(z) < 1e-3] = 0.5  # relu has a kink at 0
    act = activations.get(name)
    h = 1e-6
    a = act.forward(dev(z))
    deriv = host(act.derivative(dev(z), a))
    if name == "softmax":  # the Jacobian per row: J[r, i, j] = da_i / dz_j
        for r in range(3):
            for j in range(4):
                up, down = z.copy(), z.copy()
                up[r, j] += h
                down[r, j] -= h
                col = (host(act.forward(dev(up)))[r] - host(act.forward(dev(down)))[r]) / (2 * h)
                np.testing.assert_allclose(deriv[r, :, j], col, atol=1e-8)
    else:
        fd = (host(act.forward(dev(z + h))) - host(act.forward(dev(z - h)))) / (2 * h)
        np.testing.assert_allclose(deriv, fd, atol=1e-8)


@pytest.mark.parametrize("name", activations.names())
def test_backward_is_the_vector_jacobian_product(xp: Any, name: str) -> None:
    rng = np.random.default_rng(1)
    z, delta = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    act = activations.get(name)
    a = act.forward(dev(z))
    got = host(act.backward(dev(delta), dev(z), a))
    deriv = host(act.derivative(dev(z), a))
    expected = np.einsum("ri,rij->rj", delta, deriv) if name == "softmax" else delta * deriv
    np.testing.assert_allclose(got, expected, atol=1e-14)
    inplace = dev(delta)
    act.backward(inplace, dev(z), a, out=inplace)
    np.testing.assert_allclose(host(inplace), expected, atol=1e-14)


def test_softmax_rows_sum_to_one_and_ignore_shifts(xp: Any) -> None:
    z = np.random.default_rng(2).normal(size=(5, 7)) * 10
    a = host(activations.softmax(dev(z)))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(host(activations.softmax(dev(z + 1000.0))), a, atol=1e-14)


def test_registry() -> None:
    assert activations.get(None) is activations.linear
    assert activations.get("ReLU") is activations.relu
    assert activations.get(activations.tanh) is activations.tanh
    with pytest.raises(ValueError, match="Unknown activation 'sigmpid'.*linear, relu, sigmoid"):
        activations.get("sigmpid")
