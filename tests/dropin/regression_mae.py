"""Regression (diabetes progression) with mean absolute error: Adagrad under InverseTimeDecay,
an "l2" kernel penalty and an L1 activity penalty, metrics "mse" and RootMeanSquaredError,
CSVLogger.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json
import os
import tempfile

import numpy as np
from sklearn.datasets import load_diabetes

import xpnn as keras  # or: import keras

keras.utils.set_random_seed(5)
x, y = load_diabetes(return_X_y=True)
order = np.random.default_rng(2).permutation(len(x))
x, y = x[order].astype("float32"), y[order].astype("float32")
x_train, y_train, x_test, y_test = x[:350], y[:350], x[350:], y[350:]
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
scale = float(y_train.std())

model = keras.Sequential(
    [
        keras.Input(shape=(10,)),
        keras.layers.Dense(
            24,
            activation="relu",
            kernel_regularizer="l2",
            activity_regularizer=keras.regularizers.L1(1e-4),
        ),
        keras.layers.Dense(1),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adagrad(
        learning_rate=keras.optimizers.schedules.InverseTimeDecay(
            0.1, decay_steps=50, decay_rate=0.5
        )
    ),
    loss="mae",
    metrics=["mse", keras.metrics.RootMeanSquaredError()],
)
with tempfile.TemporaryDirectory() as folder:
    log = os.path.join(folder, "training.csv")
    history = model.fit(
        x_train,
        y_train / scale,
        batch_size=32,
        epochs=40,
        validation_split=0.2,
        callbacks=[keras.callbacks.CSVLogger(log)],
        verbose=0,
    )
    with open(log) as f:
        header = f.readline().strip().split(",")
scores = model.evaluate(x_test, y_test / scale, verbose=0, return_dict=True)
predicted = model.predict(x_test, verbose=0)[:, 0] * scale
r2 = 1 - np.sum((y_test - predicted) ** 2) / np.sum((y_test - y_test.mean()) ** 2)
print(f"test MAE: {scores['loss'] * scale:.1f}, R2: {r2:.3f}")
result = {
    "keys": sorted(history.history),
    "csv_header": header,
    "test": scores,
    "test_mae": float(np.mean(np.abs(y_test - predicted))),
    "r2": float(r2),
}
print("RESULT " + json.dumps(result))
