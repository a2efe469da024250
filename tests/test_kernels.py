"""The dense kernels: the per-neuron loop and the matrix form agree, and both are right."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xpnn
from xpnn import activations, losses
from xpnn.kernels import (
    dense_backward_loop,
    dense_backward_matrix,
    dense_forward_loop,
    dense_forward_matrix,
)

dev, host = xpnn.to_device, xpnn.to_numpy
ACTIVATIONS = activations.names()


def _layer(rng: np.random.Generator, batch: int, inputs: int, units: int):
    return (
        rng.normal(size=(batch, inputs)),
        rng.normal(size=(inputs, units)),
        rng.normal(size=units),
        rng.normal(size=(batch, units)),
    )


# the fixture only selects the backend, so sharing it across examples is safe
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.integers(1, 6),
    inputs=st.integers(1, 6),
    units=st.integers(1, 5),
    name=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**16),
)
def test_loop_and_matrix_agree(xp: Any, batch, inputs, units, name, seed) -> None:
    x, W, b, delta = (dev(v) for v in _layer(np.random.default_rng(seed), batch, inputs, units))
    act = activations.get(name)
    z1, a1 = dense_forward_loop(x, W, b, act)
    z2, a2 = dense_forward_matrix(x, W, b, act)
    np.testing.assert_allclose(host(z1), host(z2), rtol=0, atol=1e-10)
    np.testing.assert_allclose(host(a1), host(a2), rtol=0, atol=1e-10)
    g1 = dense_backward_loop(delta.copy(), x, W, z1, a1, act)
    g2 = dense_backward_matrix(delta.copy(), x, W, z2, a2, act)
    for p, q in zip(g1, g2):
        np.testing.assert_allclose(host(p), host(q), rtol=0, atol=1e-10)


@pytest.mark.parametrize("form", ["loop", "matrix"])
def test_out_buffers_no_bias_and_no_dx(xp: Any, form: str) -> None:
    forward, backward = xpnn.kernels.KERNELS[form]
    x, W, _, delta = (dev(v) for v in _layer(np.random.default_rng(0), 4, 3, 2))
    act = activations.tanh
    z_ref, a_ref = dense_forward_matrix(x, W, None, act)
    z, a = xp.empty((4, 2)), xp.empty((4, 2))
    z_out, a_out = forward(x, W, None, act, out=(z, a))
    np.testing.assert_allclose(host(a), host(a_ref), atol=1e-12)  # written into the buffer
    np.testing.assert_allclose(host(a_out), host(a_ref), atol=1e-12)
    dW = xp.empty_like(W)
    ref = dense_backward_matrix(delta.copy(), x, W, z_ref, a_ref, act)
    got = backward(delta.copy(), x, W, z, a, act, need_dx=False, out=(dW, None, None))
    assert got[1] is None and got[2] is None
    np.testing.assert_allclose(host(dW), host(ref[0]), atol=1e-12)


def test_float32_stays_float32(xp: Any) -> None:
    x, W, b, delta = (dev(v, dtype=np.float32) for v in _layer(np.random.default_rng(1), 5, 4, 3))
    z, a = dense_forward_matrix(x, W, b, activations.sigmoid)
    dW, db, dx = dense_backward_matrix(delta, x, W, z, a, activations.sigmoid)
    assert {v.dtype for v in (z, a, dW, db, dx)} == {np.dtype(np.float32)}


# -- a 3-layer network from the kernels, against float64 central differences ---------------
NET = [(5, 4, "tanh"), (4, 3, "sigmoid"), (3, 2, "softmax")]


def _params(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for inputs, units, _ in NET:
        out += [rng.normal(size=(inputs, units)), rng.normal(size=units)]
    return out


def _loss(params: list, x: Any, y: Any, loss: losses.Loss) -> float:
    a = x
    for k, (_, _, name) in enumerate(NET):
        a = dense_forward_matrix(a, params[2 * k], params[2 * k + 1], activations.get(name))[1]
    return float(host(loss.value(y, a)))


def _backprop(params: list, x: Any, y: Any, loss: losses.Loss, form: str, shortcut: bool):
    forward, backward = xpnn.kernels.KERNELS[form]
    cache, a = [], x
    for k, (_, _, name) in enumerate(NET):
        z, a_next = forward(a, params[2 * k], params[2 * k + 1], activations.get(name))
        cache.append((a, z, a_next))
        a = a_next
    out_act = activations.get(NET[-1][2])
    delta = loss.output_delta(y, a, out_act) if shortcut else None
    act = activations.linear
    if delta is None:
        delta, act = loss.gradient(y, a), out_act
    grads: list = [None] * len(params)
    for k in range(len(NET) - 1, -1, -1):
        x_in, z, a_out = cache[k]
        dW, db, dx = backward(delta, x_in, params[2 * k], z, a_out, act, need_dx=k > 0)
        grads[2 * k], grads[2 * k + 1] = dW, db
        if k:
            delta, act = dx, activations.get(NET[k - 1][2])
    return grads


@pytest.mark.parametrize("form", ["loop", "matrix"])
@pytest.mark.parametrize("shortcut", [False, True], ids=["chained", "output_delta"])
def test_backward_matches_finite_differences(xp: Any, form: str, shortcut: bool) -> None:
    rng = np.random.default_rng(2)
    x = dev(rng.normal(size=(6, 5)))
    y = dev(rng.integers(0, 2, 6))
    loss = losses.SparseCategoricalCrossentropy()
    params = [dev(p) for p in _params(3)]
    grads = _backprop(params, x, y, loss, form, shortcut)
    h = 1e-6
    for p, g in zip(params, grads):
        flat_p, g = p.reshape(-1), host(g).reshape(-1)
        for i in range(flat_p.size):
            old = host(flat_p[i : i + 1])[0]
            flat_p[i] = old + h
            up = _loss(params, x, y, loss)
            flat_p[i] = old - h
            down = _loss(params, x, y, loss)
            flat_p[i] = old
            fd = (up - down) / (2 * h)
            assert abs(g[i] - fd) <= 1e-6 * max(1.0, abs(fd)), (i, g[i], fd)


def test_seed_notes_backward_is_wrong_and_ours_is_right() -> None:
    """The seed's loop multiplied only db by g'(z); with it, dW disagrees with the math."""
    rng = np.random.default_rng(4)
    x, W, b, delta = _layer(rng, 1, 3, 2)
    z, a = dense_forward_loop(x, W, b, activations.sigmoid)
    dW, _, _ = dense_backward_loop(delta.copy(), x, W, z, a, activations.sigmoid)
    seed_dW = np.outer(x[0], delta[0])  # dW[:, j] = dA[j] * A_in, no g'(z)
    assert not np.allclose(dW, seed_dW)
    np.testing.assert_allclose(dW, np.outer(x[0], delta[0] * a[0] * (1 - a[0])), atol=1e-12)
