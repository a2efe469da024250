"""Run under mpiexec by tests/test_distributed.py: ``worker.py MODE OUT_DIR [ARGS]``.

Each rank writes what it saw to ``OUT_DIR/rank{r}.npz``; the test compares ranks with each
other and with a single-process run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import xpnn
from xpnn import Dense, Input, Sequential


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float64)
    return x, y


def model(seed: int | None = 0, optimizer: str = "adam") -> Sequential:
    m = Sequential(
        [Input((6,)), Dense(7, "tanh"), Dense(5, "relu"), Dense(1, "sigmoid")],
        seed=seed,
        dtype="float64",
    )
    m.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return m


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    params = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    if mode == "fail-before-fit":
        dist = xpnn.distributed.init()
        if dist.rank == dist.size - 1:
            raise RuntimeError("this rank fails on purpose")
        x, y = data(200)
        model().fit(x, y, epochs=1000, batch_size=4, verbose=0)  # the others wait in here
        return
    if mode != "single":
        dist = xpnn.distributed.init()
        rank = dist.rank
    else:
        rank = 0
    x, y = data(params.get("n", 101))
    m = model(seed=params.get("seed", 0), optimizer=params.get("optimizer", "adam"))
    if params.get("write"):
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    callbacks = []
    if params.get("write"):  # per-rank paths: only rank 0's may appear
        callbacks.append(xpnn.callbacks.CSVLogger(str(out / f"log{rank}.csv")))
        callbacks.append(xpnn.callbacks.ModelCheckpoint(str(out / f"model{rank}.xpnn")))
    if "patience" in params:
        callbacks.append(
            xpnn.EarlyStopping(
                monitor="loss", patience=params["patience"], min_delta=params["delta"]
            )
        )
    history = m.fit(
        x,
        y,
        epochs=params.get("epochs", 4),
        batch_size=params.get("batch", 10),
        verbose=0,
        callbacks=callbacks,
        validation_split=params.get("validation_split", 0.0),
    )
    predictions = m.predict(x[:13])
    evaluation = m.evaluate(x, y, return_dict=True)
    np.savez(
        out / f"rank{rank}.npz",
        weights=np.concatenate([w.ravel() for w in m.get_weights()]),
        history=json.dumps(history.history),
        predictions=predictions,
        evaluation=json.dumps(evaluation),
        iterations=m.optimizer.iterations,
        threads=_blas_threads(),
    )


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return min(pool["num_threads"] for pool in threadpool_info()) if threadpool_info() else -1


if __name__ == "__main__":
    main()
