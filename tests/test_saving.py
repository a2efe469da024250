"""save / load_model: round trips, resumed training, atomic writes, bad files, no pickle."""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses, optimizers


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(90, 5)).astype(np.float32)
    return x, rng.integers(0, 3, 90)


def _model(optimizer: Any = None, **kwargs: Any) -> Sequential:
    model = Sequential(
        [Input((5,)), Dense(8, "relu", name="hidden"), Dense(3, "softmax")],
        name="saver",
        seed=3,
        **kwargs,
    )
    model.compile(
        optimizer=optimizer or optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "good.xpnn"
    model = _model()
    model.fit(*_data(), epochs=1, verbose=0)
    model.save(path)
    return path


# -- round trips -------------------------------------------------------------------------------
def test_round_trip_gives_identical_predictions_and_config(xp: Any, tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.xpnn"
    model.save(path)
    loaded = xpnn.load_model(path)
    assert loaded.get_config() == model.get_config()
    assert [layer.name for layer in loaded.layers] == ["hidden", "dense"]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_round_trip_of_every_setting(xp: Any, tmp_path: Path) -> None:
    model = Sequential(
        [
            Input((4,)),
            Dense(3, "tanh", use_bias=False, kernel_form="loop", name="a"),
            Dense(2, kernel_initializer="he_normal", bias_initializer="ones", name="b"),
        ],
        name="settings",
        kernel="matrix",
        dtype="float64",
        seed=11,
    )
    model.compile(
        optimizer=optimizers.SGD(0.02, momentum=0.5, nesterov=True),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.save(tmp_path / "s.xpnn")
    loaded = xpnn.load_model(tmp_path / "s.xpnn")
    assert loaded.get_config() == model.get_config()
    assert loaded.dtype == np.float64 and loaded.get_weights()[0].dtype == np.float64
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.loss.from_logits is True
    x = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_the_file_is_written_where_asked(tmp_path: Path) -> None:
    model = _model()
    for name in ("plain", "model.xpnn", "weights.keras"):
        model.save(str(tmp_path / name))  # str paths too; no ".npz" is appended
    assert sorted(os.listdir(tmp_path)) == ["model.xpnn", "plain", "weights.keras"]
    xpnn.save_model(model, tmp_path / "by_function.xpnn")
    assert (tmp_path / "by_function.xpnn").is_file()


def test_saved_on_one_backend_loaded_on_another(tmp_path: Path) -> None:
    x, y = _data()
    with xpnn.use_backend("strict"):
        model = _model()
        model.fit(x, y, epochs=1, verbose=0)
        model.save(tmp_path / "m.xpnn")
        on_strict = model.predict(x)
    with xpnn.use_backend("numpy"):
        loaded = xpnn.load_model(tmp_path / "m.xpnn")
        np.testing.assert_allclose(loaded.predict(x), on_strict, rtol=1e-5)
        loaded.fit(x, y, epochs=1, verbose=0)


def test_compile_false_and_uncompiled_models(xp: Any, tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path / "compiled.xpnn")
    bare = xpnn.load_model(tmp_path / "compiled.xpnn", compile=False)
    assert bare.loss is None and bare.optimizer is None
    with pytest.raises(RuntimeError, match="compile"):
        bare.fit(*_data(), verbose=0)
    plain = Sequential([Input((2,)), Dense(1)], seed=0)
    plain.save(tmp_path / "plain.xpnn")
    loaded = xpnn.load_model(tmp_path / "plain.xpnn")
    assert loaded.loss is None
    np.testing.assert_array_equal(loaded.get_weights()[0], plain.get_weights()[0])


def test_an_unbuilt_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no weights yet"):
        Sequential([Dense(1)]).save(tmp_path / "m.xpnn")
    assert not os.listdir(tmp_path)


# -- resumed training --------------------------------------------------------------------------
OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(2e-3),
    "sgd-nesterov": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(1e-3),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_resumed_training_equals_uninterrupted_training(
    xp: Any, tmp_path: Path, optimizer: str
) -> None:
    """The shuffling generator's state and the optimizer's state are saved, so training 2
    epochs, saving, loading and training 2 more is the same as training 4 straight."""
    x, y = _data(1)
    straight = _model(OPTIMIZERS[optimizer]())
    full = straight.fit(x, y, epochs=4, validation_split=0.2, verbose=0)
    first = _model(OPTIMIZERS[optimizer]())
    part1 = first.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    first.save(tmp_path / "half.xpnn")
    del first
    resumed = xpnn.load_model(tmp_path / "half.xpnn")
    part2 = resumed.fit(x, y, epochs=4, initial_epoch=2, validation_split=0.2, verbose=0)
    assert part2.epoch == [2, 3]
    for key in full.history:
        assert part1.history[key] + part2.history[key] == full.history[key], key
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations


# -- atomic writes -----------------------------------------------------------------------------
def test_a_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path / "m.xpnn")
    model.save(tmp_path / "m.xpnn")  # overwriting too
    assert os.listdir(tmp_path) == ["m.xpnn"]


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_an_existing_file_survives_a_failed_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    model = _model()
    path = tmp_path / "m.xpnn"
    model.save(path)
    before = path.read_bytes()
    model.fit(*_data(), epochs=1, verbose=0)  # the next save would write other weights

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    target = {"savez": np, "fsync": os, "replace": os}[where]
    monkeypatch.setattr(target, where, crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file, whole
    assert os.listdir(tmp_path) == ["m.xpnn"]  # and no temporary file is left
    xpnn.load_model(path)


def test_saving_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _model().save(tmp_path / "nowhere" / "m.xpnn")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_saved_file_respects_the_umask(tmp_path: Path) -> None:
    """A temporary file from mkstemp is private (0600); renamed into place it should get the
    permissions an ordinary file would (0666 & ~umask), or other users cannot load the model."""
    old = os.umask(0o022)
    try:
        _model().save(tmp_path / "m.xpnn")
        np.savez(tmp_path / "ref.npz", a=np.ones(1))
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "m.xpnn").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "ref.npz").st_mode) == 0o644, oct(mode)


