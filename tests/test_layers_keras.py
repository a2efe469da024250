"""Dropout, BatchNormalization, Activation and Dense's regularizers: Keras 3's names, defaults
and numbers, and the layer protocol (gradients, saving, summary, replayed training).

The Keras numbers were recorded from Keras 3.15.1 on JAX and are committed below as literals
(CI has no Keras). ``test_the_goldens_are_keras_s_own`` recomputes them where Keras and JAX are
installed (skipped elsewhere); ``KERAS_BACKEND=jax python tests/test_layers_keras.py`` prints
them afresh. Every case starts from data drawn by ``_data`` from a fixed seed, the same in both.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Input, Sequential, optimizers, regularizers
from xpnn.backend import array_module
from xpnn.layers import Activation, BatchNormalization, Dense, Dropout

from helpers import BACKEND_PARAMS, GPU, blobs

RECORDING = [p for p in BACKEND_PARAMS if p.id in ("strict", "cupy")]


def _data(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(np.float32) for s in shapes]


# -- the cases, written once for both libraries (``lib`` is xpnn or keras) ----------------------
def _bn_data() -> tuple[np.ndarray, ...]:
    """Inputs (6, 4), a cotangent r for ``L = sum(y * r)``, gamma, beta, moving mean and
    variance."""
    x, r, g, b, mm, mv = _data(11, (6, 4), (6, 4), (4,), (4,), (4,), (4,))
    mv = (1 + 0.5 * np.abs(mv)).astype(np.float32)
    return x * 2 + 1, r, 1 + 0.3 * g, 0.1 * b, 0.1 * mm, mv


def _regularized_layers(lib: Any) -> list[Any]:
    L, R = lib.layers, lib.regularizers  # noqa: N806 - the libraries' module names
    return [
        L.Dense(
            4,
            activation="tanh",
            kernel_regularizer=R.L1L2(l1=0.01, l2=0.02),
            bias_regularizer=R.L2(0.03),
            activity_regularizer=R.L1L2(l1=0.01, l2=0.005),
        ),
        L.Dense(4),
        L.Activation("relu"),
        L.Dense(3, activation="softmax", kernel_regularizer="l2", activity_regularizer=R.L2(0.02)),
    ]


def _activation_layers(lib: Any) -> list[Any]:
    L = lib.layers  # noqa: N806
    return [L.Dense(4), L.Activation("tanh"), L.Dense(3), L.Activation("softmax")]


def _bn_layers(lib: Any) -> list[Any]:
    L = lib.layers  # noqa: N806
    return [
        L.Dense(5, activation="relu"),
        L.BatchNormalization(momentum=0.9),
        L.Dense(3, "softmax"),
    ]


CASES = {"regularized": _regularized_layers, "activation": _activation_layers, "bn": _bn_layers}


def _case_inputs(case: str, shapes: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    """x (8, 5), labels and starting weights for ``shapes`` (Keras's get_weights order)."""
    x, *weights = _data(12, (8, 5), *shapes)
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    if case == "bn":  # gamma near 1, beta and moving mean small, moving variance positive
        weights[2] = 1 + 0.2 * weights[2]
        weights[3] = 0.1 * weights[3]
        weights[4] = 0.1 * weights[4]
        weights[5] = (1 + 0.5 * np.abs(weights[5])).astype(np.float32)
    weights = [(0.6 * w).astype(np.float32) if w.ndim == 2 else w for w in weights]
    return x, y, *weights


SHAPES = {
    "regularized": [(5, 4), (4,), (4, 4), (4,), (4, 3), (3,)],
    "activation": [(5, 4), (4,), (4, 3), (3,)],
    "bn": [(5, 5), (5,), (5,), (5,), (5,), (5,), (5, 3), (3,)],
}


# -- recording from Keras ---------------------------------------------------------------------
def keras_bn(keras: Any) -> dict[str, np.ndarray]:
    """BatchNormalization(momentum=0.9): training output, moving statistics after it, the
    gradients of ``sum(y * r)`` (JAX's autodiff), and the inference output before it."""
    import jax
    import jax.numpy as jnp

    x, r, gamma, beta, mm, mv = _bn_data()
    layer = keras.layers.BatchNormalization(momentum=0.9)
    layer.build((None, 4))
    layer.set_weights([gamma, beta, mm, mv])
    infer = np.asarray(layer(x, training=False))
    trainable = [v.value for v in layer.trainable_variables]
    fixed = [v.value for v in layer.non_trainable_variables]

    def f(trainable: Any, x: Any) -> Any:
        out, new = layer.stateless_call(trainable, fixed, x, training=True)
        return jnp.sum(out * r), (out, new)

    (_, (out, new)), (d_t, dx) = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(trainable, x)
    return {
        "train": np.asarray(out),
        "moving_mean": np.asarray(new[0]),
        "moving_variance": np.asarray(new[1]),
        "dgamma": np.asarray(d_t[0]),
        "dbeta": np.asarray(d_t[1]),
        "dx": np.asarray(dx),
        "infer": infer,
    }


def keras_step(keras: Any, case: str) -> dict[str, Any]:
    """One SGD(0.1) step on a batch of 8 with sparse categorical cross-entropy: the loss
    (regularization included), the weights after it, the evaluated loss and the outputs."""
    x, y, *weights = _case_inputs(case, SHAPES[case])
    model = keras.Sequential([keras.Input((5,)), *CASES[case](keras)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.set_weights(weights)
    loss = float(model.train_on_batch(x, y))
    return {
        "loss": loss,
        "weights": [np.asarray(w) for w in model.get_weights()],
        "evaluate": float(model.evaluate(x, y, batch_size=8, verbose=0)),
        "predict": np.asarray(model.predict(x, verbose=0)),
    }


def keras_dropout(keras: Any) -> np.ndarray:
    (x,) = _data(13, (6, 5))
    return np.asarray(keras.layers.Dropout(0.4, seed=3)(x, training=True))


def keras_counts(keras: Any) -> tuple[int, int]:
    L = keras.layers  # noqa: N806
    model = keras.Sequential(
        [keras.Input((6,)), L.Dense(8), L.BatchNormalization(), L.Dropout(0.5), L.Dense(3)]
    )
    fixed = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return model.count_params(), fixed


def _keras() -> Any:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("Keras was imported with another backend than JAX")
    return keras


# -- the goldens (recorded with the functions above) -------------------------------------------
def _f32(*rows: Any) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


# Keras 3.15.1, JAX 0.10.2 (CPU)
GOLDEN: dict[str, Any] = {
    "bn": {
        "train": _f32(
            [-0.2192722, 1.4121329, 1.5023985, -1.3694261],
            [-0.835202, 0.0033595134, 0.16183305, -0.1984303],
            [1.1022768, -0.9819968, 2.202011, -0.30249453],
            [0.9789524, 0.29511115, -1.7801092, 1.1399541],
            [1.2462227, 0.24586836, -1.3169199, 1.7137668],
            [-1.8965521, -0.7334509, -0.19581318, -1.7825586],
        ),
        "moving_mean": _f32(0.19250901, 0.058635205, 0.04837513, 0.12508069),
        "moving_variance": _f32(1.1686782, 1.6864424, 1.2888588, 1.001641),
        "dgamma": _f32(2.862251, -0.7021309, 0.17929393, -1.6651773),
        "dbeta": _f32(-3.925695, 0.059832335, 0.3047291, -3.6980069),
        "dx": _f32(
            [-1.066148, -0.2305838, -0.5608736, -1.0983093],
            [-0.4342605, 0.007887479, 0.8647867, 0.47521102],
            [-0.47973514, 0.08261895, 0.63650256, 0.359145],
            [0.76177025, 0.39984575, -0.2232449, 0.11119145],
            [0.47705334, 0.100219354, 1.1029968, -0.33132654],
            [0.74132055, -0.35998777, -1.8201675, 0.48408812],
        ),
        "infer": _f32(
            [1.1618775, 2.4544528, 4.742307, -0.20180878],
            [0.43676233, -0.035734534, 3.0636473, 0.9250008],
            [2.7176964, -1.777478, 5.618364, 0.8248632],
            [2.5725105, 0.47997385, 0.6319413, 2.2128825],
            [2.8871596, 0.3929309, 1.2119484, 2.765043],
            [-0.8127324, -1.3381413, 2.6158013, -0.59935206],
        ),
    },
    "steps": {
        "regularized": {
            "loss": 3.984764814376831,
            "weights": [
                _f32(
                    [0.23126757, -0.33726802, 0.5676113, -0.07142397],
                    [0.34439522, 0.3446224, -0.22505642, -1.1516775],
                    [-0.25360432, 0.27374938, -0.17996693, 0.26045793],
                    [0.58085144, -0.35621879, 0.7409748, 0.9665997],
                    [0.6253411, 0.6859281, 0.687635, 1.3493594],
                ),
                _f32(0.22316101, 0.057634786, 0.5527877, -0.8964529),
                _f32(
                    [-0.93075824, -0.5173004, 0.21182923, 0.3000401],
                    [-0.9059343, -1.0992812, -0.18338628, -0.081288524],
                    [-0.047601156, 0.39405802, 0.7073268, 0.13788523],
                    [0.3897762, -0.6147287, -0.6796944, 0.181257],
                ),
                _f32(0.61659855, 0.6829665, 0.53500485, 0.7545969),
                _f32(
                    [0.4422522, -1.0501225, -0.39603168],
                    [0.17884602, 0.36257085, -0.817021],
                    [0.6140239, -0.23048936, -0.083053865],
                    [0.10935535, 0.47887787, -0.83353955],
                ),
                _f32(0.92552423, 0.10506211, -0.73419386),
            ],
            "evaluate": 3.27494215965271,
            "predict": _f32(
                [0.70924985, 0.2654389, 0.025311243],
                [0.6912867, 0.27759343, 0.031119814],
                [0.90917486, 0.08853589, 0.0022892198],
                [0.8577635, 0.13203359, 0.010202897],
                [0.94493675, 0.053517364, 0.0015458581],
                [0.961812, 0.036793955, 0.00139403],
                [0.93095416, 0.06521784, 0.0038280883],
                [0.6949191, 0.27921265, 0.025868282],
            ),
        },
        "activation": {
            "loss": 1.4761439561843872,
            "weights": [
                _f32(
                    [0.24233656, -0.35277888, 0.5717566, -0.077160686],
                    [0.35324737, 0.37142554, -0.23549423, -1.15761],
                    [-0.23277391, 0.3485368, -0.23160599, 0.26187032],
                    [0.58374405, -0.31123418, 0.7379135, 0.9730651],
                    [0.633424, 0.68512344, 0.65567815, 1.3582014],
                ),
                _f32(0.20703886, -0.030230295, 0.6066823, -0.9036249),
                _f32(
                    [-0.9438527, -0.50416774, 0.21044882],
                    [0.2793258, -0.8978133, -1.149574],
                    [-0.21250457, -0.08741782, -0.03211737],
                    [0.41218796, 0.7519934, 0.11447449],
                ),
                _f32(0.5715173, -1.0708678, -1.1594746),
            ],
            "evaluate": 1.3814457654953003,
            "predict": _f32(
                [0.7780608, 0.11458527, 0.10735394],
                [0.72450393, 0.15214434, 0.12335174],
                [0.37753057, 0.16668293, 0.45578653],
                [0.6626256, 0.09600589, 0.24136849],
                [0.49500614, 0.172581, 0.33241287],
                [0.5312071, 0.18021518, 0.28857774],
                [0.70177704, 0.12922205, 0.16900092],
                [0.763147, 0.12684536, 0.11000767],
            ),
        },
        "bn": {
            "loss": 0.8518921136856079,
            "weights": [
                _f32(
                    [0.2453649, -0.35563403, 0.5544082, -0.08143056, 0.35632467],
                    [0.37299836, -0.24340148, -1.1759903, -0.21057081, 0.33087328],
                    [-0.22427385, 0.23583767, 0.5594868, -0.3315541, 0.7388111],
                    [0.97678494, 0.6331692, 0.7035354, 0.6634286, 1.3527235],
                    [0.11979479, 0.06636584, 0.35311016, -0.5560615, -0.9319061],
                ),
                _f32(-0.87689406, 0.40021554, 0.4861935, -1.5293764, -1.8834637),
                _f32(0.9440384, 0.9463836, 1.0039868, 1.1393448, 1.2457669),
                _f32(0.023140527, 0.08456275, -0.09889068, -0.13178098, 0.020719403),
                _f32(0.062529534, 0.09806021, 0.09750802, 0.072832204, 0.07288452),
                _f32(1.6889974, 1.2435462, 1.1213561, 1.1688589, 1.5804415),
                _f32(
                    [0.71037567, -0.27375108, -0.13554175],
                    [0.15478103, 0.44654673, -0.8471257],
                    [0.6012774, 0.055776093, -0.47921795],
                    [-0.18036552, -1.3232203, -0.3616524],
                    [0.10920243, -0.4250544, -0.19724026],
                ),
                _f32(-0.14436522, 0.064292915, 1.0023276),
            ],
            "evaluate": 0.9688547253608704,
            "predict": _f32(
                [0.32521045, 0.421065, 0.25372452],
                [0.19260551, 0.39505085, 0.4123437],
                [0.1432745, 0.26135516, 0.59537035],
                [0.301625, 0.3060827, 0.3922923],
                [0.23160855, 0.2982532, 0.47013828],
                [0.22387369, 0.38064376, 0.3954826],
                [0.1870802, 0.2816044, 0.5313153],
                [0.24132758, 0.37772527, 0.3809471],
            ),
        },
    },
    "dropout": _f32(
        [0.0, -5.1305532, 0.0, 0.0, 2.1970835],
        [0.6427154, 0.0, 0.05290626, 0.0, 0.9674749],
        [0.72017807, 0.0, -0.41217303, 0.0, 1.17386],
        [0.0, -0.6128562, -3.0113173, 0.0, -0.37381813],
        [0.0, 0.0, 3.239938, 0.0, 0.0],
        [2.467939, 0.0, 0.0, -2.4673727, 0.5720606],
    ),
    "counts": (
        115,
        16,
    ),
}


def test_the_goldens_are_keras_s_own() -> None:
    keras = _keras()
    fresh = {
        "bn": keras_bn(keras),
        "steps": {case: keras_step(keras, case) for case in CASES},
        "dropout": keras_dropout(keras),
        "counts": keras_counts(keras),
    }

    def same(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict):
            assert a.keys() == b.keys(), where
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list | tuple):
            assert len(a) == len(b), where
            for i, (u, v) in enumerate(zip(a, b)):
                same(u, v, f"{where}[{i}]")
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=where)

    same(fresh, GOLDEN, "GOLDEN")


# -- BatchNormalization -----------------------------------------------------------------------
def _attach(layer: Any, input_dim: int, params: list[Any], state: list[Any]) -> None:
    """A layer on its own, its weights on the active backend (copies of the host arrays)."""
    dev = [xpnn.to_device(np.array(p)) for p in params]
    layer.attach(
        input_dim,
        dev,
        [array_module(p).zeros_like(p) for p in dev],
        [xpnn.to_device(np.array(s)) for s in state],
    )


def test_batch_norm_equals_keras_in_both_modes_with_keras_s_gradients(xp: Any) -> None:
    x, r, gamma, beta, mm, mv = _bn_data()
    layer = BatchNormalization(momentum=0.9, name="bn")
    _attach(layer, 4, [gamma, beta], [mm, mv])
    ws = layer.workspace(6, xp, np.float32, need_dx=True)
    gold = GOLDEN["bn"]
    infer = xpnn.to_numpy(layer.forward(xpnn.to_device(x), False, ws))
    np.testing.assert_allclose(infer, gold["infer"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(xpnn.to_numpy(layer.moving_mean), mm)  # inference: unchanged
    train = xpnn.to_numpy(layer.forward(xpnn.to_device(x), True, ws))
    np.testing.assert_allclose(train, gold["train"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xpnn.to_numpy(layer.moving_mean), gold["moving_mean"], rtol=1e-6)
    np.testing.assert_allclose(
        xpnn.to_numpy(layer.moving_variance), gold["moving_variance"], rtol=1e-6
    )
    dx = xpnn.to_numpy(layer.backward(xpnn.to_device(r), ws, need_dx=True))
    np.testing.assert_allclose(dx, gold["dx"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xpnn.to_numpy(layer.grads[0]), gold["dgamma"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xpnn.to_numpy(layer.grads[1]), gold["dbeta"], rtol=1e-5, atol=1e-5)


def test_batch_norm_uses_the_biased_variance_and_keras_s_moving_update(xp: Any) -> None:
    x = np.array([[1.0], [2.0], [4.0], [9.0]], dtype=np.float32)  # mean 4, biased var 9.5
    layer = BatchNormalization(momentum=0.75, epsilon=0.5, center=False, scale=False)
    _attach(layer, 1, [], [np.zeros(1), np.ones(1)])
    y = xpnn.to_numpy(layer.forward(xpnn.to_device(x), True))
    np.testing.assert_allclose(y[:, 0], (x[:, 0] - 4) / np.sqrt(9.5 + 0.5), rtol=1e-6)
    np.testing.assert_allclose(xpnn.to_numpy(layer.moving_mean), [0.25 * 4], rtol=1e-7)
    np.testing.assert_allclose(xpnn.to_numpy(layer.moving_variance), [0.75 + 0.25 * 9.5])


def test_batch_norm_defaults_and_config_are_keras_s() -> None:
    layer = BatchNormalization()
    config = layer.get_config()
    expected = {
        "axis": -1,
        "momentum": 0.99,
        "epsilon": 1e-3,
        "center": True,
        "scale": True,
        "beta_initializer": "zeros",
        "gamma_initializer": "ones",
        "moving_mean_initializer": "zeros",
        "moving_variance_initializer": "ones",
    }
    assert {k: config[k] for k in expected} == expected
    again = xpnn.layers.deserialize(config)
    assert isinstance(again, BatchNormalization) and again.get_config() == config
    for bad, match in [
        ({"axis": 0}, "axis must be -1 or 1.*axis=0"),
        ({"momentum": 1.5}, r"momentum must be a number in \[0.0, 1.0\].*momentum=1.5"),
        ({"epsilon": 0}, "epsilon must be positive.*epsilon=0"),
        ({"gamma_initializer": "gaussian"}, "Unknown initializer 'gaussian'"),
    ]:
        with pytest.raises(ValueError, match=match):
            BatchNormalization(**bad)


def test_batch_norm_weights_counts_and_summary(xp: Any) -> None:
    model = Sequential([Input((6,)), Dense(8), BatchNormalization(name="bn"), Dense(3)])
    bn = model.layers[1]
    assert bn.count_params() == 4 * 8
    assert model._params.size == 6 * 8 + 8 + 2 * 8 + 8 * 3 + 3 and model._state.size == 2 * 8
    shapes = [w.shape for w in model.get_weights()]  # gamma, beta, moving mean, moving variance
    assert shapes == [(6, 8), (8,), (8,), (8,), (8,), (8,), (8, 3), (3,)]
    weights = model.get_weights()
    np.testing.assert_array_equal(weights[2], np.ones(8))  # gamma: ones
    np.testing.assert_array_equal(weights[5], np.ones(8))  # moving variance: ones
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 16 " in lines[0]


def test_batch_norm_without_center_or_scale_has_fewer_weights() -> None:
    model = Sequential([Input((3,)), BatchNormalization(center=False), Dense(2)])
    assert [w.shape for w in model.get_weights()][:3] == [(3,), (3,), (3,)]  # gamma, mm, mv
    model = Sequential([Input((3,)), BatchNormalization(scale=False, center=False), Dense(2)])
    assert [w.shape for w in model.get_weights()][:2] == [(3,), (3,)]


def test_batch_norm_random_initializers_draw_from_the_model_seed() -> None:
    def model(seed: int) -> Sequential:
        bn = BatchNormalization(
            gamma_initializer="random_normal", moving_mean_initializer="random_uniform"
        )
        return Sequential([Input((4,)), bn], seed=seed)

    a, b, c = model(1).get_weights(), model(1).get_weights(), model(2).get_weights()
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[2], c[2])
    assert np.all(a[2] != 0) and np.all(np.abs(a[2]) <= 0.05)  # moving mean: random_uniform


def _gradcheck_ok(report: dict[str, dict[str, float]]) -> None:
    for layer, entry in report.items():
        for name, err in entry.items():
            limit = 1e-9 if name == "loop_vs_matrix" else 1e-6
            assert err < limit, (layer, name, err)


def test_batch_norm_passes_gradcheck() -> None:
    x, y = blobs(10, 4, 3, seed=5)
    model = Sequential(
        [Input((4,)), Dense(6, "tanh"), BatchNormalization(name="bn"), Dense(3, "softmax")],
        seed=1,
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    weights = model.get_weights()
    weights[2] = weights[2] * 1.3 + 0.1  # gamma and beta away from 1 and 0
    weights[3] = weights[3] + 0.2
    model.set_weights(weights)
    report = xpnn.gradcheck(model, x, y)
    assert set(report["bn"]) == {"param0", "param1", "loop_vs_matrix"}
    _gradcheck_ok(report)


# -- whole steps against Keras ----------------------------------------------------------------
def _xpnn_step(case: str) -> dict[str, Any]:
    x, y, *weights = _case_inputs(case, SHAPES[case])
    model = Sequential([Input((5,)), *CASES[case](xpnn)], seed=0)
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.set_weights(weights)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return {
        "loss": history.history["loss"][0],
        "weights": model.get_weights(),
        "evaluate": model.evaluate(x, y, batch_size=8),
        "predict": model.predict(x),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_one_training_step_equals_keras(xp: Any, case: str) -> None:
    """Regularizers (kernel, bias, activity through the softmax shortcut), Activation layers
    and BatchNormalization: the loss with its penalties, every weight after one SGD step
    (moving statistics included), the evaluated loss and the outputs after it."""
    ours, gold = _xpnn_step(case), GOLDEN["steps"][case]
    assert ours["loss"] == pytest.approx(gold["loss"], rel=1e-6)
    for i, (a, b) in enumerate(zip(ours["weights"], gold["weights"], strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6, err_msg=f"weight {i}")
    assert ours["evaluate"] == pytest.approx(gold["evaluate"], rel=1e-6)
    np.testing.assert_allclose(ours["predict"], gold["predict"], rtol=1e-5, atol=1e-6)


def test_activation_layers_give_the_dense_activation_s_numbers(xp: Any) -> None:
    """``Dense(3) + Activation("softmax")`` takes the same loss shortcut as
    ``Dense(3, "softmax")``, so a whole fit gives the same weights to the last bit."""
    x, y = blobs(64, 5, 3, seed=6)
    runs = []
    for split in (False, True):
        out = [Dense(3), Activation("softmax")] if split else [Dense(3, "softmax")]
        mid = [Dense(6), Activation("relu")] if split else [Dense(6, "relu")]
        model = Sequential([Input((5,)), *mid, *out], seed=4)
        model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        h = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append((h.history["loss"], model.get_weights(), model.predict(x)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_activation_layer_config_and_gradcheck() -> None:
    layer = Activation("tanh", name="act")
    config = layer.get_config()
    assert config == {"class_name": "Activation", "name": "act", "activation": "tanh"}
    assert xpnn.layers.deserialize(config).activation is xpnn.activations.tanh
    with pytest.raises(ValueError, match="Unknown activation 'swishy'"):
        Activation("swishy")
    x, y = blobs(10, 4, 3, seed=7)
    model = Sequential(
        [Input((4,)), Dense(5), Activation("tanh"), Dense(3), Activation("softmax", name="out")],
        seed=2,
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    _gradcheck_ok(xpnn.gradcheck(model, x, y))
    model.compile(optimizer="sgd", loss="mse")  # no shortcut: softmax's own backward
    _gradcheck_ok(xpnn.gradcheck(model, x, np.eye(3)[y]))


# -- Dense's regularizers ----------------------------------------------------------------------
def _regularized_model(activation: str, dtype: str = "float64") -> Sequential:
    model = Sequential(
        [
            Input((4,)),
            Dense(
                5,
                "tanh",
                kernel_regularizer=regularizers.L1L2(0.01, 0.03),
                bias_regularizer="l1",
                activity_regularizer=regularizers.L1L2(0.02, 0.01),
            ),
            Dense(3, activation, activity_regularizer=regularizers.L2(0.05), name="out"),
        ],
        seed=3,
        dtype=dtype,
    )
    return model


def _fd_gradients(model: Sequential, x: np.ndarray, y: Any, h: float = 1e-6) -> np.ndarray:
    """Central differences of the evaluated loss (which includes the penalties)."""
    flat = model._params
    grads = np.empty(flat.size)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + h
        up = model.evaluate(x, y, batch_size=len(x))
        flat[j] = old - h
        down = model.evaluate(x, y, batch_size=len(x))
        flat[j] = old
        grads[j] = (up - down) / (2 * h)
    return grads


@pytest.mark.parametrize(
    ("activation", "loss"),
    [
        ("softmax", "sparse_categorical_crossentropy"),  # the shortcut: backward_z
        ("sigmoid", "mse"),  # no shortcut: backward
        ("linear", xpnn.losses.SparseCategoricalCrossentropy(from_logits=True)),
    ],
)
def test_regularized_gradients_match_central_differences(activation: str, loss: Any) -> None:
    """The gradient the step applies (one SGD step of rate 1 in float64: ``w - w'``) is the
    derivative of the loss evaluate reports, penalties included, on both backward paths."""
    x, labels = blobs(12, 4, 3, seed=8)
    y = np.eye(3)[labels] if loss == "mse" else labels
    model = _regularized_model(activation)
    model.compile(optimizer=optimizers.SGD(1.0), loss=loss)
    expected = _fd_gradients(model, x, y)
    before = model._params.copy()
    model.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(before - model._params, expected, rtol=1e-6, atol=1e-8)


def test_penalties_reach_the_loss_and_evaluate(xp: Any) -> None:
    x, labels = blobs(16, 4, 3, seed=9)
    plain = Sequential([Input((4,)), Dense(3, "softmax")], seed=1)
    reg = Sequential([Input((4,)), Dense(3, "softmax", kernel_regularizer=regularizers.L2(0.5))])
    reg.build((None, 4))
    reg.set_weights(plain.get_weights())
    for m in (plain, reg):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    kernel = plain.get_weights()[0].astype(np.float64)
    gap = reg.evaluate(x, labels) - plain.evaluate(x, labels)
    assert gap == pytest.approx(0.5 * np.sum(kernel**2), rel=1e-5)  # no 1/2: Keras's L2


def test_activity_regularizer_divides_by_the_batch_size(xp: Any) -> None:
    """Keras's example (keras/src/regularizers/regularizers.py): Dense(5) with ones as its
    kernel, kernel L1(0.01), activity L2(0.01), on a (5, 5) batch of twos: 0.25 + 5.0."""
    layer = Dense(
        5,
        kernel_initializer="ones",
        kernel_regularizer=regularizers.L1(0.01),
        activity_regularizer=regularizers.L2(0.01),
    )
    layer.build((None, 5))
    ws = layer.workspace(5, xp, np.float32, need_dx=False)
    layer.forward(xpnn.to_device(np.full((5, 5), 2.0, dtype=np.float32)), False, ws)
    assert layer.regularized
    assert float(xpnn.to_numpy(layer.penalty(ws))) == pytest.approx(5.25, rel=1e-6)


def test_backward_and_backward_z_agree_with_an_activity_regularizer(xp: Any) -> None:
    """Through softmax the activity term needs the Jacobian: backward from dL/da and
    backward_z from dL/dz = J^T dL/da must give the same gradients."""
    (x, g) = _data(15, (6, 4), (6, 3))
    layer = Dense(3, "softmax", activity_regularizer=regularizers.L1L2(0.1, 0.2))
    layer.build((None, 4), seed=0, dtype="float64")
    ws = layer.workspace(6, xp, np.float64, need_dx=True)
    a = layer.forward(xpnn.to_device(x.astype(np.float64)), True, ws)
    delta_a = xpnn.to_device(g.astype(np.float64))
    delta_z = xpnn.activations.softmax.backward(delta_a, ws.z, a)
    results = []
    for run in (lambda: layer.backward(delta_a.copy(), ws), lambda: layer.backward_z(delta_z, ws)):
        dx = xpnn.to_numpy(run())
        results.append([dx, *(xpnn.to_numpy(v).copy() for v in layer.grads)])
    for u, v in zip(*results, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


def test_dense_config_round_trips_regularizers_and_initializers() -> None:
    layer = Dense(
        3,
        kernel_initializer=xpnn.initializers.HeNormal(seed=4),
        bias_initializer="ones",
        kernel_regularizer="l2",
        bias_regularizer=regularizers.L1(0.2),
        activity_regularizer=regularizers.L1L2(l2=0.1),
    )
    config = layer.get_config()
    assert config["kernel_initializer"] == {"class_name": "HeNormal", "config": {"seed": 4}}
    assert config["bias_initializer"] == "ones"
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["activity_regularizer"]["config"] == {"l1": 0.0, "l2": 0.1}
    again = xpnn.layers.deserialize(config)
    assert again.get_config() == config
    assert again.kernel_regularizer == regularizers.L2(0.01)
    assert not Dense(3).regularized
    assert not Dense(3, use_bias=False, bias_regularizer="l2").regularized


# -- Dropout -------------------------------------------------------------------------------------
def _dropout(rate: float, dim: int, seed: int | None = 7, **kwargs: Any) -> Dropout:
    layer = Dropout(rate, seed=seed, **kwargs)
    layer.output_dim(dim)
    _attach(layer, dim, [], layer.initial_state(dim))
    return layer


def test_dropout_keeps_keras_s_scale_and_is_the_identity_in_inference(xp: Any) -> None:
    """Where both libraries keep a unit they give the same float32 number,
    ``x * (1 / (1 - rate))`` (the masks themselves come from different generators)."""
    (x,) = _data(13, (6, 5))
    theirs = GOLDEN["dropout"]
    ours = xpnn.to_numpy(_dropout(0.4, 5)(xpnn.to_device(x), training=True))
    both = (ours != 0) & (theirs != 0)
    assert both.sum() >= 5
    np.testing.assert_array_equal(ours[both], theirs[both])
    np.testing.assert_array_equal(ours[ours != 0], (x * np.float32(1 / 0.6))[ours != 0])
    layer = _dropout(0.4, 5)
    xd = xpnn.to_device(x)
    assert layer(xd, training=False) is xd  # inference: the input itself
    np.testing.assert_array_equal(xpnn.to_numpy(layer.counter), [0])  # and no mask drawn


def test_dropout_keep_rate_is_one_minus_rate(xp: Any) -> None:
    x = xpnn.to_device(np.ones((128, 256), dtype=np.float32))
    for rate in (0.1, 0.5, 0.9):
        layer = _dropout(rate, 256, seed=11)
        for _ in range(3):
            kept = xpnn.to_numpy(layer(x, training=True)) != 0
            n = kept.size
            sigma = np.sqrt(rate * (1 - rate) / n)
            assert abs(kept.mean() - (1 - rate)) < 5 * sigma, (rate, kept.mean())
            # and no column or row pattern: per-unit keep rates spread as a binomial's
            per_unit = kept.mean(axis=0)
            assert per_unit.std() < 2 * np.sqrt(rate * (1 - rate) / 128)


def test_dropout_rates_zero_and_one_are_keras_s(xp: Any) -> None:
    (x,) = _data(16, (4, 3))
    xd = xpnn.to_device(x)
    assert _dropout(0.0, 3)(xd, training=True) is xd
    np.testing.assert_array_equal(xpnn.to_numpy(_dropout(1.0, 3)(xd, training=True)), 0)
    with pytest.raises(ValueError, match=r"`rate`.*between 0 and 1.*rate=1.5"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match="seed must be an integer"):
        Dropout(0.5, seed=1.5)


def test_dropout_masks_differ_per_step_and_repeat_from_the_seed(xp: Any) -> None:
    x = xpnn.to_device(np.ones((32, 16), dtype=np.float32))

    def masks(seed: int | None, steps: int = 4) -> list[np.ndarray]:
        layer = _dropout(0.5, 16, seed=seed)
        return [xpnn.to_numpy(layer(x, training=True)) != 0 for _ in range(steps)]

    first = masks(5)
    assert all(not np.array_equal(first[i], first[j]) for i in range(4) for j in range(i))
    for a, b in zip(first, masks(5), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], masks(6)[0])
    # a seed is kept modulo 2**24 (the float32 state holds it exactly)
    np.testing.assert_array_equal(first[0], masks(5 + 2**24, 1)[0])


def test_dropout_masks_are_the_same_on_every_backend() -> None:
    x = np.ones((8, 6), dtype=np.float32)
    runs = []
    for name in ["numpy", "strict"] + (["cupy"] if GPU else []):
        with xpnn.use_backend(name):
            layer = _dropout(0.3, 6, seed=9)
            runs.append([xpnn.to_numpy(layer(xpnn.to_device(x), training=True)) for _ in range(3)])
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_dropout_counter_is_state_and_wraps_exactly(xp: Any) -> None:
    """The counter counts the masks drawn; at 2**24 (where float32 stops holding every
    integer) it wraps to 0, and the stream starts again from its first mask."""
    x = xpnn.to_device(np.ones((4, 8), dtype=np.float32))
    layer = _dropout(0.5, 8, seed=1)
    first = xpnn.to_numpy(layer(x, training=True))
    layer(x, training=True)
    np.testing.assert_array_equal(xpnn.to_numpy(layer.counter), [2])
    layer.state[0][0:1] = 2**24 - 1
    last = xpnn.to_numpy(layer(x, training=True))
    np.testing.assert_array_equal(xpnn.to_numpy(layer.counter), [0])
    assert not np.array_equal(last, first)
    np.testing.assert_array_equal(xpnn.to_numpy(layer(x, training=True)), first)


def test_dropout_noise_shape_shares_a_draw_along_an_axis(xp: Any) -> None:
    x = xpnn.to_device(np.ones((64, 8), dtype=np.float32))
    rows = xpnn.to_numpy(_dropout(0.5, 8, noise_shape=(None, 1))(x, training=True))
    assert all(len(set(r)) == 1 for r in rows) and len({r[0] for r in rows}) == 2
    cols = xpnn.to_numpy(_dropout(0.5, 8, noise_shape=[1, None])(x, training=True))
    assert all(len(set(c)) == 1 for c in cols.T)
    with pytest.raises(ValueError, match="noise_shape.*does not broadcast"):
        Sequential([Input((8,)), Dropout(0.5, noise_shape=(None, 3))])


def test_dropout_backward_uses_the_forward_s_mask(xp: Any) -> None:
    (x, g) = _data(17, (10, 6), (10, 6))
    layer = _dropout(0.25, 6)
    ws = layer.workspace(10, xp, np.float32, need_dx=True)
    out = xpnn.to_numpy(layer.forward(xpnn.to_device(x), True, ws))
    dx = xpnn.to_numpy(layer.backward(xpnn.to_device(g), ws))
    kept = out != 0
    np.testing.assert_array_equal(dx[kept], (g * np.float32(1 / 0.75))[kept])
    np.testing.assert_array_equal(dx[~kept], 0)
    assert layer.backward(xpnn.to_device(g), ws, need_dx=False) is None


def _dropout_model(jit: bool = False, seed: int | None = 21) -> Sequential:
    model = Sequential(
        [
            Input((5,)),
            Dense(16, "relu"),
            BatchNormalization(),
            Dropout(0.3, seed=seed, name="drop"),
            Dense(8),
            Activation("relu"),
            Dense(3, "softmax"),
        ],
        seed=2,
    )
    model.compile(
        optimizer=optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
    )
    return model


def test_a_model_with_every_layer_trains(xp: Any) -> None:
    x, y = blobs(240, 5, 3, seed=10)
    model = _dropout_model()
    before = model.evaluate(x, y)[1]
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    assert model.evaluate(x, y)[1] > max(before, 0.95)
    assert model.predict(x).shape == (240, 3)


def test_dropout_gradients_match_central_differences_at_a_fixed_mask() -> None:
    """A forward draws a new mask each call, so the differences hold the counter still: the
    layer's state is put back before each forward."""
    x, y = blobs(10, 5, 3, seed=11)
    model = Sequential(
        [Input((5,)), Dense(6, "tanh"), Dropout(0.4, seed=3), Dense(3, "softmax")],
        seed=5,
        dtype="float64",
    )
    model.compile(optimizer=optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    start = model._state.copy()

    def loss() -> float:
        model._state[...] = start
        a = x.astype(np.float64)
        for layer in model.layers:
            a = layer.forward(a, True)
        return float(model.loss.value(y, a))

    flat = model._params
    expected = np.empty(flat.size)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + 1e-6
        up = loss()
        flat[j] = old - 1e-6
        expected[j] = (up - loss()) / 2e-6
        flat[j] = old
    model._state[...] = start
    before = flat.copy()
    model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(before - model._params, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(model._state[0], start[0] + 1)  # one mask drawn


# -- gradcheck and Keras's weight layout with Dropout ------------------------------------------


def test_gradcheck_covers_dropout() -> None:
    x, y = blobs(10, 4, 3, seed=14)
    model = Sequential(
        [Input((4,)), Dense(5, "tanh"), Dropout(0.4, seed=2), Dense(3, "softmax")], seed=1
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for entry in xpnn.gradcheck(model, x, y).values():
        assert all(err < 1e-5 for err in entry.values()), entry


def test_gradcheck_covers_the_penalties() -> None:
    x, y = blobs(10, 4, 3, seed=15)
    model = _regularized_model("softmax")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for entry in xpnn.gradcheck(model, x, y).values():
        assert all(err < 1e-5 for err in entry.values()), entry


def test_dropout_state_is_not_a_weight_as_in_keras() -> None:
    """Keras keeps a seed generator's state out of get_weights and the counts
    (``layer.weights`` leaves out ``layer.variables``' seeds), so its weight lists load."""
    model = Sequential([Input((4,)), Dense(3), Dropout(0.5), Dense(2)])
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]
    assert model.count_params() == 23  # keras: the same model counts 23
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 0 " in lines[0]


@pytest.fixture(params=RECORDING)
def gx(request: pytest.FixtureRequest) -> Any:
    """A backend that records the step: strict (the tape) and CuPy where a GPU is."""
    with xpnn.use_backend(request.param):
        yield xpnn.get_xp()


def test_replayed_training_with_dropout_and_batch_norm_equals_eager(gx: Any) -> None:
    """The mask comes from the counter on the device, so the recorded step draws a new mask
    on every replay, the same as the eager step; the moving statistics follow too."""
    x, y = blobs(70, 5, 3, seed=12)
    runs = []
    for jit in (False, True):
        model = _dropout_model(jit)
        h = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append((h.history, model.get_weights(), xpnn.to_numpy(model.layers[2].counter)))
    assert runs[0][2] == runs[1][2] == [3 * 5]
    for key in runs[0][0]:
        np.testing.assert_allclose(runs[1][0][key], runs[0][0][key], rtol=1e-6, err_msg=key)
    for a, b in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- saving, config, counts ---------------------------------------------------------------------
def test_every_layer_round_trips_through_its_config() -> None:
    layers = [
        Dropout(0.2, noise_shape=(None, 1), seed=4, name="d"),
        BatchNormalization(momentum=0.5, epsilon=0.01, center=False, name="bn"),
        Activation("sigmoid", name="a"),
        Dense(2, "relu", kernel_regularizer="l1", name="dense"),
    ]
    for layer in layers:
        config = layer.get_config()
        again = xpnn.layers.deserialize(config)
        assert type(again) is type(layer) and again.get_config() == config


def test_save_and_load_continue_the_same_masks_and_statistics(xp: Any, tmp_path: Path) -> None:
    x, y = blobs(64, 5, 3, seed=13)
    model = _dropout_model(seed=None)  # the seed is drawn from the model's and saved
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert [type(lyr).__name__ for lyr in loaded.layers] == [
        type(lyr).__name__ for lyr in model.layers
    ]
    np.testing.assert_array_equal(xpnn.to_numpy(loaded._state), xpnn.to_numpy(model._state))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    loaded.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    lines: list[str] = []
    loaded.summary(print_fn=lines.append)
    assert "(Dropout)" in lines[0] and "(BatchNormalization)" in lines[0]


def test_the_unseeded_dropout_seed_follows_the_model_seed() -> None:
    def counter_and_seed(model_seed: int) -> np.ndarray:
        model = Sequential([Input((3,)), Dropout(0.5), Dense(2)], seed=model_seed)
        return xpnn.to_numpy(model.layers[0].state[0])

    a, b, c = counter_and_seed(1), counter_and_seed(1), counter_and_seed(2)
    np.testing.assert_array_equal(a, b)
    assert a[0] == 0 and a[1] != c[1] and 0 <= a[1] < 2**24 and a[1] == int(a[1])


def test_counts_as_keras_counts_them() -> None:
    model = Sequential([Input((6,)), Dense(8), BatchNormalization(), Dropout(0.5), Dense(3)])
    total, fixed = GOLDEN["counts"]
    assert model.layers[2].count_params() == 0
    assert sum(layer.count_params() for layer in model.layers) == total
    assert model.layers[1].count_params() - 2 * 8 == 2 * 8 == fixed


# -- the cost of drawing a mask --------------------------------------------------------------------
def _best(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def test_the_mask_costs_little_next_to_the_step() -> None:
    """The mnist workload's shapes (batch 128, 784-256-128-10, benchmarks/workloads.py): the
    forward and backward of a (128, 256) Dropout against the whole training step, on NumPy,
    each the best of many runs. Measured here: about 85 us against 900 us. The bound is loose
    (shared CI machines): the mask must cost less than half the step."""
    from xpnn.training import Trainer

    x, y = _data(18, (128, 784))[0], np.arange(128) % 10
    model = Sequential([Input((784,)), Dense(256, "relu"), Dense(128, "relu"), Dense(10)], seed=0)
    model.compile(optimizer="adam", loss=xpnn.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    trainer = Trainer.for_model(model, (), np.dtype(np.int64))
    step_ws = trainer.workspace(128)
    step_ws.x[...], step_ws.y[...] = x, y
    layer = _dropout(0.2, 256)
    ws = layer.workspace(128, np, np.float32, need_dx=True)
    h = np.ones((128, 256), dtype=np.float32)
    mask = _best(lambda: (layer.forward(h, True, ws), layer.backward(h, ws)), 50)
    step = _best(lambda: trainer.step(step_ws), 20)
    print(f"dropout (128, 256) forward+backward {mask * 1e6:.0f} us, step {step * 1e6:.0f} us")
    assert mask < 0.5 * step


if __name__ == "__main__":  # print the goldens afresh, to paste below
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras as _k

    np.set_printoptions(precision=9, floatmode="unique", linewidth=95, threshold=10_000)
    print("bn", keras_bn(_k))
    for _case in CASES:
        print(_case, keras_step(_k, _case))
    print("dropout", repr(keras_dropout(_k)))
    print("counts", keras_counts(_k))
