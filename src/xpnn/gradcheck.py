"""``gradcheck``: backpropagation against central finite differences, for users and tests.

It copies the model's weights to the host in float64, backpropagates one batch with the
model's own kernels, and compares every parameter's gradient with
``(L(w + h) - L(w - h)) / 2h``. It also runs the per-neuron loop kernels beside the matrix
ones and reports how far apart they are: the check the test suite relies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import linear
from .kernels import KERNELS

__all__ = ["gradcheck"]


def _loss_and_grads(model: Any, weights: list[np.ndarray], x: np.ndarray, y: Any, form: str):
    forward, backward = KERNELS[form]
    params = iter(weights)
    layer_params, cache, a = [], [], x
    for layer in model.layers:
        W = next(params)
        b = next(params) if layer.use_bias else None
        z, a_next = forward(a, W, b, layer.activation)
        layer_params.append((W, b))
        cache.append((a, z, a_next))
        a = a_next
    loss = float(model.loss.value(y, a))
    last = model.layers[-1]
    delta = model.loss.output_delta(y, a, last.activation)
    activation = linear
    if delta is None:
        delta, activation = model.loss.gradient(y, a), last.activation
    grads: list[list[np.ndarray]] = [[] for _ in model.layers]
    for i in range(len(model.layers) - 1, -1, -1):
        W, b = layer_params[i]
        x_in, z, a_out = cache[i]
        dW, db, dx = backward(delta, x_in, W, z, a_out, activation, need_dx=i > 0)
        grads[i] = [dW] + ([db] if b is not None else [])
        if i:
            delta, activation = dx, model.layers[i - 1].activation
    return loss, [g for layer_grads in grads for g in layer_grads]


def _loss(model: Any, weights: list[np.ndarray], x: np.ndarray, y: Any) -> float:
    params, a = iter(weights), x
    for layer in model.layers:
        W = next(params)
        b = next(params) if layer.use_bias else None
        a = KERNELS["matrix"][0](a, W, b, layer.activation)[1]
    return float(model.loss.value(y, a))


def gradcheck(
    model: Any,
    x: Any,
    y: Any,
    epsilon: float = 1e-6,
    max_checks_per_array: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Compare backpropagated gradients with central differences, layer by layer.

    Args:
        model: a compiled ``Sequential``.
        x, y: a (small) batch of inputs and targets.
        epsilon: the finite-difference step (in float64).
        max_checks_per_array: entries checked per weight array (sampled when larger).

    Returns:
        ``{layer_name: {"kernel": err, "bias": err, "loop_vs_matrix": diff}}`` where ``err`` is
        the largest relative error ``|g - g_fd| / max(1e-8, |g| + |g_fd|)`` and
        ``loop_vs_matrix`` the largest absolute difference between the two kernel forms.
    """
    model._require_compiled("gradcheck")
    x64 = model._check_x(x, "gradcheck").astype(np.float64)
    model._ensure_built(x64)
    y64 = model.loss.prepare_targets(y, (x64.shape[0], model.output_units), dtype=np.float64)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    _, grads = _loss_and_grads(model, weights, x64, y64, "matrix")
    _, loop_grads = _loss_and_grads(model, weights, x64, y64, "loop")
    rng = np.random.default_rng(seed)
    report: dict[str, dict[str, float]] = {}
    k = 0
    for layer in model.layers:
        entry: dict[str, float] = {}
        names = ["kernel"] + (["bias"] if layer.use_bias else [])
        diffs = []
        for name in names:
            w, g = weights[k], grads[k]
            flat_idx = np.arange(w.size)
            if w.size > max_checks_per_array:
                flat_idx = rng.choice(w.size, max_checks_per_array, replace=False)
            worst = 0.0
            for j in flat_idx:
                idx = np.unravel_index(j, w.shape)
                old = w[idx]
                w[idx] = old + epsilon
                up = _loss(model, weights, x64, y64)
                w[idx] = old - epsilon
                down = _loss(model, weights, x64, y64)
                w[idx] = old
                fd = (up - down) / (2 * epsilon)
                worst = max(worst, abs(g[idx] - fd) / max(1e-8, abs(g[idx]) + abs(fd)))
            entry[name] = float(worst)
            diffs.append(float(np.max(np.abs(g - loop_grads[k]))))
            k += 1
        entry["loop_vs_matrix"] = max(diffs)
        report[layer.name] = entry
    return report
