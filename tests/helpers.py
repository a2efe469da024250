"""Data the tests share (importable because pyproject puts tests/ on pytest's path)."""

from __future__ import annotations

import numpy as np


def blobs(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs: float32 points and integer labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, features)) * 6
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, features))).astype(np.float32), y
