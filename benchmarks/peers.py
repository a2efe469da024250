"""One training epoch of a workload, per contestant: xpnn, the BLAS floor and the peers.

Each ``make_*`` builds its contestant on the data (warming up what it compiles) and returns a
function that trains exactly one epoch: float32, Adam(1e-3), shuffled mini-batches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workloads import Workload

Epoch = Callable[[], object]


def make_xpnn(w: Workload, x: np.ndarray, y: np.ndarray, kernel: str = "matrix") -> Epoch:
    import xpnn

    out_act = "sigmoid" if w.binary else None
    model = xpnn.Sequential(
        [xpnn.Input((w.features,))]
        + [xpnn.Dense(h, w.activation) for h in w.hidden]
        + [xpnn.Dense(w.outputs, out_act)],
        kernel=kernel,
        seed=0,
    )
    loss = (
        xpnn.losses.BinaryCrossentropy()
        if w.binary
        else xpnn.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(optimizer=xpnn.optimizers.Adam(1e-3), loss=loss)
    x_dev, y_dev = xpnn.to_device(x), xpnn.to_device(y)  # on the GPU the data stays there

    def epoch() -> object:
        return model.fit(x_dev, y_dev, epochs=1, batch_size=w.batch, verbose=0)

    epoch()  # warm-up: JIT compilation, caches
    return epoch


def make_floor(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """Only the matrix products of one epoch, preallocated: forward A @ W per layer; backward
    A.T @ dZ per layer and dZ @ W.T for all but the first, for every batch size used."""
    rng = np.random.default_rng(0)
    u = w.units
    W = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(u, u[1:])]
    dW = [np.empty_like(m) for m in W]
    n = x.shape[0]
    sizes = sorted({min(w.batch, n), n - (n - 1) // w.batch * w.batch})
    bufs = {
        s: ([np.ones((s, k), np.float32) for k in u], [np.ones((s, k), np.float32) for k in u])
        for s in sizes
    }
    batches = [min(w.batch, n - s) for s in range(0, n, w.batch)]

    def epoch() -> None:
        for s in batches:
            A, D = bufs[s]
            for i in range(len(W)):
                np.matmul(A[i], W[i], out=A[i + 1])
            for i in range(len(W) - 1, -1, -1):
                np.matmul(A[i].T, D[i + 1], out=dW[i])
                if i:
                    np.matmul(D[i + 1], W[i].T, out=D[i])

    epoch()
    return epoch


def make_torch(w: Workload, x: np.ndarray, y: np.ndarray, device: str = "cpu") -> Epoch:
    import torch

    if device == "cpu":
        torch.set_num_threads(2)
    torch.manual_seed(0)
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[w.activation]
    layers: list[torch.nn.Module] = []
    for a, b in zip(w.units, w.units[1:-1]):
        layers += [torch.nn.Linear(a, b), act()]
    layers.append(torch.nn.Linear(w.units[-2], w.outputs))
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # logits + BCEWithLogits is the stable form of sigmoid + BCE; same FLOPs
    loss_fn = torch.nn.BCEWithLogitsLoss() if w.binary else torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(x).to(device)
    Y = torch.from_numpy(y.astype(np.float32)[:, None] if w.binary else y).to(device)
    n = X.shape[0]

    def epoch() -> None:
        perm = torch.randperm(n, device=device)
        for s in range(0, n, w.batch):
            idx = perm[s : s + w.batch]
            xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()

    epoch()
    return epoch


def make_sklearn(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    import warnings

    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=w.hidden,
        activation="logistic" if w.activation == "sigmoid" else w.activation,
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=w.batch,
        alpha=0.0,
        shuffle=True,
        random_state=0,
    )
    classes = np.unique(y)

    def epoch() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x, y, classes=classes)  # one pass over the data in mini-batches

    epoch()
    return epoch


def make_jax(w: Workload, x: np.ndarray, y: np.ndarray) -> Epoch:
    """A hand-written MLP and Adam in jax.numpy, the whole train step under jax.jit."""
    import jax
    import jax.numpy as jnp

    act = jax.nn.sigmoid if w.activation == "sigmoid" else jax.nn.relu
    key = jax.random.PRNGKey(0)
    params = []
    for a, b in zip(w.units, w.units[1:]):
        key, sub = jax.random.split(key)
        lim = np.sqrt(6 / (a + b))
        params.append(
            (jax.random.uniform(sub, (a, b), jnp.float32, -lim, lim), jnp.zeros(b, jnp.float32))
        )

    def loss_fn(p, xb, yb):
        h = xb
        for W, b in p[:-1]:
            h = act(h @ W + b)
        z = h @ p[-1][0] + p[-1][1]
        if w.binary:
            zz = z[:, 0]
            return jnp.mean(jnp.maximum(zz, 0) - zz * yb + jnp.log1p(jnp.exp(-jnp.abs(zz))))
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), yb[:, None], axis=1))

    @jax.jit
    def step(p, m, v, t, xb, yb):
        g = jax.grad(loss_fn)(p, xb, yb)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: m_ + (g_ - m_) * 0.1, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: v_ + (g_ * g_ - v_) * 0.001, v, g)
        alpha = 1e-3 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = jax.tree_util.tree_map(
            lambda p_, m_, v_: p_ - alpha * m_ / (jnp.sqrt(v_) + 1e-7), p, m, v
        )
        return p, m, v, t

    X = jnp.asarray(x)
    Y = jnp.asarray(y.astype(np.float32) if w.binary else y.astype(np.int32))
    state = {
        "p": params,
        "m": jax.tree_util.tree_map(jnp.zeros_like, params),
        "v": jax.tree_util.tree_map(jnp.zeros_like, params),
        "t": jnp.float32(0),
    }
    rng = np.random.default_rng(0)
    n = x.shape[0]

    def epoch() -> None:
        perm = jnp.asarray(rng.permutation(n))
        p, m, v, t = state["p"], state["m"], state["v"], state["t"]
        for s in range(0, n, w.batch):
            idx = perm[s : s + w.batch]
            p, m, v, t = step(p, m, v, t, X[idx], Y[idx])
        jax.block_until_ready(p)
        state.update(p=p, m=m, v=v, t=t)

    epoch()
    return epoch
