"""A Keras 3 script, as a Keras user writes it, running on xpnn: only the import differs.

Breast-cancer diagnosis (scikit-learn's bundled data): Dense + BatchNormalization + Dropout, Adam
under a cosine learning-rate schedule, class weights for the unequal classes, EarlyStopping that
restores the best weights, the best model checkpointed to a .keras file, a CSV log, and the model
saved and loaded back. `import keras` (with KERAS_BACKEND=jax) runs the same file.
Run: python examples/keras_mlp.py        (EPOCHS=15 python ... for a quick run)
"""

import os
import tempfile

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import xpnn as keras  # the one xpnn line; `import keras` runs this file too

keras.utils.set_random_seed(0)
x, y = load_breast_cancer(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(x_train)
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
counts = np.bincount(y_train)
class_weight = {c: len(y_train) / (2 * n) for c, n in enumerate(counts)}  # "balanced"

model = keras.Sequential(
    [
        keras.Input(shape=(30,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
epochs = int(os.environ.get("EPOCHS", 60))
steps = epochs * int(np.ceil(0.8 * len(x_train) / 32))
model.compile(
    optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
    loss="binary_crossentropy",
    metrics=["accuracy", keras.metrics.AUC(name="auc")],
)
with tempfile.TemporaryDirectory() as folder:
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(os.path.join(folder, "best.keras"), save_best_only=True),
        keras.callbacks.CSVLogger(os.path.join(folder, "training.csv")),
    ]
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_split=0.2,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=0,
    )
    scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    probabilities = model.predict(x_test, verbose=0)[:, 0]

    model.save(os.path.join(folder, "cancer.keras"))
    reloaded = keras.models.load_model(os.path.join(folder, "cancer.keras"))
    assert np.allclose(reloaded.predict(x_test, verbose=0)[:, 0], probabilities, atol=1e-6)

print(f"trained {len(history.history['loss'])} epochs; test loss {scores['loss']:.4f}, ", end="")
print(f"AUC {scores['auc']:.4f}; first patient: P(benign) = {probabilities[0]:.3f}")
print(f"test accuracy: {scores['accuracy']:.4f}")
