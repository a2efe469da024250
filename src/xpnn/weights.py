"""The model's flat buffers: one for the trainable parameters, one for their gradients, one
for the non-trainable state, each with per-layer views; and their Keras-ordered lists.

One buffer per kind means the optimizer updates every parameter in one pass (tinygrad's fused
optimizer does the same) and saving is one array per kind.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import to_device, to_numpy

__all__ = ["allocate", "get_weights", "set_weights", "segments"]


def allocate(
    layers: list[Any],
    input_dim: int,
    dtype: np.dtype,
    xp: Any,
    rng: np.random.Generator | None,
    old: tuple[Any, Any, int] | None = None,
) -> tuple[Any, Any, Any]:
    """``(params, grads, state)`` for ``layers`` on inputs of ``input_dim``, attached to the
    layers. ``old = (params, state, n)``: the first ``n`` layers keep those values; the rest
    draw from ``rng`` (zeros when ``rng`` is None: a model being loaded draws nothing)."""
    dims = [input_dim]
    for layer in layers:
        dims.append(layer.output_dim(dims[-1]))
    p_shapes = [lyr.param_shapes(d) for lyr, d in zip(layers, dims)]
    s_shapes = [lyr.state_shapes(d) for lyr, d in zip(layers, dims)]
    params = [_host(old[0])] if old else []
    state = [_host(old[1])] if old else []
    for i in range(old[2] if old else 0, len(layers)):
        if rng is not None:
            params += [w.ravel() for w in layers[i].initial_params(dims[i], rng)]
            state += [w.ravel() for w in layers[i].initial_state(dims[i])]
        else:
            params += [np.zeros(math.prod(s)) for s in p_shapes[i]]
            state += [np.zeros(math.prod(s)) for s in s_shapes[i]]
    flat_p = to_device(np.concatenate([np.zeros(0), *params]).astype(dtype))
    flat_s = np.concatenate([np.zeros(0), *state]).astype(dtype)
    flat_s = to_device(flat_s) if flat_s.size else xp.zeros(0, dtype=dtype)  # no empty copy
    flat_g = xp.zeros_like(flat_p)
    p_views, g_views, s_views = (
        _views(flat_p, p_shapes),
        _views(flat_g, p_shapes),
        _views(flat_s, s_shapes),
    )
    for i, layer in enumerate(layers):
        layer.attach(dims[i], p_views[i], g_views[i], s_views[i])
    return flat_p, flat_g, flat_s


def _views(flat: Any, shapes: list[list[tuple[int, ...]]]) -> list[list[Any]]:
    views, offset = [], 0
    for layer_shapes in shapes:
        layer_views = []
        for shape in layer_shapes:
            size = math.prod(shape)
            layer_views.append(flat[offset : offset + size].reshape(shape))
            offset += size
        views.append(layer_views)
    return views


def _slots(layers: list[Any], params: Any, state: Any) -> list[tuple[Any, int, tuple[int, ...]]]:
    """``(flat buffer, offset, shape)`` of every weight in Keras's order: per layer, its
    trainable parameters, then its state."""
    slots, p_off, s_off = [], 0, 0
    for layer in layers:
        for v in layer.params:
            slots.append((params, p_off, tuple(v.shape)))
            p_off += v.size
        listed = getattr(layer, "state_in_weights", True)
        for v in layer.state:
            if listed:
                slots.append((state, s_off, tuple(v.shape)))
            s_off += v.size
    return slots


def _host(buffer: Any) -> np.ndarray:
    """A flat buffer on the host (an empty one costs no transfer)."""
    return to_numpy(buffer) if buffer.size else np.zeros(0, dtype=buffer.dtype)


def get_weights(layers: list[Any], params: Any, state: Any) -> list[np.ndarray]:
    host = {id(b): _host(b) for b in (params, state)}  # one copy home per buffer
    return [
        host[id(buf)][off : off + math.prod(shape)].reshape(shape).copy()
        for buf, off, shape in _slots(layers, params, state)
    ]


def set_weights(layers: list[Any], params: Any, state: Any, weights: Any) -> None:
    slots = _slots(layers, params, state)
    if not isinstance(weights, list | tuple) or len(weights) != len(slots):
        got = len(weights) if isinstance(weights, list | tuple) else type(weights).__name__
        raise ValueError(
            f"set_weights expects a list of {len(slots)} arrays "
            f"(the layers' weights in order), received {got}."
        )
    checked = []
    for i, (w, (_, _, shape)) in enumerate(zip(weights, slots)):
        w = np.asarray(w)
        if w.shape != shape:
            raise ValueError(f"Weight {i} should have shape {shape}, received shape {w.shape}.")
        if w.dtype.kind not in "biuf" or not np.isfinite(w).all():
            raise ValueError(f"Weight {i} must be finite numbers.")
        checked.append(w)
    # all checked before anything is written: a refused list changes nothing
    host = {id(b): np.array(_host(b)) for b in (params, state)}
    for w, (buf, off, _) in zip(checked, slots):
        host[id(buf)][off : off + w.size] = w.ravel()
    for buf in (params, state):
        if buf.size:
            buf[...] = to_device(host[id(buf)])


def segments(layers: list[Any]) -> list[int]:
    """The sizes of the trainable variables end to end, in the flat buffer's order (what
    Keras's per-variable ``clipnorm`` needs)."""
    return [int(v.size) for layer in layers for v in layer.params]
