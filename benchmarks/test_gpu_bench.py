"""The parts of gpu_bench.py that need no GPU: arguments, the FLOP count, the report, and a
clear failure where CuPy or a GPU is missing. (Skipped under --benchmark-only: not timings.)"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import gpu_bench
from workloads import LARGE, WORKLOADS


def test_arguments() -> None:
    args = gpu_bench.parse_args(["out.md", "--only", "large", "mnist", "--tf32"])
    assert (args.report, args.only, args.tf32) == ("out.md", ["large", "mnist"], True)
    assert args.rounds is None
    assert gpu_bench.parse_args([]).report is None
    with pytest.raises(SystemExit):
        gpu_bench.parse_args(["--only", "nope"])


def test_flop_count() -> None:
    # seed, per sample: forward 2(400*25 + 25*15 + 15) and dW the same; dX 2(25*15 + 15)
    assert WORKLOADS["seed"].matmul_flops(1) == 4 * (10_000 + 375 + 15) + 2 * (375 + 15)
    # large, per epoch: 3 products of every 4096x4096 layer but the first's dX, ~11 TFLOP
    assert LARGE.matmul_flops(LARGE.samples) == pytest.approx(11.0e12, rel=0.01)
    assert WORKLOADS["mnist"].batch_sizes(60_000)[-1] == 60_000 - 468 * 128


def test_report() -> None:
    rows = [
        gpu_bench.Row("large", "xpnn (CuPy)", 0.25, 3, 11e12),
        gpu_bench.Row("large", gpu_bench.REFERENCE, 0.5, 3, 11e12),
    ]
    report = gpu_bench.format_report(["- device: test"], rows, 50e12, tf32=False)
    lines = report.splitlines()
    assert lines[0] == "## GPU: seconds per epoch (median), FP32 products"
    assert "- device: test" in lines
    assert "| large | xpnn (CuPy) | 0.25 | 3 | 0.50x | 44.00 | 88% |" in lines
    assert "| large | PyTorch (CUDA, eager) | 0.5 | 3 | 1.00x | 22.00 | 44% |" in lines
    assert "50.0 TFLOP/s" in report
    # without a reference row or an SGEMM figure, the ratios are left blank, not invented
    only = gpu_bench.format_report([], rows[:1], None, tf32=True)
    assert "TF32" in only and "| large | xpnn (CuPy) | 0.25 | 3 | - | 44.00 | - |" in only
    # a contestant that failed shows why, and takes no part in the ratios
    failed = gpu_bench.Row("large", gpu_bench.REFERENCE, float("nan"), 3, 11e12, "OOM")
    report = gpu_bench.format_report([], [rows[0], failed], 50e12, tf32=False)
    assert "| large | PyTorch (CUDA, eager) | failed: OOM | | | | |" in report
    assert "| large | xpnn (CuPy) | 0.25 | 3 | - | 44.00 | 88% |" in report


def test_fails_clearly_without_a_gpu(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("cupy") is not None:
        import cupy

        if cupy.cuda.is_available():
            pytest.skip("a GPU is here: main() would run the benchmarks")
    for var in ("CUPY_TF32", "XLA_PYTHON_CLIENT_PREALLOCATE"):  # main() sets them: restore
        monkeypatch.setenv(var, "")
    assert gpu_bench.main(["--only", "seed"]) == 2
    assert "gpu_bench: needs CuPy and a CUDA GPU" in capsys.readouterr().err


class _FakeCuPy:
    """NumPy in CuPy's clothes, enough for sgemm_flops: the timing code runs, not the GPU."""

    float32 = np.float32
    empty = staticmethod(np.empty)
    matmul = staticmethod(np.matmul)

    class random:
        default_rng = staticmethod(np.random.default_rng)

    class cuda:
        class Device:
            def synchronize(self) -> None:
                pass


def test_timing_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_bench, "SGEMM_SHAPE", (64, 32, 16))
    assert gpu_bench.sgemm_flops(_FakeCuPy, repeat=3) > 0
    calls: list[str] = []
    seconds = gpu_bench.median_epoch(
        lambda: calls.append("epoch"), rounds=3, sync=lambda: calls.append("sync")
    )
    assert seconds >= 0
    assert calls == ["epoch", "sync"] * 4  # one warm-up, three timed, each synchronised
