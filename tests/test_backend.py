"""The backend shim: selection, switching, errors, transfers, and the strict stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnn
from xpnn.backend import BackendError, StrictArray, strict

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _import_with(backend: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NN_BACKEND": backend, "PYTHONPATH": SRC}
    code = "import xpnn; print(xpnn.get_backend().name)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_nn_backend_selects_at_import() -> None:
    assert _import_with("numpy").stdout.strip() == "numpy"
    assert _import_with("strict").stdout.strip() == "strict"


def test_unknown_nn_backend_names_the_choices() -> None:
    result = _import_with("tensorflow")
    assert result.returncode != 0
    assert "Unknown backend 'tensorflow': expected one of numpy, cupy, strict" in result.stderr


def test_cupy_without_cupy_says_what_to_install() -> None:
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    result = _import_with("cupy")
    assert result.returncode != 0
    assert "pip install 'xpnn[cuda12]'" in result.stderr
    with pytest.raises(BackendError, match="needs CuPy, which is not installed"):
        xpnn.set_backend("cupy")
    assert xpnn.get_backend().name == "numpy"  # a failed switch changes nothing


def test_set_backend_and_context_manager_restore() -> None:
    assert xpnn.get_backend().name == "numpy"
    with xpnn.use_backend("strict") as backend:
        assert backend.name == "strict" and xpnn.get_xp() is strict
    assert xpnn.get_backend().name == "numpy"
    with pytest.raises(RuntimeError, match="boom"), xpnn.use_backend("strict"):
        raise RuntimeError("boom")
    assert xpnn.get_backend().name == "numpy"
    try:
        assert xpnn.set_backend("strict").name == "strict"
    finally:
        xpnn.set_backend("numpy")


def test_round_trip_keeps_values_and_dtypes(xp) -> None:
    for dtype in (np.float32, np.float64, np.int64):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        d = xpnn.to_device(a)
        back = xpnn.to_numpy(d)
        assert isinstance(back, np.ndarray) and back.dtype == dtype
        np.testing.assert_array_equal(back, a)
    assert xpnn.to_device([[1, 2]], dtype=np.float32).dtype == np.float32


def test_strict_refuses_every_implicit_conversion() -> None:
    with xpnn.use_backend("strict"):
        x = xpnn.to_device(np.ones((2, 2)))
        s = x.sum()
        for convert in (
            np.asarray,
            float,
            bool,
            int,
            repr,
            str,
            lambda v: f"{v}",
            lambda v: v.item(),
        ):
            with pytest.raises(TypeError, match="Implicit conversion"):
                convert(s)
        with pytest.raises(TypeError, match="Implicit conversion"):
            np.asarray(x)


def test_strict_arrays_compute_and_stay_strict() -> None:
    with xpnn.use_backend("strict") as backend:
        xp = backend.xp
        a = xpnn.to_device(np.arange(6.0).reshape(2, 3))
        b = xpnn.to_device(np.ones((3, 2)))
        results = [a + 1, a * a, a @ b, a.T, a[0], a.sum(axis=0), xp.exp(a), np.tanh(a), a.max()]
        assert all(isinstance(r, StrictArray) for r in results)
        out = xp.empty((2, 2))
        xp.matmul(a, b, out=out)
        a[0, 0] = 10.0
        np.testing.assert_array_equal(xpnn.to_numpy(out), [[3, 3], [12, 12]])
        assert xpnn.to_numpy(a)[0, 0] == 10.0
        with pytest.raises(TypeError, match="NumPy array was passed"):
            a + np.ones((2, 3))


def test_strict_counts_transfers() -> None:
    with xpnn.use_backend("strict"):
        xpnn.transfer_counts(reset=True)
        d = xpnn.to_device(np.ones(3))
        d2 = d * 2  # device work: no transfer
        xpnn.to_numpy(d2)
        xpnn.to_numpy(d2)
        assert xpnn.transfer_counts() == {"h2d": 1, "d2h": 2}
        assert xpnn.transfer_counts(reset=True) == {"h2d": 1, "d2h": 2}
        assert xpnn.transfer_counts() == {"h2d": 0, "d2h": 0}


def test_kernels_ask_the_arrays_not_the_global() -> None:
    with xpnn.use_backend("strict"):
        host_array = np.ones(3)
        assert xpnn.backend.array_module(host_array) is np
    assert xpnn.backend.array_module(strict.asarray(np.ones(2))) is strict


def test_to_device_rejects_arrays_of_another_backend() -> None:
    with xpnn.use_backend("strict"):
        d = xpnn.to_device(np.ones(2))
    with pytest.raises(BackendError, match="another backend"):
        xpnn.to_device(d)
