"""Keras 3's ``.keras`` files, both ways: ``save_model`` writes a file ``keras.models.load_model``
opens, ``load_model`` reads what ``keras.Model.save`` writes, for a ``Sequential`` of the layers
xpnn has (``Dense``, ``Dropout``, ``BatchNormalization``, ``Activation``), with its compile
arguments and optimizer state.

The file (Keras's ``saving/saving_lib.py``; shared/KERAS-FORMAT.md) is a zip, entries stored,
of ``metadata.json``, ``config.json`` (the model as nested ``{"module", "class_name", "config"}``
objects, with its ``compile_config``) and ``model.weights.h5``, an HDF5 file: each layer's
variables at ``layers/<its class in snake case, numbered by appearance>/vars/<i>`` (its trainable
ones, then the others: ``get_weights()`` order), the optimizer's at ``optimizer/vars/<i>``:
``iterations``, ``learning_rate`` (absent under a schedule), then its slots per trainable
variable in model order.

Loading runs no code from the file: only xpnn's own classes are built, from their arguments;
a Lambda layer, a custom object, a functional or subclassed model, a layer outside the subset
are refused by name. Every size comes from the config and is checked against the file before
anything is allocated, and each dataset's shape and dtype are checked (h5py reads them without
the data) before it is read. HDF5 needs h5py, an optional extra: ``pip install "xpnn[keras]"``.

What does not cross: xpnn's ``kernel``/``kernel_form`` and seed (Keras has neither), Dropout's
mask stream (xpnn keeps ``[counter, seed]`` as layer state; Keras saves no variable for its
seed generator, so a loaded Dropout starts a fresh stream), and a metric object's own name when
it is not one of xpnn's metric names (restored under its class's name: ``compile`` takes names).
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations, initializers, losses, metrics, optimizers, regularizers
from .backend import to_device
from .layers import _BUILTIN as _XPNN_LAYERS
from .saving import _sizes, write_atomically

if TYPE_CHECKING:
    from .layers import Layer
    from .model import Sequential

__all__ = ["save_model", "load_model", "KERAS_VERSION"]

KERAS_VERSION = "3.15.1"  # the Keras whose files these are (shared/KERAS-FORMAT.md)
_METADATA, _CONFIG, _WEIGHTS = "metadata.json", "config.json", "model.weights.h5"
# Keras writes ~1.5 KB of config a layer: 16 MiB is ~10,000 layers, parsed in well under a second.
MAX_CONFIG_BYTES = 16 * 2**20
_INSTALL = 'pip install "xpnn[keras]"'

# The Keras layers xpnn reads and writes (InputLayer aside), by Keras class name; xpnn's classes
# have the same names.
_SUBSET = ("Dense", "Dropout", "BatchNormalization", "Activation")
# xpnn's config keys that Keras's layers do not take (Keras would refuse them).
_XPNN_ONLY = frozenset({"kernel_form"})
# Keras's convolution layers: outside the subset, said so (NotImplementedError), not unknown.
_CONV = re.compile(r"(Separable|Depthwise)?Conv(olution)?[123]D(Transpose)?|ConvLSTM[123]D")

# After ``iterations`` and ``learning_rate``, Keras's optimizers hold one variable per slot per
# trainable variable, in model order. One ``add_optimizer_variables`` call interleaves its
# names per variable (base_optimizer.py: "Interleaves adding variables for backward-
# compatibility"); separate calls follow one another (rmsprop.py). Values: xpnn's slot names.
_SLOTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "SGD": (("velocity",),),  # Keras: "momentum", made only when momentum != 0
    "Adam": (("m", "v"),),  # "momentum", "velocity"
    "AdamW": (("m", "v"),),  # Adam's
    "RMSprop": (("v",),),  # "velocity"; xpnn has no momentum or centered variant
    "Adagrad": (("accumulator",),),
    "Adamax": (("m", "u"),),  # "momentum", "norm"
    "Nadam": (("m", "v"),),  # "momentum", "velocity", then u_product
}
# Scalars Keras keeps after the slots: Nadam's product of momentum factors (nadam.py build),
# which xpnn recomputes from the step count.
_TRAILING: dict[str, tuple[str, ...]] = {"Nadam": ("u_product",)}

# Keras arguments xpnn's classes do not take, at the values where they change nothing. None
# (Keras's "off") is accepted for any argument; _ANY: any value (used only by an option that is
# off, or only for fresh draws, where the weights come from the file).
_ANY = object()
_INERT: dict[str, Any] = {
    "lora_alpha": _ANY,  # only with lora_rank
    "renorm_momentum": _ANY,  # only with renorm
    "ema_momentum": _ANY,  # only with use_ema
    "renorm": (False,),
    "synchronized": (False,),  # one device: the same statistics
    "use_ema": (False,),
    "amsgrad": (False,),
    "centered": (False,),
    "momentum": (0,),  # RMSprop's
    "reduction": ("sum_over_batch_size",),  # xpnn's one reduction
    "label_smoothing": (0,),
    "axis": (-1,),
    "dtype": _ANY,  # of a loss or metric: xpnn computes in the model's dtype
    "name": _ANY,
}

_POLICY_DTYPES = ("float32", "float64")


class _Refused(ValueError):
    """A file refused: the message says why (the caller adds the path)."""


class _Outside(NotImplementedError):
    """A model outside the subset xpnn reads: the message says what."""


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "Reading and writing Keras .keras files needs h5py (their weights are HDF5): "
            f"{_INSTALL}"
        ) from exc
    return h5py


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``: the group name of a layer class (``BatchNormalization``
    -> ``batch_normalization``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _group_names(class_names: list[str]) -> list[str]:
    """Keras's ``_get_unique_name`` over a model's layers: ``dense``, ``dense_1``, ..."""
    used: dict[str, int] = {}
    names = []
    for class_name in class_names:
        base = _snake(class_name)
        if base in used:
            used[base] += 1
            names.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            names.append(base)
    return names


def _keras_layers() -> tuple[str, ...]:
    return tuple(name for name in _SUBSET if name in _XPNN_LAYERS)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _inert(key: str, value: Any) -> bool:
    allowed = _INERT.get(key)
    if value is None or allowed is _ANY:
        return True
    return allowed is not None and any(_same(value, a) for a in allowed)


def _arguments(cls: type, config: dict[str, Any], where: str) -> dict[str, Any]:
    """The constructor arguments of xpnn's ``cls`` from a Keras config: keys it takes pass
    through; others must be at a value where they change nothing (``_INERT``)."""
    params = inspect.signature(cls).parameters
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    out = {}
    for key, value in config.items():
        p = params.get(key)
        if p is not None and p.kind in kinds:
            if value is None and p.default is not None and p.default is not p.empty:
                continue  # Keras's None means its default, which is xpnn's
            out[key] = value
        elif not _inert(key, value):
            raise _Refused(
                f"{where} sets {key}={value!r}, a Keras option xpnn's {cls.__name__} does not "
                "offer."
            )
    return out


def _construct(cls: Any, kwargs: dict[str, Any], where: str) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{where}: {exc}") from exc


def _resolve(get: Any, identifier: Any, where: str) -> Any:
    """``get(identifier)`` of an xpnn module, its error said for the file."""
    try:
        return get(identifier)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{where}: {exc}") from exc


# -- Keras's nested objects -------------------------------------------------------------------
def _nested(module: str, class_name: str, config: Any) -> dict[str, Any]:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _policy(dtype: str) -> dict[str, Any]:
    return _nested("keras", "DTypePolicy", {"name": dtype})


def _keras_object(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    """``(class_name, config)`` of a nested Keras object, refusing anything not Keras's own."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise _Refused(f"{where} is {spec!r}, not a Keras object config.")
    class_name, module = spec["class_name"], spec.get("module")
    registered = spec.get("registered_name")
    if registered not in (None, class_name) or not (
        module is None or (isinstance(module, str) and module.split(".")[0] == "keras")
    ):
        raise _Refused(
            f"{where} is a custom object ({class_name!r} from module {module!r}, registered as "
            f"{registered!r}): xpnn runs no code from a file and builds only its own classes."
        )
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise _Refused(f"{where}: the config of {class_name!r} is {config!r}, not a dict.")
    return class_name, config


