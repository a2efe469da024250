"""load_model on files made to hurt: zip bombs, configs declaring huge layers, foreign layer
classes, headers that lie. Each is refused with a ValueError naming the file, before memory is
spent on it; entries the reader does not know are never opened."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential

BOMB_BYTES = 64 * 2**20  # inflated size of the bombs below (they take ~70 KB on disk)
PEAK_LIMIT = 16 * 2**20  # what refusing a file (or skipping an entry) may cost at most


def _model() -> Sequential:
    model = Sequential([Input((5,)), Dense(8, "relu"), Dense(3, "softmax")], name="m", seed=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small compiled model, saved (75 float32 parameters, Adam's two slots)."""
    path = tmp_path_factory.mktemp("good") / "good.xpnn"
    _model().save(path)
    return path


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _directory_start(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return zf.start_dir


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _header(shape: tuple[int, ...], descr: Any, version: tuple[int, int] = (1, 0)) -> bytes:
    buffer = io.BytesIO()
    d = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, d)
    else:
        np.lib.format.write_array_header_2_0(buffer, d)
    return buffer.getvalue()


def _config(entries: dict[str, bytes]) -> dict[str, Any]:
    raw = np.lib.format.read_array(io.BytesIO(entries["xpnn_config.npy"]))
    return json.loads(raw.tobytes())


def _with_config(entries: dict[str, bytes], config: dict[str, Any]) -> dict[str, bytes]:
    text = json.dumps(config).encode()
    return {**entries, "xpnn_config.npy": _npy(np.frombuffer(text, dtype=np.uint8))}


