"""save / load_model: round trips, resumed training, atomic writes, stale temporary files,
bad files, no pickle. (Files made to hurt are in test_hostile_files.py.)"""

from __future__ import annotations

import json
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, losses, optimizers, saving


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


class Counted(Dense):
    """A Dense layer with non-trainable state (one number per unit), as moving statistics."""

    def state_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(self.units,)]

    def initial_state(self, input_dim: int) -> list[np.ndarray]:
        return [np.zeros(self.units)]


def test_layer_state_round_trips(xp: Any, tmp_path: Path) -> None:
    model = Sequential([Input((4,)), Counted(3, name="c"), Dense(2)], seed=1)
    model._state[...] = xpnn.to_device(np.array([1.5, -2.0, 7.0], dtype=np.float32))
    model.save(tmp_path / "s.xpnn")
    with np.load(tmp_path / "s.xpnn") as archive:
        np.testing.assert_array_equal(archive["state"], [1.5, -2.0, 7.0])
    loaded = xpnn.load_model(tmp_path / "s.xpnn", custom_objects={"Counted": Counted})
    assert type(loaded.layers[0]) is Counted
    np.testing.assert_array_equal(xpnn.to_numpy(loaded._state), [1.5, -2.0, 7.0])
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_model_without_layer_state_saves_an_empty_state(tmp_path: Path) -> None:
    _model().save(tmp_path / "m.xpnn")
    with np.load(tmp_path / "m.xpnn") as archive:
        assert archive["state"].shape == (0,)
        assert json.loads(archive["xpnn_config"].tobytes())["version"] == saving.VERSION == 2


def test_custom_layer_classes_come_from_custom_objects(tmp_path: Path) -> None:
    """As in Keras: a user's layer class is found by its class name in custom_objects, and a
    file naming a class the reader was not given is refused, never loaded as another class."""

    class MyDense(Dense):
        pass

    model = Sequential([Input((3,)), MyDense(2, "tanh", name="mine")], seed=2)
    model.save(tmp_path / "my.xpnn")
    with pytest.raises(ValueError, match="invalid contents.*'MyDense'"):
        xpnn.load_model(tmp_path / "my.xpnn")
    loaded = xpnn.load_model(tmp_path / "my.xpnn", custom_objects={"MyDense": MyDense})
    assert type(loaded.layers[0]) is MyDense
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_version_1_files_still_load(tmp_path: Path) -> None:
    """Version 1 had no "state" entry (no layer had state)."""
    model = _model()
    model.save(tmp_path / "v2.xpnn")
    with np.load(tmp_path / "v2.xpnn") as archive:
        contents = {k: archive[k] for k in archive.files if k != "state"}
    config = json.loads(contents["xpnn_config"].tobytes())
    config["version"] = 1
    contents["xpnn_config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v1.npz", **contents)
    loaded = xpnn.load_model(tmp_path / "v1.npz")
    assert loaded.get_config() == model.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def test_a_version_2_file_needs_its_state_entry(tmp_path: Path) -> None:
    _model().save(tmp_path / "m.xpnn")
    with np.load(tmp_path / "m.xpnn") as archive:
        contents = {k: archive[k] for k in archive.files if k != "state"}
    np.savez(tmp_path / "nostate.npz", **contents)
    with pytest.raises(ValueError, match="nostate.npz.*the entry 'state' is missing"):
        xpnn.load_model(tmp_path / "nostate.npz")


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


def test_saving_leaves_the_umask_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the umask means setting it, a race with every other thread: never done."""

    def refuse(mask: int) -> int:
        raise AssertionError("os.umask was called")

    monkeypatch.setattr(os, "umask", refuse)
    _model().save(tmp_path / "m.xpnn")


def test_the_file_and_its_folder_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    _model().save(tmp_path / "m.xpnn")
    assert synced == (["file", "folder"] if os.name == "posix" else ["file"])


# -- temporary files of saves that died --------------------------------------------------------
needs_flock = pytest.mark.skipif(
    saving._fcntl is None or not hasattr(signal, "SIGKILL"), reason="POSIX flock and SIGKILL"
)

# A save in another process that stops mid-write (after writing a little) until the file `go`
# exists, then completes. Killed while it waits, it dies as a crashed save does.
CHILD_SAVE = r"""
import os, sys, time
import numpy as np
from xpnn import Dense, Input, Sequential

path, go = sys.argv[1], sys.argv[2]
model = Sequential([Input((5,)), Dense(4)], name="child", seed=0)
real_savez = np.savez

def slow_savez(file, **arrays):
    file.write(b"half a model")
    file.flush()
    print("writing", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    file.seek(0)
    real_savez(file, **arrays)

np.savez = slow_savez
model.save(path)
print("saved", flush=True)
"""


def _temporaries(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))  # saves' hidden files


def _child_save(path: Path, go: Path) -> subprocess.Popen[str]:
    """Start CHILD_SAVE and return once it is mid-write (its temporary file exists, locked)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_SAVE, str(path), str(go)], stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(120, proc.kill)  # a child that never reports must not hang us
    watchdog.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        watchdog.cancel()
    assert line == "writing\n", f"the child save did not start (rc={proc.poll()})"
    return proc


