"""One training epoch of a workload, per contestant: xpnn, the BLAS floor and the peers.

Each ``make_*`` builds its contestant on the data and returns a function that trains exactly
one epoch: float32, Adam(lr=1e-3), mini-batches of ``w.batch`` in a fresh shuffled order, the
short last batch included. The first call compiles and allocates (JIT, caches, buffers); the
benchmarks run it as a warm-up round and time the calls after it. Peers are imported inside
their maker, so a missing one costs nothing until it is asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from workloads import SEED, Workload

Epoch = Callable[[], object]
# A benchmark's maker: ``(w, x, arg, small, request)`` -> the function it times, ``arg`` being
# the labels to train on (an epoch) or the batch size to predict in (inference).
Maker = Callable[..., Any]


def xpnn_mlp(w: Workload, **options: Any) -> Any:
    """The workload's net as an ``xpnn.Sequential`` drawn from ``SEED`` (``options``: the
    model's own, such as ``kernel``); the sigmoid on the binary net's output, logits else."""
    import xpnn

    return xpnn.Sequential(
        [xpnn.Input((w.features,))]
        + [xpnn.Dense(h, w.activation) for h in w.hidden]
        + [xpnn.Dense(w.outputs, "sigmoid" if w.binary else None)],
        seed=SEED,
        **options,
    )


def torch_mlp(w: Workload, sigmoid: bool = False) -> Any:
    """The workload's net as a ``torch.nn.Sequential`` drawn from ``SEED`` with PyTorch's own
    initialization: Linear and the activation per hidden layer, a Linear to the logits, and a
    Sigmoid after it when ``sigmoid`` and the net is binary."""
    import torch

    torch.manual_seed(SEED)
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[w.activation]
    layers: list[torch.nn.Module] = []
    for a, b in zip(w.units, w.units[1:-1]):
        layers += [torch.nn.Linear(a, b), act()]
    layers.append(torch.nn.Linear(w.units[-2], w.outputs))
    if sigmoid and w.binary:
        layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def keras_mlp(w: Workload) -> Any:
    """The workload's net as a ``keras.Sequential`` drawn from ``SEED`` (after
    ``keras.utils.set_random_seed``); the sigmoid on the binary net's output, logits else."""
    import keras

    keras.utils.set_random_seed(SEED)
    layers = [keras.Input((w.features,))]
    layers += [keras.layers.Dense(h, activation=w.activation) for h in w.hidden]
    layers.append(keras.layers.Dense(w.outputs, activation="sigmoid" if w.binary else None))
    return keras.Sequential(layers)


def in_process(module: str | None, make: Callable[[Workload, Any, Any], Any]) -> Maker:
    """A maker for a contestant built in the pytest process by ``make(w, x, arg)``, skipped
    when ``module`` (None: nothing) is not installed."""

    def maker(w: Workload, x: Any, arg: Any, small: bool, request: Any) -> Any:
        if module is not None:
            import pytest

            pytest.importorskip(module)
        return make(w, x, arg)

    return maker


def keras_maker(worker: Path, backend: str, command: str, batch_arg: bool = False) -> Maker:
    """A maker for Keras 3 on ``backend``, run in the worker process ``worker`` (a script of
    keras_worker.py's protocol) that answers ``command``; ``batch_arg``: the maker's ``arg``
    (predict's batch size) goes to the worker after the workload's name."""

    def make(w: Workload, x: Any, arg: Any, small: bool, request: Any) -> Callable[[], None]:
        import importlib.util
        import sys

        import pytest

        # find_spec, not importorskip: importing keras here would fix its backend for good
        for module in ("keras", backend):
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not installed")
        args = [sys.executable, str(worker), backend, w.name] + ([str(arg)] if batch_arg else [])
        args += ["--small"] if small else []
        return keras_process(args, worker.parent, request, command)

    return make


def installed(makers: dict[str, Maker], *args: Any) -> dict[str, Any]:
    """Each maker's contestant, ``maker(*args)``, for the makers whose library is installed
    (a maker skips, with ``pytest.skip``, where it is not)."""
    import pytest

    built = {}
    for key, maker in makers.items():
        try:
            built[key] = maker(*args)
        except pytest.skip.Exception:
            continue
    return built


def take_turns(
    benchmark: Any, contestants: dict[str, Callable[[], object]], rounds: int, ours: tuple = ()
) -> dict[str, list[float]]:
    """Every contestant once per round, one after another, ``rounds`` rounds after a warm-up
    round, as one benchmark (its figure: the time of a round); the seconds of each one's calls
    in the timed rounds. Before each contestant not in ``ours`` (xpnn is always ours), xpnn's
    team is told to sleep (fused/team.py ``rest``): its threads spin 20-30 ms after their last
    task and would share the two cores with the next contestant's. Not a pause: on this VM an
    idle vCPU takes milliseconds to wake (a seed-net predict after 50 ms of sleep took 10 ms,
    xpnn's and PyTorch's alike, against 0.2-0.3 ms)."""
    from xpnn.fused import team

    times: dict[str, list[float]] = {key: [] for key in contestants}

    def one_round() -> None:
        for key, call in contestants.items():
            if key != "xpnn" and key not in ours:
                team.rest()
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)

    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=1)
    return {key: t[-rounds:] for key, t in times.items()}  # after the warm-up round


