"""Multi-label: one sigmoid output per yes/no question, binary cross-entropy over all of them.

Each handwritten digit is tagged "is even", "is at least 5" and "is prime"; the network answers
the three questions at once (a softmax would force exactly one answer to be yes).
Run: python examples/multilabel.py           (EPOCHS=3 python ... for a quick run)
"""

import os

import numpy as np

import xpnn
from xpnn.datasets import load, train_test_split
from xpnn.preprocessing import StandardScaler

X, y, info = load("digits_tags")  # y: (samples, 3) columns of 0/1
train, test = train_test_split(len(X), 0.2, seed=0)
scaler = StandardScaler().fit(X[train])  # statistics of the training split only

# 1. The model: three sigmoid outputs, three independent probabilities.
model = xpnn.Sequential(
    [
        xpnn.Input(shape=(64,)),
        xpnn.Dense(32, activation="relu"),
        xpnn.Dense(3, activation="sigmoid"),
    ],
    seed=0,
)

# 2. The loss: binary cross-entropy, averaged over the three outputs.
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

# 3. Fit.
model.fit(scaler.transform(X[train]), y[train], epochs=int(os.environ.get("EPOCHS", 40)), verbose=0)

answers = model.predict(scaler.transform(X[test])) > 0.5  # (samples, 3) yes/no
per_question = np.mean(answers == y[test].astype(bool), axis=0)
for question, accuracy in zip(info.target_names, per_question):
    print(f"{question:>6}: {accuracy:.4f}")
print(f"test accuracy: {per_question.mean():.4f}")
