"""Each numba twin (fused/cpu.py) against its NumPy reference, at the shapes the workloads run.

A twin earns its place only if it beats the plain array code where the training step calls it.
Both contestants go through that call site (``Activation.forward``/``backward``, the dense
kernels' bias-and-activation and column sums, ``Loss.value_and_delta``, ``Adam.step``); the
``numpy`` one with the twins switched off, as without the ``fast`` extra. Shapes come from
workloads.py: each layer's ``(batch, units)``, and Adam over each network's parameters.
Each group of the table holds one twin at one shape, so its ratio column reads numba / numpy.
The twins not on any workload's path (sigmoid without a bias, BCE from logits, sparse CE of
probabilities, CE against one-hot rows, softmax, mean squared error) are timed at the shapes of
the workload closest to them.

Inputs keep their size from round to round (a bias of zeros, a sigmoid output whose
``a (1 - a)`` is -1): values drifting to infinity or into denormals would time something else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from xpnn import activations, kernels, losses, optimizers
from xpnn.fused import cpu

from workloads import WORKLOADS

PHI = (1 + 5**0.5) / 2  # PHI (1 - PHI) = -1


def _data(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def sigmoid_forward(shape: tuple[int, int]) -> Callable[[], Any]:
    z, a = _data(shape), np.empty(shape, np.float32)
    return lambda: activations.sigmoid.forward(z, out=a)


def _bias(name: str) -> Callable[[tuple[int, int]], Callable[[], Any]]:
    def setup(shape: tuple[int, int]) -> Callable[[], Any]:
        z, b, a = _data(shape), np.zeros(shape[1], np.float32), np.empty(shape, np.float32)
        act = activations.get(name)
        return lambda: kernels._add_bias_and_activate(z, b, act, a)

    return setup


def _backward(name: str) -> Callable[[tuple[int, int]], Callable[[], Any]]:
    def setup(shape: tuple[int, int]) -> Callable[[], Any]:
        delta, z, a = _data(shape), _data(shape, 1), np.full(shape, PHI, np.float32)
        act = activations.get(name)
        return lambda: act.backward(delta, z, a, out=delta)

    return setup


def softmax_forward(shape: tuple[int, int]) -> Callable[[], Any]:
    z, a = _data(shape), np.empty(shape, np.float32)
    return lambda: activations.softmax.forward(z, out=a)


def softmax_backward(shape: tuple[int, int]) -> Callable[[], Any]:
    """In place on constant rows ``delta`` with every ``a`` equal to ``alpha``, the root of
    ``n alpha^2 = 1 + alpha``: then ``alpha (delta - n alpha delta) = -delta``, so delta keeps
    its size round after round."""
    n = shape[1]
    alpha = (1 + (1 + 4 * n) ** 0.5) / (2 * n)
    delta, a = np.ones(shape, np.float32), np.full(shape, alpha, np.float32)
    z = np.zeros(shape, np.float32)  # softmax's backward reads only a
    return lambda: activations.softmax.backward(delta, z, a, out=delta)


def column_sums(shape: tuple[int, int]) -> Callable[[], Any]:
    dz, db = _data(shape), np.empty(shape[1], np.float32)
    return lambda: kernels._column_sums(dz, db)


def _loss(loss: losses.Loss, act: activations.Activation) -> Callable[..., Callable[[], Any]]:
    def setup(shape: tuple[int, int]) -> Callable[[], Any]:
        rng = np.random.default_rng(1)
        a = act.forward(_data(shape))
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            y = rng.integers(0, shape[1], shape[0])
        elif isinstance(loss, losses.CategoricalCrossentropy):  # one-hot rows
            y = np.eye(shape[1], dtype=np.float32)[rng.integers(0, shape[1], shape[0])]
        else:
            y = rng.integers(0, 2, shape).astype(np.float32)
        delta = np.empty(shape, np.float32)
        return lambda: loss.value_and_delta(y, a, act, out=delta)

    return setup


def adam_update(shape: tuple[int]) -> Callable[[], Any]:
    w, g, opt = _data(shape), _data(shape, 1) * 1e-3, optimizers.Adam()
    return lambda: opt.step(w, g)


SETUPS: dict[str, Callable[..., Callable[[], Any]]] = {
    "sigmoid_forward": sigmoid_forward,
    "bias_sigmoid": _bias("sigmoid"),
    "bias_relu": _bias("relu"),
    "sigmoid_backward_inplace": _backward("sigmoid"),
    "relu_backward_inplace": _backward("relu"),
    "column_sums": column_sums,
    "softmax_forward": softmax_forward,
    "softmax_backward_inplace": softmax_backward,
    "bce_sigmoid": _loss(losses.BinaryCrossentropy(), activations.sigmoid),
    "bce_logits": _loss(losses.BinaryCrossentropy(from_logits=True), activations.linear),
    "softmax_ce_sparse(logits)": _loss(
        losses.SparseCategoricalCrossentropy(from_logits=True), activations.linear
    ),
    "softmax_ce_sparse(probabilities)": _loss(
        losses.SparseCategoricalCrossentropy(), activations.softmax
    ),
    "softmax_ce(logits)": _loss(
        losses.CategoricalCrossentropy(from_logits=True), activations.linear
    ),
    "mse": _loss(losses.MeanSquaredError(), activations.linear),
    "adam_update": adam_update,
}


def _cases() -> list[Any]:
    """(twin, shape, workload) for every call the workloads' training steps make."""
    cases: dict[tuple[str, tuple[int, ...]], str] = {}
    for w in WORKLOADS.values():
        hidden = [(w.batch, units) for units in w.hidden]
        output = (w.batch, w.outputs)
        for shape in hidden:
            cases.setdefault((f"bias_{w.activation}", shape), w.name)
            cases.setdefault((f"{w.activation}_backward_inplace", shape), w.name)
        for shape in [*hidden, output]:
            cases.setdefault(("column_sums", shape), w.name)
        params = sum(a * b + b for a, b in zip(w.units, w.units[1:]))
        cases.setdefault(("adam_update", (params,)), w.name)
        off_path = f"{w.name}'s shapes, off its path"
        if w.binary:  # a sigmoid output layer with binary cross-entropy
            cases.setdefault(("bias_sigmoid", output), w.name)
            cases.setdefault(("bce_sigmoid", output), w.name)
            for shape in [*hidden, output]:
                cases.setdefault(("sigmoid_forward", shape), off_path)
            cases.setdefault(("bce_logits", output), off_path)
        else:  # a linear output layer with sparse cross-entropy from logits
            cases.setdefault(("softmax_ce_sparse(logits)", output), w.name)
            cases.setdefault(("softmax_ce_sparse(probabilities)", output), off_path)
            cases.setdefault(("softmax_ce(logits)", output), f"{w.name}'s shapes, one-hot targets")
            softmax_out = f"{w.name}'s shapes, a softmax output layer"
            cases.setdefault(("softmax_forward", output), softmax_out)
            cases.setdefault(("softmax_backward_inplace", output), off_path)
            cases.setdefault(("mse", output), f"{w.name}'s shapes, a regression output")
    return [
        pytest.param(twin, shape, where, id=f"{twin}-{'x'.join(map(str, shape))}")
        for (twin, shape), where in cases.items()
    ]


@pytest.mark.skipif(not cpu.ENABLED, reason="numba (the 'fast' extra) absent")
@pytest.mark.parametrize("form", ["numba", "numpy"])
@pytest.mark.parametrize(("twin", "shape", "where"), _cases())
def test_fused_twin(
    benchmark: Any,
    monkeypatch: pytest.MonkeyPatch,
    twin: str,
    shape: tuple[int, ...],
    where: str,
    form: str,
) -> None:
    monkeypatch.setattr(cpu, "ENABLED", form == "numba")
    run = SETUPS[twin](shape)
    run()  # compiled (or loaded from numba's cache) before the clock starts
    benchmark.group = f"fused {twin}, {' x '.join(map(str, shape))} ({where})"
    benchmark.extra_info.update(twin=twin, shape=list(shape), workload=where, form=form)
    benchmark(run)
