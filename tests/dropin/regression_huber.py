"""Regression (Friedman #1, generated offline by scikit-learn): Huber loss, Nadam, a
LearningRateScheduler, metrics "mae" and "mse", validation_data, and the model saved to a
.keras file and loaded back.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json
import os
import tempfile

import numpy as np
from sklearn.datasets import make_friedman1

import xpnn as keras  # or: import keras

keras.utils.set_random_seed(3)
x, y = make_friedman1(n_samples=800, noise=0.5, random_state=0)
x, y = x.astype("float32"), ((y - 14.4) / 4.9).astype("float32")
x_train, y_train = x[:500], y[:500]
x_val, y_val = x[500:600], y[500:600]
x_test, y_test = x[600:], y[600:]


def schedule(epoch, lr):
    return lr if epoch < 10 else lr * 0.9


model = keras.Sequential(
    [
        keras.Input(shape=(10,)),
        keras.layers.Dense(64, activation="tanh"),
        keras.layers.Dense(32, activation="relu", kernel_initializer="he_uniform"),
        keras.layers.Dense(1),
    ]
)
model.compile(
    optimizer=keras.optimizers.Nadam(learning_rate=2e-3),
    loss=keras.losses.Huber(delta=1.0),
    metrics=["mae", "mse"],
)
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=40,
    validation_data=(x_val, y_val),
    callbacks=[keras.callbacks.LearningRateScheduler(schedule)],
    verbose=0,
)
scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "friedman.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    same = np.allclose(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    loaded_scores = loaded.evaluate(x_test, y_test, verbose=0, return_dict=True)
r2 = 1 - scores["mse"] / float(np.var(y_test))
print(f"test MAE (standardised): {scores['mae']:.4f}, R2: {r2:.3f}")
result = {
    "keys": sorted(history.history),
    "final_learning_rate": history.history["learning_rate"][-1],
    "test": scores,
    "loaded_test": loaded_scores,
    "loaded_predicts_the_same": bool(same),
    "r2": float(r2),
}
print("RESULT " + json.dumps(result))
