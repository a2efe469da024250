"""A Keras 3 contestant in its own process (KERAS_BACKEND is fixed at import, so JAX and
torch cannot share one). Protocol on stdin/stdout: it prints ``ready`` once built and warmed
up, then answers each ``epoch`` line by training one epoch and printing ``done``.

    python keras_worker.py BACKEND WORKLOAD [--small]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    backend, name = sys.argv[1], sys.argv[2]
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    if backend == "torch":
        import torch

        torch.set_num_threads(2)
    import keras
    from threadpoolctl import threadpool_limits

    from workloads import WORKLOADS

    threadpool_limits(2)
    w = WORKLOADS[name]
    x, y = w.data(small="--small" in sys.argv)
    keras.utils.set_random_seed(0)
    layers = [keras.Input((w.features,))]
    layers += [keras.layers.Dense(h, activation=w.activation) for h in w.hidden]
    layers.append(keras.layers.Dense(w.outputs, activation="sigmoid" if w.binary else None))
    model = keras.Sequential(layers)
    loss = (
        keras.losses.BinaryCrossentropy()
        if w.binary
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(x, y, epochs=1, batch_size=w.batch, verbose=0)  # compile and warm up
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        model.fit(x, y, epochs=1, batch_size=w.batch, verbose=0)
        print("done", flush=True)