def make_xpnn(
    w: Workload,
    x: np.ndarray,
    y: np.ndarray,
    kernel: str = "matrix",
    jit_compile: bool = False,
    stack: bool = True,
) -> Epoch:
    """``model.fit(x, y, epochs=1)`` on the active backend (the data moved there once);
    ``jit_compile=True`` replays the step as a CUDA graph on CuPy; ``stack=False`` runs the
    layers one by one (layers.Chain) instead of as one compiled stack (layers.DenseStack)."""
    import xpnn
    from xpnn.fused import cpu

    model = xpnn_mlp(w, kernel=kernel)
    loss = (
        xpnn.losses.BinaryCrossentropy()
        if w.binary
        else xpnn.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(optimizer=xpnn.optimizers.Adam(1e-3), loss=loss, jit_compile=jit_compile)
    x_dev, y_dev = xpnn.to_device(x), xpnn.to_device(y)

    def epoch() -> object:
        if stack:
            return model.fit(x_dev, y_dev, epochs=1, batch_size=w.batch, verbose=0)
        enabled = cpu.STACK_ENABLED  # read when the step's buffers are made (first fit)
        cpu.STACK_ENABLED = False
        try:
            return model.fit(x_dev, y_dev, epochs=1, batch_size=w.batch, verbose=0)
        finally:
            cpu.STACK_ENABLED = enabled

    return epoch


def make_floor(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """Only the matrix products one epoch needs, at its shapes, into preallocated buffers:
    forward ``A @ W`` per layer; backward ``A.T @ dZ`` per layer and ``dZ @ W.T`` for all but
    the first, for every batch including the short last one. No gather, no activations, no
    loss, no optimizer: what is left when everything but BLAS costs nothing."""
    rng = np.random.default_rng(SEED)
    u = w.units
    W = [rng.standard_normal((a, b), dtype=np.float32) * 0.05 for a, b in zip(u, u[1:])]
    dW = [np.empty_like(m) for m in W]
    batches = w.batch_sizes(x.shape[0])
    # A[i] is the input of layer i, D[i] its gradient; ones hold no denormals
    bufs = {
        s: ([np.ones((s, k), np.float32) for k in u], [np.ones((s, k), np.float32) for k in u])
        for s in set(batches)
    }

    def epoch() -> None:
        for s in batches:
            A, D = bufs[s]
            for i in range(len(W)):
                np.matmul(A[i], W[i], out=A[i + 1])  # (s, u[i+1])
            for i in range(len(W) - 1, -1, -1):
                np.matmul(A[i].T, D[i + 1], out=dW[i])  # (u[i], u[i+1])
                if i:
                    np.matmul(D[i + 1], W[i].T, out=D[i])  # (s, u[i])

    return epoch


def make_torch(
    w: Workload, x: np.ndarray, y: np.ndarray, device: str = "cpu", threads: int = 2
) -> Epoch:
    """Eager PyTorch: nn.Sequential, torch.optim.Adam with its defaults, a plain loop over a
    per-epoch ``randperm`` with ``index_select`` batches."""
    import torch

    if device == "cpu":
        torch.set_num_threads(threads)
    model = torch_mlp(w).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # BCE on logits is PyTorch's (stable) form of sigmoid + BCE; the same work
    loss_fn = torch.nn.BCEWithLogitsLoss() if w.binary else torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(x).to(device)
    Y = torch.from_numpy(y.astype(np.float32)[:, None] if w.binary else y).to(device)
    n = X.shape[0]

    def epoch() -> None:
        perm = torch.randperm(n, device=device)
        for start in range(0, n, w.batch):
            idx = perm[start : start + w.batch]
            xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()

    return epoch


def make_sklearn(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """scikit-learn's MLPClassifier, one ``partial_fit`` = one epoch.

    ``partial_fit`` runs the same loop as ``fit`` (shuffle the indices, gather, backprop, Adam
    per mini-batch) and stops after one pass, keeping Adam's moments between calls;
    ``fit(warm_start=True, max_iter=1)`` would build a fresh Adam every call and warn. Given
    float32 ``x`` it trains in float32 (weights, activations and gradients take ``x.dtype``)."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=w.hidden,
        activation="logistic" if w.activation == "sigmoid" else w.activation,
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=w.batch,
        alpha=0.0,  # no L2 penalty, like the others
        shuffle=True,
        random_state=SEED,
    )
    classes = np.unique(y)

    def epoch() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x, y, classes=classes)

    epoch.model = model  # the benchmark records the dtype it trained in
    return epoch


def jax_glorot(w: Workload) -> list:
    """``[(W, b), ...]`` of the workload's net in jax.numpy, Glorot uniform as Keras."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(SEED)
    params = []
    for a, b in zip(w.units, w.units[1:]):
        key, sub = jax.random.split(key)
        lim = float(np.sqrt(6 / (a + b)))
        params.append(
            (jax.random.uniform(sub, (a, b), jnp.float32, -lim, lim), jnp.zeros(b, jnp.float32))
        )
    return params


def worker_env() -> dict[str, str]:
    """The environment for a worker process started in another directory: ``PYTHONPATH``'s
    relative entries (``PYTHONPATH=src``, as the commands give it) made absolute."""
    import os

    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        parts = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else p for p in parts)
    return env


def keras_process(args: list[str], cwd: Any, request: Any, command: str) -> Callable[[], None]:
    """Start a Keras worker (keras_worker.py's protocol), stopped when the test ends; returns
    the function that sends ``command`` and waits for ``done``. The worker's own times land
    in ``request.node.keras_seconds``."""
    import subprocess

    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd, env=worker_env()
    )

    def stop() -> None:
        proc.stdin.close()  # end of input ends the worker
        proc.wait(timeout=120)

    request.addfinalizer(stop)
    assert proc.stdout.readline().strip() == "ready", "the Keras worker did not start"
    seconds: list[float] = []
    request.node.keras_seconds = seconds

    def call() -> None:
        proc.stdin.write(f"{command}\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().split()
        assert answer[:1] == ["done"], f"the Keras worker answered {answer!r}"
        seconds.append(float(answer[1]))

    return call


def make_jax(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """A hand-written MLP and Adam in jax.numpy; the whole step (batch gather, forward, loss,
    gradient, Adam) is one ``jax.jit`` function with its state donated; a Python loop over the
    batches; ``block_until_ready`` at the end of the epoch. Two compilations: full batch and
    short last batch (the warm-up epoch does both)."""
    import jax
    import jax.numpy as jnp

    act = jax.nn.sigmoid if w.activation == "sigmoid" else jax.nn.relu
    params = jax_glorot(w)

    def loss_fn(p, xb, yb):
        h = xb
        for W, b in p[:-1]:
            h = act(h @ W + b)
        z = h @ p[-1][0] + p[-1][1]  # logits
        if w.binary:
            z = z[:, 0]
            return jnp.mean(jnp.maximum(z, 0) - z * yb + jnp.log1p(jnp.exp(-jnp.abs(z))))
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), yb[:, None], axis=1))

    tree_map = jax.tree_util.tree_map

    @partial(jax.jit, static_argnames="size", donate_argnums=0)
    def step(state, X, Y, perm, start, size):
        p, m, v, t = state
        idx = jax.lax.dynamic_slice_in_dim(perm, start, size)
        g = jax.grad(loss_fn)(p, X[idx], Y[idx])
        t = t + 1
        m = tree_map(lambda m_, g_: m_ + (g_ - m_) * 0.1, m, g)  # Keras's Adam, eps 1e-7
        v = tree_map(lambda v_, g_: v_ + (g_ * g_ - v_) * 0.001, v, g)
        alpha = 1e-3 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = tree_map(lambda p_, m_, v_: p_ - alpha * m_ / (jnp.sqrt(v_) + 1e-7), p, m, v)
        return p, m, v, t

    X = jnp.asarray(x)
    Y = jnp.asarray(y.astype(np.float32) if w.binary else y.astype(np.int32))
    zeros = partial(tree_map, jnp.zeros_like)
    box = [(params, zeros(params), zeros(params), jnp.float32(0))]
    rng = np.random.default_rng(SEED)
    n = x.shape[0]

    def epoch() -> None:
        perm = jnp.asarray(rng.permutation(n).astype(np.int32))
        state = box[0]
        for start in range(0, n, w.batch):
            state = step(state, X, Y, perm, start, size=min(w.batch, n - start))
        box[0] = jax.block_until_ready(state)

    return epoch


def make_keras(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """Keras 3 on whatever backend KERAS_BACKEND named before keras was first imported:
    ``model.fit(x, y, epochs=1, batch_size=...)`` on NumPy arrays, as a user would call it."""
    import keras

    model = keras_mlp(w)
    loss = (
        keras.losses.BinaryCrossentropy()
        if w.binary
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    y_in = y.astype(np.float32) if w.binary else y

    def epoch() -> object:
        return model.fit(x, y_in, epochs=1, batch_size=w.batch, verbose=0)

    return epoch
