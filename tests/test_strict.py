"""The strict stand-in backend (xpnn.testing.strict): CuPy's host boundary on top of NumPy.

Its tape, the stand-in for CUDA graph capture, is exercised through graphs.py in
test_graphs.py; here, what the tape promises on its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.backend import array_module
from xpnn.testing import strict
from xpnn.testing.strict import StrictArray, record_tape, transfer_counts

dev, host = xpnn.to_device, xpnn.to_numpy


def test_public_names() -> None:
    assert strict.__all__ == ["StrictArray", "record_tape", "transfer_counts", "xp"]
    assert xpnn.transfer_counts is transfer_counts  # re-exported at the top
    assert strict.xp.ndarray is StrictArray
    with xpnn.use_backend("strict") as backend:
        assert backend.xp is strict.xp
        assert type(dev(np.ones(2))) is StrictArray
        assert array_module(dev(np.ones(2))) is strict.xp


def test_strict_counts_transfers_and_resets() -> None:
    with xpnn.use_backend("strict") as backend:
        xp = backend.xp
        xpnn.transfer_counts(reset=True)
        d = dev(np.ones(3))  # h2d
        e = xp.asarray([1.0, 2.0, 3.0])  # h2d: host data onto the device
        assert xp.asarray(d) is not None  # device to device: no transfer
        f = (d * 2 + e).sum(axis=0) + xp.zeros(3)  # device work and allocation: no transfer
        host(f)  # d2h
        host(d)  # d2h
        assert xpnn.transfer_counts() == {"h2d": 2, "d2h": 2}
        assert xpnn.transfer_counts(reset=True) == {"h2d": 2, "d2h": 2}  # the counts before
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}


def test_numpy_backend_makes_no_transfers() -> None:
    with xpnn.use_backend("numpy"):
        xpnn.transfer_counts(reset=True)
        host(dev(np.ones(3)) * 2)
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}


# -- the strict stand-in: implicit conversions refused, as on CuPy ------------------------------
@pytest.mark.parametrize(
    "convert",
    [
        np.asarray,
        np.array,
        float,
        int,
        bool,
        complex,
        repr,
        str,
        lambda v: f"{v}",
        lambda v: f"{v:.3f}",
        lambda v: "%s" % v,  # noqa: UP031 - the old route to str must be closed too
        lambda v: v.item(),
        lambda v: v.tolist(),
        lambda v: np.float64(v),
        lambda v: [0, 1][v],
        lambda v: np.testing.assert_allclose(v, 1.0),
    ],
    ids=[
        "np.asarray",
        "np.array",
        "float",
        "int",
        "bool",
        "complex",
        "repr",
        "str",
        "f-string",
        "format",
        "percent",
        "item",
        "tolist",
        "np.float64",
        "index",
        "assert_allclose",
    ],
)
def test_strict_refuses_implicit_conversion(convert: Any) -> None:
    with xpnn.use_backend("strict"):
        xpnn.transfer_counts(reset=True)
        scalar = dev(np.ones(4)).sum()  # 0-d, the common case (a loss, a metric)
        matrix = dev(np.ones((2, 2)))
        for x in (scalar, matrix):
            assert isinstance(x, StrictArray)
            with pytest.raises(TypeError, match="Implicit conversion of a strict"):
                convert(x)
        assert xpnn.transfer_counts()["d2h"] == 0  # a refusal copies nothing home


def test_strict_hides_the_buffer_from_numpy() -> None:
    with xpnn.use_backend("strict"):
        x = dev(np.ones(3))
        assert not hasattr(x, "__array_interface__")
        with pytest.raises(TypeError):
            memoryview(x)  # type: ignore[arg-type]


def test_strict_rejects_host_arrays_in_device_operations() -> None:
    with xpnn.use_backend("strict") as backend:
        xp = backend.xp
        a = dev(np.ones((2, 3)))
        h = np.ones((2, 3))
        mixes = [
            lambda: a + h,
            lambda: h + a,
            lambda: a @ np.ones((3, 2)),
            lambda: np.multiply(a, h),
            lambda: xp.matmul(a, np.ones((3, 2))),
            lambda: xp.concatenate([a, h]),
            lambda: np.concatenate([a, h]),
            lambda: xp.add(a, a, out=np.empty((2, 3))),
        ]
        for mix in mixes:
            with pytest.raises(TypeError, match="NumPy array was passed to a strict"):
                mix()
        # host scalars (Python or NumPy, 0-d) are fine, as on CuPy
        r = a * 2 + np.float32(1) + np.array(1.0)
        np.testing.assert_array_equal(host(r), np.full((2, 3), 4.0))


# -- the tape: recording changes nothing; launch replays on the same arrays ----------------------
def test_tape_records_without_effect_and_replays() -> None:
    with xpnn.use_backend("strict"):
        w = dev(np.ones(3))
        g = dev(np.full(3, 0.5))

        def step() -> None:
            w[...] -= g  # in place, as an optimizer writes its parameters
            g[...] *= 2.0

        tape = record_tape(step)
        np.testing.assert_array_equal(host(w), [1.0, 1.0, 1.0])  # recording wrote nothing
        np.testing.assert_array_equal(host(g), [0.5, 0.5, 0.5])
        tape.launch()
        np.testing.assert_array_equal(host(w), [0.5, 0.5, 0.5])
        tape.launch()  # the same operations on the same arrays: g has doubled since
        np.testing.assert_array_equal(host(w), [-0.5, -0.5, -0.5])


def test_tape_bakes_in_host_scalars() -> None:
    with xpnn.use_backend("strict"):
        w = dev(np.zeros(2))
        rate = [1.0]

        def step() -> None:
            w[...] += rate[0]  # a Python float: recorded by value, as a graph bakes it in

        tape = record_tape(step)
        rate[0] = 10.0
        tape.launch()
        np.testing.assert_array_equal(host(w), [1.0, 1.0])


@pytest.mark.parametrize(
    "transfer", [lambda w: host(w), lambda w: dev(np.ones(2))], ids=["d2h", "h2d"]
)
def test_tape_refuses_transfers_and_nesting(transfer: Any) -> None:
    with xpnn.use_backend("strict"):
        w = dev(np.ones(2))
        before = transfer_counts()
        with pytest.raises(RuntimeError, match="while a graph is being recorded"):
            record_tape(lambda: transfer(w))
        assert transfer_counts() == before
        with pytest.raises(RuntimeError, match="already being recorded"):
            record_tape(lambda: record_tape(lambda: None))
        # a failed recording leaves nothing behind: the next one works
        assert record_tape(lambda: w + 1).ops
