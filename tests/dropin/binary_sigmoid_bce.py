"""Binary classification (breast cancer): sigmoid output + binary cross-entropy, an L2 kernel
penalty, class_weight, AUC/Precision/Recall, EarlyStopping on val_auc restoring the best weights.

A Keras 3 script; `import keras` runs it unchanged.
"""

import json

import numpy as np
from sklearn.datasets import load_breast_cancer

import xpnn as keras  # or: import keras

x, y = load_breast_cancer(return_X_y=True)
order = np.random.default_rng(0).permutation(len(x))
x, y = x[order].astype("float32"), y[order].astype("float32")
x_train, y_train, x_test, y_test = x[:450], y[:450], x[450:], y[450:]
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

model = keras.Sequential(
    [
        keras.Input(shape=(30,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
# The same starting weights on any framework, so that runs can be compared number for number.
rng = np.random.default_rng(1)
model.set_weights(
    [
        rng.uniform(-1, 1, w.shape) * np.sqrt(6 / sum(w.shape))
        if w.ndim == 2
        else np.zeros(w.shape)
        for w in model.get_weights()
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss="binary_crossentropy",
    metrics=[
        "accuracy",
        keras.metrics.AUC(name="auc"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ],
)
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=40,
    validation_split=0.2,
    shuffle=False,
    class_weight={0: 1.5, 1: 1.0},
    callbacks=[
        keras.callbacks.EarlyStopping(
            monitor="val_auc", mode="max", patience=5, restore_best_weights=True
        )
    ],
    verbose=0,
)
scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
probabilities = model.predict(x_test, verbose=0)
print(f"test accuracy: {scores['accuracy']:.4f}, AUC: {scores['auc']:.4f}")
result = {
    "epochs": len(history.history["loss"]),
    "first_loss": history.history["loss"][0],
    "first_val_loss": history.history["val_loss"][0],
    "keys": sorted(history.history),
    "test": scores,
    "predict_accuracy": float(np.mean((probabilities[:, 0] > 0.5) == y_test)),
}
print("RESULT " + json.dumps(result))
