"""Keras 3's ``.keras`` files both ways (keras_format.py).

(a) Files Keras 3.15 wrote (tests/data/keras, made by generate.py there) load, predict Keras's
numbers and train on as Keras did from the same optimizer state. (b) Files xpnn writes have
the layout shared/KERAS-FORMAT.md describes and the config keys Keras's own files have; where
Keras is installed, Keras loads them and predicts and trains with the same numbers. (c) Round
trips through a .keras file keep weights, optimizer state and training. (d) Hostile files.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Input, Sequential, initializers, keras_format, layers, optimizers, schedules

h5py = pytest.importorskip("h5py")

DATA = Path(__file__).parent / "data" / "keras"
EXPECTED = np.load(DATA / "expected.npz")
KERAS_FILES = [
    "dense_adam",
    "sgd_nesterov",
    "rmsprop_logits",
    "uncompiled_float64",
    "subset_adam",
    "subset_adamw",
]
TRAINED_ON = [n for n in KERAS_FILES if f"{n}.x_next" in EXPECTED.files]


def _tolerance(model: Sequential) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 1e-12} if model.dtype == np.float64 else {"atol": 2e-6}


# -- helpers: Keras's files, read and rewritten independently of keras_format ---------------------
def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _config(path: Path) -> dict[str, Any]:
    return json.loads(_entries(path)["config.json"])


def _h5_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of the file's model.weights.h5, by path."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(_entries(path)["model.weights.h5"]), "r") as h5:
        h5.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return out


def _rewrite(
    src: Path,
    dst: Path,
    config: Callable[[dict[str, Any]], Any] | None = None,
    weights: Callable[[Any], None] | None = None,
    drop: tuple[str, ...] = (),
    method: int = zipfile.ZIP_STORED,
) -> Path:
    """A copy of ``src`` with its config edited (``config(c)`` edits in place or returns a new
    one), its HDF5 file edited (``weights(h5)``, opened r+), entries dropped, or recompressed."""
    entries = _entries(src)
    if config is not None:
        c = json.loads(entries["config.json"])
        c = config(c) or c
        entries["config.json"] = json.dumps(c).encode()
    if weights is not None:
        buffer = io.BytesIO(entries["model.weights.h5"])
        with h5py.File(buffer, "r+") as h5:
            weights(h5)
        entries["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(dst, "w", compression=method) as zf:
        for name, data in entries.items():
            if name not in drop:
                zf.writestr(name, data)
    return dst


def _layer_configs(c: dict[str, Any]) -> list[dict[str, Any]]:
    return c["config"]["layers"]


def _blobs(n: int = 48, features: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5))


def _subset_model(dropout: bool = True, seed: int = 7) -> Sequential:
    """Every layer of the subset, with initializers and regularizers (Dropout optional: its
    masks are the one thing a .keras file does not carry)."""
    stack: list[Any] = [
        Input((4,)),
        layers.Dense(
            6,
            "relu",
            kernel_regularizer=xpnn.regularizers.L2(1e-3),
            bias_regularizer=xpnn.regularizers.L1(1e-4),
            bias_initializer=initializers.RandomNormal(0.1, 0.2),
            name="hidden",
        ),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False, name="bn"),
    ]
    if dropout:
        stack.append(layers.Dropout(0.25, seed=5, name="drop"))
    stack += [
        layers.Activation("tanh", name="squash"),
        layers.Dense(3, "softmax", kernel_initializer="he_uniform", name="out"),
    ]
    return Sequential(stack, name="subset", seed=seed)


def _trained(
    optimizer: Any = None, dropout: bool = False, metrics: list[str] | None = None
) -> Sequential:
    model = _subset_model(dropout)
    model.compile(
        optimizer or optimizers.Adam(3e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"] if metrics is None else metrics,
    )
    model.fit(*_blobs(), batch_size=16, epochs=2, verbose=0)
    return model


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Sequential, Path]:
    model = _trained(dropout=True)
    path = tmp_path / "m.keras"
    model.save(path)
    return model, path


# -- (a) files Keras wrote ------------------------------------------------------------------------
@pytest.mark.parametrize("name", KERAS_FILES)
def test_a_keras_file_predicts_what_keras_predicted(name: str, xp: Any) -> None:
    model = xpnn.load_model(DATA / f"{name}.keras")
    pred = model.predict(EXPECTED[f"{name}.x"])
    np.testing.assert_allclose(pred, EXPECTED[f"{name}.pred"], **_tolerance(model))


@pytest.mark.parametrize("name", TRAINED_ON)
def test_training_goes_on_as_it_did_in_keras(name: str, xp: Any) -> None:
    # Keras took this step after loading the same file: equal numbers mean the optimizer's
    # moments, step count and learning rate were all mapped where Keras keeps them.
    model = xpnn.load_model(DATA / f"{name}.keras")
    history = model.fit(
        EXPECTED[f"{name}.x_next"],
        EXPECTED[f"{name}.y_next"],
        batch_size=12,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    np.testing.assert_allclose(history.history["loss"][0], EXPECTED[f"{name}.loss_next"], rtol=2e-6)
    pred = model.predict(EXPECTED[f"{name}.x"])
    np.testing.assert_allclose(pred, EXPECTED[f"{name}.pred_next"], atol=2e-6)


@pytest.mark.parametrize("name", KERAS_FILES)
def test_weights_and_optimizer_state_are_the_files_variables(name: str) -> None:
    path = DATA / f"{name}.keras"
    model = xpnn.load_model(path)
    arrays = _h5_arrays(path)
    groups = {"Dense": "dense", "BatchNormalization": "batch_normalization"}
    counts: dict[str, int] = {}
    weights = iter(model.get_weights())
    trainable = []
    for layer in model.layers:
        kind = type(layer).__name__
        n_params = len(layer.params)
        n_state = len(layer.state) if layer.state_in_weights else 0
        mine = [next(weights) for _ in range(n_params + n_state)]
        if kind not in groups:
            continue  # Dropout and Activation: Keras saves no variable
        k = counts.get(kind, 0)
        counts[kind] = k + 1
        group = groups[kind] + (f"_{k}" if k else "")
        for i, w in enumerate(mine):
            np.testing.assert_array_equal(w, arrays[f"layers/{group}/vars/{i}"])
        trainable += mine[:n_params]
    if model.optimizer is None:
        return
    opt = model.optimizer
    assert opt.iterations == int(arrays["optimizer/vars/0"]) > 0
    assert opt.learning_rate == float(arrays["optimizer/vars/1"])
    slots = {"Adam": ("m", "v"), "AdamW": ("m", "v"), "SGD": ("velocity",), "RMSprop": ("v",)}
    names = slots[type(opt).__name__]
    state = {s: xpnn.to_numpy(opt.state[s]) for s in names}
    offset, k = 0, 2
    for w in trainable:  # Keras interleaves the slots per variable: m0, v0, m1, v1, ...
        for s in names:
            np.testing.assert_array_equal(
                state[s][offset : offset + w.size].reshape(w.shape), arrays[f"optimizer/vars/{k}"]
            )
            k += 1
        offset += w.size
    assert k == len([a for a in arrays if a.startswith("optimizer/")])


def test_the_config_maps_to_xpnns_arguments() -> None:
    model = xpnn.load_model(DATA / "subset_adam.keras")
    d1, bn, drop, act, out = model.layers
    assert model.name == _config(DATA / "subset_adam.keras")["config"]["name"]
    assert (d1.name, d1.units, d1.activation.name, d1.use_bias) == ("d1", 6, "relu", True)
    assert d1.kernel_regularizer == xpnn.regularizers.L2(1e-3)
    assert d1.bias_regularizer == xpnn.regularizers.L1(float(np.float32(1e-4)))  # as Keras keeps it
    assert d1.activity_regularizer is None
    assert isinstance(d1.kernel_initializer, initializers.GlorotUniform)
    assert isinstance(out.kernel_initializer, initializers.GlorotNormal)
    assert (bn.momentum, bn.epsilon, bn.center, bn.scale, bn.axis) == (0.99, 1e-3, True, True, -1)
    assert (drop.rate, drop.seed, drop.noise_shape) == (0.25, None, None)
    assert (act.activation.name, out.activation.name) == ("tanh", "softmax")
    assert type(model.loss).__name__ == "CategoricalCrossentropy" and not model.loss.from_logits
    assert model._metric_names == ["accuracy"]
    opt = model.optimizer
    assert (type(opt).__name__, opt.beta_1, opt.beta_2, opt.epsilon) == ("Adam", 0.9, 0.999, 1e-7)
    assert opt.iterations == 6  # 48 samples in batches of 16, two epochs

    bn = xpnn.load_model(DATA / "subset_adamw.keras").layers[1]
    assert (bn.momentum, bn.epsilon, bn.center) == (0.9, 1e-2, False)
    logits = xpnn.load_model(DATA / "rmsprop_logits.keras")
    assert logits.loss.from_logits and isinstance(logits.optimizer, optimizers.RMSprop)
    assert isinstance(logits.layers[0].kernel_initializer, initializers.RandomNormal)
    sgd = xpnn.load_model(DATA / "sgd_nesterov.keras")
    assert (sgd.optimizer.momentum, sgd.optimizer.nesterov) == (0.9, True)
    assert sgd.layers[0].use_bias is False and sgd._metric_names == ["mae"]


def test_compile_false_loads_weights_only() -> None:
    model = xpnn.load_model(DATA / "dense_adam.keras", compile=False)
    assert model.optimizer is None and model.loss is None
    pred = model.predict(EXPECTED["dense_adam.x"])
    np.testing.assert_allclose(pred, EXPECTED["dense_adam.pred"], atol=2e-6)


def test_an_uncompiled_file_gives_an_uncompiled_float64_model() -> None:
    model = xpnn.load_model(DATA / "uncompiled_float64.keras")
    assert model.dtype == np.float64 and model.optimizer is None


def test_a_loaded_dropout_draws_masks_of_its_own(tmp_path: Path) -> None:
    # Keras saves no state for Dropout; a loaded one gets a seed as a new layer would, so two
    # Dropout layers of one model do not share a mask stream.
    path = _rewrite(
        DATA / "subset_adam.keras",
        tmp_path / "two.keras",
        config=lambda c: _layer_configs(c).insert(
            4, {**_layer_configs(c)[3], "config": {**_layer_configs(c)[3]["config"], "name": "d2"}}
        ),
    )
    model = xpnn.load_model(path)
    seeds = [xpnn.to_numpy(lyr.state[0])[1] for lyr in model.layers if lyr.name in ("drop", "d2")]
    assert len(seeds) == 2 and seeds[0] != seeds[1]


def test_a_deflated_file_loads(tmp_path: Path) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "d.keras", method=zipfile.ZIP_DEFLATED)
    pred = xpnn.load_model(path).predict(EXPECTED["dense_adam.x"])
    np.testing.assert_allclose(pred, EXPECTED["dense_adam.pred"], atol=2e-6)


def test_tf_keras_2_13_layer_groups_are_found(tmp_path: Path) -> None:
    def rename(h5: Any) -> None:
        h5.move("layers", "_layer_checkpoint_dependencies")

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "tf.keras", weights=rename)
    pred = xpnn.load_model(path).predict(EXPECTED["dense_adam.x"])
    np.testing.assert_allclose(pred, EXPECTED["dense_adam.pred"], atol=2e-6)


def test_an_optimizer_that_never_stepped_loads_fresh(tmp_path: Path) -> None:
    # Keras saves only iterations and learning_rate for an optimizer it never built.
    def keep_two(h5: Any) -> None:
        group = h5["optimizer/vars"]
        for key in list(group):
            if int(key) >= 2:
                del group[key]
        group["0"][()] = 0

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "fresh.keras", weights=keep_two)
    model = xpnn.load_model(path)
    assert model.optimizer.iterations == 0
    assert not np.any(xpnn.to_numpy(model.optimizer.state["m"]))


def test_a_file_keras_saved_compiled_but_never_fit_loads_fresh(xp: Any) -> None:
    # Keras saved only iterations and learning_rate: the slots it never made would not fit in
    # the file's bytes, which once had it refused as declaring more than it holds.
    name = "adam_never_fit"
    path = DATA / f"{name}.keras"
    arrays = _h5_arrays(path)
    assert sorted(k for k in arrays if k.startswith("optimizer/")) == [
        "optimizer/vars/0",
        "optimizer/vars/1",
    ]
    keras_weights = [EXPECTED[f"{name}.weights.{i}"] for i in range(4)]
    n = sum(w.size for w in keras_weights)
    assert 4 * 3 * n > len(_entries(path)["model.weights.h5"])  # weights, m and v: no room

    model = xpnn.load_model(path)
    for mine, theirs in zip(model.get_weights(), keras_weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    opt = model.optimizer
    assert type(opt).__name__ == "Adam" and opt.iterations == 0
    assert opt.learning_rate == float(np.float32(0.01))  # as Keras keeps it
    assert not any(np.any(xpnn.to_numpy(opt.state[s])) for s in ("m", "v"))
    pred = model.predict(EXPECTED[f"{name}.x"])
    np.testing.assert_allclose(pred, EXPECTED[f"{name}.pred"], atol=2e-6)

    # Keras, loading the file, stepped from a fresh optimizer; so does a fresh xpnn one.
    fresh = Sequential([Input((24,)), layers.Dense(96, "relu"), layers.Dense(1, "sigmoid")])
    fresh.set_weights(keras_weights)
    fresh.compile(optimizers.Adam(float(np.float32(0.01))), "binary_crossentropy")
    step = dict(batch_size=12, epochs=1, shuffle=False, verbose=0)
    data = (EXPECTED[f"{name}.x_next"], EXPECTED[f"{name}.y_next"])
    loss = model.fit(*data, **step).history["loss"][0]
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, EXPECTED[f"{name}.loss_next"], rtol=2e-6)
    pred = model.predict(EXPECTED[f"{name}.x"])
    np.testing.assert_allclose(pred, EXPECTED[f"{name}.pred_next"], atol=2e-6)
    assert fresh.fit(*data, **step).history["loss"][0] == loss
    for mine, theirs in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert opt.iterations == 1


@pytest.mark.parametrize("how", ["load_model", "load_weights"])
def test_optimizer_slots_the_file_does_not_hold_are_refused(how: str, tmp_path: Path) -> None:
    # HDF5 reads a dataset whose storage was never written as fill values: slots declared at
    # their planned shapes but not stored would have xpnn allocate more than the file holds.
    def unstored_slots(h5: Any) -> None:
        group = h5["optimizer/vars"]
        shapes = [(24, 96), (96,), (96, 1), (1,)]
        for i, shape in enumerate(s for s in shapes for _ in "mv"):  # m0, v0, m1, v1, ...
            group.create_dataset(str(2 + i), shape, "float32")  # no data: no storage

    path = _rewrite(DATA / "adam_never_fit.keras", tmp_path / "u.keras", weights=unstored_slots)
    entry = _entries(path)["model.weights.h5"]
    with h5py.File(io.BytesIO(entry), "r") as h5:
        assert h5["optimizer/vars/2"].id.get_storage_size() == 0
    match = r"optimizer/vars holds 10 variables of 4,996 numbers, more than the [0-9,]+ bytes of"
    if how == "load_model":
        with pytest.raises(ValueError, match=match + " model.weights.h5"):
            xpnn.load_model(path)
    else:
        model = xpnn.load_model(DATA / "adam_never_fit.keras")
        (tmp_path / "u.weights.h5").write_bytes(entry)
        with pytest.raises(ValueError, match=match + " the file"):
            model.load_weights(tmp_path / "u.weights.h5")


def test_a_metric_object_keeps_its_class_and_name(tmp_path: Path) -> None:
    metric = {
        "module": "keras.metrics",
        "class_name": "SparseCategoricalAccuracy",
        "config": {"name": "sca", "dtype": "float32"},
        "registered_name": None,
    }

    def with_metric(c: dict[str, Any]) -> None:
        c["compile_config"]["metrics"] = ["accuracy", metric]

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", config=with_metric)
    model = xpnn.load_model(path)
    assert model._metric_names == ["accuracy", "sca"]
    assert type(model.metrics[1]).__name__ == "SparseCategoricalAccuracy"


def test_a_learning_rate_schedule_is_read(tmp_path: Path) -> None:
    schedule = {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.01,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": False,
            "name": "ExponentialDecay",
        },
        "registered_name": None,
    }

    def with_schedule(c: dict[str, Any]) -> None:
        c["compile_config"]["optimizer"]["config"]["learning_rate"] = schedule

    def without_rate(h5: Any) -> None:  # Keras has no learning-rate variable under a schedule
        group = h5["optimizer/vars"]
        values = [group[str(i)][()] for i in range(len(group))]
        for key in list(group):
            del group[key]
        for i, value in enumerate(values[:1] + values[2:]):
            group[str(i)] = value

    path = _rewrite(
        DATA / "dense_adam.keras", tmp_path / "s.keras", config=with_schedule, weights=without_rate
    )
    opt = xpnn.load_model(path).optimizer
    assert isinstance(opt._schedule, schedules.ExponentialDecay)
    assert opt.learning_rate == pytest.approx(0.01 * 0.5 ** (6 / 10))


# -- (b) files xpnn writes ----------------------------------------------------------------------
def test_the_zip_holds_keras_entries_stored(saved: tuple[Sequential, Path]) -> None:
    _, path = saved
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["keras_version"] == keras_format.KERAS_VERSION
    assert set(metadata) == {"keras_version", "date_saved"}


def test_the_config_has_keras_structure(saved: tuple[Sequential, Path]) -> None:
    model, path = saved
    c = _config(path)
    assert (c["module"], c["class_name"], c["registered_name"]) == ("keras", "Sequential", None)
    assert c["build_config"] == {"input_shape": [None, 4]}
    assert c["config"]["name"] == "subset" and c["config"]["build_input_shape"] == [None, 4]
    assert c["config"]["dtype"]["class_name"] == "DTypePolicy"
    first, *specs = _layer_configs(c)
    assert first["class_name"] == "InputLayer" and first["config"]["batch_shape"] == [None, 4]
    assert [s["class_name"] for s in specs] == [type(lyr).__name__ for lyr in model.layers]
    for spec, layer in zip(specs, model.layers):
        assert (spec["module"], spec["registered_name"]) == ("keras.layers", None)
        config = spec["config"]
        assert config["name"] == layer.name and config["trainable"] is True
        assert config["dtype"] == {
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": "float32"},
            "registered_name": None,
        }
        assert "kernel_form" not in config and "class_name" not in config
        has_weights = bool(layer.params) or type(layer).__name__ == "BatchNormalization"
        assert ("build_config" in spec) == has_weights
    hidden = specs[0]["config"]
    assert hidden["kernel_initializer"] == {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None},
        "registered_name": None,
    }
    assert hidden["bias_initializer"]["config"] == {"seed": None, "mean": 0.1, "stddev": 0.2}
    assert hidden["kernel_regularizer"] == {
        "module": "keras.regularizers",
        "class_name": "L2",
        "config": {"l2": 1e-3},
        "registered_name": None,
    }
    assert "activity_regularizer" not in hidden  # Keras writes it only when set
    assert specs[2]["config"]["seed"] == 5  # Dropout's
    compiled = c["compile_config"]
    assert compiled["optimizer"]["class_name"] == "Adam"
    assert compiled["optimizer"]["config"]["learning_rate"] == 3e-3
    assert compiled["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert compiled["loss"]["config"]["reduction"] == "sum_over_batch_size"
    assert compiled["metrics"] == ["accuracy"]


def test_config_keys_are_ones_keras_writes(saved: tuple[Sequential, Path]) -> None:
    # Keras's layers refuse keys they do not know; Keras's own files say which they take.
    _, path = saved
    keras_keys: dict[str, set[str]] = {}
    keras_modules: dict[str, str] = {}
    for name in KERAS_FILES:
        c = _config(DATA / f"{name}.keras")
        for spec in _layer_configs(c):
            keras_keys.setdefault(spec["class_name"], set()).update(spec["config"])
            for value in spec["config"].values():
                if isinstance(value, dict) and "module" in value:
                    keras_modules[value["class_name"]] = value["module"]
        if c.get("compile_config"):
            opt = c["compile_config"]["optimizer"]
            keras_keys.setdefault(opt["class_name"], set()).update(opt["config"])
    c = _config(path)
    for spec in _layer_configs(c):
        assert set(spec["config"]) <= keras_keys[spec["class_name"]], spec["class_name"]
        for value in spec["config"].values():
            if isinstance(value, dict) and value["class_name"] in keras_modules:
                assert value["module"] == keras_modules[value["class_name"]]
    opt = c["compile_config"]["optimizer"]
    assert set(opt["config"]) <= keras_keys[opt["class_name"]]


def test_the_weights_file_has_keras_groups_and_order(saved: tuple[Sequential, Path]) -> None:
    model, path = saved
    arrays = _h5_arrays(path)
    weights = model.get_weights()
    hidden, bn, drop, squash, out = model.layers
    expected = {
        "layers/dense/vars/0": weights[0],  # hidden kernel
        "layers/dense/vars/1": weights[1],  # hidden bias
        "layers/batch_normalization/vars/0": weights[2],  # gamma (no beta: center=False)
        "layers/batch_normalization/vars/1": weights[3],  # moving mean
        "layers/batch_normalization/vars/2": weights[4],  # moving variance
        "layers/dense_1/vars/0": weights[5],  # out kernel (Dropout has no weights)
        "layers/dense_1/vars/1": weights[6],
    }
    opt = model.optimizer
    m, v = (xpnn.to_numpy(opt.state[s]) for s in ("m", "v"))
    k, offset = 2, 0
    for w in (weights[0], weights[1], weights[2], weights[5], weights[6]):
        for slot in (m, v):
            expected[f"optimizer/vars/{k}"] = slot[offset : offset + w.size].reshape(w.shape)
            k += 1
        offset += w.size
    assert set(arrays) == set(expected) | {"optimizer/vars/0", "optimizer/vars/1"}
    for key, value in expected.items():
        assert arrays[key].shape == value.shape and arrays[key].dtype == np.float32, key
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)
    assert arrays["optimizer/vars/0"].shape == () and arrays["optimizer/vars/0"].dtype.kind == "i"
    assert int(arrays["optimizer/vars/0"]) == opt.iterations == 6
    assert arrays["optimizer/vars/1"].dtype == np.float32
    assert arrays["optimizer/vars/1"] == np.float32(3e-3)
    with h5py.File(io.BytesIO(_entries(path)["model.weights.h5"]), "r") as h5:
        assert h5["vars"].attrs["name"] == "subset"
        for group, layer in zip(
            ["dense", "batch_normalization", "dropout", "activation", "dense_1"], model.layers
        ):
            assert h5[f"layers/{group}/vars"].attrs["name"] == layer.name
        assert h5["optimizer/vars"].attrs["name"] == "adam"


def test_an_uncompiled_model_writes_no_compile_config(tmp_path: Path) -> None:
    model = _subset_model()
    model.save(tmp_path / "u.keras")
    assert "compile_config" not in _config(tmp_path / "u.keras")
    assert not any(k.startswith("optimizer") for k in _h5_arrays(tmp_path / "u.keras"))


def test_a_layer_outside_the_subset_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    class Twice(layers.Layer):
        def forward(self, x: Any, training: bool = False, ws: Any = None) -> Any:
            return x * 2

    model = Sequential([Input((3,)), layers.Dense(2), Twice(name="twice")])
    with pytest.raises(ValueError, match=r"'twice' \(Twice\).*\.xpnn"):
        model.save(tmp_path / "t.keras")
    assert os.listdir(tmp_path) == []


def test_save_needs_a_built_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no weights yet"):
        Sequential([layers.Dense(2)]).save(tmp_path / "u.keras")


# -- (c) round trips ----------------------------------------------------------------------------
ALL_OPTIMIZERS = [
    lambda: optimizers.Adam(3e-3),
    lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    lambda: optimizers.SGD(0.05),
    lambda: optimizers.RMSprop(2e-3),
    lambda: optimizers.AdamW(3e-3, weight_decay=0.01),
    lambda: optimizers.Adagrad(0.05),
    lambda: optimizers.Adamax(3e-3),
    lambda: optimizers.Nadam(3e-3, clipnorm=1.0),
    lambda: optimizers.Adam(schedules.ExponentialDecay(0.01, 5, 0.5)),
]
OPTIMIZER_IDS = [
    "adam",
    "sgd-nesterov",
    "sgd",
    "rmsprop",
    "adamw",
    "adagrad",
    "adamax",
    "nadam",
    "schedule",
]


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_a_round_trip_keeps_weights_state_and_training(
    make: Callable[[], Any], tmp_path: Path, xp: Any
) -> None:
    model = _trained(make())
    path = tmp_path / "r.keras"
    model.save(path)
    loaded = xpnn.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    opt, back = model.optimizer, loaded.optimizer
    assert type(back) is type(opt) and back.get_config() == opt.get_config()
    assert back.iterations == opt.iterations and back.learning_rate == opt.learning_rate
    for slot in opt.state:
        np.testing.assert_array_equal(
            xpnn.to_numpy(opt.state[slot]), xpnn.to_numpy(back.state[slot])
        )
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded._metric_names == model._metric_names
    x, y = _blobs(24, seed=3)
    for m in (model, loaded):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def _logits_model(metrics: list[str]) -> Sequential:
    model = Sequential([Input((4,)), layers.Dense(5, "relu"), layers.Dense(1)], seed=2)
    model.compile("adam", xpnn.losses.BinaryCrossentropy(from_logits=True), metrics=metrics)
    x, y = _blobs()
    model.fit(x, (y > 0).astype(np.float32), batch_size=16, verbose=0)
    return model


LOGITS_METRICS = ["accuracy", "auc", "precision", "recall", "binary_accuracy", "mse"]


def test_metrics_are_written_as_keras_would_compute_them(tmp_path: Path) -> None:
    model = _logits_model(LOGITS_METRICS)
    model.save(tmp_path / "m.keras")
    written = _config(tmp_path / "m.keras")["compile_config"]["metrics"]
    # xpnn's "accuracy" thresholds logits at 0; Keras's would at 0.5, so it is written out
    assert written[0]["class_name"] == "BinaryAccuracy"
    assert written[0]["config"] == {"name": "accuracy", "threshold": 0.0}
    assert written[1]["config"]["from_logits"] is True
    assert written[2]["config"]["thresholds"] == 0.0
    assert written[5] == "mse"
    loaded = xpnn.load_model(tmp_path / "m.keras")
    assert loaded._metric_names == LOGITS_METRICS
    x, y = _blobs(seed=5)
    y = (y > 0).astype(np.float32)
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)


def test_a_round_trip_keeps_the_architecture(saved: tuple[Sequential, Path]) -> None:
    model, path = saved
    loaded = xpnn.load_model(path)
    assert loaded.name == model.name and loaded.input_dim == model.input_dim
    for a, b in zip(model.layers, loaded.layers):
        ca, cb = a.get_config(), b.get_config()
        for key in [k for k in ca if k.endswith("_initializer")]:  # a name or its object
            ca[key] = initializers.serialize(initializers.get(ca[key]))
            cb[key] = initializers.serialize(initializers.get(cb[key]))
        assert ca == cb
    np.testing.assert_array_equal(model.predict(_blobs()[0]), loaded.predict(_blobs()[0]))


def test_a_round_trip_keeps_float64(tmp_path: Path) -> None:
    model = Sequential([Input((3,)), layers.Dense(2, "tanh")], dtype="float64", seed=1)
    model.save(tmp_path / "f.keras")
    loaded = xpnn.load_model(tmp_path / "f.keras")
    assert loaded.dtype == np.float64
    assert _h5_arrays(tmp_path / "f.keras")["layers/dense/vars/0"].dtype == np.float64
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_a_keras_file_round_trips_through_xpnn(tmp_path: Path) -> None:
    model = xpnn.load_model(DATA / "subset_adamw.keras")
    model.save(tmp_path / "again.keras")
    mine, theirs = _h5_arrays(tmp_path / "again.keras"), _h5_arrays(DATA / "subset_adamw.keras")
    assert set(mine) == set(theirs)
    for key, value in theirs.items():
        np.testing.assert_array_equal(mine[key], value, err_msg=key)


def test_save_overwrites_atomically_and_leaves_no_temporaries(tmp_path: Path) -> None:
    model = _trained()
    path = tmp_path / "m.keras"
    path.write_bytes(b"old")
    model.save(path)
    assert os.listdir(tmp_path) == ["m.keras"]
    xpnn.load_model(path)


# -- with Keras itself (where it is installed) ----------------------------------------------------
@pytest.fixture(scope="module")
def keras() -> Any:
    try:
        import keras
    except Exception as exc:  # not installed, or no backend it can run on
        pytest.skip(f"Keras is not importable here: {exc}")
    return keras


# Without clipnorm: Keras clips each variable's gradient; xpnn clips per variable only when the
# optimizer is built with the variables' sizes (segments), which compile does not pass yet.
KERAS_OPTIMIZERS = [*ALL_OPTIMIZERS[:7], lambda: optimizers.Nadam(3e-3), ALL_OPTIMIZERS[8]]


@pytest.mark.parametrize("make", KERAS_OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_keras_loads_xpnns_file_and_trains_on_alike(
    keras: Any, make: Callable[[], Any], tmp_path: Path
) -> None:
    model = _trained(make(), metrics=["accuracy", "sparse_categorical_accuracy"])
    path = tmp_path / "k.keras"
    model.save(path)
    theirs = keras.models.load_model(path)
    x, y = _blobs(12, seed=4)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x), atol=1e-6)
    assert int(theirs.optimizer.iterations) == model.optimizer.iterations
    arrays = _h5_arrays(path)
    optimizer_vars = [np.asarray(v) for v in theirs.optimizer.variables]
    assert len(optimizer_vars) == len([k for k in arrays if k.startswith("optimizer/")])
    for i, value in enumerate(optimizer_vars):
        np.testing.assert_array_equal(value, arrays[f"optimizer/vars/{i}"])
    loss = theirs.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0).history["loss"]
    mine = model.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(loss, mine, rtol=1e-5)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x), atol=2e-6)


def test_keras_computes_xpnns_metrics_alike(keras: Any, tmp_path: Path) -> None:
    model = _logits_model(LOGITS_METRICS)
    model.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    x, y = _blobs(seed=5)
    y = (y > 0).astype(np.float32)
    expected = model.evaluate(x, y, return_dict=True)
    got = theirs.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key


def test_keras_loads_an_uncompiled_float64_model(keras: Any, tmp_path: Path) -> None:
    model = Sequential([Input((3,)), layers.Dense(2, "tanh")], dtype="float64", seed=1)
    model.save(tmp_path / "f.keras")
    theirs = keras.models.load_model(tmp_path / "f.keras")
    x = np.linspace(-1, 1, 9).reshape(3, 3)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x), rtol=1e-6)


# -- (d) hostile files --------------------------------------------------------------------------
def test_a_file_that_is_not_a_zip_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.keras"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=r"junk\.keras.*not a \.keras file"):
        xpnn.load_model(path)


def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        xpnn.load_model(tmp_path / "nope.keras")


@pytest.mark.parametrize("entry", ["config.json", "model.weights.h5"])
def test_a_missing_entry_is_named(entry: str, tmp_path: Path) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", drop=(entry,))
    with pytest.raises(ValueError, match=rf"'{entry}' entry is missing"):
        xpnn.load_model(path)


def test_npz_weights_are_named_as_such(tmp_path: Path) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", drop=("model.weights.h5",))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("model.weights.npz", b"")
    with pytest.raises(ValueError, match="model.weights.npz"):
        xpnn.load_model(path)


def test_a_config_that_is_not_json_is_a_value_error(tmp_path: Path) -> None:
    entries = _entries(DATA / "dense_adam.keras")
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, b"{nope" if name == "config.json" else data)
    with pytest.raises(ValueError, match="config.json is not JSON"):
        xpnn.load_model(path)


def test_a_config_over_the_cap_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keras_format, "MAX_CONFIG_BYTES", 1000)
    with pytest.raises(ValueError, match="refused unread"):
        xpnn.load_model(DATA / "dense_adam.keras")


def test_a_bzip2_entry_is_refused(tmp_path: Path) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "b.keras", method=zipfile.ZIP_BZIP2)
    with pytest.raises(ValueError, match="compression method 12"):
        xpnn.load_model(path)


def test_a_truncated_file_is_a_value_error(tmp_path: Path) -> None:
    data = (DATA / "dense_adam.keras").read_bytes()
    path = tmp_path / "t.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.keras"):
        xpnn.load_model(path)


def _replace(key: str, value: Any) -> Callable[[Any], None]:
    def edit(h5: Any) -> None:
        del h5[key]
        h5[key] = value

    return edit


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("layers/dense/vars/0", np.zeros((5, 9), np.float32), r"shape \(5, 9\), expected \(5, 8\)"),
        ("layers/dense/vars/1", np.zeros(8, np.int32), "holds int32, expected float32 or float64"),
        ("layers/dense/vars/1", np.array([b"x"] * 8), "expected float32 or float64"),
        ("optimizer/vars/2", np.zeros((8, 5), np.float32), r"optimizer/vars/2 \(m:0\) has shape"),
        ("optimizer/vars/0", np.float32(3), r"optimizer/vars/0 \(iterations\) holds float32"),
        ("layers/dense_1/vars/0", np.full((8, 3), np.nan, np.float32), "must be finite"),
    ],
)
def test_a_dataset_of_the_wrong_shape_or_dtype_is_refused(
    key: str, value: Any, message: str, tmp_path: Path
) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", weights=_replace(key, value))
    with pytest.raises(ValueError, match=message):
        xpnn.load_model(path)


def test_compile_false_never_reads_the_optimizer(tmp_path: Path) -> None:
    edit = _replace("optimizer/vars/2", np.zeros((8, 5), np.float32))
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", weights=edit)
    pred = xpnn.load_model(path, compile=False).predict(EXPECTED["dense_adam.x"])
    np.testing.assert_allclose(pred, EXPECTED["dense_adam.pred"], atol=2e-6)


def test_missing_and_extra_variables_are_refused(tmp_path: Path) -> None:
    def drop_bias(h5: Any) -> None:
        del h5["layers/dense/vars/1"]

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "a.keras", weights=drop_bias)
    with pytest.raises(ValueError, match="layers/dense/vars holds 1 variables; .* has 2"):
        xpnn.load_model(path)

    def extra(h5: Any) -> None:
        h5["layers/dense/vars/2"] = np.zeros(3, np.float32)

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "b.keras", weights=extra)
    with pytest.raises(ValueError, match="holds 3 variables"):
        xpnn.load_model(path)

    def no_group(h5: Any) -> None:
        del h5["layers/dense_1"]

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "c.keras", weights=no_group)
    with pytest.raises(ValueError, match=r"layers/dense_1/vars \(layer 'out'\) is missing"):
        xpnn.load_model(path)

    def one_more_slot(h5: Any) -> None:
        h5["optimizer/vars/10"] = np.zeros(3, np.float32)

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "d.keras", weights=one_more_slot)
    with pytest.raises(ValueError, match="optimizer/vars holds 11 variables; .* has 10"):
        xpnn.load_model(path)


def test_links_are_not_followed(tmp_path: Path) -> None:
    def soft(h5: Any) -> None:
        del h5["layers/dense/vars/1"]
        h5["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense_1/vars/1")

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "s.keras", weights=soft)
    with pytest.raises(ValueError, match="SoftLink; xpnn follows no HDF5 links"):
        xpnn.load_model(path)

    def external(h5: Any) -> None:
        del h5["layers/dense/vars/1"]
        h5["layers/dense/vars/1"] = h5py.ExternalLink("/etc/passwd", "/x")

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "e.keras", weights=external)
    with pytest.raises(ValueError, match="ExternalLink"):
        xpnn.load_model(path)


def test_a_chunk_larger_than_its_dataset_is_refused(tmp_path: Path) -> None:
    def chunked(h5: Any) -> None:
        del h5["layers/dense/vars/1"]
        h5.create_dataset(
            "layers/dense/vars/1", data=np.zeros(8, np.float32), chunks=(4096,), maxshape=(None,)
        )

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "c.keras", weights=chunked)
    with pytest.raises(ValueError, match=r"chunks \(4096,\)"):
        xpnn.load_model(path)


def test_a_file_not_hdf5_inside_is_a_value_error(tmp_path: Path) -> None:
    entries = _entries(DATA / "dense_adam.keras")
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, b"\0" * len(data) if name == "model.weights.h5" else data)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        xpnn.load_model(path)


def test_huge_declared_layers_are_refused_before_anything_is_allocated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def huge(c: dict[str, Any]) -> None:
        _layer_configs(c)[1]["config"]["units"] = 10**12

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "h.keras", config=huge)
    monkeypatch.setattr(h5py, "File", lambda *a, **k: pytest.fail("the HDF5 file was opened"))
    with pytest.raises(ValueError, match="more than the .* bytes of model.weights.h5 can hold"):
        xpnn.load_model(path)


def test_an_unknown_class_is_named_with_the_accepted_ones(tmp_path: Path) -> None:
    def flatten(c: dict[str, Any]) -> None:
        _layer_configs(c)[1]["class_name"] = "Flatten"

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "u.keras", config=flatten)
    with pytest.raises(ValueError, match=r"'Flatten'.*InputLayer, Dense, Dropout, BatchNormal"):
        xpnn.load_model(path)


def _with_config(tmp_path: Path, config_file: str) -> Path:
    config = json.loads((DATA / config_file).read_text())
    return _rewrite(DATA / "dense_adam.keras", tmp_path / "o.keras", config=lambda c: config)


def test_a_lambda_layer_is_refused_unrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal

    monkeypatch.setattr(marshal, "loads", lambda *a: pytest.fail("code was unmarshalled"))
    with pytest.raises(ValueError, match="Lambda layer, which holds Python code"):
        xpnn.load_model(_with_config(tmp_path, "lambda.config.json"))


def test_a_functional_model_is_outside_the_subset(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match="functional Functional.*Sequential"):
        xpnn.load_model(_with_config(tmp_path, "functional.config.json"))


def test_a_conv_layer_is_outside_the_subset(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match="layer 1 is a Conv2D"):
        xpnn.load_model(_with_config(tmp_path, "conv2d.config.json"))


def test_a_subclassed_model_is_outside_the_subset(tmp_path: Path) -> None:
    def subclass(c: dict[str, Any]) -> None:
        c.update(module="my_models", class_name="MyModel", registered_name="Custom>MyModel")

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "s.keras", config=subclass)
    with pytest.raises(NotImplementedError, match="subclassed model \\('MyModel'"):
        xpnn.load_model(path)


def test_images_are_outside_the_subset(tmp_path: Path) -> None:
    def image(c: dict[str, Any]) -> None:
        _layer_configs(c)[0]["config"]["batch_shape"] = [None, 28, 28]

    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "i.keras", config=image)
    with pytest.raises(NotImplementedError, match=r"\[None, 28, 28\].*flatten"):
        xpnn.load_model(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: _layer_configs(c)[1].update(module="my_layers", registered_name="My>Dense"),
            "custom object",
        ),
        (
            lambda c: _layer_configs(c)[1]["config"]["kernel_initializer"].update(
                module="my_inits", registered_name="My>Init"
            ),
            "kernel_initializer is a custom object",
        ),
        (
            lambda c: _layer_configs(c)[1]["config"].update(
                kernel_constraint={
                    "module": "keras.constraints",
                    "class_name": "NonNeg",
                    "config": {},
                    "registered_name": None,
                }
            ),
            "kernel_constraint=.*does not offer",
        ),
        (lambda c: _layer_configs(c)[1]["config"].update(trainable=False), "frozen"),
        (
            lambda c: _layer_configs(c)[1]["config"]["dtype"]["config"].update(
                name="mixed_float16"
            ),
            "dtype policy 'mixed_float16'",
        ),
        (
            lambda c: _layer_configs(c)[1]["config"].update(activation={"class_name": "X"}),
            "reads activations by name",
        ),
        (lambda c: _layer_configs(c)[1]["config"].update(activation="nope"), "nope"),
        (lambda c: _layer_configs(c)[1]["config"].update(units=-3), "units"),
        (lambda c: _layer_configs(c).insert(2, _layer_configs(c)[0]), "only come first"),
        (lambda c: c["config"].update(layers="dense"), "not a list"),
        (lambda c: ["a list"], "not hold a Keras model config"),
        (
            lambda c: c["compile_config"]["optimizer"]["config"].update(amsgrad=True),
            "amsgrad=True",
        ),
        (
            lambda c: c["compile_config"]["optimizer"].update(class_name="Lion"),
            "Unknown optimizer",
        ),
        (lambda c: c["compile_config"].update(loss="poisson"), "poisson"),
        (lambda c: c["compile_config"].update(loss=None), "no loss"),
        (lambda c: c["compile_config"].update(loss_weights=[1.0]), "loss_weights"),
        (
            lambda c: c["compile_config"].update(
                loss={
                    "module": "keras.losses",
                    "class_name": "SparseCategoricalCrossentropy",
                    "config": {"ignore_class": 0},
                    "registered_name": None,
                }
            ),
            "ignore_class=0",
        ),
    ],
)
def test_configs_outside_what_xpnn_reads_are_value_errors(
    edit: Callable[[dict[str, Any]], Any], message: str, tmp_path: Path
) -> None:
    path = _rewrite(DATA / "dense_adam.keras", tmp_path / "m.keras", config=edit)
    with pytest.raises(ValueError, match=message) as info:
        xpnn.load_model(path)
    assert "m.keras" in str(info.value)


def test_a_metric_with_arguments_keeps_them(tmp_path: Path) -> None:
    metric = {
        "module": "keras.metrics",
        "class_name": "BinaryAccuracy",
        "config": {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.7},
        "registered_name": None,
    }
    path = _rewrite(
        DATA / "subset_adamw.keras",
        tmp_path / "m.keras",
        config=lambda c: c["compile_config"].update(metrics=[metric]),
    )
    assert xpnn.load_model(path).metrics[0].threshold == 0.7
    assert xpnn.load_model(path, compile=False).optimizer is None


def test_custom_objects_are_not_taken_for_keras_files() -> None:
    with pytest.raises(ValueError, match="custom_objects"):
        xpnn.load_model(DATA / "dense_adam.keras", custom_objects={"X": object})


def test_without_h5py_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "xpnn\[keras\]"'):
        xpnn.load_model(DATA / "dense_adam.keras")
    model = Sequential([Input((2,)), layers.Dense(1)])
    with pytest.raises(ImportError, match=r'pip install "xpnn\[keras\]"'):
        model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.xpnn")  # xpnn's own format needs no h5py
    assert os.listdir(tmp_path) == ["m.xpnn"]