@needs_flock
def test_the_next_save_removes_the_temporary_files_of_killed_saves(tmp_path: Path) -> None:
    path = tmp_path / "m.xpnn"
    left: list[str] = []
    for _ in range(3):
        proc = _child_save(path, tmp_path / "never")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # what the crash left, and nothing of the crashes before (each save removed those)
        now = _temporaries(tmp_path)
        assert len(now) == 1 and now[0] not in left, (now, left)
        left += now
    _model().save(path)
    assert os.listdir(tmp_path) == ["m.xpnn"]
    xpnn.load_model(path)


@needs_flock
def test_a_live_save_keeps_its_temporary_file_and_completes(tmp_path: Path) -> None:
    """Another process mid-save holds the lock on its file: a save meanwhile removes the dead
    save's file but not the live one's, and the live save then completes."""
    path, go = tmp_path / "m.xpnn", tmp_path / "go"
    dead = _child_save(path, tmp_path / "never")
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    dead_file = _temporaries(tmp_path)
    live = _child_save(path, go)
    try:
        live_file = [n for n in _temporaries(tmp_path) if n not in dead_file]
        assert len(dead_file) == len(live_file) == 1
        _model().save(path)  # while the child is mid-write
        assert _temporaries(tmp_path) == live_file
        go.touch()
        out, _ = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert live.returncode == 0 and out.endswith("saved\n"), (live.returncode, out)
    assert sorted(os.listdir(tmp_path)) == ["go", "m.xpnn"]
    assert xpnn.load_model(path).name == "child"  # the child's save, finished last, is the file


@needs_flock
def test_only_unlocked_regular_files_of_this_targets_pattern_are_removed(tmp_path: Path) -> None:
    stale = f".m.xpnn.{'0' * 16}.xpnn-tmp"
    keep = {
        f".other.xpnn.{'0' * 16}.xpnn-tmp": "file",  # another target's
        ".xpnn-abcd1234.tmp": "file",  # older xpnn's naming: no lock says whether it is alive
        f".m.xpnn.{'0' * 15}.xpnn-tmp": "file",  # not the pattern
        "notes.txt": "file",
        f".m.xpnn.{'a' * 16}.xpnn-tmp": "symlink",  # to a file that must survive
        f".m.xpnn.{'b' * 16}.xpnn-tmp": "fifo",  # opening it for reading would block
        f".m.xpnn.{'c' * 16}.xpnn-tmp": "folder",
    }
    (tmp_path / "precious").write_text("keep me")
    (tmp_path / stale).write_bytes(b"half")
    for name, kind in keep.items():
        if kind == "file":
            (tmp_path / name).write_bytes(b"x")
        elif kind == "symlink":
            (tmp_path / name).symlink_to(tmp_path / "precious")
        elif kind == "fifo":
            os.mkfifo(tmp_path / name)
        else:
            (tmp_path / name).mkdir()
    _model().save(tmp_path / "m.xpnn")
    assert sorted(os.listdir(tmp_path)) == sorted([*keep, "precious", "m.xpnn"])
    assert (tmp_path / "precious").read_text() == "keep me"


@needs_flock
def test_a_temporary_file_lost_to_a_racing_cleanup_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between creating its file and locking it, a save can have it taken for a dead save's
    by another save's cleanup (which unlinks it): the save notices and starts a new file."""
    real = saving._fcntl
    raced: list[str] = []

    class Racing:
        LOCK_EX, LOCK_NB = real.LOCK_EX, real.LOCK_NB

        @staticmethod
        def flock(fd: int, op: int) -> None:
            if not raced:  # the first lock taken: unlink the file first, as a cleanup would
                raced.extend(_temporaries(tmp_path))
                os.unlink(tmp_path / raced[0])
            real.flock(fd, op)

    monkeypatch.setattr(saving, "_fcntl", Racing)
    _model().save(tmp_path / "m.xpnn")
    assert len(raced) == 1 and os.listdir(tmp_path) == ["m.xpnn"]
    xpnn.load_model(tmp_path / "m.xpnn")


def test_without_fcntl_saves_work_and_clean_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows no lock tells a dead save from a live one, so no file is removed."""
    stale = f".m.xpnn.{'0' * 16}.xpnn-tmp"
    (tmp_path / stale).write_bytes(b"half")
    monkeypatch.setattr(saving, "_fcntl", None)
    _model().save(tmp_path / "m.xpnn")
    assert sorted(os.listdir(tmp_path)) == sorted([stale, "m.xpnn"])
    xpnn.load_model(tmp_path / "m.xpnn")


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
