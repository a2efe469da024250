"""Ten digits with integer labels: a linear output (logits) and
SparseCategoricalCrossentropy(from_logits=True); the input declared with `input_shape=` on the
first layer; AdamW under CosineDecay; sample_weight with a weighted metric; EarlyStopping,
TerminateOnNaN and a LambdaCallback that records the learning rate.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json

import numpy as np
from sklearn.datasets import load_digits

import xpnn as keras  # or: import keras

keras.utils.set_random_seed(1)
x, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(x))
x, y = (x[order] / 16.0).astype("float32"), y[order]
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
weights = np.where(y_train % 2 == 0, 2.0, 1.0)  # even digits count twice

model = keras.Sequential(
    [
        keras.layers.Dense(48, activation="relu", input_shape=(64,)),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(10),  # logits
    ]
)
epochs, batch_size = 25, 32
steps = epochs * int(np.ceil(0.85 * len(x_train) / batch_size))
model.compile(
    optimizer=keras.optimizers.AdamW(
        learning_rate=keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=steps, alpha=0.1),
        weight_decay=1e-3,
    ),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
    weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="weighted_acc")],
)
rates = []
history = model.fit(
    x_train,
    y_train,
    sample_weight=weights,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.15,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: rates.append(float(model.optimizer.learning_rate))
        ),
    ],
    verbose=0,
)
scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
logits = model.predict(x_test, verbose=0)
print(f"test accuracy: {scores['accuracy']:.4f}")
result = {
    "epochs": len(history.history["loss"]),
    "keys": sorted(history.history),
    "test": scores,
    "predict_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test)),
    "rates": rates,
}
print("RESULT " + json.dumps(result))
