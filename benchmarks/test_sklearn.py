"""Seconds per ``fit``: xpnn's ``NeuralNetClassifier`` beside scikit-learn's ``MLPClassifier``.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_sklearn.py \
        --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,rounds

The task a scikit-learn user gives either: the digits (1,797 x 64, standardised, 10 classes),
one hidden layer of 100 ReLU units, Adam(lr=1e-3), batches of 200 (MLPClassifier's "auto"),
no L2 penalty, 50 epochs, in the dtype X comes in (both estimators train in float32 for float32
X and float64 otherwise). MLPClassifier stops early when its loss stalls; ``tol=0`` and an
``n_iter_no_change`` beyond ``max_iter`` make it run every epoch, as the other does. A round is
one ``fit`` of a fresh clone, after one warm-up fit; the training accuracy goes in
``extra_info`` so that a fast and wrong contestant would show. Two threads (conftest.py).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

EPOCHS = 50


def _contestant(name: str, epochs: int) -> Any:
    if name == "xpnn":
        from xpnn.sklearn import NeuralNetClassifier

        return NeuralNetClassifier(
            hidden_layer_sizes=(100,), batch_size=200, epochs=epochs, random_state=0
        )
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(100,),
        batch_size=200,
        learning_rate_init=1e-3,
        alpha=0.0,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )


@pytest.mark.parametrize("contestant", ["xpnn", "sklearn_mlp"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_digits(benchmark: Any, small: bool, dtype: str, contestant: str) -> None:
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(dtype)
    epochs = 2 if small else EPOCHS
    template = _contestant(contestant, epochs)
    fitted: list[Any] = []

    def fit() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLPClassifier's ConvergenceWarning at max_iter
            fitted.append(clone(template).fit(X, y))

    benchmark.group = (
        f"fit digits, {dtype}: 1,797 x 64, 100 relu, 10 classes, batch 200, {epochs} epochs"
    )
    benchmark.pedantic(fit, rounds=1 if small else 5, iterations=1, warmup_rounds=1)
    model = fitted[-1]
    assert model.n_iter_ == epochs
    accuracy = float(np.mean(model.predict(X) == y))
    benchmark.extra_info.update(
        contestant=contestant, dtype=dtype, epochs=epochs, train_accuracy=accuracy
    )
    if not small:
        assert accuracy > 0.95
