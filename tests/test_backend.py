"""The backend shim: selection, switching, errors, transfers, and the strict stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.backend import BACKENDS, BackendError, StrictArray, array_module, strict

SRC = str(Path(__file__).resolve().parents[1] / "src")
dev, host = xpnn.to_device, xpnn.to_numpy


# -- selection at import: NN_BACKEND ------------------------------------------------------------
def _import_with(backend: str | None, prelude: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NN_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    if backend is not None:
        env["NN_BACKEND"] = backend
    code = f"{prelude}import xpnn; print(xpnn.get_backend().name)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "numpy"), ("", "numpy"), ("numpy", "numpy"), ("strict", "strict"), ("NumPy", "numpy")],
)
def test_nn_backend_selects_at_import(value: str | None, expected: str) -> None:
    result = _import_with(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_unknown_nn_backend_names_the_choices_in_one_line() -> None:
    result = _import_with("tensorflow")
    assert result.returncode != 0
    assert "Unknown backend 'tensorflow': expected one of numpy, cupy, strict" in result.stderr
    assert "Traceback" not in result.stderr  # one line that says what to do, not a traceback


def test_cupy_without_cupy_says_what_to_install() -> None:
    # ``sys.modules["cupy"] = None`` makes ``import cupy`` fail, as where it is not installed.
    result = _import_with("cupy", prelude="import sys; sys.modules['cupy'] = None; ")
    assert result.returncode != 0
    assert "xpnn[cuda12]" in result.stderr and "xpnn[cuda13]" in result.stderr
    assert "Traceback" not in result.stderr


# -- switching at run time --------------------------------------------------------------------
def test_set_backend_switches_and_reports() -> None:
    start = xpnn.get_backend().name
    try:
        backend = xpnn.set_backend("strict")
        assert backend.name == "strict" and backend.xp is strict
        assert xpnn.get_backend() is backend and xpnn.get_xp() is strict
        assert repr(backend) == "Backend(name='strict')"
        assert xpnn.set_backend("NUMPY").xp is np  # names are case-insensitive
        assert xpnn.get_xp() is np
    finally:
        xpnn.set_backend(start)


@pytest.mark.parametrize("name", ["tensorflow", "", None, 3])
def test_unknown_backend_is_refused_and_changes_nothing(name: Any) -> None:
    before = xpnn.get_backend()
    listed = r"Unknown backend .*expected one of numpy, cupy, strict"
    with pytest.raises(BackendError, match=listed):
        xpnn.set_backend(name)
    with pytest.raises(BackendError, match="Unknown backend"), xpnn.use_backend(name):
        pass  # pragma: no cover - never entered
    assert xpnn.get_backend() is before
    assert issubclass(BackendError, RuntimeError)


def test_use_backend_restores_after_the_block_and_on_error() -> None:
    start = xpnn.get_backend()
    with xpnn.use_backend("strict") as backend:
        assert backend.name == "strict" and xpnn.get_xp() is strict
        with xpnn.use_backend("numpy"):
            assert xpnn.get_xp() is np
        assert xpnn.get_backend() is backend  # nested blocks restore their own predecessor
    assert xpnn.get_backend() is start
    with pytest.raises(RuntimeError, match="boom"), xpnn.use_backend("strict"):
        raise RuntimeError("boom")
    assert xpnn.get_backend() is start


def test_cupy_not_installed_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    before = xpnn.get_backend()
    with pytest.raises(BackendError, match=r"needs CuPy, which is not installed.*xpnn\[cuda12\]"):
        xpnn.set_backend("cupy")
    assert xpnn.get_backend() is before  # a failed switch changes nothing


@pytest.mark.parametrize("answer", ["false", "raises"])
def test_cupy_without_a_gpu_says_so(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    def is_available() -> bool:
        if answer == "raises":
            raise RuntimeError("cudaErrorNoDevice")
        return False

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=is_available)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match="needs a CUDA GPU.*NN_BACKEND=numpy"):
        xpnn.set_backend("cupy")


# -- transfers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_]
)
def test_round_trip_keeps_values_and_dtypes(xp: Any, dtype: Any) -> None:
    a = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    d = dev(a)
    assert array_module(d) is xp
    assert d.dtype == dtype and tuple(d.shape) == (2, 3)
    back = host(d)
    assert type(back) is np.ndarray and back.dtype == dtype
    np.testing.assert_array_equal(back, a)


def test_round_trip_of_lists_scalars_and_dtype_requests(xp: Any) -> None:
    d = dev([[1, 2], [3, 4]], dtype=np.float32)
    assert array_module(d) is xp and d.dtype == np.float32
    np.testing.assert_array_equal(host(d), [[1, 2], [3, 4]])
    s = dev(2.5)
    assert s.shape == () and host(s) == 2.5
    assert dev(np.arange(3)).dtype == np.int64
    # a device array passes through; with a dtype it is converted on the device
    assert dev(d) is d
    d64 = dev(d, dtype=np.float64)
    assert d64.dtype == np.float64 and array_module(d64) is xp
    np.testing.assert_array_equal(host(d64), [[1, 2], [3, 4]])


def test_to_device_refuses_arrays_of_another_backend() -> None:
    with xpnn.use_backend("strict"):
        d = dev(np.ones(2))
    with xpnn.use_backend("numpy"), pytest.raises(BackendError, match="another backend"):
        dev(d)


def test_array_module_asks_the_arrays_not_the_global(xp: Any) -> None:
    d = dev(np.ones(2))
    with xpnn.use_backend("numpy"):
        assert array_module(d) is xp  # the array decides, whatever is active
    assert array_module(np.ones(2)) is np
    assert array_module(np.ones(2), d) is xp
    assert array_module(1.0, [1, 2]) is np


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


def test_backends_constant() -> None:
    assert BACKENDS == ("numpy", "cupy", "strict")


# -- arrays behave like arrays on every backend -------------------------------------------------
def test_operations_stay_on_the_backend(xp: Any) -> None:
    a = dev(np.arange(6.0).reshape(2, 3))
    b = dev(np.ones((3, 2)))
    results = {
        "add": a + 1,
        "radd": 1 + a,
        "mul": a * a,
        "neg": -a,
        "abs": abs(a),
        "pow": a**2,
        "div": a / 2,
        "compare": a > 2,
        "matmul": a @ b,
        "xp.matmul": xp.matmul(a, b),
        "xp.dot": xp.dot(a, b),
        "T": a.T,
        "row": a[0],
        "fancy": a[dev(np.array([1, 0]))],
        "mask": a[a > 2],
        "sum": a.sum(axis=0),
        "mean": a.mean(),
        "max": a.max(axis=-1, keepdims=True),
        "argmax": a.argmax(axis=1),
        "np.sum": np.sum(a, axis=1),
        "np.tanh": np.tanh(a),
        "xp.exp": xp.exp(a),
        "xp.where": xp.where(a > 2, a, 0.0),
        "concatenate": xp.concatenate([a, a]),
        "reshape": a.reshape(-1),
        "astype": a.astype(np.float32),
        "copy": a.copy(),
        "zeros_like": xp.zeros_like(a),
        "host scalar": a * np.float64(2.0),
    }
    for what, r in results.items():
        assert array_module(r) is xp, what
    np.testing.assert_array_equal(host(results["matmul"]), [[3, 3], [12, 12]])
    np.testing.assert_array_equal(host(results["T"]), np.arange(6.0).reshape(2, 3).T)
    np.testing.assert_array_equal(host(results["fancy"]), [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(host(results["mask"]), [3, 4, 5])
    np.testing.assert_array_equal(host(results["sum"]), [3, 5, 7])
    assert host(results["mean"]) == 2.5
    np.testing.assert_array_equal(host(results["max"]), [[2], [5]])
    np.testing.assert_array_equal(host(results["argmax"]), [2, 2])
    assert results["astype"].dtype == np.float32 and results["compare"].dtype == np.bool_
    assert len(a) == 2 and [array_module(row) is xp for row in a] == [True, True]


def test_ufuncs_and_reductions_write_into_out(xp: Any) -> None:
    a = dev(np.arange(6.0).reshape(2, 3))
    b = dev(np.ones((2, 3)))
    c = xp.empty((2, 3))
    np.add(a, b, out=c)
    np.testing.assert_array_equal(host(c), np.arange(6.0).reshape(2, 3) + 1)
    xp.multiply(a, 2.0, out=c)
    np.testing.assert_array_equal(host(c), np.arange(6.0).reshape(2, 3) * 2)
    m = xp.empty((2, 2))
    xp.matmul(a, dev(np.ones((3, 2))), out=m)
    np.testing.assert_array_equal(host(m), [[3, 3], [12, 12]])
    s = xp.empty(3)
    a.sum(axis=0, out=s)
    np.testing.assert_array_equal(host(s), [3, 5, 7])
    c += a  # in-place operators write into the buffer
    np.testing.assert_array_equal(host(c), np.arange(6.0).reshape(2, 3) * 3)
    view = c[0]
    view *= 0  # a view writes through to its base
    np.testing.assert_array_equal(host(c)[0], [0, 0, 0])


def test_out_results_are_the_out_arrays(xp: Any) -> None:
    """NumPy and CuPy return ``out`` itself from ``f(..., out=out)`` and ``a += b`` keeps ``a``.

    Code that writes ``buf = xp.add(x, y, out=buf)`` or checks ``out is delta`` relies on it.
    """
    a, b = dev(np.ones(3)), dev(np.ones(3))
    c = xp.empty(3)
    same = np.add(a, b, out=c) is c
    assert same, "np.add(a, b, out=c) returned another object than c"
    same = xp.add(a, b, out=c) is c
    assert same, "xp.add(a, b, out=c) returned another object than c"
    before = a
    a += b
    same = a is before
    assert same, "a += b rebound a to another object"


def test_setitem(xp: Any) -> None:
    a = dev(np.zeros((3, 3)))
    a[0, 0] = 1.0
    a[1] = dev(np.array([1.0, 2.0, 3.0]))
    a[2, 1:] = 5.0
    a[dev(np.array([0, 2])), dev(np.array([2, 0]))] = 7.0
    a[...] += 1.0
    np.testing.assert_array_equal(host(a), [[2, 1, 8], [2, 3, 4], [8, 6, 6]])


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


def test_conftest_helpers_move_data_to_the_fixtures_backend(xp: Any, to_dev: Any, to_host) -> None:
    d = to_dev([[1, 2], [3, 4]], dtype=np.float32)
    assert array_module(d) is xp and d.dtype == np.float32
    back = to_host(d * 2)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, [[2, 4], [6, 8]])
    assert xpnn.get_xp() is xp  # the fixture made its backend the active one
