"""Regression (diabetes progression): a linear output with mean squared error, an L1L2
kernel penalty, RMSprop, metrics "mae" and RootMeanSquaredError, ReduceLROnPlateau and
EarlyStopping.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json

import numpy as np
from sklearn.datasets import load_diabetes

import xpnn as keras  # or: import keras

x, y = load_diabetes(return_X_y=True)
order = np.random.default_rng(2).permutation(len(x))
x, y = x[order].astype("float32"), y[order].astype("float32")
x_train, y_train, x_test, y_test = x[:350], y[:350], x[350:], y[350:]
x_mean, x_std, y_mean, y_std = x_train.mean(0), x_train.std(0), y_train.mean(), y_train.std()
x_train, x_test = (x_train - x_mean) / x_std, (x_test - x_mean) / x_std
t_train, t_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std

model = keras.Sequential(
    [
        keras.Input(shape=(10,)),
        keras.layers.Dense(
            32,
            activation="relu",
            kernel_regularizer=keras.regularizers.L1L2(l1=1e-5, l2=1e-4),
        ),
        keras.layers.Dense(1),
    ]
)
# The same starting weights on any framework, so that runs can be compared number for number.
rng = np.random.default_rng(2)
model.set_weights(
    [
        rng.uniform(-1, 1, w.shape) * np.sqrt(6 / sum(w.shape))
        if w.ndim == 2
        else np.zeros(w.shape)
        for w in model.get_weights()
    ]
)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss="mse",
    metrics=["mae", keras.metrics.RootMeanSquaredError(name="rmse")],
)
history = model.fit(
    x_train,
    t_train,
    batch_size=16,
    epochs=60,
    validation_split=0.2,
    shuffle=False,
    callbacks=[
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-4),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True),
    ],
    verbose=0,
)
scores = model.evaluate(x_test, t_test, verbose=0, return_dict=True)
predicted = model.predict(x_test, verbose=0)[:, 0] * y_std + y_mean
r2 = 1 - np.sum((y_test - predicted) ** 2) / np.sum((y_test - y_test.mean()) ** 2)
print(f"test MSE (standardised): {scores['loss']:.4f}, R2: {r2:.3f}")
result = {
    "epochs": len(history.history["loss"]),
    "first_loss": history.history["loss"][0],
    "first_val_loss": history.history["val_loss"][0],
    "keys": sorted(history.history),
    "learning_rates": history.history.get("learning_rate"),
    "test": scores,
    "r2": float(r2),
}
print("RESULT " + json.dumps(result))
