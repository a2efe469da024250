"""Initialisers: Keras 3's classes, names, arguments, defaults and formulas; drawn on the host
from the model's generator, or from their own seed."""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import Dense, Input, Sequential, initializers
from xpnn.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
)

# Keras 3.15.1: keras.initializers.<Class>().get_config() (input_axes and output_axes, which
# xpnn's 2-D weights do not need, left out)
KERAS_CONFIGS: dict[str, dict[str, Any]] = {
    "Zeros": {},
    "Ones": {},
    "Constant": {"value": 0.0},
    "RandomNormal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "RandomUniform": {"seed": None, "minval": -0.05, "maxval": 0.05},
    "TruncatedNormal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "VarianceScaling": {
        "seed": None,
        "scale": 1.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
    },
    "GlorotUniform": {"seed": None},
    "GlorotNormal": {"seed": None},
    "HeUniform": {"seed": None},
    "HeNormal": {"seed": None},
    "LecunUniform": {"seed": None},
    "LecunNormal": {"seed": None},
}


def test_defaults_and_configs_are_keras_s() -> None:
    for name, config in KERAS_CONFIGS.items():
        init = getattr(initializers, name)()
        assert init.get_config() == config, name
        assert initializers.deserialize(initializers.serialize(init)) == init


def test_keras_s_configs_are_current() -> None:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    for name, config in KERAS_CONFIGS.items():
        theirs = getattr(keras.initializers, name)().get_config()
        theirs.pop("input_axes", None)
        theirs.pop("output_axes", None)
        assert theirs == config, name


def test_names_are_the_classes_as_in_keras() -> None:
    assert initializers.glorot_uniform is GlorotUniform
    assert initializers.he_normal is HeNormal and initializers.zeros is Zeros
    for name in initializers.names():
        by_snake, by_class = initializers.get(name), initializers.get(type(initializers.get(name)))
        assert type(by_snake) is type(by_class)
        assert type(initializers.get(type(by_snake).__name__)) is type(by_snake)
    assert isinstance(initializers.get("normal"), RandomNormal)  # Keras's aliases
    assert isinstance(initializers.get("uniform"), RandomUniform)
    assert isinstance(initializers.get("HE_NORMAL"), HeNormal)  # names as before: any case
    he = HeNormal(seed=1)
    assert initializers.get(he) is he
    assert initializers.get({"class_name": "HeNormal", "config": {"seed": 1}}) == he


def test_bad_identifiers_and_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'.*glorot_uniform"):
        initializers.get("glorot")
    with pytest.raises(ValueError, match="Unknown initializer 3"):
        initializers.get(3)
    with pytest.raises(ValueError, match="Unknown initializer config.*Gaussian"):
        initializers.get({"class_name": "Gaussian", "config": {}})
    with pytest.raises(ValueError, match="`scale` must be positive.*scale=0"):
        VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: 'fan'"):
        VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: 'cauchy'"):
        VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="seed must be an integer or None.*seed=1.5"):
        GlorotUniform(seed=1.5)
    with pytest.raises(ValueError, match="stddev must be a finite number.*stddev=nan"):
        RandomNormal(stddev=float("nan"))
    with pytest.raises(ValueError, match="value must be a finite number.*value='a'"):
        Constant("a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown initializer 'sideways'"):
        Dense(3, kernel_initializer="sideways")
    assert VarianceScaling(distribution="normal").distribution == "truncated_normal"  # Keras


# -- formulas --------------------------------------------------------------------------------------
SHAPE = (300, 200)  # fan_in 300, fan_out 200, fan_avg 250

VARIANCES = {
    GlorotUniform: 1 / 250,
    GlorotNormal: 1 / 250,
    HeUniform: 2 / 300,
    HeNormal: 2 / 300,
    LecunUniform: 1 / 300,
    LecunNormal: 1 / 300,
}


@pytest.mark.parametrize("cls", list(VARIANCES), ids=lambda c: c.__name__)
def test_variance_scaling_has_the_intended_variance(cls: type) -> None:
    w = cls()(SHAPE, np.random.default_rng(0))
    variance = VARIANCES[cls]
    assert w.shape == SHAPE and w.dtype == np.float64
    assert abs(w.mean()) < 4 * math.sqrt(variance / w.size)
    assert w.var() == pytest.approx(variance, rel=0.02)
    if cls().distribution == "uniform":  # on [-limit, limit], limit = sqrt(3 variance)
        limit = math.sqrt(3 * variance)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    else:  # truncated at two standard deviations of the normal before the correction
        bound = 2 * math.sqrt(variance) / 0.87962566103423978
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


