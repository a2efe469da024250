"""The backend shim: selection, switching, errors and transfers (the strict stand-in itself is
tested in test_strict.py)."""

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
from xpnn.backend import BACKENDS, BackendError, array_module
from xpnn.testing import strict

SRC = str(Path(__file__).resolve().parents[1] / "src")
dev, host = xpnn.to_device, xpnn.to_numpy


# -- selection from NN_BACKEND, on first use ------------------------------------------------------
def _run_with(backend: str | None, code: str, prelude: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NN_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    if backend is not None:
        env["NN_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-c", prelude + code], env=env, capture_output=True, text=True, timeout=60
    )


# Imports xpnn, checks the import left sys.excepthook alone, then asks for the backend.
_FIRST_USE = """
import sys
hook = sys.excepthook
import xpnn
assert sys.excepthook is hook, "import xpnn changed sys.excepthook"
try:
    print(xpnn.get_backend().name)
except xpnn.BackendError as exc:
    assert sys.excepthook is hook, "a failed backend changed sys.excepthook"
    print("BackendError:", exc)
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "numpy"), ("", "numpy"), ("numpy", "numpy"), ("strict", "strict"), ("NumPy", "numpy")],
)
def test_nn_backend_selects_the_backend(value: str | None, expected: str) -> None:
    result = _run_with(value, _FIRST_USE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_unknown_nn_backend_fails_on_first_use_and_names_the_choices() -> None:
    result = _run_with("tensorflow", _FIRST_USE)
    assert result.returncode == 0, result.stderr  # the import itself succeeded
    assert result.stdout.startswith(
        "BackendError: Unknown backend 'tensorflow': expected one of numpy, cupy, strict"
    )


def test_cupy_without_cupy_says_what_to_install() -> None:
    # ``sys.modules["cupy"] = None`` makes ``import cupy`` fail, as where it is not installed.
    result = _run_with("cupy", _FIRST_USE, prelude="import sys; sys.modules['cupy'] = None\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BackendError: The cupy backend needs CuPy")
    assert "xpnn[cuda12]" in result.stdout and "xpnn[cuda13]" in result.stdout


def test_an_unusable_nn_backend_fails_every_use_until_a_backend_is_chosen() -> None:
    code = """
import xpnn, numpy as np
for use in (xpnn.get_backend, xpnn.get_xp, lambda: xpnn.to_device(np.ones(2))):
    try:
        use()
    except xpnn.BackendError as exc:
        assert "Unknown backend 'torch'" in str(exc)
    else:
        raise AssertionError("no BackendError")
with xpnn.use_backend("strict"):
    print(xpnn.get_backend().name)
print(xpnn.set_backend("numpy").name, xpnn.get_backend().name)
"""
    result = _run_with("torch", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["strict", "numpy", "numpy"]


@pytest.mark.parametrize("backend", ["numpy", "strict", "tensorflow"])
def test_importing_xpnn_changes_no_process_wide_state(backend: str) -> None:
    code = """
import os, sys
import numpy as np
hook, mask = sys.excepthook, os.umask(0o022)
state = np.random.get_state()[1].copy()
import xpnn
try:
    xpnn.get_backend()
except xpnn.BackendError:
    pass
assert sys.excepthook is hook, "sys.excepthook changed"
assert os.umask(mask) == 0o022, "the umask changed"
assert (np.random.get_state()[1] == state).all(), "the global RNG was drawn from"
print("ok")
"""
    result = _run_with(backend, code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# -- switching at run time --------------------------------------------------------------------
def test_set_backend_switches_and_reports() -> None:
    start = xpnn.get_backend().name
    try:
        backend = xpnn.set_backend("strict")
        assert backend.name == "strict" and backend.xp is strict.xp
        assert xpnn.get_backend() is backend and xpnn.get_xp() is strict.xp
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
        assert backend.name == "strict" and xpnn.get_xp() is strict.xp
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


def test_conftest_helpers_move_data_to_the_fixtures_backend(xp: Any, to_dev: Any, to_host) -> None:
    d = to_dev([[1, 2], [3, 4]], dtype=np.float32)
    assert array_module(d) is xp and d.dtype == np.float32
    back = to_host(d * 2)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, [[2, 4], [6, 8]])
    assert xpnn.get_xp() is xp  # the fixture made its backend the active one
