"""save / load_model: round trips, resumed training, atomic writes, bad files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(90, 5)).astype(np.float32)
    return x, rng.integers(0, 3, 90)


def _model() -> Sequential:
    model = Sequential(
        [Input((5,)), Dense(8, "relu", name="hidden"), Dense(3, "softmax")], name="saver", seed=3
    )
    model.compile(
        optimizer=xpnn.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_round_trip_gives_identical_predictions_and_config(xp: Any, tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.xpnn"
    model.save(path)
    loaded = xpnn.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert [m.name for m in loaded.metrics] == ["accuracy"]


def test_resumed_training_equals_uninterrupted_training(xp: Any, tmp_path: Path) -> None:
    x, y = _data(1)
    straight = _model()
    full = straight.fit(x, y, epochs=4, validation_split=0.2, verbose=0).history
    first = _model()
    part1 = first.fit(x, y, epochs=2, validation_split=0.2, verbose=0).history
    first.save(tmp_path / "half.xpnn")
    resumed = xpnn.load_model(tmp_path / "half.xpnn")
    part2 = resumed.fit(x, y, epochs=4, initial_epoch=2, validation_split=0.2, verbose=0).history
    for key in full:
        assert part1[key] + part2[key] == full[key], key
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    path = tmp_path / "m.xpnn"
    model.save(path)
    before = path.read_bytes()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before  # the old file survives a failed save
    assert sorted(os.listdir(tmp_path)) == ["m.xpnn"]  # and no temporary file is left


def test_missing_corrupt_truncated_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No model file"):
        xpnn.load_model(tmp_path / "nope.xpnn")
    junk = tmp_path / "junk.xpnn"
    junk.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match="not a readable xpnn model file"):
        xpnn.load_model(junk)
    good = tmp_path / "good.xpnn"
    _model().save(good)
    cut = tmp_path / "cut.xpnn"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="xpnn model file"):
        xpnn.load_model(cut)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    with pytest.raises(ValueError, match="not an xpnn model file"):
        xpnn.load_model(foreign)


def test_pickled_objects_are_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    config = np.frombuffer(b'{"format": "xpnn-model"}', dtype=np.uint8)
    np.savez(path, xpnn_config=config, params=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        xpnn.load_model(path)


def test_uncompiled_model_saves_and_loads(tmp_path: Path) -> None:
    model = Sequential([Input((2,)), Dense(1)], seed=0)
    model.save(tmp_path / "plain.xpnn")
    loaded = xpnn.load_model(tmp_path / "plain.xpnn")
    assert loaded.loss is None
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
