"""Write the Keras 3 files the tests read (run once with real Keras; the outputs are committed).

    KERAS_BACKEND=jax /work/benchvenv/bin/python tests/data/keras/generate.py

Each ``NAME.keras`` is saved by ``keras.Model.save`` after a short fit. ``expected.npz`` holds,
for each NAME: ``NAME.x`` and ``NAME.pred`` (Keras's predictions on a fixed input) and, for the
compiled files without Dropout, ``NAME.x_next``, ``NAME.y_next``, ``NAME.loss_next`` and
``NAME.pred_next``: one more full-batch ``fit`` step taken by Keras after loading the file (so
the optimizer state in the file decides those numbers). ``*.config.json`` are the config.json
of models outside the subset (functional, a Lambda layer, a Conv2D), for the hostile-file tests.

``adam_never_fit.keras`` is saved compiled but never fit: Keras writes only the optimizer's
``iterations`` and ``learning_rate``, no slots. It is large enough (2,497 numbers) that the
slots the file lacks would not fit in its bytes. ``expected.npz`` holds its ``x``, ``pred``,
``weights.<i>`` (``get_weights()``) and the ``*_next`` step, taken by Keras after loading (Keras
skips the two saved variables and steps from a fresh optimizer).
"""

from __future__ import annotations

import json
import os
import zipfile

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers


def _data(seed: int, n: int, features: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    if kind == "sparse":
        y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5).astype("int64")
    elif kind == "onehot":
        y = np.eye(2, dtype="float32")[(x[:, 0] + x[:, 1] > 0).astype("int64")]
    elif kind == "binary":
        y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
    else:
        y = (x[:, :1] * 0.5 - x[:, 1:2]).astype("float32")
    return x, y


def _models() -> dict[str, tuple]:
    return {
        "dense_adam": (
            lambda: keras.Sequential(
                [
                    keras.Input((5,)),
                    L.Dense(8, "relu", name="hidden"),
                    L.Dense(3, "softmax", name="out"),
                ],
                name="dense_adam",
            ),
            dict(
                optimizer=keras.optimizers.Adam(2e-3),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            ),
            (5, "sparse"),
        ),
        "sgd_nesterov": (
            lambda: keras.Sequential(
                [
                    keras.Input((3,)),
                    L.Dense(4, "tanh", use_bias=False, kernel_initializer="he_normal"),
                    L.Dense(1),
                ]
            ),
            dict(
                optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                loss=keras.losses.MeanSquaredError(),
                metrics=["mae"],
            ),
            (3, "regression"),
        ),
        "rmsprop_logits": (
            lambda: keras.Sequential(
                [
                    keras.Input((4,)),
                    L.Dense(6, "sigmoid", kernel_initializer="random_normal"),
                    L.Dense(1, name="logit"),
                ]
            ),
            dict(
                optimizer=keras.optimizers.RMSprop(1e-2),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
            ),
            (4, "binary"),
        ),
        "subset_adam": (
            lambda: keras.Sequential(
                [
                    keras.Input((4,)),
                    L.Dense(
                        6,
                        "relu",
                        kernel_regularizer=keras.regularizers.L2(1e-3),
                        bias_regularizer=keras.regularizers.L1(1e-4),
                        name="d1",
                    ),
                    L.BatchNormalization(name="bn"),
                    L.Dropout(0.25, name="drop"),
                    L.Activation("tanh"),
                    L.Dense(2, "softmax", kernel_initializer="glorot_normal", name="out"),
                ]
            ),
            dict(
                optimizer=keras.optimizers.Adam(5e-3),
                loss="categorical_crossentropy",
                metrics=["accuracy"],
            ),
            (4, "onehot"),
        ),
        "subset_adamw": (
            lambda: keras.Sequential(
                [
                    keras.Input((3,)),
                    L.Dense(5, kernel_regularizer=keras.regularizers.L1L2(1e-4, 1e-3)),
                    L.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False),
                    L.Activation("relu"),
                    L.Dense(1, "sigmoid"),
                ]
            ),
            dict(
                optimizer=keras.optimizers.AdamW(3e-3, weight_decay=0.01),
                loss="binary_crossentropy",
                metrics=["accuracy"],
            ),
            (3, "binary"),
        ),
        "uncompiled_float64": (
            lambda: keras.Sequential(
                [
                    keras.Input((2,), dtype="float64"),
                    L.Dense(3, "relu", dtype="float64"),
                    L.Dense(2, dtype="float64"),
                ],
                name="f64",
            ),
            None,
            (2, "regression"),
        ),
    }


