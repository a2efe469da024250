"""The dense kernels: the per-neuron loop and the matrix form are true twins, both are right,
and the training step's ``_into`` forms give the matrix twin's numbers.

Agreement is checked over random shapes and every activation (hypothesis); rightness against a
plain-NumPy reference layer and, for a whole 3-layer network, against float64 central
differences of a loss computed independently of xpnn. "Twins" covers side effects as well as
numbers: the same signature, and no input modified.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xpnn
from xpnn import activations, fused, losses
from xpnn.backend import array_module
from xpnn.kernels import (
    KERNELS,
    dense_backward_into,
    dense_backward_loop,
    dense_backward_matrix,
    dense_forward_into,
    dense_forward_loop,
    dense_forward_matrix,
)

dev, host = xpnn.to_device, xpnn.to_numpy
NAMES = activations.names()
FORMS = ["loop", "matrix"]
NAN = float("nan")


# -- a plain-NumPy reference layer --------------------------------------------------------------
def _ref_activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax
    return e / e.sum(axis=1, keepdims=True)


def _ref_delta_z(name: str, z: np.ndarray, a: np.ndarray, delta: np.ndarray) -> np.ndarray:
    if name == "linear":
        return delta
    if name == "relu":
        return delta * (z > 0)
    if name == "sigmoid":
        return delta * a * (1 - a)
    if name == "tanh":
        return delta * (1 - a * a)
    # softmax: dz_j = sum_i delta_i a_i (delta_ij - a_j) = a_j (delta_j - sum_i delta_i a_i)
    return a * (delta - (delta * a).sum(axis=1, keepdims=True))


def _layer(seed: int, batch: int, inputs: int, units: int, dtype: Any = np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, inputs))
    W = rng.normal(size=(inputs, units))
    b = rng.normal(size=units)
    delta = rng.normal(size=(batch, units))
    return tuple(v.astype(dtype) for v in (x, W, b, delta))


# -- side effects: what a kernel may and may not write ------------------------------------------
def _snapshot(**arrays: Any) -> dict[str, np.ndarray]:
    """Host copies of the arrays (None skipped); ``to_numpy`` of a NumPy array is no copy."""
    return {k: host(v).copy() for k, v in arrays.items() if v is not None}


def _assert_unchanged(before: dict[str, np.ndarray], **arrays: Any) -> None:
    for k, want in before.items():
        np.testing.assert_array_equal(host(arrays[k]), want, err_msg=f"{k} was modified")


def _nans(xp: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """A buffer full of NaN: any entry a kernel fails to write shows up in the comparison."""
    return xp.full(shape, NAN, dtype=dtype)


# -- the twins have one signature ----------------------------------------------------------------
def test_the_twins_take_the_same_arguments() -> None:
    assert inspect.signature(dense_forward_loop) == inspect.signature(dense_forward_matrix)
    assert inspect.signature(dense_backward_loop) == inspect.signature(dense_backward_matrix)
    # and exactly these, with no options: buffers belong to the _into forms
    assert list(inspect.signature(dense_forward_loop).parameters) == ["x", "W", "b", "activation"]
    assert list(inspect.signature(dense_backward_loop).parameters) == [
        *("delta_a", "x", "W", "z", "a", "activation")
    ]
    assert KERNELS == {
        "loop": (dense_forward_loop, dense_backward_loop),
        "matrix": (dense_forward_matrix, dense_backward_matrix),
    }


# -- loop = matrix = reference, over random shapes ----------------------------------------------
# The xp fixture only selects the backend, so sharing it across hypothesis examples is safe.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.integers(1, 6),
    inputs=st.integers(1, 6),
    units=st.integers(1, 5),
    name=st.sampled_from(NAMES),
    seed=st.integers(0, 2**16),
    use_bias=st.booleans(),
    need_dx=st.booleans(),
)
def test_loop_matrix_and_into_agree(
    xp: Any, batch, inputs, units, name, seed, use_bias, need_dx
) -> None:
    _check_twins(xp, batch, inputs, units, name, seed, use_bias)
    _check_into(xp, batch, inputs, units, name, seed, use_bias, need_dx)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_loop_and_matrix_agree_for_every_activation(xp: Any, use_bias: bool) -> None:
    """Every activation, with and without a bias, whatever hypothesis draws."""
    for k, name in enumerate(NAMES):
        _check_twins(xp, 3, 4, 3, name, k, use_bias)


def _check_twins(
    xp: Any, batch: int, inputs: int, units: int, name: str, seed: int, use_bias: bool
) -> None:
    """Both forms against each other and against the plain-NumPy reference layer."""
    x_h, W_h, b_h, delta_h = _layer(seed, batch, inputs, units)
    x, W, delta = dev(x_h), dev(W_h), dev(delta_h)
    b = dev(b_h) if use_bias else None
    act = activations.get(name)

    z_ref = x_h @ W_h + (b_h if use_bias else 0.0)
    a_ref = _ref_activation(name, z_ref)
    dz_ref = _ref_delta_z(name, z_ref, a_ref, delta_h)
    expected = {
        "z": z_ref,
        "a": a_ref,
        "dW": x_h.T @ dz_ref,
        "db": dz_ref.sum(axis=0),  # returned with or without a bias (the caller ignores it)
        "dx": dz_ref @ W_h.T,  # always returned, even where nobody needs it
    }

    results = {}
    for form in FORMS:
        forward, backward = KERNELS[form]
        z, a = forward(x, W, b, act)
        dW, db, dx = backward(delta, x, W, z, a, act)
        got = {"z": z, "a": a, "dW": dW, "db": db, "dx": dx}
        for v in got.values():
            assert array_module(v) is xp
        results[form] = {k: host(v) for k, v in got.items()}
    _assert_unchanged(_snapshot(x=x_h, delta=delta_h), x=x, delta=delta)

    for key, want in expected.items():
        loop, matrix = results["loop"][key], results["matrix"][key]
        assert loop.shape == matrix.shape == want.shape, key
        np.testing.assert_allclose(loop, matrix, rtol=1e-10, atol=1e-10, err_msg=key)
        np.testing.assert_allclose(matrix, want, rtol=1e-10, atol=1e-10, err_msg=key)


# -- twins in side effects: no input modified, results the caller's own --------------------------
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("form", FORMS)
def test_the_twins_modify_no_input(xp: Any, form: str, use_bias: bool) -> None:
    forward, backward = KERNELS[form]
    for k, name in enumerate(NAMES):
        act = activations.get(name)
        x, W, b, delta = (dev(v) for v in _layer(k, 4, 3, 5))
        b = b if use_bias else None

        before = _snapshot(x=x, W=W, b=b)
        z, a = forward(x, W, b, act)
        _assert_unchanged(before, x=x, W=W, b=b)

        before_bwd = _snapshot(delta=delta, x=x, W=W, z=z, a=a)
        dW, db, dx = backward(delta, x, W, z, a, act)
        _assert_unchanged(before_bwd, delta=delta, x=x, W=W, z=z, a=a)

        # The results share no memory with the inputs: the caller may overwrite them (z and a
        # may be one array for a linear activation, which is an output of the forward only).
        for v in (dW, db, dx):
            v[...] = NAN
        _assert_unchanged(before_bwd, delta=delta, x=x, W=W, z=z, a=a)
        z[...] = NAN
        a[...] = NAN
        _assert_unchanged(before, x=x, W=W, b=b)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", FORMS)
def test_float32_in_float32_out(xp: Any, form: str, name: str) -> None:
    forward, backward = KERNELS[form]
    x, W, b, delta = (dev(v) for v in _layer(1, 5, 4, 3, np.float32))
    act = activations.get(name)
    z, a = forward(x, W, b, act)
    dW, db, dx = backward(delta, x, W, z, a, act)
    for v in (z, a, dW, db, dx):
        assert v.dtype == np.float32 and array_module(v) is xp
    # and the numbers are the float64 ones to float32 precision
    x32, W32, b32, d32 = _layer(1, 5, 4, 3, np.float32)
    z_ref = x32.astype(np.float64) @ W32 + b32
    np.testing.assert_allclose(host(z), z_ref, rtol=1e-5, atol=1e-5)
    dz_ref = _ref_delta_z(name, z_ref, _ref_activation(name, z_ref), d32.astype(np.float64))
    np.testing.assert_allclose(host(dW), x32.T @ dz_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(host(db), dz_ref.sum(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(host(dx), dz_ref @ W32.T, rtol=1e-4, atol=1e-5)


def test_seed_notes_backward_is_wrong_and_ours_is_right(xp: Any) -> None:
    """The seed's loop multiplied only db by g'(z); dW and dx need it as well."""
    x_h, W_h, b_h, delta_h = _layer(4, 1, 3, 2)
    z, a = dense_forward_loop(dev(x_h), dev(W_h), dev(b_h), activations.sigmoid)
    dW, db, dx = dense_backward_loop(dev(delta_h), dev(x_h), dev(W_h), z, a, activations.sigmoid)
    a_h = host(a)[0]
    dz = delta_h[0] * a_h * (1 - a_h)
    seed_dW = np.outer(x_h[0], delta_h[0])  # dW[:, j] = dA[j] * A_in, no g'(z)
    assert not np.allclose(host(dW), seed_dW)
    np.testing.assert_allclose(host(dW), np.outer(x_h[0], dz), atol=1e-14)
    np.testing.assert_allclose(host(db), dz, atol=1e-14)
    np.testing.assert_allclose(host(dx), [W_h @ dz], atol=1e-14)


# -- the training step's forms: the matrix twin's numbers, into the given buffers ----------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("need_dx", [True, False], ids=["dx", "no_dx"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_into_forms_give_the_matrix_twins_numbers(
    xp: Any, use_bias: bool, need_dx: bool, dtype: Any
) -> None:
    for k, name in enumerate(NAMES):
        _check_into(xp, 4, 3, 5, name, k, use_bias, need_dx, dtype)


@pytest.mark.parametrize("need_dx", [True, False], ids=["dx", "no_dx"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_into_forms_take_a_as_z_for_a_linear_activation(
    xp: Any, use_bias: bool, need_dx: bool
) -> None:
    """The step gives a linear layer one buffer for both z and a."""
    _check_into(xp, 4, 3, 5, "linear", 3, use_bias, need_dx, alias=True)


def _check_into(
    xp: Any,
    batch: int,
    inputs: int,
    units: int,
    name: str,
    seed: int,
    use_bias: bool,
    need_dx: bool,
    dtype: Any = np.float64,
    alias: bool = False,
) -> None:
    """``dense_forward_into`` / ``dense_backward_into`` against the matrix twin: the same
    numbers, written into (and only into) the given buffers, which are what they return."""
    x, W, b, delta = (dev(v) for v in _layer(seed, batch, inputs, units, dtype))
    b = b if use_bias else None
    act = activations.get(name)
    z_m, a_m = dense_forward_matrix(x, W, b, act)
    dW_m, db_m, dx_m = dense_backward_matrix(delta, x, W, z_m, a_m, act)
    dz_m = act.backward(delta, z_m, a_m)
    # Bit for bit where the _into forms run the same array code; numba's or CUDA's fused
    # kernels (one-pass bias + activation, column sums) may differ in the last place.
    if fused.pick(x, W) is None:
        same = np.testing.assert_array_equal
    else:
        tol = 1e-12 if dtype == np.float64 else 1e-5
        same = functools.partial(np.testing.assert_allclose, rtol=tol, atol=tol)

    z = _nans(xp, (batch, units), dtype)
    a = z if alias else _nans(xp, (batch, units), dtype)
    before = _snapshot(x=x, W=W, b=b)
    assert dense_forward_into(x, W, b, act, z, a) is a
    _assert_unchanged(before, x=x, W=W, b=b)
    if not alias:  # with a as z, z holds a: the same numbers for a linear activation
        same(host(z), host(z_m), err_msg="z")
    same(host(a), host(a_m), err_msg="a")

    d = delta.copy()  # the step's delta buffer: overwritten with delta_z
    dW = _nans(xp, (inputs, units), dtype)
    db = _nans(xp, (units,), dtype) if use_bias else None  # no bias: no db
    dx = _nans(xp, (batch, inputs), dtype) if need_dx else None  # first layer: no dx
    before = _snapshot(x=x, W=W, z=z, a=a)
    assert dense_backward_into(d, x, W, z, a, act, dW, db, dx) is dx
    _assert_unchanged(before, x=x, W=W, z=z, a=a)
    same(host(d), host(dz_m), err_msg="delta_z")
    same(host(dW), host(dW_m), err_msg="dW")
    if db is not None:
        same(host(db), host(db_m), err_msg="db")
    if dx is not None:
        same(host(dx), host(dx_m), err_msg="dx")
    for v in (z, a, d, dW, db, dx):
        assert v is None or (v.dtype == dtype and array_module(v) is xp)


# -- a 3-layer network from the kernels, against float64 central differences ---------------
SIZES = [5, 4, 3, 2]
BATCH = 6
NET_FORMS = [*FORMS, "into"]

# name -> (activations per layer, loss, target kind)
NETS: dict[str, tuple[list[str], losses.Loss, str]] = {
    "softmax+scce": (
        ["tanh", "sigmoid", "softmax"],
        losses.SparseCategoricalCrossentropy(),
        "sparse",
    ),
    "softmax+cce": (["tanh", "sigmoid", "softmax"], losses.CategoricalCrossentropy(), "onehot"),
    "softmax+mse": (["tanh", "sigmoid", "softmax"], losses.MeanSquaredError(), "onehot"),
    "linear+scce_logits": (
        ["tanh", "sigmoid", "linear"],
        losses.SparseCategoricalCrossentropy(from_logits=True),
        "sparse",
    ),
    "linear+cce_logits": (
        ["sigmoid", "tanh", "linear"],
        losses.CategoricalCrossentropy(from_logits=True),
        "onehot",
    ),
    "sigmoid+bce": (["relu", "tanh", "sigmoid"], losses.BinaryCrossentropy(), "multilabel"),
    "linear+bce_logits": (
        ["tanh", "relu", "linear"],
        losses.BinaryCrossentropy(from_logits=True),
        "multilabel",
    ),
}
SHORTCUT_NETS = [k for k in NETS if not k.endswith("mse")]


def _data(kind: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(BATCH, SIZES[0]))
    labels = np.array([0, 1, 1, 0, 1, 0])
    y = {
        "sparse": labels,
        "onehot": np.eye(2)[labels],
        "multilabel": rng.integers(0, 2, (BATCH, 2)).astype(float),
    }[kind]
    params = []
    for inputs, units in zip(SIZES[:-1], SIZES[1:]):
        params += [rng.normal(size=(inputs, units)), rng.normal(size=units) * 0.5]
    return x, y, params


def _ref_loss(net: str, params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """The network's loss in plain NumPy, written from the formulas, not from xpnn."""
    names, loss, _ = NETS[net]
    a = x
    for k, name in enumerate(names):
        z = a @ params[2 * k] + params[2 * k + 1]
        if name == "relu":
            assert np.abs(z).min() > 1e-3, "too close to relu's kink for differences"
        a = _ref_activation(name, z)
    if isinstance(loss, losses.MeanSquaredError):
        return float(np.mean((a - y) ** 2))
    if isinstance(loss, losses.BinaryCrossentropy):
        if loss.from_logits:  # softplus(z) - z y, written naively: z is moderate here
            return float(np.mean(np.log1p(np.exp(a)) - a * y))
        return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))
    log_p = np.log(_ref_activation("softmax", a)) if loss.from_logits else np.log(a)
    onehot = np.eye(2)[y] if y.ndim == 1 else y
    return float(-np.mean((onehot * log_p).sum(axis=1)))