def _class_of(get: Any, class_name: str, kind: str, where: str) -> type:
    """xpnn's class of that Keras class name, looked up through the module's ``get`` (which
    takes class names and makes a default instance)."""
    try:
        return type(get(class_name))
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{where}: xpnn has no {kind} {class_name!r} ({exc})") from exc


def _object_in(get: Any, kind: str, value: Any, where: str) -> Any:
    """An initializer or regularizer (``get``: its module's, ``kind``: which) from its name or
    its Keras object config."""
    if isinstance(value, str):
        return _resolve(get, value, where)
    class_name, config = _keras_object(value, where)
    cls = _class_of(get, class_name, kind, where)
    return _construct(cls, _arguments(cls, config, f"{where} ({class_name})"), where)


def _dtype_in(value: Any, where: str) -> str | None:
    """A layer's dtype policy (a name or a ``DTypePolicy``): float32 or float64."""
    if value is None:
        return None
    if isinstance(value, dict):
        class_name, config = _keras_object(value, f"{where} dtype")
        if class_name != "DTypePolicy":
            raise _Refused(f"{where} has a {class_name}: xpnn computes in float32 or float64.")
        value = config.get("name")
    if value not in _POLICY_DTYPES:
        raise _Refused(
            f"{where} has dtype policy {value!r}: xpnn computes in "
            f"{' or '.join(_POLICY_DTYPES)} (mixed precision is not offered)."
        )
    return str(value)


# -- the model, from Keras's config -----------------------------------------------------------
def _check_layer_classes(specs: list[Any]) -> None:
    """Say what is outside the subset before building anything."""
    accepted = _keras_layers()
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
            raise _Refused(f"layer {i} is {spec!r}, not a layer config with a class_name.")
        class_name = spec["class_name"]
        if class_name == "Lambda":
            raise _Refused(
                f"layer {i} is a Lambda layer, which holds Python code; xpnn never runs code "
                "from a file (rebuild it from layers xpnn has)."
            )
        _keras_object(spec, f"layer {i}")  # refuses custom objects
        if class_name in ("Sequential", "Functional", "Model"):
            raise _Outside(f"layer {i} is a nested model ({class_name}); xpnn reads flat stacks.")
        if class_name == "InputLayer":
            if i != 0:
                raise _Refused(f"layer {i} is an InputLayer; it can only come first.")
            continue
        if _CONV.fullmatch(class_name):
            raise _Outside(
                f"layer {i} is a {class_name}: xpnn's layers are dense (the subset is "
                f"{', '.join(accepted)}); convolutions are not offered."
            )
        if class_name not in accepted:
            raise _Refused(
                f"layer {i} has class_name {class_name!r}, which xpnn does not read: expected "
                f"one of InputLayer, {', '.join(accepted)}."
            )


def _layer_in(spec: dict[str, Any], index: int) -> tuple[Layer, str | None]:
    """An xpnn layer (nothing allocated) and its dtype policy, from a Keras layer config."""
    class_name = spec["class_name"]
    _, config = _keras_object(spec, f"layer {index}")
    where = f"layer {index} ({class_name} {config.get('name')!r})"
    config = dict(config)
    trainable = config.pop("trainable", True)
    if trainable is not True:
        raise _Refused(f"{where} is frozen (trainable={trainable!r}); xpnn trains every layer.")
    dtype = _dtype_in(config.pop("dtype", None), where)
    for key, value in config.items():
        if value is None:
            continue
        if key.endswith("_initializer"):
            config[key] = _object_in(initializers.get, "initializer", value, f"{where} {key}")
        elif key.endswith("_regularizer"):
            config[key] = _object_in(regularizers.get, "regularizer", value, f"{where} {key}")
        elif key == "activation" and not isinstance(value, str):
            raise _Refused(
                f"{where} has activation {value!r}; xpnn reads activations by name "
                "(a custom activation is code, which xpnn never runs from a file)."
            )
    cls = _XPNN_LAYERS[class_name]
    return _construct(cls, _arguments(cls, config, where), where), dtype