def _outside_configs() -> dict[str, dict]:
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, L.Dense(1)(L.Dense(3, "relu")(inputs)))
    lam = keras.Sequential([keras.Input((4,)), L.Lambda(lambda t: t * 2.0), L.Dense(1)])
    conv = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(1)])
    return {"functional": functional, "lambda": lam, "conv2d": conv}


def _never_fit(expected: dict[str, np.ndarray]) -> None:
    """``adam_never_fit.keras``: compiled, saved before any step (see the module docstring)."""
    name, features = "adam_never_fit", 24
    keras.utils.set_random_seed(20)
    model = keras.Sequential(
        [keras.Input((features,)), L.Dense(96, "relu"), L.Dense(1, "sigmoid")], name=name
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    path = os.path.join(HERE, f"{name}.keras")
    model.save(path)
    x_test = np.linspace(-2, 2, 6 * features, dtype="float32").reshape(6, features)
    expected[f"{name}.x"] = x_test
    expected[f"{name}.pred"] = np.asarray(model.predict(x_test, verbose=0))
    for i, w in enumerate(model.get_weights()):
        expected[f"{name}.weights.{i}"] = np.asarray(w)
    loaded = keras.models.load_model(path)
    x_next, y_next = _data(120, 12, features, "binary")
    history = loaded.fit(x_next, y_next, batch_size=12, epochs=1, shuffle=False, verbose=0)
    expected[f"{name}.x_next"] = x_next
    expected[f"{name}.y_next"] = y_next
    expected[f"{name}.loss_next"] = np.float64(history.history["loss"][0])
    expected[f"{name}.pred_next"] = np.asarray(loaded.predict(x_test, verbose=0))
    keras.utils.clear_session()  # the files after this one get the layer names they had without it


def main() -> None:
    expected: dict[str, np.ndarray] = {}
    _never_fit(expected)  # before the float64 model turns JAX's x64 on
    for seed, (name, (build, compile_args, (features, kind))) in enumerate(_models().items()):
        if name.endswith("float64"):
            # JAX makes float32 variables of float64 ones unless x64 is on (last: it changes
            # the optimizer's iteration dtype too)
            import jax

            jax.config.update("jax_enable_x64", True)
        keras.utils.set_random_seed(seed)
        model = build()
        x, y = _data(seed, 48, features, kind)
        if compile_args is not None:
            model.compile(**compile_args)
            model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        path = os.path.join(HERE, f"{name}.keras")
        model.save(path)
        x_test = np.linspace(-2, 2, 6 * features, dtype="float32").reshape(6, features)
        expected[f"{name}.x"] = x_test
        expected[f"{name}.pred"] = np.asarray(model.predict(x_test, verbose=0))
        if compile_args is not None and not any(isinstance(lyr, L.Dropout) for lyr in model.layers):
            # One more step, by Keras, on the file as loaded: it uses the saved optimizer state.
            # (Not with Dropout: its masks are Keras's random draws, which xpnn cannot repeat.)
            loaded = keras.models.load_model(path)
            x_next, y_next = _data(100 + seed, 12, features, kind)
            history = loaded.fit(x_next, y_next, batch_size=12, epochs=1, shuffle=False, verbose=0)
            expected[f"{name}.x_next"] = x_next
            expected[f"{name}.y_next"] = y_next
            expected[f"{name}.loss_next"] = np.float64(history.history["loss"][0])
            expected[f"{name}.pred_next"] = np.asarray(loaded.predict(x_test, verbose=0))
    np.savez(os.path.join(HERE, "expected.npz"), **expected)
    for name, model in _outside_configs().items():
        path = os.path.join(HERE, f"_{name}.keras")
        model.save(path)
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
        os.unlink(path)
        config.pop("compile_config", None)
        with open(os.path.join(HERE, f"{name}.config.json"), "w") as f:
            json.dump(config, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