# -- bad files ---------------------------------------------------------------------------------
def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No model file at .*nope.xpnn"):
        xpnn.load_model(tmp_path / "nope.xpnn")
    with pytest.raises(FileNotFoundError, match="No model file"):
        xpnn.load_model(tmp_path)  # a folder is not a model file


def test_a_corrupt_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xpnn"
    junk.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(ValueError, match="not a readable xpnn model file"):
        xpnn.load_model(junk)
    empty = tmp_path / "empty.xpnn"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable xpnn model file"):
        xpnn.load_model(empty)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95, -1])
def test_a_truncated_file(tmp_path: Path, keep: float) -> None:
    good = _saved(tmp_path).read_bytes()
    cut = tmp_path / "cut.xpnn"
    cut.write_bytes(good[: int(len(good) * keep)] if keep > 0 else good[:keep])
    with pytest.raises(ValueError, match="xpnn model file"):
        xpnn.load_model(cut)


def test_every_flipped_byte_loads_or_raises_value_error(tmp_path: Path) -> None:
    """Whatever byte is damaged, load_model either reads the file (a field the reader ignores)
    or raises ValueError, never another exception."""
    good = _saved(tmp_path).read_bytes()
    bad = tmp_path / "bad.xpnn"
    escaped = []
    for pos in range(0, len(good), 3):
        data = bytearray(good)
        data[pos] ^= 0xFF
        bad.write_bytes(bytes(data))
        try:
            xpnn.load_model(bad)
        except ValueError:
            pass
        except Exception as exc:  # noqa: BLE001 - collecting what escapes is the point
            escaped.append((pos, f"{type(exc).__name__}: {exc}"))
    assert not escaped, escaped[:5]


def test_an_unsupported_compression_method_is_a_value_error(tmp_path: Path) -> None:
    """zipfile raises NotImplementedError for a compression method it does not know."""
    data = bytearray(_saved(tmp_path).read_bytes())
    central = data.index(b"PK\x01\x02")  # the first central-directory entry
    struct.pack_into("<H", data, central + 10, 99)  # its compression method
    bad = tmp_path / "bad.xpnn"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable xpnn model file"):
        xpnn.load_model(bad)


def test_a_foreign_npz(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3), params=np.ones(3))
    with pytest.raises(ValueError, match=r"not an xpnn model file \(no xpnn config inside\)"):
        xpnn.load_model(foreign)


def _rewrite(path: Path, out: Path, edit_config: Any = None, **arrays: Any) -> None:
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    config = json.loads(contents["xpnn_config"].tobytes())
    if edit_config:
        edit_config(config)
    contents["xpnn_config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    contents.update(arrays)
    np.savez(out, **contents)


def test_files_with_invalid_contents(tmp_path: Path) -> None:
    good = _saved(tmp_path)
    cases = {
        "version": (lambda c: c.update(version=99), {}, "format version 99"),
        "format": (lambda c: c.update(format="other"), {}, "not an xpnn model file"),
        "no model": (lambda c: c.pop("model"), {}, "invalid contents"),
        "bad layer": (
            lambda c: c["model"]["layers"][0].update(units=-4),
            {},
            "invalid contents.*units",
        ),
        "short params": (None, {"params": np.ones(7, dtype=np.float32)}, "invalid contents"),
        "bad slot": (None, {"optimizer.m": np.ones(2, dtype=np.float32)}, "invalid contents"),
    }
    for name, (edit, arrays, message) in cases.items():
        out = tmp_path / f"{name}.npz"
        _rewrite(good, out, edit, **arrays)
        with pytest.raises(ValueError, match=message):
            xpnn.load_model(out)
    not_json = tmp_path / "not_json.npz"
    with np.load(good) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents["xpnn_config"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(not_json, **contents)
    with pytest.raises(ValueError, match="not a readable xpnn model file"):
        xpnn.load_model(not_json)


class _Tripwire:
    """Unpickling this touches a file: proof that pickled code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_pickled_objects_are_never_loaded(tmp_path: Path) -> None:
    good = _saved(tmp_path)
    tripwire = tmp_path / "tripwire"
    evil = np.empty(1, dtype=object)
    evil[0] = _Tripwire(str(tripwire))
    out = tmp_path / "evil.npz"
    _rewrite(good, out, None, params=evil)
    with pytest.raises(ValueError):
        xpnn.load_model(out)
    assert not tripwire.exists()  # the object was never unpickled


def test_np_load_is_called_without_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _saved(tmp_path)
    calls: list[dict[str, Any]] = []
    real_load = np.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    xpnn.load_model(good)
    assert calls and all(kwargs.get("allow_pickle") is False for kwargs in calls)