def _input_dim(specs: list[Any], model_config: dict[str, Any], top: dict[str, Any]) -> int:
    shape: Any = None
    if specs and specs[0]["class_name"] == "InputLayer":
        config = specs[0].get("config") or {}
        for key in ("sparse", "ragged"):
            if config.get(key):
                raise _Refused(f"the InputLayer is {key}; xpnn takes dense arrays.")
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        if shape is None and isinstance(config.get("shape"), list):
            shape = [None, *config["shape"]]
    if shape is None:
        shape = model_config.get("build_input_shape")
    if shape is None and isinstance(top.get("build_config"), dict):
        shape = top["build_config"].get("input_shape")
    if shape is None:
        raise _Refused(
            "the model has no input shape (saved before it was built), so the weights cannot "
            "be sized."
        )
    if not isinstance(shape, list | tuple) or not shape:
        raise _Refused(f"the input shape is {shape!r}, not a list.")
    if len(shape) != 2:
        raise _Outside(
            f"the model takes inputs of shape {list(shape)}: xpnn's layers take (batch, "
            "features); flatten the inputs first."
        )
    features = shape[1]
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise _Refused(f"the input shape is {list(shape)}: features must be a positive integer.")
    return features


def _model_in(top: Any) -> tuple[Sequential, int]:
    """The unbuilt model and its input width from config.json (nothing allocated or drawn)."""
    from .model import Sequential

    if not isinstance(top, dict) or not isinstance(top.get("class_name"), str):
        raise _Refused("config.json does not hold a Keras model config (no class_name).")
    class_name = top["class_name"]
    if class_name in ("Functional", "Model"):
        raise _Outside(
            f"the model is a functional {class_name} (layers called on inputs); xpnn reads "
            "keras.Sequential models: rebuild it as a Sequential."
        )
    if class_name != "Sequential" or top.get("registered_name") not in (None, "Sequential"):
        raise _Outside(
            f"the model is a subclassed model ({class_name!r}, registered as "
            f"{top.get('registered_name')!r}); xpnn reads keras.Sequential models only."
        )
    _, config = _keras_object(top, "the model")
    specs = config.get("layers")
    if not isinstance(specs, list):
        raise _Refused(f"the model's layers are {specs!r}, not a list.")
    if config.get("trainable", True) is not True:
        raise _Refused("the model is frozen (trainable=False); xpnn trains every layer.")
    _check_layer_classes(specs)
    built, dtypes = [], set()
    for i, spec in enumerate(specs):
        if spec["class_name"] != "InputLayer":
            layer, dtype = _layer_in(spec, i)
            built.append(layer)
            dtypes.add(dtype or "float32")
    if not built:
        raise _Refused("the model has no layers.")
    if len(dtypes) > 1:
        raise _Refused(f"the layers mix dtypes {sorted(dtypes)}; an xpnn model has one.")
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise _Refused(f"the model's name is {name!r}, not a string.")
    try:
        model = Sequential(built, name=name, dtype=dtypes.pop())
    except (TypeError, ValueError) as exc:
        raise _Refused(f"the model: {exc}") from exc
    return model, _input_dim(specs, config, top)


# -- compile arguments, from Keras's config ---------------------------------------------------
def _optimizer_in(spec: Any) -> optimizers.Optimizer:
    where = "the optimizer"
    if isinstance(spec, str):
        return _resolve(optimizers.get, spec, where)
    class_name, config = _keras_object(spec, where)
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        _keras_object(rate, f"{where}'s learning rate schedule")  # refuses custom schedules
    try:
        return optimizers.from_config({"class_name": class_name, "config": config})
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{where} ({class_name}): {exc}") from exc


def _loss_in(spec: Any) -> losses.Loss:
    where = "the loss"
    if spec is None:
        raise _Refused(
            "compile_config has no loss (xpnn's compile needs one); load it with compile=False "
            "and compile it yourself."
        )
    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")  # a loss function, serialized by name: keras.losses.mse
    if isinstance(spec, str):
        return _resolve(losses.get, spec, where)
    if isinstance(spec, list | tuple) or (isinstance(spec, dict) and "class_name" not in spec):
        raise _Outside("the model has a loss per output; xpnn's models have one output.")
    class_name, config = _keras_object(spec, where)
    cls = _class_of(losses.get, class_name, "loss", where)
    return _construct(cls, _arguments(cls, config, f"{where} ({class_name})"), where)


# Metric arguments xpnn leaves None until compile resolves them from the loss (0 or 0.5 as a
# threshold, the sigmoid for logits); in a Keras file they are written as resolved.
_RESOLVED = {"threshold": "threshold", "thresholds": "threshold", "from_logits": "_sigmoid"}


def _metric_arguments(metric: metrics.Metric) -> dict[str, Any]:
    """A compiled metric's arguments, with what compile resolved in place of None."""
    out = {}
    for key, value in metric.get_config().items():
        if key in ("class_name", "name"):
            continue
        if value is None and key in _RESOLVED:
            value = getattr(metric, _RESOLVED[key], None)
        if value is not None:
            out[key] = value
    return out


def _behaviour(metric: metrics.Metric) -> tuple[type, dict[str, Any]]:
    """What a compiled metric computes: its class and resolved arguments (``"accuracy"``'s:
    those of the accuracy it picked)."""
    inner = getattr(metric, "inner", None)
    metric = inner if isinstance(inner, metrics.Metric) else metric
    return type(metric), _metric_arguments(metric)


