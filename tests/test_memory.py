"""fit's memory: the data once, parameters x4, one batch's buffers, nothing per step.

NumPy reports its array buffers to tracemalloc, so the peak during ``fit`` above what existed
before it (the data, the weights and their gradients) must stay within the Adam moments, the
step's preallocated buffers and a small constant — no copy of the data set, no growth per step.
"""

from __future__ import annotations

import tracemalloc

import numpy as np

import xpnn


def _model(seed: int = 0) -> xpnn.Sequential:
    model = xpnn.Sequential(
        [xpnn.Input((784,)), xpnn.Dense(256, "relu"), xpnn.Dense(128, "relu"), xpnn.Dense(10)],
        seed=seed,
    )
    model.compile(
        optimizer=xpnn.optimizers.Adam(1e-3),
        loss=xpnn.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _peak_during_fit(model: xpnn.Sequential, x: np.ndarray, y: np.ndarray, epochs: int) -> int:
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        model.fit(x, y, epochs=epochs, batch_size=128, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def test_fit_peak_memory_is_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    n, batch = 3000, 128
    x = rng.normal(size=(n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n)
    model = _model()
    model.fit(x[:256], y[:256], epochs=1, batch_size=batch, verbose=0)  # warm up (JIT, caches)

    units = [784, 256, 128, 10]
    # x and y of a batch, and z, a, delta per layer, for the full and the last batch size
    step = sum(3 * u * 4 for u in units[1:]) * batch + (784 * 4 + 8) * batch
    labels = n * 8  # integer labels prepared once (int64)
    # Adam's m and v exist since compile(), the weights and gradients since build(): within
    # fit only the step's buffers (for the full and the last batch size) and the labels may
    # appear, plus a small constant.
    budget = 2 * step + labels + 300_000
    peak = _peak_during_fit(model, x, y, epochs=2)
    assert peak <= budget, f"fit peaked {peak:,} B above its start; budget {budget:,} B"
    assert peak < x.nbytes, "fit must not copy the data set"


def test_more_epochs_do_not_grow_memory() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 784)).astype(np.float32)
    y = rng.integers(0, 10, 2000)
    model = _model()
    model.fit(x[:256], y[:256], epochs=1, batch_size=128, verbose=0)
    one = _peak_during_fit(model, x, y, epochs=1)
    five = _peak_during_fit(model, x, y, epochs=5)
    assert five <= one + 200_000, f"1 epoch peaked at {one:,} B, 5 epochs at {five:,} B"
