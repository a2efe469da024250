"""``gradcheck``: backpropagation against central finite differences, for users and tests.

It rebuilds the model in float64 on NumPy from its config and weights, backpropagates one batch
through the layers' own ``forward``/``backward`` (the layer protocol, so any layer is checked),
and compares every parameter's gradient with ``(L(w + h) - L(w - h)) / 2h``. It also runs the
per-neuron loop kernels beside the matrix ones and reports how far apart they are: the check
the test suite relies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import inputs
from .backend import to_numpy, use_backend

__all__ = ["gradcheck"]


def _twin(model: Any, form: str | None, custom_objects: dict[str, Any] | None) -> Any:
    """The model rebuilt in float64 on NumPy, with its weights; ``form`` forces every layer
    that has kernel twins onto one of them."""
    config = model.get_config()
    config["dtype"] = "float64"
    if form is not None:
        config["kernel"] = form
        for layer in config["layers"]:
            if "kernel_form" in layer:
                layer["kernel_form"] = form
    objects = {type(layer).__name__: type(layer) for layer in model.layers}
    twin = type(model).from_config(config, {**objects, **(custom_objects or {})})
    twin._build(model.input_dim, draw=False)
    # the flat buffers as they are (the state too: a Dropout's seed is not among the weights)
    twin._params[...] = to_numpy(model._params)
    twin._state[...] = to_numpy(model._state)
    return twin


def _forward(twin: Any, state: np.ndarray, x: np.ndarray) -> tuple[Any, list[Any], float]:
    """A training forward from the same non-trainable state every time (a Dropout draws the
    same mask, a moving statistic starts from the same value): the output, the workspaces and
    the layers' penalties."""
    twin._state[...] = state
    layers = twin.layers
    spaces = [lyr.workspace(x.shape[0], np, np.float64, i > 0) for i, lyr in enumerate(layers)]
    a = x
    for layer, ws in zip(layers, spaces):
        a = layer.forward(a, True, ws)
    penalty = sum(float(lyr.penalty(ws)) for lyr, ws in zip(layers, spaces) if lyr.regularized)
    return a, spaces, penalty


def _loss_and_grads(
    twin: Any, state: np.ndarray, loss: Any, x: np.ndarray, y: Any
) -> tuple[float, np.ndarray]:
    """The batch loss and the flat parameter gradient, by the layers' own backward."""
    layers = twin.layers
    a, spaces, penalty = _forward(twin, state, x)
    activation = layers[-1].activation
    value, delta = loss.value_and_delta(y, a, activation, out=np.empty_like(a))
    if delta is not None:
        delta = layers[-1].backward_z(delta, spaces[-1], len(layers) > 1)
    else:
        delta = layers[-1].backward(loss.gradient(y, a), spaces[-1], len(layers) > 1)
    for i in range(len(layers) - 2, -1, -1):
        delta = layers[i].backward(delta, spaces[i], i > 0)
    return float(value) + penalty, twin._grads.copy()


def _loss(twin: Any, state: np.ndarray, loss: Any, x: np.ndarray, y: Any) -> float:
    a, _, penalty = _forward(twin, state, x)
    return float(loss.value(y, a)) + penalty


def gradcheck(
    model: Any,
    x: Any,
    y: Any,
    epsilon: float = 1e-6,
    max_checks_per_array: int = 200,
    seed: int = 0,
    custom_objects: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Compare backpropagated gradients with central differences, layer by layer.

    Args:
        model: a compiled ``Sequential``.
        x, y: a (small) batch of inputs and targets.
        epsilon: the finite-difference step (in float64).
        max_checks_per_array: entries checked per weight array (sampled when larger).
        custom_objects: layer classes by name, for layers the model's own do not cover.

    Returns:
        ``{layer_name: {"param0": err, ..., "loop_vs_matrix": diff}}`` -- for Dense the
        parameters are named ``"kernel"`` and ``"bias"`` -- where ``err`` is the largest
        relative error ``|g - g_fd| / max(1e-8, |g| + |g_fd|)`` and ``loop_vs_matrix`` the
        largest absolute difference between the two kernel forms' gradients.
    """
    model._require_compiled("gradcheck")
    x = model._flatten(x, "gradcheck()")
    x64 = inputs.check_x(x, "gradcheck()", model.input_dim, np.dtype(np.float64))
    model._ensure_built(x64)
    with use_backend("numpy"):
        twins = {form: _twin(model, form, custom_objects) for form in ("matrix", "loop")}
        y64 = model.loss.prepare_targets(y, (x64.shape[0], model.output_units), np.float64)
        state = twins["matrix"]._state.copy()
        _, grads = _loss_and_grads(twins["matrix"], state, model.loss, x64, y64)
        _, loop_grads = _loss_and_grads(twins["loop"], state, model.loss, x64, y64)
        twin, params = twins["matrix"], twins["matrix"]._params
        rng = np.random.default_rng(seed)
        report: dict[str, dict[str, float]] = {}
        offset = 0
        for layer in twin.layers:
            entry: dict[str, float] = {}
            names = ["kernel", "bias"] if type(layer).__name__ == "Dense" else []
            diff = 0.0
            for k, view in enumerate(layer.params):
                size = view.size
                idx = np.arange(offset, offset + size)
                if size > max_checks_per_array:
                    idx = rng.choice(idx, max_checks_per_array, replace=False)
                worst = 0.0
                for j in idx:
                    old = params[j]
                    params[j] = old + epsilon
                    up = _loss(twin, state, model.loss, x64, y64)
                    params[j] = old - epsilon
                    down = _loss(twin, state, model.loss, x64, y64)
                    params[j] = old
                    fd = (up - down) / (2 * epsilon)
                    worst = max(worst, abs(grads[j] - fd) / max(1e-8, abs(grads[j]) + abs(fd)))
                entry[names[k] if k < len(names) else f"param{k}"] = float(worst)
                part = slice(offset, offset + size)
                diff = max(diff, float(np.max(np.abs(grads[part] - loop_grads[part]))))
                offset += size
            entry["loop_vs_matrix"] = diff
            report[layer.name] = entry
    return report
