"""Save and load models: one ``.npz`` archive holding a JSON config and the arrays.

Loading never executes code: the archive is read with ``allow_pickle=False`` and the config is
plain JSON. Saving writes a temporary file beside the target and renames it over the target,
so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from . import losses, optimizers
from .backend import to_numpy
from .layers import Dense

__all__ = ["save_model", "load_model"]

FORMAT = "xpnn-model"
VERSION = 1
_CONFIG_KEY = "xpnn_config"


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (architecture, weights, optimizer state, shuffling state) to ``path``."""
    model._require_built("save")
    config: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.get_config(),
        "rng_state": model._rng.bit_generator.state,
        "compile": None,
    }
    arrays: dict[str, np.ndarray] = {"params": to_numpy(model._params)}
    if model.loss is not None and model.optimizer is not None:
        config["compile"] = {
            "optimizer": model.optimizer.get_config(),
            "loss": model.loss.get_config(),
            "metrics": model._metric_names,
        }
        for key, value in model.optimizer.get_state().items():
            arrays[f"optimizer.{key}"] = value
    text = json.dumps(config)
    arrays[_CONFIG_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save the model: the folder {directory!r} does not exist.")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".xpnn-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it a file's usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


def _unreadable(path: str, exc: Exception) -> ValueError:
    return ValueError(
        f"{path!r} is not a readable xpnn model file (corrupt, truncated or another format): {exc}"
    )


def load_model(path: str | os.PathLike[str], compile: bool = True) -> Any:
    """Load a model written by ``model.save``; ``compile=False`` skips optimizer and loss."""
    from .model import Sequential

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        # ValueError: NumPy takes a non-zip file for a pickle and refuses it;
        # NotImplementedError: zipfile meets a compression method it does not know
        raise _unreadable(path, exc) from exc
    if _CONFIG_KEY not in arrays:
        raise ValueError(f"{path!r} is not an xpnn model file (no xpnn config inside).")
    try:
        config = json.loads(arrays.pop(_CONFIG_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _unreadable(path, exc) from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not an xpnn model file.")
    if config.get("version") != VERSION:
        raise ValueError(
            f"{path!r} was written in xpnn model format version {config.get('version')!r}; "
            f"this xpnn reads version {VERSION}."
        )
    try:
        spec = config["model"]
        model = Sequential(
            [Dense.from_config(layer) for layer in spec["layers"]],
            name=spec["name"],
            kernel=spec["kernel"],
            dtype=spec["dtype"],
            seed=spec["seed"],
        )
        model.build((None, spec["input_dim"]))
        params = arrays["params"]
        if params.shape != tuple(model._params.shape):
            raise ValueError(
                f"weights hold {params.size} numbers, the architecture needs {model._params.size}"
            )
        model._params[...] = model._xp.asarray(params, dtype=model.dtype)
        model._rng.bit_generator.state = config["rng_state"]
        if compile and config["compile"] is not None:
            c = config["compile"]
            model.compile(
                optimizer=optimizers.from_config(c["optimizer"]),
                loss=losses.from_config(c["loss"]),
                metrics=c["metrics"],
            )
            state = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("optimizer.")}
            model.optimizer.set_state(state, model._params)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r} is an xpnn model file with invalid contents: {exc}") from exc
    return model