def test_the_modes_and_untruncated_normal() -> None:
    rng = np.random.default_rng(1)
    fan_out = VarianceScaling(scale=3.0, mode="fan_out", distribution="uniform")(SHAPE, rng)
    assert fan_out.var() == pytest.approx(3.0 / 200, rel=0.02)
    plain = VarianceScaling(scale=2.0, distribution="untruncated_normal")(SHAPE, rng)
    assert plain.var() == pytest.approx(2.0 / 300, rel=0.02)
    assert np.abs(plain).max() > 3 * math.sqrt(2.0 / 300)  # not truncated
    # a vector is its own fan in and fan out (Keras's compute_fans)
    vector = VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")((5000,), rng)
    assert vector.var() == pytest.approx(1 / 5000, rel=0.05)


def test_random_and_constant_initializers() -> None:
    rng = np.random.default_rng(2)
    normal = RandomNormal(mean=1.0, stddev=0.5)(SHAPE, rng)
    assert normal.mean() == pytest.approx(1.0, abs=0.01) and normal.std() == pytest.approx(
        0.5, 0.02
    )
    uniform = RandomUniform(minval=2.0, maxval=3.0)(SHAPE, rng)
    assert (
        uniform.min() >= 2.0 and uniform.max() < 3.0 and uniform.mean() == pytest.approx(2.5, 0.01)
    )
    truncated = TruncatedNormal(mean=-1.0, stddev=0.1)(SHAPE, rng)
    assert np.all(np.abs(truncated + 1.0) <= 0.2) and truncated.mean() == pytest.approx(-1, 0.01)
    np.testing.assert_array_equal(Constant(0.25)((2, 3)), np.full((2, 3), 0.25))
    np.testing.assert_array_equal(Zeros()((3,)), np.zeros(3))
    np.testing.assert_array_equal(Ones()((3,)), np.ones(3))


def test_the_draws_are_those_of_earlier_xpnn_versions() -> None:
    """The same model seed gives the same weights as before the classes: the same NumPy calls
    on the model's generator, in the same order."""
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(
        GlorotUniform()((4, 3), a), b.uniform(-math.sqrt(6 / 7), math.sqrt(6 / 7), (4, 3))
    )
    np.testing.assert_array_equal(RandomNormal()((4, 3), a), b.normal(0.0, 0.05, (4, 3)))
    np.testing.assert_array_equal(RandomUniform()((4,), a), b.uniform(-0.05, 0.05, (4,)))


# -- where the numbers come from ------------------------------------------------------------
def test_the_model_seed_decides_unless_the_initializer_has_its_own(xp: Any) -> None:
    def kernels(model_seed: int, init: Any) -> list[np.ndarray]:
        model = Sequential(
            [Input((3,)), Dense(3, kernel_initializer=init), Dense(3, kernel_initializer=init)],
            seed=model_seed,
        )
        return model.get_weights()[0::2]

    unseeded = [kernels(s, "he_normal") for s in (1, 1, 2)]
    np.testing.assert_array_equal(unseeded[0][0], unseeded[1][0])
    assert not np.array_equal(unseeded[0][0], unseeded[2][0])
    seeded = [kernels(s, HeNormal(seed=7)) for s in (1, 2)]
    np.testing.assert_array_equal(seeded[0][0], seeded[1][0])  # the model seed does not matter
    # and, as in Keras, an integer seed gives the same values on every call
    np.testing.assert_array_equal(seeded[0][0], seeded[0][1])
    np.testing.assert_array_equal(seeded[0][0], HeNormal(seed=7)((3, 3)).astype(np.float32))
    assert not np.array_equal(unseeded[0][0], unseeded[0][1])


def test_a_model_with_initializer_instances_saves_and_loads(xp: Any, tmp_path: Any) -> None:
    model = Sequential(
        [
            Input((3,)),
            Dense(4, kernel_initializer=LecunUniform(seed=2), bias_initializer=Constant(0.5)),
            Dense(1, kernel_initializer=VarianceScaling(0.5, "fan_avg", "uniform")),
        ],
        seed=0,
    )
    np.testing.assert_array_equal(model.get_weights()[1], np.full(4, 0.5, dtype=np.float32))
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load_model(tmp_path / "m.xpnn")
    assert loaded.get_config() == model.get_config()
    assert loaded.layers[1].kernel_initializer == VarianceScaling(0.5, "fan_avg", "uniform")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_equal_initializers_and_regularizers_hash_alike() -> None:
    """Equality is by config; the hash agrees with it (0.0 and -0.0 are equal values)."""
    from xpnn.regularizers import L2

    assert initializers.Constant(0.0) == initializers.Constant(-0.0)
    assert hash(initializers.Constant(0.0)) == hash(initializers.Constant(-0.0))
    assert hash(L2(0.01)) == hash(L2(0.01)) and L2(0.01) != L2(0.02)
    assert len({initializers.GlorotUniform(seed=1), initializers.GlorotUniform(seed=1)}) == 1