def _edited(good: Path, out: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    entries = _entries(good)
    config = _config(entries)
    edit(config)
    return _write(out, _with_config(entries, config))


def _add_bomb(good: Path, out: Path, name: str, descr: str = "<f4") -> Path:
    """``good`` with entry ``name`` replaced (or added) by a .npy of BOMB_BYTES of zeros,
    deflated: a valid array that inflates ~1000-fold."""
    entries = _entries(good)
    entries.pop(name, None)
    _write(out, entries)
    with zipfile.ZipFile(out, "a", compresslevel=1) as zf:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            itemsize = np.dtype(descr).itemsize
            f.write(_header((BOMB_BYTES // itemsize,), descr))
            zeros = bytes(2**20)
            for _ in range(BOMB_BYTES // len(zeros)):
                f.write(zeros)
    return out


@pytest.fixture(scope="module")
def bombs(good: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    return {
        name: _add_bomb(good, folder / f"{name}.xpnn", f"{name}.npy")
        for name in ("params", "optimizer.m", "optimizer.junk", "notes")
    }


def _peak(load: Callable[[], Any]) -> tuple[Any, int]:
    """What ``load`` returns or raises, and the most memory it held at once (NumPy's arrays
    included: NumPy reports its allocations to tracemalloc)."""
    tracemalloc.start()
    try:
        try:
            result: Any = load()
        except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refused(path: Path, match: str, **kwargs: Any) -> ValueError:
    with pytest.raises(ValueError, match=match) as info:
        xpnn.load_model(path, **kwargs)
    assert str(path) in str(info.value), "the message names the file"
    return info.value


# -- zip bombs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["params", "optimizer.m", "optimizer.junk"])
def test_a_bomb_in_a_known_entry_is_refused_before_inflating(
    bombs: dict[str, Path], entry: str
) -> None:
    """The zip directory says the entry inflates to 64 MB where the config needs 300 bytes:
    refused from the directory alone (the old reader inflated every entry first)."""
    path = bombs[entry]
    result, peak = _peak(lambda: xpnn.load_model(path))
    assert peak < PEAK_LIMIT, f"{peak:,} bytes"
    assert isinstance(result, ValueError), result
    assert str(path) in str(result) and entry in str(result) and "inflates to" in str(result)


def test_an_unknown_entry_is_never_opened(
    bombs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    model, peak = _peak(lambda: xpnn.load_model(bombs["notes"]))
    assert isinstance(model, Sequential), model
    assert peak < PEAK_LIMIT, f"{peak:,} bytes"
    assert "notes.npy" not in opened
    assert set(opened) <= {"xpnn_config.npy", "params.npy", "state.npy"} | {
        f"optimizer.{k}.npy" for k in ("m", "v", "iterations")
    }


def test_compile_false_never_opens_the_optimizer_entries(bombs: dict[str, Path]) -> None:
    model, peak = _peak(lambda: xpnn.load_model(bombs["optimizer.m"], compile=False))
    assert isinstance(model, Sequential) and model.optimizer is None, model
    assert peak < PEAK_LIMIT


def test_a_directory_that_declares_a_huge_size_is_refused(good: Path, tmp_path: Path) -> None:
    """The central directory's uncompressed size of 'params' patched to ~4 GB."""
    data = bytearray(good.read_bytes())
    central = data.index(b"PK\x01\x02", _directory_start(good))
    while True:  # find params.npy's central-directory record
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == b"params.npy":
            break
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)
    bad = tmp_path / "huge_directory.xpnn"
    bad.write_bytes(bytes(data))
    _refused(bad, "'params' inflates to 4,294,967,280 bytes")


def test_a_config_over_the_cap_is_refused_unread(good: Path, tmp_path: Path) -> None:
    path = _edited(good, tmp_path / "big.xpnn", lambda c: c.update(notes="x" * (5 * 2**20)))
    result, peak = _peak(lambda: xpnn.load_model(path))
    assert peak < 2 * 2**20, f"{peak:,} bytes: the config was read"
    assert isinstance(result, ValueError) and "'xpnn_config' inflates to" in str(result), result


@pytest.mark.parametrize(
    "text", [b"[" * 100_000, b"\xff\xfe{}", b'{"format": 1' + b"1" * 5000 + b"}"]
)
def test_a_config_that_is_not_json_is_a_value_error(
    good: Path, tmp_path: Path, text: bytes
) -> None:
    """Nesting deep enough for a RecursionError, bad UTF-8, an integer past Python's digit
    limit: each a ValueError."""
    entries = {**_entries(good), "xpnn_config.npy": _npy(np.frombuffer(text, dtype=np.uint8))}
    _refused(_write(tmp_path / "cfg.xpnn", entries), "config is not JSON")


# -- configs that declare huge layers ---------------------------------------------------------
def test_huge_declared_layers_are_refused_before_anything_is_allocated(
    good: Path, tmp_path: Path
) -> None:
    """A 3,000 x 3,000 layer over 75 stored numbers: the old loader drew 9M float64 initial
    weights (72 MB) before comparing sizes; now the directory refuses it."""

    def grow(c: dict[str, Any]) -> None:
        c["model"]["input_dim"] = 3000
        c["model"]["layers"][0]["units"] = 3000

    path = _edited(good, tmp_path / "huge.xpnn", grow)
    result, peak = _peak(lambda: xpnn.load_model(path))
    assert peak < PEAK_LIMIT, f"{peak:,} bytes"
    assert isinstance(result, ValueError), result
    assert "9,012,003 float32 parameters" in str(result) and "fewer than" in str(result), result


@pytest.mark.parametrize(
    "input_dim, units", [(10**6, 10**6), (5, 2**70), (10**15, 8), (2**62, 2**62)]
)
def test_absurd_declared_sizes_are_value_errors_not_memory_errors(
    good: Path, tmp_path: Path, input_dim: int, units: int
) -> None:
    def grow(c: dict[str, Any]) -> None:
        c["model"]["input_dim"] = input_dim
        c["model"]["layers"][0]["units"] = units

    _refused(_edited(good, tmp_path / "absurd.xpnn", grow), "fewer than")


@pytest.mark.parametrize("input_dim", [0, -5, True, 5.0, "5", None, [5]])
def test_an_invalid_input_dim_is_a_value_error(good: Path, tmp_path: Path, input_dim: Any) -> None:
    path = _edited(good, tmp_path / "dim.xpnn", lambda c: c["model"].update(input_dim=input_dim))
    _refused(path, "invalid contents")


def test_loading_draws_no_random_numbers(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights are read, not drawn: no initialiser runs, and the global seed sequence that
    unseeded models draw from is left where it was."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an initialiser ran during load_model")

    xpnn.set_random_seed(7)
    expected = Sequential([Input((3,)), Dense(2)]).get_weights()
    xpnn.set_random_seed(7)
    with monkeypatch.context() as m:
        m.setattr(Dense, "initial_params", refuse)
        xpnn.load_model(good)
    after = Sequential([Input((3,)), Dense(2)]).get_weights()
    for a, b in zip(after, expected):
        np.testing.assert_array_equal(a, b)


# -- layer classes ----------------------------------------------------------------------------
@pytest.mark.parametrize("class_name", ["Conv2D", "Layer", "Input", None, 42, "__import__"])
def test_a_layer_class_name_other_than_a_known_one_is_refused(
    good: Path, tmp_path: Path, class_name: Any
) -> None:
    path = _edited(
        good, tmp_path / "cls.xpnn", lambda c: c["model"]["layers"][0].update(class_name=class_name)
    )
    error = _refused(path, "invalid contents")
    assert "class_name" in str(error) and "Dense" in str(error), "lists the accepted names"


def test_a_layer_config_without_class_name_is_refused(good: Path, tmp_path: Path) -> None:
    path = _edited(good, tmp_path / "cls.xpnn", lambda c: c["model"]["layers"][1].pop("class_name"))
    _refused(path, "class_name")


@pytest.mark.parametrize("layers", [None, "Dense", [None], [["Dense"]], {"class_name": "Dense"}])
def test_malformed_layer_lists_are_value_errors(good: Path, tmp_path: Path, layers: Any) -> None:
    path = _edited(good, tmp_path / "l.xpnn", lambda c: c["model"].update(layers=layers))
    _refused(path, "invalid contents")


def test_a_layer_declaring_a_negative_shape_is_refused(good: Path) -> None:
    class Negative(Dense):
        def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
            return [(-input_dim, self.units)]

    _refused(good, "declares a weight of shape", custom_objects={"Dense": Negative})


# -- .npy headers that do not match the config --------------------------------------------------
N_PARAMS = 5 * 8 + 8 + 8 * 3 + 3  # the good model's parameters


def _params_entry(good: Path, out: Path, data: bytes) -> Path:
    return _write(out, {**_entries(good), "params.npy": data})


@pytest.mark.parametrize(
    "data, match",
    [
        (_npy(np.zeros(N_PARAMS, np.float64)), "holds float64, expected float32"),
        (_npy(np.zeros((N_PARAMS, 1), np.float32)), r"has shape \(75, 1\), expected \(75,\)"),
        (_npy(np.zeros(N_PARAMS + 1, np.float32)), r"has shape \(76,\)"),
        (_npy(np.zeros(N_PARAMS, np.int32)), "holds int32"),
        (_npy(np.zeros(N_PARAMS, [("w", "<f4")])), "expected float32"),
        (_header((N_PARAMS,), "|O") + bytes(8 * N_PARAMS), "holds object"),
        (_npy(np.zeros(N_PARAMS, np.float32)) + b"tail", "bytes after its data"),
        (
            b"\x93NUMPY\x03\x00" + _header((N_PARAMS,), "<f4")[8:] + bytes(4 * N_PARAMS),
            r"in .npy format \(3, 0\)",
        ),
        (b"not an npy file at all" + bytes(4 * N_PARAMS), "not a readable"),
        (_npy(np.zeros(3, np.float32)), "fewer than the 300 bytes"),
    ],
    ids=["f64", "2d", "long", "int", "struct", "object", "tail", "v3", "magic", "short"],
)
def test_a_header_that_does_not_match_the_config_is_refused(
    good: Path, tmp_path: Path, data: bytes, match: str
) -> None:
    _refused(_params_entry(good, tmp_path / "h.xpnn", data), match)


def test_big_endian_and_version_2_headers_are_read(good: Path, tmp_path: Path) -> None:
    weights = np.arange(N_PARAMS, dtype=np.float32) / 100
    swapped = _header((N_PARAMS,), ">f4") + weights.astype(">f4").tobytes()
    v2 = _header((N_PARAMS,), "<f4", (2, 0)) + weights.tobytes()
    for name, data in {"be": swapped, "v2": v2}.items():
        model = xpnn.load_model(_params_entry(good, tmp_path / f"{name}.xpnn", data))
        np.testing.assert_array_equal(xpnn.to_numpy(model._params), weights)


def test_a_deflated_file_loads(good: Path, tmp_path: Path) -> None:
    """np.savez_compressed's form (deflated entries) is read like np.savez's (stored)."""
    path = _write(tmp_path / "deflated.xpnn", _entries(good), zipfile.ZIP_DEFLATED)
    loaded, original = xpnn.load_model(path), xpnn.load_model(good)
    for a, b in zip(loaded.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_other_compression_methods_are_refused(good: Path, tmp_path: Path, method: int) -> None:
    _refused(_write(tmp_path / "c.xpnn", _entries(good), method), f"compression method {method}")


def test_an_encrypted_entry_is_refused(good: Path, tmp_path: Path) -> None:
    data = bytearray(good.read_bytes())
    central = data.index(b"PK\x01\x02", _directory_start(good))
    flags = struct.unpack_from("<H", data, central + 8)[0]
    struct.pack_into("<H", data, central + 8, flags | 0x1)
    bad = tmp_path / "encrypted.xpnn"
    bad.write_bytes(bytes(data))
    _refused(bad, "encrypted")


def test_duplicate_entries_are_read_as_zipfile_reads_them(good: Path, tmp_path: Path) -> None:
    """A name twice in the directory: the last one counts, and it is checked like any other."""
    path = tmp_path / "dup.xpnn"
    _write(path, _entries(good))
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as zf:
        zf.writestr("params.npy", _npy(np.zeros(N_PARAMS, np.float64)))
    _refused(path, "holds float64")


def test_the_reader_uses_no_pickle(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)  # np.load can unpickle; the reader does not need it
    assert isinstance(xpnn.load_model(good), Sequential)
