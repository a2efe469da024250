"""All ten digits with a softmax output computed inside the loss: a linear output layer and
SparseCategoricalCrossentropy(from_logits=True), the numerically stable form the notes
recommend. predict() then gives logits; softmax turns them into probabilities.

Run: python examples/softmax_digits.py       (EPOCHS=3 python ... for a quick run)
"""

import os

import numpy as np
from sklearn.datasets import load_digits

import xpnn
from xpnn.datasets import train_test_split
from xpnn.preprocessing import StandardScaler

digits = load_digits()
X, y = digits.data, digits.target
train, test = train_test_split(len(X), 0.2, seed=0, stratify=y)
scaler = StandardScaler().fit(X[train])

model = xpnn.Sequential(
    [
        xpnn.Input(shape=(64,)),
        xpnn.Dense(25, activation="relu"),
        xpnn.Dense(15, activation="relu"),
        xpnn.Dense(10, activation="linear"),  # logits
    ],
    seed=0,
)
model.compile(
    optimizer=xpnn.optimizers.Adam(learning_rate=1e-3),
    loss=xpnn.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(scaler.transform(X[train]), y[train], epochs=int(os.environ.get("EPOCHS", 40)), verbose=0)

logits = model.predict(scaler.transform(X[test]))
probabilities = xpnn.activations.softmax(logits)
accuracy = np.mean(np.argmax(probabilities, axis=1) == y[test])
print(f"first test digit: {y[test][0]}, predicted probabilities {np.round(probabilities[0], 3)}")
print(f"test accuracy: {accuracy:.4f}")
