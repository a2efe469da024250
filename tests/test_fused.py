"""Each fused twin against its reference: the plain array code that runs when it is switched off.

The twins are numba kernels on NumPy arrays (fused/cpu.py, with the ``fast`` extra) and CUDA
kernels on CuPy arrays (fused/cuda.py, on a GPU). Each test runs a twin directly, then the
library's own code with the twins switched off (activations.py, losses.py, kernels.py,
optimizers.py: the reference), on the same inputs, in float32 and float64. Where no exp, log
or pow is involved the results must be equal to the bit (the sign of zero included); where one
is, within a few units in the last place, since those functions' last bit differs between
libraries. Loss values are means, accumulated differently (float64 in the numba twins,
pairwise in the array's dtype in NumPy), so they get a tolerance of a few ulps too.

CUDA-only checks (graph replay, labels out of range) are in test_fused_cuda.py; that every
CUDA kernel compiles is checked without a GPU in test_cuda_compile.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import activations, fused, kernels, losses, optimizers

from helpers import BACKEND_PARAMS

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
LABELS = ["int64", "int32", "uint8"]  # the host path's, and device labels' usual dtypes
SPECIAL = [0.0, -0.0, 1e4, -1e4, 88.0, -104.0, np.inf, -np.inf, np.nan]


@dataclass
class Twins:
    kernels: Any  # fused.cpu or fused.cuda
    xp: Any  # the array module whose arrays they take
    off: Callable[[], None]  # switch them off: from then on the reference runs


NUMBA = pytest.mark.skipif(not fused.cpu.ENABLED, reason="numba (the 'fast' extra) absent")
CUPY_MARKS = next(p.marks for p in BACKEND_PARAMS if p.values == ("cupy",))  # gpu, skip without


@pytest.fixture(
    params=[
        pytest.param("numpy", id="numba", marks=NUMBA),
        pytest.param("cupy", id="cuda", marks=CUPY_MARKS),
    ]
)
def twins(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    module = fused.cpu if request.param == "numpy" else fused.cuda
    with xpnn.use_backend(request.param):
        yield Twins(
            module,
            xpnn.get_xp(),
            lambda: monkeypatch.setattr(module, "accepts", lambda *arrays: False),
        )


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """The special values (inf, NaN) make the reference warn; the twins must match it anyway."""
    with np.errstate(all="ignore"):
        yield


def dev(a: np.ndarray) -> Any:
    """A copy of ``a`` on the active backend (NumPy's to_device may return ``a`` itself)."""
    return xpnn.to_device(a.copy())


def host(a: Any) -> np.ndarray:
    return xpnn.to_numpy(a)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal to the bit: the dtype, every value, NaN where NaN (of any sign: its bits mean
    nothing), and the sign of every zero."""
    actual, expected = host(actual), host(expected)
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)
    number = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(actual[number]), np.signbit(expected[number]))


def assert_close(actual: Any, expected: Any, scale: float = 0.0, ulps: int = 4) -> None:
    """Equal within a few units in the last place, relative to each value or to ``scale``
    (the size of the terms where a difference cancels most of them)."""
    actual, expected = host(actual), host(expected)
    assert actual.dtype == expected.dtype
    eps = float(np.finfo(expected.dtype).eps)
    np.testing.assert_allclose(actual, expected, rtol=ulps * eps, atol=ulps * eps * scale)


def assert_close_value(actual: Any, expected: Any, dtype: Any) -> None:
    """Mean losses: summed in different orders, so within a few ulps of the mean."""
    eps = float(np.finfo(dtype).eps)
    assert float(host(actual)) == pytest.approx(float(host(expected)), rel=8 * eps)


def logits(dtype: Any, shape: tuple[int, int] = (33, 17), seed: int = 0) -> np.ndarray:
    """Normal values of all sizes, and the special ones in the first row."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape) * rng.choice([0.01, 1.0, 30.0], size=shape)
    z.flat[: len(SPECIAL)] = SPECIAL[: z.size]
    return z.astype(dtype)


# -- activations --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_forward(twins: Twins, dtype: Any) -> None:
    z = logits(dtype)
    fast = twins.kernels.sigmoid_forward(dev(z), dev(np.empty_like(z)))
    twins.off()
    ref = activations.sigmoid.forward(dev(z), out=dev(np.empty_like(z)))
    assert_close(fast, ref)


@pytest.mark.parametrize("name", ["sigmoid", "relu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_in_place(twins: Twins, dtype: Any, name: str) -> None:
    z = logits(dtype, seed=1)
    a = activations.get(name).forward(z)
    a.flat[:3] = [0.0, 1.0, 0.5]
    delta = logits(dtype, seed=2)
    fast = dev(delta)
    getattr(twins.kernels, f"{name}_backward_inplace")(fast, dev(z) if name == "relu" else dev(a))
    twins.off()
    ref = dev(delta)
    activations.get(name).backward(ref, dev(z), dev(a), out=ref)
    assert_same(fast, ref)


@pytest.mark.parametrize("batch", [33, 1], ids=["batch", "one-row"])
@pytest.mark.parametrize("name", ["sigmoid", "relu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_and_activation(twins: Twins, dtype: Any, name: str, batch: int) -> None:
    z, b = logits(dtype, (batch, 17), seed=3), logits(dtype, (1, 17), seed=4)[0]
    act = activations.get(name)
    z_fast, a_fast = dev(z), dev(np.empty_like(z))
    getattr(twins.kernels, f"bias_{name}")(z_fast, dev(b), a_fast)
    twins.off()
    z_ref, a_ref = dev(z), dev(np.empty_like(z))
    kernels._add_bias_and_activate(z_ref, dev(b), act, a_ref)
    assert_same(z_fast, z_ref)
    if name == "relu":
        assert_same(a_fast, a_ref)
    else:
        assert_close(a_fast, a_ref)


@NUMBA
@pytest.mark.parametrize("columns", [17, 80], ids=["narrow", "wide"])  # one loop for each
@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_relu_in_place(dtype: Any, columns: int) -> None:
    """A training stack's ReLU layer keeps ``a`` in ``z``'s buffer (layers.DenseStack, CPU
    only): with ``out`` the very array ``z``, it ends up holding the reference's ``a``, bit for
    bit."""
    z, b = logits(dtype, (33, columns), seed=5), logits(dtype, (1, columns), seed=6)[0]
    shared = z.copy()
    assert fused.cpu.bias_relu(shared, b, shared) is shared
    z_ref, a_ref = z.copy(), np.empty_like(z)
    z_ref += b
    np.maximum(z_ref, 0.0, out=a_ref)  # the reference: activations.relu
    assert_same(shared, a_ref)


@pytest.mark.parametrize("shape", [(33, 17), (130, 3), (1, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_forward(twins: Twins, dtype: Any, shape: tuple[int, int]) -> None:
    """Rows of every size and the special values (in the first rows: NaN rows, as NumPy's),
    also in place (``out`` is ``z``); finite rows sum to 1."""
    z = logits(dtype, shape, seed=12)
    fast = twins.kernels.softmax_forward(dev(z), dev(np.empty_like(z)))
    in_place = dev(z)
    twins.kernels.softmax_forward(in_place, in_place)
    twins.off()
    ref = activations.softmax.forward(dev(z), out=dev(np.empty_like(z)))
    assert_close(fast, ref)
    assert_same(in_place, fast)
    rows = host(fast)[np.isfinite(z).all(axis=1)]
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=8 * np.finfo(dtype).eps * shape[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_in_place(twins: Twins, dtype: Any) -> None:
    """``a (delta - sum(delta a))``: the row sums are added in another order than NumPy's
    pairwise one, so within a few ulps of the terms that cancel."""
    z = logits(dtype, (33, 17), seed=13)
    z[~np.isfinite(z)] = 0.0
    a = activations.softmax.forward(z)
    delta = logits(dtype, (33, 17), seed=14)
    delta[~np.isfinite(delta)] = 1.0
    fast = dev(delta)
    twins.kernels.softmax_backward_inplace(fast, dev(a))
    twins.off()
    ref = dev(delta)
    activations.softmax.backward(ref, dev(z), dev(a), out=ref)
    scale = np.abs(delta).max(axis=1, keepdims=True) * a.max(axis=1, keepdims=True)
    assert_close(fast, ref, scale=float(scale.max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_mse_is_the_reference_array_code(dtype: Any) -> None:
    """fused.cuda.mse is the reference's array code: on NumPy arrays, its numbers to the bit."""
    a, y = logits(dtype, (40, 3), seed=17), logits(dtype, (40, 3), seed=18)
    delta = np.empty_like(a)
    value = fused.cuda.mse(a, y, delta)
    loss = losses.MeanSquaredError()
    assert_same(np.asarray(value), np.asarray(loss.value(y, a)))
    assert_same(delta, loss.gradient(y, a, np.empty_like(a)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_softmax_is_the_reference_array_code(dtype: Any) -> None:
    """fused.cuda's softmax twins are the reference's array code: on NumPy arrays (no GPU
    needed) they give its numbers to the bit."""
    z = logits(dtype, (40, 5), seed=15)
    fast = fused.cuda.softmax_forward(z, np.empty_like(z))
    assert_same(fast, activations.softmax_rows(z))
    z[~np.isfinite(z)] = 0.0
    a, delta = activations.softmax_rows(z), logits(dtype, (40, 5), seed=16)
    ref = activations.softmax_rows_backward(delta, a)
    assert_same(fused.cuda.softmax_backward_inplace(delta, a), ref)


@pytest.mark.parametrize("shape", [(33, 17), (1024, 7), (1, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_column_sums(twins: Twins, dtype: Any, shape: tuple[int, int]) -> None:
    dz = logits(dtype, shape, seed=5)
    dz[:, 0] = -0.0  # a column of negative zeros sums to +0.0
    fast = twins.kernels.column_sums(dev(dz), dev(np.empty(shape[1], dtype)))
    twins.off()
    ref = kernels._column_sums(dev(dz), dev(np.empty(shape[1], dtype)))
    assert_same(fast, ref)


# -- output layer: the loss and dL/dz together --------------------------------------------------
EPS = losses.EPSILON
LOSSES = {  # loss, output activation, the twin's call
    "bce": (
        losses.BinaryCrossentropy(),
        activations.sigmoid,
        lambda k, a, y, delta: k.bce_sigmoid(a, y, delta, EPS),
    ),
    "bce-logits": (
        losses.BinaryCrossentropy(from_logits=True),
        activations.linear,
        lambda k, a, y, delta: k.bce_logits(a, y, delta),
    ),
    "scce": (
        losses.SparseCategoricalCrossentropy(),
        activations.softmax,
        lambda k, a, y, delta: k.softmax_ce_sparse(a, y, delta, False, EPS),
    ),
    "scce-logits": (
        losses.SparseCategoricalCrossentropy(from_logits=True),
        activations.linear,
        lambda k, a, y, delta: k.softmax_ce_sparse(a, y, delta, True, EPS),
    ),
    "cce": (
        losses.CategoricalCrossentropy(),
        activations.softmax,
        lambda k, a, y, delta: k.softmax_ce(a, y, delta, False, EPS),
    ),
    "cce-logits": (
        losses.CategoricalCrossentropy(from_logits=True),
        activations.linear,
        lambda k, a, y, delta: k.softmax_ce(a, y, delta, True, EPS),
    ),
    "mse": (
        losses.MeanSquaredError(),
        activations.linear,
        lambda k, a, y, delta: k.mse(a, y, delta),
    ),
}


@pytest.mark.parametrize(
    ("name", "targets"),
    [(name, "float") for name in ("bce", "bce-logits", "cce", "cce-logits", "mse")]
    + [(name, labels) for name in ("scce", "scce-logits") for labels in LABELS],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_delta(twins: Twins, dtype: Any, name: str, targets: str) -> None:
    loss, act, fast = LOSSES[name]
    sparse = targets != "float"
    rng = np.random.default_rng(6)
    categorical = isinstance(loss, losses.CategoricalCrossentropy)
    z = logits(dtype, (65, 10 if sparse else 4 if categorical else 3), seed=7)
    z[~np.isfinite(z)] = 0.0
    a = act.forward(z)  # probabilities: saturated ones (clipped) in the first row
    if sparse:
        y = rng.integers(0, 10, 65).astype(targets)
    elif categorical:  # one-hot rows, and rows of probabilities
        y = np.eye(a.shape[1], dtype=dtype)[rng.integers(0, a.shape[1], a.shape[0])]
        y[::3] = rng.dirichlet(np.ones(a.shape[1]), size=y[::3].shape[0])
    else:
        y = rng.choice([0.0, 1.0, 0.25], size=a.shape).astype(dtype)
    a_dev, y_dev, delta = dev(a), dev(y), dev(np.empty_like(a))
    value = fast(twins.kernels, a_dev, y_dev, delta)
    twins.off()
    ref_value, ref_delta = loss.value_and_delta(dev(y), dev(a), act, out=dev(np.empty_like(a)))
    assert_close_value(value, ref_value, dtype)
    if loss.from_logits:  # an exp, and the target cancels most of it: ulps of 1, / the divisor
        per_row = isinstance(loss, losses._CategoricalBase)  # divided by the batch, not the size
        assert_close(delta, ref_delta, scale=1 / (a.shape[0] if per_row else a.size))
    else:  # (a - y) / n: the same operations
        assert_same(delta, ref_delta)
    assert_same(a_dev, a)  # inputs untouched
    np.testing.assert_array_equal(host(y_dev), y)


@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probabilities"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_categorical_ce_is_the_reference_array_code(
    monkeypatch: pytest.MonkeyPatch, dtype: Any, from_logits: bool
) -> None:
    """fused.cuda.softmax_ce has no kernel of its own: it is the reference's array code, so on
    NumPy arrays (no GPU needed) it gives the reference's numbers to the bit (the numba twins
    off: the reference's softmax would take one)."""
    monkeypatch.setattr(fused.cpu, "accepts", lambda *arrays: False)
    rng = np.random.default_rng(9)
    z = logits(dtype, (40, 5), seed=11)
    z[~np.isfinite(z)] = 0.0
    act = activations.linear if from_logits else activations.softmax
    a = act.forward(z)
    y = rng.dirichlet(np.ones(5), size=40).astype(dtype)
    y[::2] = np.eye(5, dtype=dtype)[rng.integers(0, 5, 20)]
    delta = np.empty_like(a)
    value = fused.cuda.softmax_ce(a, y, delta, from_logits, EPS)
    loss = losses.CategoricalCrossentropy(from_logits=from_logits)
    ref_value = loss.value(y, a)
    ref_delta = loss.output_delta(y, a, act, np.empty_like(a))
    assert_same(np.asarray(value), np.asarray(ref_value))
    assert_same(delta, ref_delta)


# -- optimizers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update(twins: Twins, dtype: Any) -> None:
    rng = np.random.default_rng(10)
    w0 = rng.normal(size=1000).astype(dtype)
    grads = (rng.normal(size=(5, 1000)) * rng.choice([1e-4, 1.0, 1e3], size=1000)).astype(dtype)
    hyper = {"beta_1": 0.8, "beta_2": 0.99, "eps": 1e-6}  # not the defaults: none mixed up
    w, m, v = dev(w0), dev(np.zeros_like(w0)), dev(np.zeros_like(w0))
    t, lr = dev(np.zeros(1)), dev(np.full(1, 0.01))
    for g in grads:
        t += 1.0
        twins.kernels.adam_update(w, dev(g), m, v, t, lr, **hyper)
    twins.off()
    opt = optimizers.Adam(0.01, hyper["beta_1"], hyper["beta_2"], hyper["eps"])
    w_ref = dev(w0)
    for g in grads:
        opt.step(w_ref, dev(g))
    assert_same(m, opt.state["m"])
    assert_same(v, opt.state["v"])
    # the step size takes a pow (libm's here, NumPy's or CUDA's there): its last bit may differ
    assert_close(w, w_ref, scale=1.0)


# -- the whole step -----------------------------------------------------------------------------
def test_training_with_and_without_the_twins_agrees(twins: Twins) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)

    def run() -> tuple[dict, list]:
        model = xpnn.Sequential(
            [
                xpnn.Input((20,)),
                xpnn.Dense(16, "relu"),
                xpnn.Dense(8, "sigmoid"),
                xpnn.Dense(1, "sigmoid"),
            ],
            seed=7,
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
        return history.history, model.get_weights()

    hist_fast, w_fast = run()
    twins.off()
    hist_ref, w_ref = run()
    np.testing.assert_allclose(hist_fast["loss"], hist_ref["loss"], rtol=1e-5)
    assert hist_fast["accuracy"] == pytest.approx(hist_ref["accuracy"], abs=1e-2)
    for a, b in zip(w_fast, w_ref):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-4, atol=1e-5)


@NUMBA
def test_float32_exp_within_one_ulp_of_the_correctly_rounded_value() -> None:
    """The sigmoid kernels' float32 exp (fused.cpu._expf) over its whole range, subnormal
    results included: within 1 ulp of exp computed in float64 and rounded, where NumPy's own
    float32 exp is within 3; and the special values as NumPy gives them."""
    from numba import njit

    expf = fused.cpu._expf

    @njit
    def apply(x: np.ndarray, out: np.ndarray) -> None:
        for i in range(x.size):
            out[i] = expf(x[i])

    x = np.linspace(-103.97, 88.72, 2_000_001).astype(np.float32)
    x = np.concatenate([x, np.linspace(-1, 1, 200_001).astype(np.float32)])
    out = np.empty_like(x)
    apply(x, out)
    exact = np.exp(x.astype(np.float64)).astype(np.float32)
    ulps = np.abs(out.view(np.int32).astype(np.int64) - exact.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1
    numpy_ulps = np.abs(np.exp(x).view(np.int32).astype(np.int64) - exact.view(np.int32))
    assert numpy_ulps.max() <= 3  # the bound the twins' 4-ulp tolerance rests on

    special = np.array([*SPECIAL, -103.98, -103.97, 88.73, -200.0], dtype=np.float32)
    out = np.empty_like(special)
    apply(special, out)
    assert_same(out, np.exp(special))


@NUMBA
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 15, 16, 17, 1_000, 100_003])
def test_all_finite_finds_any_non_finite_value(dtype: Any, size: int) -> None:
    """The search for NaN and infinity of the compiled paths (a maximum of exponent bits):
    every position (vector body and remainder), every kind, and the largest finite values,
    subnormals and signed zeros that are not."""
    info = np.finfo(dtype)
    a = np.random.default_rng(size).standard_normal(size).astype(dtype)
    edges = np.array([info.max, -info.max, info.smallest_subnormal, -0.0, 0.0], dtype=dtype)
    a[: min(size, 5)] = edges[: min(size, 5)]
    assert fused.cpu.all_finite(a) and fused.cpu.all_finite(a.reshape(1, -1))
    for at in sorted({0, size // 2, size - 1}):
        for value in (np.nan, np.inf, -np.inf, -np.nan):
            bad = a.copy()
            bad[at] = value
            assert not fused.cpu.all_finite(bad), (at, value)
