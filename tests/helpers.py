"""What the tests share (importable because pyproject puts tests/ on pytest's path): the
backends to run on, and data."""

from __future__ import annotations

import numpy as np
import pytest


def _cupy_ready() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:  # older CuPy raises instead of answering False
        return False


GPU = _cupy_ready()

# NumPy and the strict stand-in always; CuPy where it imports and sees a CUDA device.
BACKEND_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("strict", id="strict"),
    pytest.param(
        "cupy",
        id="cupy",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not GPU, reason="CuPy is not installed or sees no CUDA device"),
        ],
    ),
]


def blobs(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs: float32 points and integer labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, features)) * 6
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, features))).astype(np.float32), y


def cli_run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """``xpnn ARGV`` in this process: (exit status, stdout, stderr)."""
    from xpnn import cli

    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def cli_fails(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """Run a command that must fail with one clear line and status 2; return the line."""
    from xpnn import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    _, err = capsys.readouterr()
    assert exc.value.code == 2
    assert err.startswith("xpnn: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()
