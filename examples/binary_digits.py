"""Step by step, as the course notes teach: define the model, compile it with a loss, fit it.

Handwritten 0s and 1s (scikit-learn's 8x8 scans), the 25-15-1 sigmoid network.
Run: python examples/binary_digits.py        (EPOCHS=5 python ... for a quick run)
"""

import os

from sklearn.datasets import load_digits

import xpnn
from xpnn.datasets import train_test_split
from xpnn.preprocessing import MinMaxScaler

digits = load_digits()
keep = digits.target <= 1
X, y = digits.data[keep], digits.target[keep]
train, test = train_test_split(len(X), 0.25, seed=0, stratify=y)
scaler = MinMaxScaler().fit(X[train])  # statistics of the training split only

# 1. The model: how to compute the output from the input.
model = xpnn.Sequential(
    [
        xpnn.Input(shape=(64,)),
        xpnn.Dense(25, activation="sigmoid", name="layer1"),
        xpnn.Dense(15, activation="sigmoid", name="layer2"),
        xpnn.Dense(1, activation="sigmoid", name="layer3"),
    ],
    name="my_model",
    seed=0,
)

# 2. The loss (and the optimizer that minimises it).
model.compile(
    optimizer=xpnn.optimizers.Adam(learning_rate=1e-3),
    loss=xpnn.losses.BinaryCrossentropy(),
    metrics=["accuracy"],
)

# 3. Gradient descent with backpropagation.
model.fit(
    scaler.transform(X[train]), y[train], epochs=int(os.environ.get("EPOCHS", 100)), verbose=0
)

loss, accuracy = model.evaluate(scaler.transform(X[test]), y[test])
probability = model.predict(scaler.transform(X[test][:1]))[0, 0]  # P(the digit is a 1)
print(f"first test digit: {y[test][0]}, P(it is a 1) = {probability:.3f}")
print(f"test accuracy: {accuracy:.4f}")
