"""``predict`` over a whole data set, per contestant: xpnn and its peers.

Each ``make_*`` builds the workload's network (weights drawn, not trained: the time of a
forward does not depend on the values) and returns a function that predicts every sample of
``x`` in batches of ``batch`` (``batch >= len(x)``: one batch) and returns the outputs as one
host NumPy array, ``(samples, outputs)`` float32 (logits, or the sigmoid for the seed net). The
first call compiles and allocates; the benchmark runs it as a warm-up round.

The input sits where each contestant computes, as in the training benchmark: a NumPy array for
xpnn (NumPy backend), PyTorch (``torch.from_numpy``, no copy) and Keras (which takes NumPy), a
device array for JAX (``jnp.asarray`` once, outside the time), so that no one pays for a copy of
the data that another is spared.

Run as a script, this module is the Keras predict worker (Keras's backend is fixed at its first
import, so Keras runs in a process of its own, as in keras_worker.py):

    python inference_peers.py BACKEND WORKLOAD BATCH [--small] [--threads N]

It prints ``ready``; each ``predict`` line is answered with ``done SECONDS`` (the worker's own
time of the call); any other line, or end of input, ends it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial

import numpy as np

import keras_worker
from peers import jax_glorot, keras_mlp, torch_mlp, xpnn_mlp
from workloads import Workload

Predict = Callable[[], np.ndarray]


def make_xpnn(w: Workload, x: np.ndarray, batch: int) -> Predict:
    """``model.predict(x, batch_size=batch)`` on the active backend."""
    model = xpnn_mlp(w)

    def predict() -> np.ndarray:
        return model.predict(x, batch_size=batch, verbose=0)

    return predict


def make_torch(w: Workload, x: np.ndarray, batch: int, threads: int = 2) -> Predict:
    """``nn.Sequential`` under ``torch.inference_mode``: ``model(x[s : s + batch])`` per batch
    (views, no copy), ``torch.cat`` of the outputs, ``.numpy()``."""
    import torch

    torch.set_num_threads(threads)
    model = torch_mlp(w, sigmoid=True).eval()
    X = torch.from_numpy(x)
    n = X.shape[0]

    def predict() -> np.ndarray:
        with torch.inference_mode():
            if batch >= n:
                return model(X).numpy()
            return torch.cat([model(X[s : s + batch]) for s in range(0, n, batch)]).numpy()

    return predict


def make_jax(w: Workload, x: np.ndarray, batch: int) -> Predict:
    """A hand-written forward in jax.numpy under ``jax.jit``, on the data placed on the device
    once. Batched: one jitted call per batch that slices the device array itself
    (``dynamic_slice``; two compilations, full and short last batch), the outputs copied home
    and concatenated. One batch: one call on the whole array."""
    import jax
    import jax.numpy as jnp

    act = jax.nn.sigmoid if w.activation == "sigmoid" else jax.nn.relu
    params = jax_glorot(w)

    def forward(p, h):
        for W, b in p[:-1]:
            h = act(h @ W + b)
        z = h @ p[-1][0] + p[-1][1]
        return jax.nn.sigmoid(z) if w.binary else z

    @partial(jax.jit, static_argnames="size")
    def forward_slice(p, X, start, size):
        return forward(p, jax.lax.dynamic_slice_in_dim(X, start, size))

    whole = jax.jit(forward)
    X = jnp.asarray(x)
    n = x.shape[0]

    def predict() -> np.ndarray:
        if batch >= n:
            return np.asarray(whole(params, X))
        outs = [
            forward_slice(params, X, start, size=min(batch, n - start))
            for start in range(0, n, batch)
        ]
        return np.concatenate([np.asarray(o) for o in outs])

    return predict


def make_keras(w: Workload, x: np.ndarray, batch: int) -> Predict:
    """Keras 3 on the backend KERAS_BACKEND named before keras was imported:
    ``model.predict(x, batch_size=batch, verbose=0)`` on the NumPy array, as a user calls it."""
    model = keras_mlp(w)

    def predict() -> np.ndarray:
        return model.predict(x, batch_size=batch, verbose=0)

    return predict


def main() -> int:
    """The Keras predict worker (see the module's doc)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["jax", "torch"])
    parser.add_argument("workload")
    parser.add_argument("batch", type=int)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    keras_worker.setup(args.backend, args.threads)

    from workloads import WORKLOADS

    w = WORKLOADS[args.workload]
    x, _ = w.data(small=args.small)
    predict = make_keras(w, x, args.batch)

    def run() -> None:
        out = predict()
        if out.shape != (x.shape[0], w.outputs):
            raise SystemExit(f"Keras predicted shape {out.shape}")

    return keras_worker.serve("predict", run, args.threads)


if __name__ == "__main__":
    sys.exit(main())
