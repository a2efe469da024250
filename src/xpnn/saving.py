"""Save and load models: one ``.npz`` archive holding a JSON config and the arrays.

A model file is data, never code: the config is JSON and each array is read from its ``.npy``
header as raw numbers (object dtypes, which would need pickle, are refused). Loading sizes
everything before it allocates: the config (capped) is read first, the byte counts the
architecture it declares needs are worked out from the layers' shapes (nothing allocated, nothing
drawn) and compared with the sizes in the zip directory, and each header's dtype and shape are
checked before its data is read. Entries the reader does not know are never opened.

Saving writes a temporary file beside the target, holding a lock on it while it writes, fsyncs it
and renames it over the target, so a crash leaves the old file or the new one, never half of one.
The next save removes the temporary files of saves that died (their lock is free), never one a
live save still holds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib import format as npy

from . import losses, optimizers
from .backend import to_numpy

try:
    import fcntl as _fcntl
except ImportError:  # Windows: no flock, so no cleanup of other saves' files
    _fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["save_model", "load_model"]

FORMAT = "xpnn-model"
VERSION = 2  # 2 added the "state" entry (non-trainable layer state)
READABLE_VERSIONS = (1, 2)
_CONFIG_KEY = "xpnn_config"

# The JSON config: a layer's config is ~250 bytes, so 4 MiB holds ~16,000 layers, and parsing
# it takes milliseconds; anything larger is not a config xpnn wrote.
MAX_CONFIG_BYTES = 4 * 2**20
# Bytes an entry may hold beyond its data: the .npy header. NumPy writes 128 bytes for these
# arrays (a header padded to 64 bytes); 4 KiB also bounds what its header parser will read.
_HEADER_SLACK = 4096
_CHUNK = 2**20  # data is read into its array 1 MiB at a time: no second full-size copy
# NumPy writes entries stored (savez) or deflated (savez_compressed); bzip2 and lzma reach far
# higher compression ratios and no xpnn file uses them.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# What zipfile and zlib raise for a damaged archive (RuntimeError: an encrypted entry).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError)


class _Refused(ValueError):
    """A model file refused, with the whole message (never wrapped again)."""


def _unreadable(path: str, why: Any) -> _Refused:
    return _Refused(
        f"{path!r} is not a readable xpnn model file (corrupt, truncated or another format): {why}"
    )


def _invalid(path: str, why: Any) -> _Refused:
    return _Refused(f"{path!r} is an xpnn model file with invalid contents: {why}")


# -- saving ----------------------------------------------------------------------------------------
def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (architecture, weights, layer state, optimizer state, shuffling state)
    to ``path``, atomically: a crash leaves the previous file or the new one.

    Args:
        model: a built ``Sequential``.
        path: the file to write (no extension is added); a path ending in ``.keras`` gets
            Keras 3's own format (keras_format.py), anything else xpnn's.
    """
    if os.fspath(path).endswith(".keras"):
        from . import keras_format

        keras_format.save_model(model, path)
        return
    model._require_built("save")
    config: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.get_config(),
        "rng_state": model._rng.bit_generator.state,
        "compile": None,
    }
    arrays: dict[str, np.ndarray] = {
        "params": to_numpy(model._params),
        "state": to_numpy(model._state),
    }
    if model.loss is not None and model.optimizer is not None:
        config["compile"] = {
            "optimizer": model.optimizer.get_config(),
            "loss": model.loss.get_config(),
            "metrics": [
                m.get_config() for m, w in zip(model.metrics, model._metric_weighted) if not w
            ],
            "weighted_metrics": [
                m.get_config() for m, w in zip(model.metrics, model._metric_weighted) if w
            ],
        }
        for key, value in model.optimizer.get_state().items():
            arrays[f"optimizer.{key}"] = value
    text = json.dumps(config)
    arrays[_CONFIG_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    write_atomically(os.fspath(path), lambda f: np.savez(f, **arrays))


def write_atomically(path: str, write: Any) -> None:
    """The crash-safe write every model file gets: ``write(f)`` into a locked temporary beside
    the target, fsynced, renamed over the target, the folder fsynced (so the rename itself
    survives a power cut)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save the model: the folder {directory!r} does not exist.")
    stem = os.path.basename(path)[:40]
    _remove_stale_temporaries(directory, stem)
    fd, tmp = _create_temporary(directory, stem)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if _fcntl is not None:
                os.replace(tmp, path)  # while still locked: no cleanup takes it for a dead save's
        if _fcntl is None:
            os.replace(tmp, path)  # Windows cannot rename a file that is open
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _temporary_pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{stem}.") + r"[0-9a-f]{16}" + re.escape(".xpnn-tmp"))


def _create_temporary(directory: str, stem: str) -> tuple[int, str]:
    """A new temporary file beside the target, created with the mode an ordinary file gets
    (0o666 less the umask) and locked (flock, exclusive) for as long as the save runs."""
    while True:
        tmp = os.path.join(directory, f".{stem}.{secrets.token_hex(8)}.xpnn-tmp")
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # a name drawn twice (2**64 names): draw another
            continue
        if _fcntl is None:
            return fd, tmp
        try:
            # Blocks only while another save's cleanup, which saw this file before we locked it,
            # holds the lock: that cleanup then unlinks the file, so check we still have a name.
            _fcntl.flock(fd, _fcntl.LOCK_EX)
        except OSError:  # a file system without locks: this save goes unlocked, and no
            return fd, tmp  # cleanup can lock (so remove) its file either
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def _remove_stale_temporaries(directory: str, stem: str) -> None:
    """Remove the temporary files that saves to this target left when they died mid-write.

    A live save holds an exclusive flock on its file; one that died holds nothing (the kernel
    drops a process's locks with it). So a file is removed only if its lock can be taken at
    once, and only if the name still refers to the file locked. Where fcntl is missing, no
    lock says which saves are alive, and nothing is removed."""
    if _fcntl is None:
        return
    pattern = _temporary_pattern(stem)
    try:
        names = [name for name in os.listdir(directory) if pattern.fullmatch(name)]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(directory, name)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(tmp, flags)  # O_NONBLOCK: a FIFO of that name would block the open
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                continue
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)  # raises if a live save holds it
            now = os.lstat(tmp)
            if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
                os.unlink(tmp)
        except OSError:
            continue
        finally:
            os.close(fd)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; nothing to sync there
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


# -- the archive, read with checks -----------------------------------------------------------------
class _Archive:
    """The zip directory of a model file, and checked reads of its ``.npy`` entries."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (*_ZIP_ERRORS, ValueError) as exc:
            raise _unreadable(path, exc) from exc
        # the last entry of a name wins, as in zipfile's own lookup
        self.entries = {
            info.filename[: -len(".npy")]: info for info in infos if info.filename.endswith(".npy")
        }

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self, key: str) -> zipfile.ZipInfo:
        info = self.entries.get(key)
        if info is None:
            raise _invalid(self.path, f"the entry {key!r} is missing.")
        if info.compress_type not in _METHODS:
            raise _unreadable(
                self.path,
                f"the entry {key!r} uses zip compression method {info.compress_type}; "
                "model files are stored or deflated.",
            )
        if info.flag_bits & 0x1:
            raise _unreadable(self.path, f"the entry {key!r} is encrypted.")
        return info

    def check(self, key: str, shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
        """Refuse ``key`` unless the directory's size for it fits ``shape`` of ``dtype`` plus
        a header; nothing is inflated."""
        declared = self.info(key).file_size
        need = math.prod(shape) * dtype.itemsize
        if declared > need + _HEADER_SLACK:
            raise _invalid(
                self.path,
                f"the entry {key!r} inflates to {declared:,} bytes, but {what} needs "
                f"{need:,} bytes of data (plus a header); refused before reading it.",
            )
        if declared < need:
            raise _invalid(
                self.path,
                f"the entry {key!r} holds {declared:,} bytes, fewer than the {need:,} bytes of "
                f"data {what} needs.",
            )

    def read(
        self, key: str, dtype: np.dtype, shape: tuple[int, ...] | None, limit: int = 0
    ) -> np.ndarray:
        """The array in entry ``key``: its header must say ``dtype`` (either byte order) and
        ``shape`` (or, for ``shape=None``, any 1-D length of at most ``limit`` bytes)."""
        info = self.info(key)
        cap = (limit if shape is None else math.prod(shape) * dtype.itemsize) + _HEADER_SLACK
        if info.file_size > cap:
            raise _invalid(
                self.path, f"the entry {key!r} inflates to {info.file_size:,} bytes, over {cap:,}."
            )
        try:
            with self._zip.open(info) as raw:
                f = _Capped(raw, cap, self.path, key)
                got_shape, got_dtype = self._header(f, key)
                if got_dtype.hasobject or got_dtype.newbyteorder("=") != dtype:
                    raise _invalid(
                        self.path,
                        f"the entry {key!r} holds {got_dtype}, expected {dtype} "
                        "(model files hold numbers only, never pickled objects).",
                    )
                if shape is None and len(got_shape) == 1 and got_shape[0] * dtype.itemsize <= limit:
                    shape = got_shape
                if got_shape != shape:
                    raise _invalid(
                        self.path,
                        f"the entry {key!r} has shape {got_shape}, expected "
                        f"{shape if shape is not None else f'(n,) of at most {limit:,} bytes'}.",
                    )
                out = np.empty(shape, dtype=got_dtype)
                data = memoryview(out.reshape(-1).view(np.uint8))
                done = 0
                while done < len(data):
                    chunk = f.read(min(_CHUNK, len(data) - done))
                    if not chunk:
                        raise _unreadable(self.path, f"the entry {key!r} ends inside its data.")
                    data[done : done + len(chunk)] = chunk
                    done += len(chunk)
                if f.read(1):
                    raise _invalid(self.path, f"the entry {key!r} has bytes after its data.")
        except _Refused:
            raise
        except (*_ZIP_ERRORS, ValueError) as exc:  # ValueError: NumPy's header parser
            raise _unreadable(self.path, f"the entry {key!r}: {exc}") from exc
        return out.astype(dtype, copy=False)  # native byte order

    def _header(self, f: _Capped, key: str) -> tuple[tuple[int, ...], np.dtype]:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(f, max_header_size=_HEADER_SLACK)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(f, max_header_size=_HEADER_SLACK)
        else:  # 3.0 exists only for structured dtypes with non-Latin-1 names
            raise _invalid(self.path, f"the entry {key!r} is in .npy format {version}.")
        # fortran_order is ignored: the entries are 0-d or 1-D, where both orders agree
        return tuple(shape), dtype


class _Capped:
    """A read-only stream that refuses to yield more than ``limit`` bytes, whatever the zip
    directory says: the last guard against an entry that inflates past its size."""

    def __init__(self, raw: Any, limit: int, path: str, key: str) -> None:
        self._raw, self._left, self._path, self._key = raw, limit, path, key

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left + 1  # one more than allowed, to see an overrun
        data = self._raw.read(n)
        if len(data) > self._left:
            raise _invalid(self._path, f"the entry {self._key!r} inflates past its size.")
        self._left -= len(data)
        return data


class _OptimizerEntries(Mapping[str, np.ndarray]):
    """The optimizer's saved arrays, read (with checks) only when ``set_state`` asks for one."""

    def __init__(self, archive: _Archive, plan: dict[str, tuple[tuple[int, ...], np.dtype]]):
        self._archive = archive
        prefix = "optimizer."
        self._plan = {k[len(prefix) :]: (k, *v) for k, v in plan.items() if k.startswith(prefix)}

    def __getitem__(self, slot: str) -> np.ndarray:
        key, shape, dtype = self._plan[slot]
        return self._archive.read(key, dtype, shape)

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan)

    def __len__(self) -> int:
        return len(self._plan)


# -- loading ---------------------------------------------------------------------------------------
def load_model(
    path: str | os.PathLike[str],
    compile: bool = True,
    custom_objects: dict[str, Any] | None = None,
) -> Sequential:
    """Load a model written by ``model.save``. No code in the file runs, and every size is
    checked before memory is allocated for it.

    Args:
        path: the model file; one ending in ``.keras`` is read as Keras 3's format
            (keras_format.py), anything else as xpnn's.
        compile: restore the optimizer (with its state) and the loss; False skips both.
        custom_objects: your own layer classes by class name, e.g. ``{"MyLayer": MyLayer}``.

    Returns:
        The model, built, with the weights, layer state and shuffling state saved.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an xpnn model, is damaged, or declares sizes it does not
            hold; the message names the file and what is wrong.
    """
    path = os.fspath(path)
    if path.endswith(".keras"):
        from . import keras_format

        return keras_format.load_model(path, compile=compile, custom_objects=custom_objects)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        with _Archive(path) as archive:
            config = _read_config(archive)
            try:
                return _restore(archive, config, compile, custom_objects)
            except _Refused:
                raise
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise _invalid(path, exc) from exc
    except _Refused as exc:  # a plain ValueError for the caller, with its cause kept
        raise ValueError(str(exc)) from exc.__cause__


def _read_config(archive: _Archive) -> dict[str, Any]:
    path = archive.path
    if _CONFIG_KEY not in archive.entries:
        raise _Refused(f"{path!r} is not an xpnn model file (no xpnn config inside).")
    raw = archive.read(_CONFIG_KEY, np.dtype(np.uint8), None, limit=MAX_CONFIG_BYTES)
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON; nesting too deep
        raise _unreadable(path, f"its config is not JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _Refused(f"{path!r} is not an xpnn model file.")
    version = config.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise _Refused(
            f"{path!r} was written in xpnn model format version {version!r}; this xpnn reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}."
        )
    return config


def _sizes(model: Sequential, input_dim: Any) -> tuple[int, int]:
    """Trainable and non-trainable numbers the architecture needs (Python ints: no overflow,
    nothing allocated)."""
    if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim < 1:
        raise ValueError(f"input_dim must be a positive integer, received {input_dim!r}")
    dim, n_params, n_state = input_dim, 0, 0
    for layer in model.layers:
        n_params += _count(layer, layer.param_shapes(dim))
        n_state += _count(layer, layer.state_shapes(dim))
        dim = layer.output_dim(dim)
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"layer {layer.name!r} declares {dim!r} outputs")
        dim = int(dim)
    return n_params, n_state


def _count(layer: Any, shapes: list[tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes:
        if not all(isinstance(d, int | np.integer) and d >= 0 for d in shape):
            raise ValueError(f"layer {layer.name!r} declares a weight of shape {shape!r}")
        total += math.prod(int(d) for d in shape)
    return total


def _restore(
    archive: _Archive, config: dict[str, Any], compile: bool, custom_objects: dict[str, Any] | None
) -> Sequential:
    from .model import Sequential

    path, spec = archive.path, config["model"]
    if not isinstance(spec, dict):
        raise ValueError(f"the model config is a {type(spec).__name__}, not a dict")
    model = Sequential.from_config(spec, custom_objects=custom_objects)  # allocates nothing
    n_params, n_state = _sizes(model, spec["input_dim"])
    dtype = np.dtype(model.dtype)

    # What each known entry must hold, checked against the zip directory before anything is
    # allocated or inflated. Entries not in the plan are never opened.
    plan: dict[str, tuple[tuple[int, ...], np.dtype]] = {"params": ((n_params,), dtype)}
    whats = {"params": f"the architecture in its config ({n_params:,} {dtype} parameters)"}
    if config["version"] >= 2:
        plan["state"] = ((n_state,), dtype)
        whats["state"] = f"its layers' non-trainable state ({n_state:,} {dtype} numbers)"
    elif n_state:
        raise ValueError(f"a version 1 file has no layer state, but its layers need {n_state:,}")
    restore_optimizer = compile and config["compile"] is not None
    if restore_optimizer:
        for key in archive.entries:
            if key == "optimizer.iterations":
                plan[key], whats[key] = ((), np.dtype(np.int64)), "a step count"
            elif key.startswith("optimizer."):
                plan[key] = ((n_params,), dtype)
                whats[key] = f"an optimizer slot ({n_params:,} {dtype} numbers, as the parameters)"
    for key, (shape, dt) in plan.items():
        archive.check(key, shape, dt, whats[key])

    params = archive.read("params", dtype, (n_params,))
    state = archive.read("state", dtype, (n_state,)) if "state" in plan else None
    try:
        model._build(spec["input_dim"], draw=False)  # zeros: no initialiser runs, nothing drawn
    except MemoryError as exc:
        raise _invalid(
            path, f"its model needs {n_params:,} parameters, more than this machine can hold."
        ) from exc
    model._params[...] = model._xp.asarray(params, dtype=model.dtype)
    if state is not None and state.size:
        model._state[...] = model._xp.asarray(state, dtype=model.dtype)
    model._set_rng_state(config["rng_state"])
    if restore_optimizer:
        c = config["compile"]
        model.compile(
            optimizer=optimizers.from_config(c["optimizer"], custom_objects),
            loss=losses.from_config(c["loss"]),
            metrics=c["metrics"],
            weighted_metrics=c.get("weighted_metrics"),
        )
        model.optimizer.set_state(_OptimizerEntries(archive, plan), model._params)
    return model


# -- weights only ----------------------------------------------------------------------------------
WEIGHTS_FORMAT = "xpnn-weights"


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """``model.save_weights(path)`` for a ``.weights.npz`` path: the flat parameter and state
    buffers, and the optimizer's state when the model is compiled, atomically, without the
    architecture (``load_weights`` needs a model of the same shape)."""
    model._require_built("save_weights")
    config = {
        "format": WEIGHTS_FORMAT,
        "version": 1,
        "params": int(model._params.size),
        "state": int(model._state.size),
    }
    arrays = {"params": to_numpy(model._params), "state": to_numpy(model._state)}
    if model.optimizer is not None and model.loss is not None:
        config["optimizer"] = model.optimizer.get_config()
        for key, value in model.optimizer.get_state().items():
            arrays[f"optimizer.{key}"] = value
    arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    write_atomically(os.fspath(path), lambda f: np.savez(f, **arrays))


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Read a ``.weights.npz`` file into a built model of the same shape (sizes checked from
    the zip directory before anything is read); the optimizer state too when the model is
    compiled with the same optimizer and the file holds it."""
    path = os.fspath(path)
    model._require_built("load_weights")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    try:
        with _Archive(path) as archive:
            if _CONFIG_KEY not in archive.entries:
                raise _Refused(f"{path!r} is not an xpnn weights file (no config inside).")
            raw = archive.read(_CONFIG_KEY, np.dtype(np.uint8), None, limit=MAX_CONFIG_BYTES)
            try:
                config = json.loads(raw.tobytes().decode("utf-8"))
            except (ValueError, RecursionError) as exc:
                raise _unreadable(path, f"its config is not JSON: {exc}") from exc
            if not isinstance(config, dict) or config.get("format") != WEIGHTS_FORMAT:
                raise _Refused(f"{path!r} is not an xpnn weights file.")
            sizes = (int(model._params.size), int(model._state.size))
            if (config.get("params"), config.get("state")) != sizes:
                raise _Refused(
                    f"{path!r} holds weights for {config.get('params')!r} parameters and "
                    f"{config.get('state')!r} state numbers; this model has {sizes[0]} and "
                    f"{sizes[1]}."
                )
            dtype = np.dtype(model.dtype)
            for key, n in (("params", sizes[0]), ("state", sizes[1])):
                archive.check(key, (n,), dtype, f"the model's {key}")
            params = archive.read("params", dtype, (sizes[0],))
            state = archive.read("state", dtype, (sizes[1],))
            if not (np.isfinite(params).all() and np.isfinite(state).all()):
                raise _invalid(path, "its weights contain NaN or infinity.")
            optimizer = model.optimizer
            slots: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
            if optimizer is not None and model.loss is not None and "optimizer" in config:
                if config["optimizer"].get("class_name") != optimizer.get_config().get(
                    "class_name"
                ):
                    raise _Refused(
                        f"{path!r} holds the state of another optimizer "
                        f"({config['optimizer'].get('class_name')!r}); compile the model with "
                        "it, or load the weights before compiling."
                    )
                slots = {f"optimizer.{s}": ((sizes[0],), dtype) for s in optimizer._slots}
                slots["optimizer.iterations"] = ((), np.dtype(np.int64))
                entries = _OptimizerEntries(archive, slots)
                loaded = {k: entries[k] for k in entries}  # all read (checked) before any write
    except _Refused as exc:
        raise ValueError(str(exc)) from exc.__cause__
    model._params[...] = model._xp.asarray(params)
    if state.size:
        model._state[...] = model._xp.asarray(state)
    if slots:
        optimizer.set_state(loaded, model._params)
