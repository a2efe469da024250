"""Ten digits, one-hot targets (to_categorical) + softmax + categorical cross-entropy, built
with the `.add` API: He-initialised Dense, BatchNormalization, Dropout; SGD with Nesterov
momentum under an ExponentialDecay schedule; ModelCheckpoint (best .keras) and CSVLogger;
the best checkpoint reloaded with keras.models.load_model.

A Keras 3 script; `import keras` runs it unchanged.
"""

import csv
import json
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits

import xpnn as keras  # or: import keras

keras.utils.set_random_seed(0)
x, labels = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
y = keras.utils.to_categorical(labels, num_classes=10)
x_train, y_train = x[:1200], y[:1200]
x_val, y_val = x[1200:1500], y[1200:1500]
x_test, y_test = x[1500:], y[1500:]

model = keras.Sequential()
model.add(keras.Input(shape=(64,)))
model.add(keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"))
model.add(keras.layers.BatchNormalization())
model.add(keras.layers.Dropout(0.2))
model.add(keras.layers.Dense(10, activation="softmax"))

schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=100, decay_rate=0.8)
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True),
    loss=keras.losses.CategoricalCrossentropy(),
    metrics=["accuracy", "top_k_categorical_accuracy"],
)
with tempfile.TemporaryDirectory() as folder:
    best_path = os.path.join(folder, "best.keras")
    log_path = os.path.join(folder, "log.csv")
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=20,
        validation_data=(x_val, y_val),
        callbacks=[
            keras.callbacks.ModelCheckpoint(best_path, monitor="val_accuracy", save_best_only=True),
            keras.callbacks.CSVLogger(log_path),
        ],
        verbose=0,
    )
    best = keras.models.load_model(best_path)
    best_scores = best.evaluate(x_test, y_test, verbose=0, return_dict=True)
    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))

scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
print(f"test accuracy: {scores['accuracy']:.4f} (best checkpoint: {best_scores['accuracy']:.4f})")
result = {
    "epochs": len(history.history["loss"]),
    "final_loss": history.history["loss"][-1],
    "best_val_accuracy": max(history.history["val_accuracy"]),
    "keys": sorted(history.history),
    "test": scores,
    "best_test": best_scores,
    "predict_accuracy": float(np.mean(predicted == labels[1500:])),
    "csv_columns": sorted(rows[0]),
    "csv_rows": len(rows),
}
print("RESULT " + json.dumps(result))
