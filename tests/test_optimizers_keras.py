"""Optimizers and learning rate schedules give Keras 3's numbers.

The literals were recorded from Keras 3.15.1 (JAX backend) by ``keras_weights`` and
``keras_rates`` below: the same float32 start, the same gradient sequence, ``STEPS`` calls of
``optimizer.apply`` on two variables (a (3, 2) kernel and a (2,) bias, so ``clipnorm`` is seen
per variable), and the rates a schedule gives at steps 0 to 15. Where Keras is importable the
last tests run those functions again and check that Keras still gives the literals (skipped
otherwise, as in CI): ``KERAS_BACKEND=jax python -m pytest tests/test_optimizers_keras.py``
beside Keras and JAX; ``python tests/test_optimizers_keras.py`` prints the literals anew.

Keras computes in float32 throughout (its learning rate is a float32 variable, its schedules
and bias corrections are float32 tensors); xpnn computes those scalars in float64. The weights
(of size about 1) agree to 5e-7, a few float32 roundings over the steps, except Adam's and
AdamW's: Keras's float32 ``1 - beta_2**t`` loses digits (``1 - float32(0.999)`` is
0.00099998713, 1.3e-5 from 0.001), so its step size is off by up to 6.4e-6 relative where
xpnn's is exact to float64, and with rate 0.05 over 12 steps the weights part by up to 3.4e-6.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import optimizers
from xpnn.optimizers import schedules

SHAPES = [(3, 2), (2,)]  # a kernel and a bias, end to end in the flat buffer
SEGMENTS = [6, 2]
STEPS = 12
W0 = [-1.2, -0.9, -0.6, -0.3, 0.1, 0.4, 0.7, 0.9]


def gradients() -> np.ndarray:
    """``(STEPS, 8)`` float32 gradients, rounded to 3 decimals so that every libm gives the
    same numbers: per-variable norms around 2.6 (kernel) and 1.5 (bias), elements up to 1.5."""
    k, i = np.meshgrid(np.arange(STEPS), np.arange(8), indexing="ij")
    return np.round(1.5 * np.sin(0.7 * k + 1.3 * i + 0.4), 3).astype(np.float32)


# name -> (class name, keyword arguments): the same in Keras and xpnn
BASE = {
    "sgd": ("SGD", {"learning_rate": 0.1}),
    "sgd-momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {"learning_rate": 0.05}),
    "adamw": ("AdamW", {"learning_rate": 0.05}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    "adamax": ("Adamax", {"learning_rate": 0.05}),
    "nadam": ("Nadam", {"learning_rate": 0.05}),
}
# the base arguments: clipnorm 2 clips the kernel's gradient (norm ~2.6) and mostly not the
# bias's (~1.5), which a single norm over both would not do; global_clipnorm 3 clips the whole
# (~3) on some steps only; clipvalue 1 clips the larger elements
OPTIONS = {
    "weight_decay": {"weight_decay": 0.05},
    "clipnorm": {"clipnorm": 2.0},
    "clipvalue": {"clipvalue": 1.0},
    "global_clipnorm": {"global_clipnorm": 3.0},
}
OPTIMIZERS = {
    **BASE,
    "adamw-defaults": ("AdamW", {}),
    "nadam-betas": ("Nadam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9}),
    "adagrad-accumulator": (
        "Adagrad",
        {"learning_rate": 0.2, "initial_accumulator_value": 0.5, "epsilon": 1e-3},
    ),
    **{
        f"{name}+{option}": (cls, {**kwargs, **extra})
        for name, (cls, kwargs) in BASE.items()
        if name != "sgd-nesterov"
        for option, extra in OPTIONS.items()
    },
}

# name -> (class name, keyword arguments)
SCHEDULES = {
    "exponential": (
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 0.5},
    ),
    "exponential-staircase": (
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 0.5, "staircase": True},
    ),
    "inverse-time": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7},
    ),
    "inverse-time-staircase": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7, "staircase": True},
    ),
    "piecewise": ("PiecewiseConstantDecay", {"boundaries": [3, 7], "values": [0.1, 0.05, 0.01]}),
    "polynomial": (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 8, "end_learning_rate": 0.01, "power": 2.0},
    ),
    "polynomial-cycle": (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 5, "end_learning_rate": 0.01, "cycle": True},
    ),
    "polynomial-defaults": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 6}),
    "cosine": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 8, "alpha": 0.1}),
    "cosine-warmup": (
        "CosineDecay",
        {
            "initial_learning_rate": 0.0,
            "decay_steps": 6,
            "alpha": 0.2,
            "warmup_target": 0.1,
            "warmup_steps": 4,
        },
    ),
    "cosine-warmup-steps-only": (
        "CosineDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 6, "warmup_steps": 4},
    ),
}
RATE_STEPS = 16
# optimizers driven by a schedule: name -> (optimizer name in OPTIMIZERS, schedule name)
SCHEDULED = {
    **{f"sgd@{s}": ("sgd", s) for s in SCHEDULES},
    "adam@exponential": ("adam", "exponential"),
    "adam@cosine-warmup": ("adam", "cosine-warmup"),
    "adamw@piecewise": ("adamw", "piecewise"),  # the decay uses the scheduled rate too
    "nadam@polynomial": ("nadam", "polynomial"),
    "adagrad@inverse-time": ("adagrad", "inverse-time"),
    "adamax@cosine": ("adamax", "cosine"),
    "rmsprop@exponential-staircase": ("rmsprop", "exponential-staircase"),
    "sgd-momentum+weight_decay@polynomial-cycle": ("sgd-momentum+weight_decay", "polynomial-cycle"),
}

# -- what Keras 3.15.1 gave ---------------------------------------------------------------------
# fmt: off
KERAS_WEIGHTS: dict[str, list[float]] = {
    "sgd": [
        -1.5412002, -1.155, -0.39539996, 0.06459998, 0.09060002, 0.030199975, 0.5115999, 1.1692,
    ],
    "sgd-momentum": [
        -1.9309949, -1.2379498, -0.050227858, 0.3323604, -0.11113995, -0.34576356, 0.512264,
        1.5457882,
    ],
    "sgd-nesterov": [
        -2.0284953, -1.3316547, -0.0029051006, 0.45142436, -0.0947259, -0.45608723, 0.43683755,
        1.6158094,
    ],
    "adam": [
        -1.4514776, -1.0360464, -0.4715276, -0.098399505, 0.09403258, 0.15695065, 0.5978661,
        1.148873,
    ],
    "adamw": [
        -1.4481642, -1.0336391, -0.4702708, -0.09803271, 0.09376564, 0.15641291, 0.59638536,
        1.1462803,
    ],
    "rmsprop": [
        -1.280902, -0.94029856, -0.57065666, -0.24003938, 0.09808661, 0.32495567, 0.6698429,
        0.9894439,
    ],
    "adagrad": [
        -1.4331638, -1.0135192, -0.47170386, -0.1274663, 0.08846493, 0.18100771, 0.616138,
        1.1079309,
    ],
    "adamax": [
        -1.4032418, -1.0165111, -0.5239632, -0.119203344, 0.112656355, 0.19616964, 0.61036354,
        1.0887414,
    ],
    "nadam": [
        -1.3614033, -0.9823884, -0.5318427, -0.17733523, 0.09391238, 0.24845786, 0.6386534,
        1.0734193,
    ],
    "adamw-defaults": [
        -1.2049725, -0.90267736, -0.59740204, -0.29595372, 0.09987584, 0.39512002, 0.69792366,
        0.904934,
    ],
    "nadam-betas": [
        -1.2699422, -0.94252884, -0.57230914, -0.2417022, 0.10172262, 0.33289868, 0.6668236,
        0.9735806,
    ],
    "adagrad-accumulator": [
        -1.5988618, -1.111791, -0.33635175, 0.02260524, 0.066613615, 0.00787545, 0.5459683,
        1.2456521,
    ],
    "sgd+weight_decay": [
        -1.4603782, -1.0984257, -0.3689789, 0.07347137, 0.08874009, 0.017624825, 0.4725218,
        1.1068348,
    ],
    "sgd+clipnorm": [
        -1.4519022, -1.0970684, -0.45365733, -0.024537902, 0.10112827, 0.12501179, 0.5115999,
        1.1692,
    ],
    "sgd+clipvalue": [
        -1.4582, -1.1081, -0.44140002, -0.019200027, 0.088500015, 0.11329999, 0.5549999, 1.1159,
    ],
    "sgd+global_clipnorm": [
        -1.5328541, -1.1522356, -0.40226066, 0.0581586, 0.09400862, 0.038467586, 0.5126145,
        1.1614699,
    ],
    "sgd-momentum+weight_decay": [
        -1.8819054, -1.206222, -0.043322064, 0.33033466, -0.10908748, -0.34400988, 0.49380803,
        1.5067695,
    ],
    "sgd-momentum+clipnorm": [
        -1.7499413, -1.1525186, -0.1854606, 0.17450738, -0.06044755, -0.16067705, 0.512264,
        1.5457882,
    ],
    "sgd-momentum+clipvalue": [
        -1.7835902, -1.1631986, -0.16592757, 0.15769705, -0.029170435, -0.20169827, 0.559486,
        1.4410374,
    ],
    "sgd-momentum+global_clipnorm": [
        -1.9176133, -1.2327904, -0.060832627, 0.32151473, -0.10634883, -0.33234674, 0.514652,
        1.5336361,
    ],
    "adam+weight_decay": [
        -1.4105626, -1.0063267, -0.45603037, -0.09388316, 0.09074454, 0.15032838, 0.5795915,
        1.1168541,
    ],
    "adam+clipnorm": [
        -1.4541795, -1.0315537, -0.47201473, -0.10215594, 0.09714309, 0.1558702, 0.5978661,
        1.148873,
    ],
    "adam+clipvalue": [
        -1.4550848, -1.0369079, -0.47146305, -0.10170381, 0.105132945, 0.15369605, 0.5972259,
        1.1534274,
    ],
    "adam+global_clipnorm": [
        -1.4522997, -1.0352405, -0.4709318, -0.099465296, 0.0952089, 0.15670857, 0.59802175,
        1.15001,
    ],
    "adamw+weight_decay": [
        -1.4105626, -1.0063267, -0.45603037, -0.09388316, 0.09074454, 0.15032838, 0.5795915,
        1.1168541,
    ],
    "adamw+clipnorm": [
        -1.4508618, -1.0291531, -0.470757, -0.10178316, 0.0968709, 0.15533392, 0.59638536,
        1.1462803,
    ],
    "adamw+clipvalue": [
        -1.451764, -1.0344996, -0.47020623, -0.101334885, 0.10485056, 0.15316397, 0.5957474,
        1.1508303,
    ],
    "adamw+global_clipnorm": [
        -1.4489856, -1.0328343, -0.46967554, -0.09909675, 0.09493963, 0.15617079, 0.5965411,
        1.1474159,
    ],
    "rmsprop+weight_decay": [
        -1.2733635, -0.93478835, -0.567182, -0.2384606, 0.097516954, 0.32287645, 0.66574043,
        0.98363125,
    ],
    "rmsprop+clipnorm": [
        -1.2803856, -0.9387424, -0.57031566, -0.24182205, 0.09881974, 0.326007, 0.6698429,
        0.9894439,
    ],
    "rmsprop+clipvalue": [
        -1.2788142, -0.9458236, -0.5733668, -0.23733817, 0.1001599, 0.32898366, 0.667251, 0.9862282,
    ],
    "rmsprop+global_clipnorm": [
        -1.2806418, -0.93998235, -0.57059556, -0.24062575, 0.09832911, 0.32535565, 0.6698918,
        0.9894286,
    ],
    "adagrad+weight_decay": [
        -1.3526037, -0.95703834, -0.44242066, -0.11667755, 0.0836076, 0.16715704, 0.5779971,
        1.0457704,
    ],
    "adagrad+clipnorm": [
        -1.424607, -1.0076678, -0.46806479, -0.13496411, 0.089708984, 0.18859619, 0.616138,
        1.1079309,
    ],
    "adagrad+clipvalue": [
        -1.4243895, -1.0266227, -0.48162183, -0.12337189, 0.096036226, 0.19428992, 0.61057144,
        1.0973078,
    ],
    "adagrad+global_clipnorm": [
        -1.4321922, -1.0125638, -0.47168052, -0.1292764, 0.08922299, 0.18240306, 0.6163673,
        1.107738,
    ],
    "adamax+weight_decay": [
        -1.3632746, -0.9871576, -0.50740755, -0.114343286, 0.109036274, 0.18879624, 0.59184074,
        1.0579262,
    ],
    "adamax+clipnorm": [
        -1.4085857, -1.0116576, -0.5267898, -0.12341485, 0.114727125, 0.19121498, 0.61036354,
        1.0887414,
    ],
    "adamax+clipvalue": [
        -1.4238222, -1.0295106, -0.51281035, -0.112717755, 0.10816842, 0.1728172, 0.607009,
        1.1122496,
    ],
    "adamax+global_clipnorm": [
        -1.4066421, -1.0155551, -0.5229906, -0.11950646, 0.11395063, 0.1969115, 0.6106987,
        1.0918727,
    ],
    "nadam+weight_decay": [
        -1.3225005, -0.9545636, -0.51540613, -0.17055339, 0.09131879, 0.23962574, 0.6187381,
        1.0428219,
    ],
    "nadam+clipnorm": [
        -1.3609847, -0.97922343, -0.53144807, -0.18068682, 0.09564495, 0.24990988, 0.6386534,
        1.0734193,
    ],
    "nadam+clipvalue": [
        -1.3577925, -0.9907637, -0.5362793, -0.17484283, 0.09935612, 0.25438654, 0.6351792,
        1.069827,
    ],
    "nadam+global_clipnorm": [
        -1.3612137, -0.9817063, -0.5315563, -0.17838272, 0.09443295, 0.24896516, 0.6388626,
        1.073674,
    ],
    "sgd@exponential": [
        -1.437667, -1.0299413, -0.43195352, -0.08008821, 0.04968164, 0.1530571, 0.618233, 1.103283,
    ],
    "sgd@exponential-staircase": [
        -1.5098251, -1.0149249, -0.3518, -0.052200004, -0.015499995, 0.09027498, 0.64985, 1.183,
    ],
    "sgd@inverse-time": [
        -1.4437416, -1.06168, -0.44286683, -0.054179005, 0.0744605, 0.14039633, 0.5866834,
        1.0990728,
    ],
    "sgd@inverse-time-staircase": [
        -1.5035579, -1.0684025, -0.38667184, -0.0173817, 0.03796352, 0.0840631, 0.5930286, 1.158827,
    ],
    "sgd@piecewise": [
        -1.4649601, -0.95805997, -0.36622998, -0.116790004, -0.035629995, 0.14411, 0.69877994,
        1.15534,
    ],
    "sgd@polynomial": [
        -1.4591582, -1.0477442, -0.41997704, -0.05588892, 0.05064281, 0.12937997, 0.6046037,
        1.1196411,
    ],
    "sgd@polynomial-cycle": [
        -1.4380511, -1.105803, -0.47217295, -0.025735997, 0.11900103, 0.13576397, 0.539677,
        1.0785221,
    ],
    "sgd@polynomial-defaults": [
        -1.4920328, -1.0205345, -0.37253952, -0.05772757, 0.0022218206, 0.1053248, 0.64015466,
        1.1627065,
    ],
    "sgd@cosine": [
        -1.5139835, -0.98610246, -0.3321833, -0.07055349, -0.044978634, 0.09289317, 0.6807009,
        1.1968678,
    ],
    "sgd@cosine-warmup": [
        -1.1278886, -0.6800084, -0.55443126, -0.49557042, -0.050170273, 0.51524544, 0.9118115,
        0.89820576,
    ],
    "sgd@cosine-warmup-steps-only": [
        -1.5285058, -1.0564384, -0.3552892, -0.01259248, 0.009133779, 0.06387137, 0.61106914,
        1.188596,
    ],
    "adam@exponential": [
        -1.5573869, -1.1266887, -0.47911394, 0.0017093415, 0.15315336, 0.051552296, 0.5129402,
        1.2510809,
    ],
    "adam@cosine-warmup": [
        -1.4515696, -0.9125236, -0.32927346, -0.17048864, -0.07548581, 0.17647424, 0.73967254,
        1.1750798,
    ],
    "adamw@piecewise": [
        -1.638601, -1.1551067, -0.398482, 0.06374649, 0.11924872, -0.02956768, 0.49635503,
        1.3337451,
    ],
    "nadam@polynomial": [
        -1.4518528, -1.0246203, -0.52932477, -0.117633514, 0.11158557, 0.16734035, 0.60270095,
        1.1770102,
    ],
    "adagrad@inverse-time": [
        -1.3977383, -1.0009146, -0.5111179, -0.15335955, 0.10889392, 0.21408048, 0.6208811,
        1.0691184,
    ],
    "adamax@cosine": [
        -1.5334109, -1.124284, -0.5192217, 0.015535139, 0.16786104, 0.06162659, 0.51493055,
        1.2061659,
    ],
    "rmsprop@exponential-staircase": [
        -2.008331, -1.1697775, -0.24062486, 0.20466097, -0.034895767, -0.32117093, 0.5350185,
        1.8350258,
    ],
    "sgd-momentum+weight_decay@polynomial-cycle": [
        -2.6766288, -2.135395, 0.24783993, 1.4113001, 0.1767049, -1.2722926, -0.2857179, 2.0222037,
    ],
}
KERAS_RATES: dict[str, list[float]] = {
    "exponential": [
        0.1, 0.084089644, 0.07071068, 0.059460353, 0.05, 0.042044822, 0.03535534, 0.029730177,
        0.025, 0.021022411, 0.01767767, 0.014865088, 0.0125, 0.0105112055, 0.008838835, 0.007432544,
    ],
    "exponential-staircase": [
        0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.0125, 0.0125,
        0.0125, 0.0125,
    ],
    "inverse-time": [
        0.1, 0.081081085, 0.06818182, 0.05882353, 0.051724136, 0.04615385, 0.041666664,
        0.037974685, 0.03488372, 0.032258067, 0.030000001, 0.028037384, 0.02631579, 0.024793388,
        0.023437502, 0.022222223,
    ],
    "inverse-time-staircase": [
        0.1, 0.1, 0.1, 0.05882353, 0.05882353, 0.05882353, 0.041666664, 0.041666664, 0.041666664,
        0.032258067, 0.032258067, 0.032258067, 0.02631579, 0.02631579, 0.02631579, 0.022222223,
    ],
    "piecewise": [
        0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01,
    ],
    "polynomial": [
        0.1, 0.07890625, 0.060625, 0.045156248, 0.0325, 0.02265625, 0.015625, 0.01140625, 0.01,
        0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01,
    ],
    "polynomial-cycle": [
        0.1, 0.082, 0.064, 0.045999996, 0.027999999, 0.01, 0.045999996, 0.037, 0.027999999,
        0.019000001, 0.01, 0.034, 0.027999999, 0.022, 0.015999999, 0.01,
    ],
    "polynomial-defaults": [
        0.1, 0.08335, 0.0667, 0.05005, 0.0334, 0.016750002, 1e-04, 1e-04, 1e-04, 1e-04, 1e-04,
        1e-04, 1e-04, 1e-04, 1e-04, 1e-04,
    ],
    "cosine": [
        0.1, 0.09657458, 0.08681981, 0.07222076, 0.054999996, 0.03777924, 0.023180196, 0.013425417,
        0.010000001, 0.010000001, 0.010000001, 0.010000001, 0.010000001, 0.010000001, 0.010000001,
        0.010000001,
    ],
    "cosine-warmup": [
        0.0, 0.025, 0.05, 0.075, 0.1, 0.09464102, 0.080000006, 0.06, 0.04, 0.025358984,
        0.020000001, 0.020000001, 0.020000001, 0.020000001, 0.020000001, 0.020000001,
    ],
    "cosine-warmup-steps-only": [
        0.1, 0.093301274, 0.075, 0.049999997, 0.024999997, 0.006698731, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
    ],
}
# fmt: on


# -- xpnn's side --------------------------------------------------------------------------------
def xpnn_weights(optimizer: optimizers.Optimizer) -> np.ndarray:
    """The flat weights after ``STEPS`` steps on the active backend."""
    w = xpnn.to_device(np.array(W0, dtype=np.float32))
    optimizer.build(w, segments=SEGMENTS)
    for g in gradients():
        optimizer.step(w, xpnn.to_device(g))
    return xpnn.to_numpy(w)


def make_schedule(name: str) -> schedules.LearningRateSchedule:
    cls, kwargs = SCHEDULES[name]
    return getattr(schedules, cls)(**kwargs)


def make_optimizer(name: str, schedule: str | None = None) -> optimizers.Optimizer:
    cls, kwargs = OPTIMIZERS[name]
    if schedule is not None:
        kwargs = {**kwargs, "learning_rate": make_schedule(schedule)}
    return getattr(optimizers, cls)(**kwargs)


def tolerance(name: str, lr: float) -> float:
    """Absolute; see the module's docstring for Adam's (float32 bias correction in Keras)."""
    adam = name.split("+")[0].split("@")[0] in ("adam", "adamw")
    return 5e-6 if adam and lr > 0.01 else 5e-7


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_weights_after_steps_are_keras_weights(xp: Any, name: str) -> None:
    opt = make_optimizer(name)
    got = xpnn_weights(opt)
    atol = tolerance(name, opt.learning_rate)
    np.testing.assert_allclose(got, KERAS_WEIGHTS[name], rtol=0, atol=atol)


@pytest.mark.parametrize("name", list(SCHEDULED))
def test_weights_under_a_schedule_are_keras_weights(xp: Any, name: str) -> None:
    opt = make_optimizer(*SCHEDULED[name])
    got = xpnn_weights(opt)
    np.testing.assert_allclose(got, KERAS_WEIGHTS[name], rtol=0, atol=tolerance(name, 0.1))


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_rates_are_keras_rates(xp: Any, name: str) -> None:
    """On the host (a number in, a float out) and on the device (the optimizer's form: the
    one-element float64 step count in, an array on its backend out)."""
    schedule = make_schedule(name)
    host = [schedule(step) for step in range(RATE_STEPS)]
    assert all(type(r) is float for r in host)
    np.testing.assert_allclose(host, KERAS_RATES[name], rtol=1e-6, atol=1e-9)
    device = []
    for step in range(RATE_STEPS):
        value = schedule(xp.full(1, float(step), dtype=np.float64))
        assert xpnn.backend.array_module(value) is xp
        device.append(xpnn.to_numpy(value)[0])
    np.testing.assert_array_equal(device, host)


def test_the_clipnorm_cases_clip_per_variable() -> None:
    """The recorded clipnorm numbers show Keras's per-variable norms: treating the buffer as
    one variable (no segments) lands elsewhere."""
    opt = make_optimizer("sgd+clipnorm")
    w = np.array(W0, dtype=np.float32)
    opt.build(w)  # one variable
    for g in gradients():
        opt.step(w, g)
    assert not np.allclose(w, KERAS_WEIGHTS["sgd+clipnorm"], rtol=1e-3)
    norms = np.linalg.norm(gradients()[:, :6], axis=1), np.linalg.norm(gradients()[:, 6:], axis=1)
    assert (norms[0] > 2.0).any() and (norms[1] < 2.0).any()  # clipped and not clipped


# -- Keras's side, where it is installed --------------------------------------------------------
def keras_weights(keras: Any, cls: str, kwargs: dict[str, Any], schedule: str | None) -> list:
    if schedule is not None:
        s_cls, s_kwargs = SCHEDULES[schedule]
        kwargs = {**kwargs, "learning_rate": getattr(keras.optimizers.schedules, s_cls)(**s_kwargs)}
    optimizer = getattr(keras.optimizers, cls)(**kwargs)
    w0 = np.array(W0, dtype=np.float32)
    variables = [keras.Variable(w0[:6].reshape(SHAPES[0])), keras.Variable(w0[6:])]
    for g in gradients():
        optimizer.apply([g[:6].reshape(SHAPES[0]), g[6:]], variables)
    return np.concatenate([np.asarray(v.numpy()).ravel() for v in variables]).tolist()


def keras_rates(keras: Any, name: str) -> list[float]:
    cls, kwargs = SCHEDULES[name]
    schedule = getattr(keras.optimizers.schedules, cls)(**kwargs)
    return [float(schedule(step)) for step in range(RATE_STEPS)]


def keras_literals(keras: Any) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    weights = {name: keras_weights(keras, *OPTIMIZERS[name], None) for name in OPTIMIZERS}
    for name, (opt, schedule) in SCHEDULED.items():
        weights[name] = keras_weights(keras, *OPTIMIZERS[opt], schedule)
    rates = {name: keras_rates(keras, name) for name in SCHEDULES}
    return weights, rates


@pytest.fixture(scope="module")
def keras() -> Any:
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (the literals were recorded from it)")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return importlib.import_module("keras")


def test_keras_still_gives_the_literals(keras: Any) -> None:
    weights, rates = keras_literals(keras)
    assert weights.keys() == KERAS_WEIGHTS.keys() and rates.keys() == KERAS_RATES.keys()
    for name, values in weights.items():
        np.testing.assert_allclose(values, KERAS_WEIGHTS[name], rtol=1e-6, err_msg=name)
    for name, values in rates.items():
        np.testing.assert_allclose(values, KERAS_RATES[name], rtol=1e-6, err_msg=name)


def test_keras_and_xpnn_agree_on_their_defaults(keras: Any) -> None:
    """Every optimizer and schedule built from its defaults in both: the same config keys
    (xpnn adds ``class_name``; Keras's options xpnn lacks are left out) and values."""
    lacking = {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor"}
    lacking |= {"gradient_accumulation_steps", "amsgrad", "centered"}
    for cls in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam"):
        k_config = getattr(keras.optimizers, cls)().get_config()
        x_config = getattr(optimizers, cls)().get_config()
        assert x_config.pop("class_name") == cls
        del k_config["name"], x_config["name"]  # Keras numbers its names
        if cls == "RMSprop":
            lacking_here = lacking | {"momentum"}
        else:
            lacking_here = lacking
        k_config = {k: v for k, v in k_config.items() if k not in lacking_here}
        assert list(x_config) == list(k_config), cls
        for key, value in k_config.items():
            if isinstance(value, float):
                assert x_config[key] == pytest.approx(value, rel=1e-7), (cls, key)
            else:
                assert x_config[key] == value, (cls, key)
    for cls, kwargs in [(c, k) for c, k in SCHEDULES.values()]:
        k_config = getattr(keras.optimizers.schedules, cls)(**kwargs).get_config()
        assert getattr(schedules, cls)(**kwargs).get_config() == k_config, cls


def test_a_keras_config_builds_the_same_optimizer(keras: Any) -> None:
    """keras.optimizers.serialize's dictionary, schedule included, gives xpnn's optimizer."""
    schedule = keras.optimizers.schedules.CosineDecay(0.1, 8, alpha=0.1)
    k_opt = keras.optimizers.Nadam(learning_rate=schedule, clipnorm=2.0)
    x_opt = optimizers.from_config(keras.optimizers.serialize(k_opt))
    assert type(x_opt) is optimizers.Nadam and x_opt.clipnorm == 2.0
    np.testing.assert_allclose(
        xpnn_weights(x_opt),
        keras_weights(keras, "Nadam", {"clipnorm": 2.0}, "cosine"),
        rtol=2e-6,
        atol=1e-7,
    )


if __name__ == "__main__":  # print the literals anew (beside Keras and JAX)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras as _keras

    _weights, _rates = keras_literals(_keras)
    for _title, _table in (("KERAS_WEIGHTS", _weights), ("KERAS_RATES", _rates)):
        print(f"{_title}: dict[str, list[float]] = {{")
        for _name, _values in _table.items():
            print(f"    {_name!r}: [{', '.join(str(np.float32(v)) for v in _values)}],")
        print("}")