def _metric_in(spec: Any, loss: losses.Loss, units: int) -> Any:
    """A metric for ``compile``: a string as it is; a Keras metric object becomes the xpnn
    metric of that class with the same arguments and name (so the History key is kept)."""
    if isinstance(spec, str):
        return spec
    where = f"the metric {spec!r}"
    class_name, config = _keras_object(spec, where)
    cls = metrics._lookup(class_name)
    if cls is None:
        raise _Refused(
            f"{where}: xpnn has no metric {class_name!r}; expected one of "
            f"{', '.join(metrics.names())}."
        )
    metric = _construct(cls, _arguments(cls, config, f"{where} ({class_name})"), where)
    try:
        metrics.get(metric, loss, units)  # refuses a metric that does not fit the targets
    except ValueError as exc:
        raise _Refused(f"{where}: {exc}") from exc
    return metric


_EXECUTION_KEYS = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")


def _compile_in(spec: Any, units: int) -> dict[str, Any] | None:
    """``compile``'s arguments from ``compile_config`` (None: the model was not compiled) for
    a model of ``units`` outputs."""
    if not spec:
        return None
    if not isinstance(spec, dict):
        raise _Refused(f"compile_config is {spec!r}, not a dict.")
    for key, value in spec.items():
        if key in ("optimizer", "loss", "metrics", *_EXECUTION_KEYS) or value is None:
            continue  # how Keras runs the step changes no number
        if key == "weighted_metrics" and value == []:
            continue
        raise _Refused(
            f"compile_config sets {key}={value!r}, which xpnn's compile does not take; load "
            "with compile=False."
        )
    names = spec.get("metrics") or []
    if not isinstance(names, list):
        raise _Outside(f"the metrics are {names!r}: one list for one output is what xpnn takes.")
    loss = _loss_in(spec.get("loss"))
    return {
        "optimizer": _optimizer_in(spec.get("optimizer")),
        "loss": loss,
        "metrics": [_metric_in(m, loss, units) for m in names],
    }


