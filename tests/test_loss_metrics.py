"""Loss names as metrics ("binary_crossentropy", "mape", ... and keras.metrics' classes of
the same losses) give Keras 3.15.1's numbers: recorded from Keras (JAX backend) with
``metric.update_state`` over two batches (4 and 2 samples) and committed here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn import losses, metrics

P = np.array(
    [
        [0.127084255, 0.263129443, 0.771147013],
        [0.57394582, 0.134715781, 0.43981424],
        [0.481146157, 0.193765029, 0.711119413],
        [0.152304813, 0.402105361, 0.515066147],
        [0.437565207, 0.578118742, 0.714053988],
        [0.910640538, 0.305781037, 0.633692503],
    ],
    dtype=np.float32,
)
Y = np.array(
    [
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 1.0],
    ],
    dtype=np.float32,
)
YC = np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0, 2]]
KERAS = {
    "binary_crossentropy": 0.8048060536384583,
    "categorical_crossentropy": 1.4273395538330078,
    "mean_absolute_percentage_error": 65.58697509765625,
    "logcosh": 0.1343299150466919,
    "kl_divergence": 1.4273366928100586,
}


def _cases() -> dict[str, tuple[Any, Any, Any]]:
    p2 = P / P.sum(axis=1, keepdims=True)
    return {
        "binary_crossentropy": (losses.BinaryCrossentropy(), Y, P),
        "categorical_crossentropy": (losses.CategoricalCrossentropy(), YC, p2),
        "mean_absolute_percentage_error": (losses.MeanSquaredError(), Y + 1, P),
        "logcosh": (losses.MeanSquaredError(), Y, P),
        "kl_divergence": (losses.CategoricalCrossentropy(), YC, p2),
    }


@pytest.mark.parametrize("name", list(KERAS))
def test_loss_names_as_metrics_give_keras_numbers(xp: Any, name: str) -> None:
    loss, y, p = _cases()[name]
    metric = metrics.get(name, loss, 3)
    acc = xpnn.to_device(np.zeros(metric.size))
    for part in (slice(0, 4), slice(4, 6)):
        metric.update(acc, xpnn.to_device(y[part]), xpnn.to_device(p[part]), None)
    assert metric.result(xpnn.to_numpy(acc)) == pytest.approx(KERAS[name], rel=2e-6)
