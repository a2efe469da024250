"""Binary classification from logits (breast cancer): Dense without bias, BatchNormalization
and an Activation layer; a linear output with BinaryCrossentropy(from_logits=True) and
BinaryAccuracy thresholded at 0; Adamax under PiecewiseConstantDecay; the weights saved with
save_weights and loaded into a second model.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json
import os
import tempfile

import numpy as np
from sklearn.datasets import load_breast_cancer

import xpnn as keras  # or: import keras

keras.utils.set_random_seed(4)
x, y = load_breast_cancer(return_X_y=True)
order = np.random.default_rng(1).permutation(len(x))
x, y = x[order].astype("float32"), y[order].reshape(-1, 1).astype("float32")
x_train, y_train, x_test, y_test = x[:450], y[:450], x[450:], y[450:]
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std


def build():
    return keras.Sequential(
        [
            keras.Input(shape=(30,)),
            keras.layers.Dense(32, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dense(1),  # a logit
        ]
    )


model = build()
model.compile(
    optimizer=keras.optimizers.Adamax(
        learning_rate=keras.optimizers.schedules.PiecewiseConstantDecay(
            [100, 200], [5e-3, 2e-3, 5e-4]
        )
    ),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=20, validation_split=0.1, verbose=0)
scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "cancer.weights.h5")
    model.save_weights(path)
    twin = build()
    twin.load_weights(path)
    same = np.allclose(twin.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
logits = model.predict(x_test, verbose=0)
print(f"test accuracy: {scores['accuracy']:.4f}")
result = {
    "keys": sorted(history.history),
    "weights": [list(w.shape) for w in model.get_weights()],
    "test": scores,
    "predict_accuracy": float(np.mean((logits > 0) == (y_test > 0.5))),
    "twin_predicts_the_same": bool(same),
}
print("RESULT " + json.dumps(result))