# -- the zip and the HDF5 file, read with checks ----------------------------------------------
def _entry(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        info = zf.getinfo(name)
    except KeyError:
        names = zf.namelist()
        hint = ""
        if name == _WEIGHTS and "model.weights.npz" in names:
            hint = " (it holds model.weights.npz: xpnn reads Keras's default h5 weights only)"
        raise _Refused(f"the {name!r} entry is missing{hint}; its entries: {names[:10]}.") from None
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Refused(
            f"the entry {name!r} uses zip compression method {info.compress_type}; .keras "
            "files are stored (or deflated)."
        )
    if info.flag_bits & 0x1:
        raise _Refused(f"the entry {name!r} is encrypted.")
    return info


def _read_config(zf: zipfile.ZipFile) -> Any:
    info = _entry(zf, _CONFIG)
    if info.file_size > MAX_CONFIG_BYTES:
        raise _Refused(
            f"config.json declares {info.file_size:,} bytes, over the {MAX_CONFIG_BYTES:,} a "
            "model config can need; refused unread."
        )
    with zf.open(info) as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise _Refused(f"config.json inflates past {MAX_CONFIG_BYTES:,} bytes.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON; nesting too deep
        raise _Refused(f"config.json is not JSON: {exc}") from exc


class _Window(io.RawIOBase):
    """A read-only file over ``size`` bytes of ``f`` from ``start``: a stored zip entry, which
    h5py then reads in place (seeking in it costs nothing, unlike in zipfile's stream)."""

    def __init__(self, f: Any, start: int, size: int) -> None:
        self._f, self._start, self._size, self._pos = f, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        self._f.seek(self._start + self._pos)
        got = self._f.readinto(memoryview(buffer)[:n])
        self._pos += got
        return got


def _open_weights(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> Any:
    """A readable, seekable view of the HDF5 entry."""
    if info.compress_type == zipfile.ZIP_STORED:
        f = open(path, "rb")  # noqa: SIM115 -- the caller closes it with the HDF5 file
        try:
            f.seek(info.header_offset)
            # the local file header (30 bytes, then the name and an extra field)
            header = f.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise _Refused("the zip's local header of model.weights.h5 is damaged.")
            name_length, extra_length = struct.unpack("<2H", header[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            if (
                info.compress_size != info.file_size
                or start + info.file_size > os.fstat(f.fileno()).st_size
            ):
                raise _Refused(
                    f"model.weights.h5 declares {info.file_size:,} bytes that the file does "
                    "not hold."
                )
        except BaseException:
            f.close()
            raise
        return _Window(f, start, info.file_size)
    return zf.open(info)  # deflated: zipfile's stream (slow seeks, but bounded)


def _child(h5py: Any, group: Any, name: str, kind: type, where: str) -> Any:
    """``group[name]`` if it is a ``kind`` reached by a hard link; None if absent. Soft and
    external links are refused unfollowed (an external one would open another file)."""
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise _Refused(f"{where} is a {type(link).__name__}; xpnn follows no HDF5 links.")
    obj = group[name]
    if not isinstance(obj, kind):
        raise _Refused(f"{where} is a {type(obj).__name__}, expected a {kind.__name__}.")
    return obj


def _group(h5py: Any, root: Any, path: str) -> Any:
    node = root
    for i, part in enumerate(path.split("/")):
        node = _child(h5py, node, part, h5py.Group, "/".join(path.split("/")[: i + 1]))
        if node is None:
            return None
    return node


def _dataset(
    h5py: Any, group: Any, key: str, shape: tuple[int, ...], kind: str, where: str
) -> np.ndarray:
    """The array at ``group[key]`` after its shape and dtype are checked (nothing read before)."""
    ds = _child(h5py, group, key, h5py.Dataset, where)
    if ds is None:
        raise _Refused(f"{where} is missing.")
    if tuple(ds.shape) != shape:
        raise _Refused(f"{where} has shape {tuple(ds.shape)}, expected {shape}.")
    dt = ds.dtype
    ok = dt.kind == "f" and dt.itemsize in (4, 8) if kind == "float" else dt.kind in "iu"
    if not ok:
        expected = "float32 or float64" if kind == "float" else "an integer"
        raise _Refused(f"{where} holds {dt}, expected {expected}.")
    if ds.is_virtual or ds.external:
        raise _Refused(f"{where} keeps its data outside the file; xpnn reads none of that.")
    # a chunk larger than the data would make HDF5 allocate more than the shape says
    if ds.chunks is not None and any(c > max(s, 1) for c, s in zip(ds.chunks, shape)):
        raise _Refused(f"{where} has chunks {ds.chunks}, larger than its shape {shape}.")
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise _Refused(f"{where} cannot be read: {exc}") from exc


def _finite(array: np.ndarray, where: str) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise _Refused(f"{where} holds NaN or infinity.")
    return array


# -- loading ----------------------------------------------------------------------------------
def _layer_dims(model: Sequential, input_dim: int) -> list[int]:
    dims = [input_dim]
    for layer in model.layers:
        dims.append(int(layer.output_dim(dims[-1])))
    return dims


def _keras_vars(layer: Layer, dim: int) -> list[tuple[int, ...]]:
    """The shapes of the variables Keras saves for ``layer``: its weights, in ``get_weights()``
    order. State kept out of the weights (``state_in_weights`` false: Dropout's mask stream,
    a SeedGenerator's in Keras) has no variable in the file (Keras's Dropout group is empty)."""
    shapes = [tuple(s) for s in layer.param_shapes(dim)]
    if layer.state_in_weights:
        shapes += [tuple(s) for s in layer.state_shapes(dim)]
    return shapes


def _optimizer_plan(
    optimizer: optimizers.Optimizer, var_shapes: list[tuple[int, ...]]
) -> tuple[list[tuple[str, tuple[int, ...]]], list[tuple[str, tuple[int, ...]]]]:
    """``(header, slots)``: Keras's optimizer variables, ``(what, shape)`` in order: the step
    count and learning rate, then per slot per trainable variable (``what`` is the xpnn slot
    and variable index, ``slot:i``), then the trailing scalars."""
    class_name = type(optimizer).__name__
    if class_name not in _SLOTS:
        raise _Refused(f"xpnn has no .keras layout for the state of {class_name}.")
    header = [("iterations", ())]
    if not isinstance(optimizer.get_config()["learning_rate"], dict):  # a schedule has none
        header.append(("learning_rate", ()))
    slots = []
    have = set(optimizer._slots)
    for group in _SLOTS[class_name]:
        names = [s for s in group if s in have]
        for i, shape in enumerate(var_shapes):
            slots += [(f"{s}:{i}", shape) for s in names]
    missing = have - {what.split(":")[0] for what, _ in slots}
    if missing:
        raise _Refused(f"xpnn has no .keras layout for {class_name}'s {sorted(missing)}.")
    slots += [(name, ()) for name in _TRAILING.get(class_name, ())]
    return header, slots


def load_model(
    path: str | os.PathLike[str],
    compile: bool = True,
    custom_objects: dict[str, Any] | None = None,
) -> Sequential:
    """Load a Keras 3 ``.keras`` file of a ``Sequential`` built from xpnn's layers.

    Args:
        path: the ``.keras`` file.
        compile: restore the optimizer (with its state), the loss and the metrics from the
            file's ``compile_config``; False skips them.
        custom_objects: not taken: a ``.keras`` file is read for xpnn's own classes only.

    Returns:
        The model, built, with the file's weights (and compiled, unless ``compile=False`` or
        the file's model was not).

    Raises:
        ImportError: h5py is not installed (``pip install "xpnn[keras]"``).
        FileNotFoundError: no file at ``path``.
        ValueError: the file is damaged, declares sizes it does not hold, or holds something
            xpnn does not read (an unknown layer, a Lambda layer, a custom object); the message
            names the file and what is wrong.
        NotImplementedError: the model is outside the subset (functional or subclassed, a
            convolution); the message says what.
    """
    path = os.fspath(path)
    if custom_objects:
        raise ValueError(
            "custom_objects cannot be used with a .keras file: xpnn reads only its own classes "
            "from one (custom layers travel in .xpnn files)."
        )
    h5py = _h5py()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        return _load(h5py, path, compile)
    except _Outside as exc:
        raise NotImplementedError(f"Cannot load {path!r} into xpnn: {exc}") from None
    except _Refused as exc:
        raise ValueError(f"Cannot load {path!r} as an xpnn model: {exc}") from exc.__cause__


def _load(h5py: Any, path: str, compile: bool) -> Sequential:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _Refused(f"it is not a .keras file (a zip of config.json and weights): {exc}") from (
            exc
        )
    with zf:
        try:
            top = _read_config(zf)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise _Refused(f"config.json cannot be read: {exc}") from exc
        model, input_dim = _model_in(top)
        n_params, _ = _sizes(model, input_dim)  # Python ints: checked, nothing allocated
        plan = _plan_weights(model, input_dim)
        compiled = _compile_in(top.get("compile_config"), plan.dims[-1]) if compile else None
        if compiled is not None:
            plan.add_optimizer(compiled["optimizer"])

        # Everything the file must hold must be in the entry (4 bytes a number at least): a file
        # cannot make xpnn allocate more than it holds. That is the layers' variables and the
        # optimizer's step count and rate; its slots are absent from the file of a model
        # compiled but never trained, and checked by _read_optimizer once it sees them.
        info = _entry(zf, _WEIGHTS)
        count = plan.numbers(optimizer=True)
        if 4 * count > info.file_size:
            raise _Refused(
                f"its config needs {count:,} numbers ({n_params:,} trainable), more than the "
                f"{info.file_size:,} bytes of model.weights.h5 can hold."
            )
        raw = _open_weights(zf, info, path)
        try:
            weights, state = _read_weights(
                h5py, raw, "model.weights.h5", info.file_size, model, plan
            )
        except (OSError, KeyError, RuntimeError) as exc:  # h5py on a damaged file
            raise _Refused(f"model.weights.h5 cannot be read: {exc}") from exc
        finally:
            raw.close()

    model._build(input_dim, draw=False)  # zeros; the file's values go in next
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise _Refused(f"its weights: {exc}") from exc
    for layer, dim in zip(model.layers, plan.dims):
        if not layer.state_in_weights:  # not in the file: made as a new layer's would be
            layer.initial_params(dim, model._rng)  # draws an unseeded Dropout's seed
            for view, value in zip(layer.state, layer.initial_state(dim)):
                view[...] = to_device(value, dtype=model.dtype)
    if compiled is not None:
        try:
            model.compile(**compiled)
        except (TypeError, ValueError) as exc:
            raise _Refused(f"its compile_config: {exc}") from exc
        _set_optimizer_state(model, state, plan.slots, plan.trainable)
    return model


@dataclasses.dataclass
class _WeightsPlan:
    """What a weights file holds for a model, in the file's order: per layer the shapes of
    Keras's variables, under the layer's group name; the optimizer's once it is added."""

    dims: list[int]  # the input width of each layer, then the output's
    groups: list[str]
    layers: list[list[tuple[int, ...]]]
    trainable: list[tuple[int, ...]]
    compiled: bool = False  # whether the optimizer's variables are read
    header: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)
    slots: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)

    def add_optimizer(self, optimizer: optimizers.Optimizer) -> None:
        """Plan ``optimizer``'s variables too (see ``_optimizer_plan``)."""
        self.header, self.slots = _optimizer_plan(optimizer, self.trainable)
        self.compiled = True

    def numbers(self, optimizer: bool) -> int:
        """How many numbers a file must hold at least: the layers' variables, with the
        optimizer's step count and rate if asked (not its slots: Keras saves none for an
        optimizer that never stepped)."""
        count = sum(math.prod(s) for shapes in self.layers for s in shapes)
        if optimizer:
            count += sum(math.prod(s) for _, s in self.header)
        return count


def _plan_weights(model: Sequential, input_dim: int) -> _WeightsPlan:
    """The layers' part of the weights file of ``model`` built on ``input_dim`` features:
    sizes from the structure alone, nothing allocated."""
    dims = _layer_dims(model, input_dim)
    return _WeightsPlan(
        dims=dims,
        groups=_group_names([type(layer).__name__ for layer in model.layers]),
        layers=[_keras_vars(layer, dim) for layer, dim in zip(model.layers, dims)],
        trainable=[tuple(s) for lyr, d in zip(model.layers, dims) for s in lyr.param_shapes(d)],
    )


def _read_weights(
    h5py: Any, source: Any, name: str, size: int, model: Sequential, plan: _WeightsPlan
) -> tuple[list[np.ndarray], dict[str, np.ndarray] | None]:
    """``(weights, optimizer state)`` as ``plan`` lays them out, from the HDF5 file ``source``
    (a path or a readable binary file) of ``size`` bytes; the state is None when the plan has
    no optimizer. ``name`` names the file in refusals."""
    try:
        h5 = h5py.File(source, "r")
    except (OSError, ValueError) as exc:
        raise _Refused(f"{name} is not a readable HDF5 file: {exc}") from exc
    with h5:
        weights = _read_layers(h5py, h5, model, plan.groups, plan.layers)
        state = None
        if plan.compiled:
            room = size // 4 - plan.numbers(optimizer=False)  # numbers left for the optimizer
            state = _read_optimizer(h5py, h5, plan.header, plan.slots, room, name, size)
    return weights, state


def _read_layers(
    h5py: Any,
    h5: Any,
    model: Sequential,
    groups: list[str],
    plan: list[list[tuple[int, ...]]],
) -> list[np.ndarray]:
    """Every layer's weights in ``get_weights()`` order, from the file."""
    weights: list[np.ndarray] = []
    for layer, group_name, shapes in zip(model.layers, groups, plan):
        where = f"layers/{group_name}/vars"
        group = _group(h5py, h5, where)
        if group is None and "_layer_checkpoint_dependencies" in h5:
            # tf.keras 2.13's files, which Keras 3 reads too (saving_lib.py H5IOStore.get)
            where = f"_layer_checkpoint_dependencies/{group_name}/vars"
            group = _group(h5py, h5, where)
        if group is None:
            if shapes:
                raise _Refused(f"{where} (layer {layer.name!r}) is missing.")
        elif len(group) != len(shapes):
            raise _Refused(
                f"{where} holds {len(group)} variables; layer {layer.name!r} "
                f"({type(layer).__name__}) has {len(shapes)}."
            )
        for i, shape in enumerate(shapes):
            weights.append(_dataset(h5py, group, str(i), shape, "float", f"{where}/{i}"))
    return weights


def _read_optimizer(
    h5py: Any,
    h5: Any,
    header: list[tuple[str, tuple[int, ...]]],
    slots: list[tuple[str, tuple[int, ...]]],
    room: int,
    name: str,
    size: int,
) -> dict[str, np.ndarray]:
    """The optimizer's variables by name: all of them, only the step count and learning rate
    (Keras saves just those for an optimizer that never stepped), or none (no group). ``room``:
    how many numbers the file (``name``, ``size`` bytes) holds at most besides the layers'."""
    group = _group(h5py, h5, "optimizer/vars")
    if group is None:
        return {}
    if len(group) not in (len(header), len(header) + len(slots)):
        raise _Refused(
            f"optimizer/vars holds {len(group)} variables; this optimizer has "
            f"{len(header) + len(slots)} (or {len(header)} before its first step)."
        )
    planned = header + slots[: len(group) - len(header)]
    # Each dataset is read at the shape planned from the config, but HDF5 returns fill values
    # for storage never written: the slots present must fit in the file, as the layers must.
    count = sum(math.prod(shape) for _, shape in planned)
    if count > room:
        raise _Refused(
            f"optimizer/vars holds {len(group)} variables of {count:,} numbers, more than the "
            f"{size:,} bytes of {name} can hold besides the layers' weights."
        )
    out = {}
    for i, (what, shape) in enumerate(planned):
        kind = "int" if what == "iterations" else "float"
        out[what] = _finite(
            _dataset(h5py, group, str(i), shape, kind, f"optimizer/vars/{i} ({what})"),
            f"optimizer/vars/{i} ({what})",
        )
    return out


def _set_optimizer_state(
    model: Sequential,
    state: dict[str, np.ndarray] | None,
    slots: list[tuple[str, tuple[int, ...]]],
    trainable: list[tuple[int, ...]],
) -> None:
    optimizer = model.optimizer
    if not state:
        return
    iterations = int(state["iterations"])
    if not 0 <= iterations < 2**53:
        raise _Refused(f"the optimizer's step count is {iterations}.")
    if "learning_rate" in state:
        # Keras keeps the rate in float32; the config's value is the same rate unless it was
        # changed after compile (ReduceLROnPlateau), and keeps the digits a float32 drops
        rate = float(state["learning_rate"])
        if np.float32(optimizer.learning_rate) != np.float32(rate):
            try:
                optimizer.learning_rate = rate
            except (TypeError, ValueError) as exc:
                raise _Refused(f"the optimizer's learning rate: {exc}") from exc
    names = optimizer._slots
    if names and any(what.split(":")[0] in names for what in state):
        sizes = [math.prod(s) for s in trainable]
        offsets = np.cumsum([0, *sizes])
        flat = {s: np.empty(int(offsets[-1]), dtype=model.dtype) for s in names}
        for what, _ in slots:
            slot, _, i = what.partition(":")
            if slot in flat:
                k = int(i)
                flat[slot][offsets[k] : offsets[k + 1]] = state[what].ravel()
        optimizer.set_state({**flat, "iterations": np.int64(iterations)}, model._params)
    else:  # a fresh optimizer's state (Keras saved only the step count and rate)
        optimizer.iterations = iterations


# -- saving -----------------------------------------------------------------------------------
def _initializer_out(value: Any, where: str) -> dict[str, Any]:
    initializer = initializers.get(value)
    config = initializers.serialize(initializer)
    if _class_of(initializers.get, config["class_name"], "initializer", where) is not type(
        initializer
    ):
        raise ValueError(f"{where}: {initializer!r} has no Keras equivalent.")
    return _nested("keras.initializers", config["class_name"], config["config"])


def _regularizer_out(value: Any, where: str) -> dict[str, Any] | None:
    regularizer = regularizers.get(value)
    if regularizer is None:
        return None
    config = regularizers.serialize(regularizer)
    if _class_of(regularizers.get, config["class_name"], "regularizer", where) is not type(
        regularizer
    ):
        raise ValueError(f"{where}: {regularizer!r} has no Keras equivalent.")
    return _nested("keras.regularizers", config["class_name"], config["config"])


def _layer_out(layer: Layer, dim: int, dtype: str) -> dict[str, Any]:
    config = layer.get_config()
    class_name = config.pop("class_name")
    where = f"layer {layer.name!r} ({class_name})"
    if class_name not in _keras_layers() or type(layer) is not _XPNN_LAYERS[class_name]:
        raise ValueError(
            f"Cannot save {where} in a .keras file: Keras's subset xpnn writes is "
            f"{', '.join(_keras_layers())}; save to a .xpnn file instead."
        )
    activation = getattr(layer, "activation", None)
    if activation is not None and _resolve(activations.get, activation.name, where) is not (
        activation
    ):
        raise ValueError(f"Cannot save {where} in a .keras file: its activation is not Keras's.")
    out: dict[str, Any] = {"name": config.pop("name"), "trainable": True, "dtype": _policy(dtype)}
    for key, value in config.items():
        if key in _XPNN_ONLY:
            continue
        if key.endswith("_initializer"):
            value = _initializer_out(value, f"{where} {key}")
        elif key.endswith("_regularizer"):
            value = _regularizer_out(value, f"{where} {key}")
            if value is None and key == "activity_regularizer":
                continue  # Keras writes it only when set (layer.py get_config)
        out[key] = value
    spec = _nested("keras.layers", class_name, out)
    if _keras_vars(layer, dim):  # Keras's layers without variables are built at creation
        spec["build_config"] = {"input_shape": [None, dim]}
    return spec


# Metric names Keras's compile resolves besides its classes' names and their snake case
# (metrics/__init__.py ALL_OBJECTS_DICT, compile_utils.py for "accuracy").
_KERAS_METRIC_ALIASES = frozenset({"accuracy", "acc", "mse", "mae", "MSE", "MAE"})


def _metric_out(name: str, metric: metrics.Metric) -> Any:
    """A compiled metric as Keras's compile takes it: a name where Keras resolves it to the same
    metric, else the metric object with its arguments."""
    if type(metric).__name__ == "_Accuracy":
        inner = metric.inner
        if not (isinstance(inner, metrics.BinaryAccuracy) and inner.threshold != 0.5):
            return name  # Keras picks the same accuracy from the loss (compile_utils.py)
        metric = inner  # xpnn thresholds logits at 0; Keras's "accuracy" would at 0.5
    class_name = type(metric).__name__
    arguments = _metric_arguments(metric)
    if not arguments and (
        name in _KERAS_METRIC_ALIASES or name in (class_name, _snake(class_name))
    ):
        return name
    return _nested("keras.metrics", class_name, {"name": name, **arguments})


def _own_class(get: Any, class_name: str, obj: Any) -> bool:
    """Whether ``obj`` is of the xpnn class Keras knows by ``class_name`` (not a subclass
    of one's own, which Keras could not rebuild)."""
    try:
        return type(get(class_name)) is type(obj)
    except (TypeError, ValueError):
        return False


def _compile_out(model: Sequential) -> dict[str, Any]:
    optimizer_config = model.optimizer.get_config()
    optimizer_class = optimizer_config.pop("class_name")
    if optimizer_class not in _SLOTS or not _own_class(
        optimizers.get, optimizer_class.lower(), model.optimizer
    ):
        raise ValueError(
            f"Cannot save the optimizer {model.optimizer!r} in a .keras file: the Keras "
            f"optimizers xpnn writes are {', '.join(_SLOTS)}; save to a .xpnn file instead."
        )
    loss_config = model.loss.get_config()
    loss_class = loss_config.pop("class_name")
    if not _own_class(losses.get, loss_class, model.loss):
        raise ValueError(
            f"Cannot save the loss {model.loss!r} in a .keras file: it is not one of Keras's "
            "losses; save to a .xpnn file instead."
        )
    name = loss_config.pop("name")
    loss_config = {"name": name, "reduction": "sum_over_batch_size", **loss_config}
    names = [_metric_out(m.name, m) for m in model.metrics]  # a name given is the name
    return {
        "optimizer": _nested("keras.optimizers", optimizer_class, optimizer_config),
        "loss": _nested("keras.losses", loss_class, loss_config),
        "loss_weights": None,
        "metrics": names or None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": "auto",  # xpnn's jit_compile (CUDA graphs) is not Keras's (XLA)
    }


def _config_out(model: Sequential) -> dict[str, Any]:
    dtype = model.dtype.name
    dims = _layer_dims(model, model.input_dim)
    input_layer = _nested(
        "keras.layers",
        "InputLayer",
        {
            "batch_shape": [None, model.input_dim],
            "dtype": dtype,
            "sparse": False,
            "name": "input_layer",
        },
    )
    layer_specs = [_layer_out(layer, dim, dtype) for layer, dim in zip(model.layers, dims)]
    top = _nested(
        "keras",
        "Sequential",
        {
            "name": model.name,
            "trainable": True,
            "dtype": _policy(dtype),
            "layers": [input_layer, *layer_specs],
            "build_input_shape": [None, model.input_dim],
        },
    )
    top["build_config"] = {"input_shape": [None, model.input_dim]}
    if model.optimizer is not None and model.loss is not None:
        top["compile_config"] = _compile_out(model)
    return top


def _weights_out(h5py: Any, model: Sequential) -> bytes:
    """model.weights.h5 as Keras's H5IOStore lays it out (saving_lib.py)."""
    dims = _layer_dims(model, model.input_dim)
    weights = model.get_weights()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name  # the model's own (none)
        groups = _group_names([type(layer).__name__ for layer in model.layers])
        k = 0
        trainable = []
        for layer, group_name, dim in zip(model.layers, groups, dims):
            n = len(_keras_vars(layer, dim))  # the layer's share of get_weights()
            arrays = weights[k : k + n]
            k += n
            trainable += arrays[: len(layer.param_shapes(dim))]
            group = h5.create_group(f"layers/{group_name}/vars")
            group.attrs["name"] = layer.name
            for i, array in enumerate(arrays):
                group[str(i)] = array
        if model.optimizer is not None and model.loss is not None:
            group = h5.create_group("optimizer/vars")
            group.attrs["name"] = model.optimizer.name
            for i, array in enumerate(_optimizer_vars(model, trainable)):
                group[str(i)] = array
    return buffer.getvalue()


def _optimizer_vars(model: Sequential, trainable: list[np.ndarray]) -> list[np.ndarray]:
    optimizer = model.optimizer
    shapes = [a.shape for a in trainable]
    header, slots = _optimizer_plan(optimizer, shapes)
    state = optimizer.get_state()
    out = [np.array(optimizer.iterations, dtype=np.int64)]
    if len(header) == 2:  # Keras's learning rate variable is in floatx, float32
        out.append(np.array(optimizer.learning_rate, dtype=np.float32))
    offsets = np.cumsum([0, *(math.prod(s) for s in shapes)])
    for what, shape in slots:
        slot, _, i = what.partition(":")
        if slot == "u_product":  # Nadam's, from the step count as xpnn keeps it
            value = optimizers._u_product_at(optimizer.iterations, optimizer.beta_1)[0]
            out.append(np.array(value, dtype=model.dtype))
        else:
            k = int(i)
            out.append(state[slot][offsets[k] : offsets[k + 1]].reshape(shape))
    return out


def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file (architecture, weights, and the compile
    arguments with the optimizer state), atomically: a crash leaves the previous file or the
    new one.

    Args:
        model: a built ``Sequential`` of Dense, Dropout, BatchNormalization and Activation
            layers.
        path: the file to write (Keras wants the ``.keras`` extension).

    Raises:
        ImportError: h5py is not installed (``pip install "xpnn[keras]"``).
        ValueError: a layer, optimizer or metric has no Keras equivalent.
    """
    h5py = _h5py()
    model._require_built("save")
    # everything is made before the file is touched: a refused model leaves no trace
    config = json.dumps(_config_out(model))
    weights = _weights_out(h5py, model)
    metadata = json.dumps(
        {
            "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        }
    )
    entries = [(_METADATA, metadata.encode()), (_CONFIG, config.encode()), (_WEIGHTS, weights)]

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in entries:
                zf.writestr(name, data)

    write_atomically(os.fspath(path), write)


# -- weights only: Keras's .weights.h5 -------------------------------------------------------------
def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """``model.save_weights("x.weights.h5")``: the HDF5 file Keras 3's ``save_weights`` writes
    (the ``model.weights.h5`` of a ``.keras`` file), atomically."""
    h5py = _h5py()
    model._require_built("save_weights")
    data = _weights_out(h5py, model)
    write_atomically(os.fspath(path), lambda f: f.write(data))


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Read a Keras 3 ``.weights.h5`` file (Keras's or xpnn's) into a built model of the same
    architecture; the optimizer's variables too when the model is compiled and the file holds
    them. Sizes are checked against the file's size before anything is read."""
    h5py = _h5py()
    path = os.fspath(path)
    model._require_built("load_weights")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    try:
        plan = _plan_weights(model, model.input_dim)
        compiled = model.optimizer is not None and model.loss is not None
        if compiled:
            plan.add_optimizer(model.optimizer)
        count = plan.numbers(optimizer=False)
        if 4 * count > os.path.getsize(path):
            raise _Refused(f"it holds fewer bytes than the model's {count:,} weights need.")
        weights, state = _read_weights(h5py, path, "the file", os.path.getsize(path), model, plan)
        model.set_weights(weights)  # checks every shape; writes nothing unless all pass
        if compiled:
            _set_optimizer_state(model, state, plan.slots, plan.trainable)
    except (_Refused, OSError, KeyError, RuntimeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path!r} cannot be loaded as weights: {exc}") from exc