@functools.cache
def _finite_differences(net: str) -> tuple[np.ndarray, ...]:
    x, y, params = _data(NETS[net][2])
    h = 1e-5
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = _ref_loss(net, params, x, y)
            p[idx] = old - h
            down = _ref_loss(net, params, x, y)
            p[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return tuple(grads)


def _forward(form: str, x: Any, W: Any, b: Any, act: activations.Activation) -> tuple[Any, Any]:
    """One layer forward: a twin, or the _into form into fresh buffers (a as z if linear)."""
    if form != "into":
        return KERNELS[form][0](x, W, b, act)
    xp = array_module(x, W)
    z = xp.empty((x.shape[0], W.shape[1]), dtype=x.dtype)
    a = z if act is activations.linear else xp.empty_like(z)
    return z, dense_forward_into(x, W, b, act, z, a)


def _backward(
    form: str, delta: Any, x: Any, W: Any, b: Any, z: Any, a: Any, act: Any, need_dx: bool
) -> tuple[Any, Any, Any]:
    """One layer backward: ``(dW, db, dx)``; the _into form fills buffers (no dx if not needed)."""
    if form != "into":
        return KERNELS[form][1](delta, x, W, z, a, act)
    xp = array_module(x, W)
    dW, db = xp.empty_like(W), xp.empty_like(b)
    dx = xp.empty_like(x) if need_dx else None
    return dW, db, dense_backward_into(delta, x, W, z, a, act, dW, db, dx)


def _backprop(net: str, form: str, shortcut: bool) -> tuple[float, list[np.ndarray]]:
    """Forward and backward through the kernels on the active backend; the loss and the
    gradients [dW1, db1, dW2, db2, dW3, db3] on the host."""
    names, loss, kind = NETS[net]
    x_h, y_h, params_h = _data(kind)
    params = [dev(p) for p in params_h]
    y = dev(y_h)
    acts = [activations.get(n) for n in names]
    cache, a = [], dev(x_h)
    for k, act in enumerate(acts):
        z, a_next = _forward(form, a, params[2 * k], params[2 * k + 1], act)
        cache.append((a, z, a_next))
        a = a_next
    value = float(host(loss.value(y, a)))
    if shortcut:
        # dL/dz of the output layer in one step; linear's backward then passes it through
        delta, act = loss.output_delta(y, a, acts[-1]), activations.linear
        assert delta is not None
    else:
        delta, act = loss.gradient(y, a), acts[-1]  # dL/da, chained through g'(z)
    grads: list[Any] = [None] * len(params)
    for k in range(len(acts) - 1, -1, -1):
        x_in, z, a_out = cache[k]
        W, b = params[2 * k], params[2 * k + 1]
        dW, db, dx = _backward(form, delta, x_in, W, b, z, a_out, act, need_dx=k > 0)
        grads[2 * k], grads[2 * k + 1] = host(dW), host(db)
        if k:
            delta, act = dx, acts[k - 1]
    return value, grads


def _assert_gradients_close(grads: list[np.ndarray], reference: tuple[np.ndarray, ...]) -> None:
    labels = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
    for label, g, fd in zip(labels, grads, reference):
        assert g.shape == fd.shape, label
        # relative error per entry (the smallest entries here are about 5e-6; the floor only
        # keeps an entry that happened to be ~0 from dividing difference noise by ~0)
        rel = np.abs(g - fd) / np.maximum(np.maximum(np.abs(g), np.abs(fd)), 1e-6)
        assert rel.max() < 1e-6, (label, rel.max(), g, fd)


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("form", NET_FORMS)
def test_network_backward_matches_finite_differences(xp: Any, form: str, net: str) -> None:
    value, grads = _backprop(net, form, shortcut=False)
    x, y, params = _data(NETS[net][2])
    assert value == pytest.approx(_ref_loss(net, params, x, y), rel=1e-12)
    _assert_gradients_close(grads, _finite_differences(net))


@pytest.mark.parametrize("net", SHORTCUT_NETS)
@pytest.mark.parametrize("form", NET_FORMS)
def test_output_layer_shortcut_gives_the_same_gradients(xp: Any, form: str, net: str) -> None:
    _, chained = _backprop(net, form, shortcut=False)
    _, shortcut = _backprop(net, form, shortcut=True)
    for g_chain, g_short in zip(chained, shortcut):
        np.testing.assert_allclose(g_short, g_chain, rtol=1e-10, atol=1e-13)
    _assert_gradients_close(shortcut, _finite_differences(net))


def test_mse_has_no_shortcut(xp: Any) -> None:
    _, y, _ = _data("onehot")
    a = activations.softmax.forward(dev(np.full((BATCH, 2), 0.3)))
    assert losses.MeanSquaredError().output_delta(dev(y), a, activations.softmax) is None
