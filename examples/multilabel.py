"""Multi-label: one sigmoid output per yes/no question, binary cross-entropy over all of them.

Each handwritten digit is tagged "is even", "is at least 5" and "is prime"; the network answers
the three questions at once.
Run: python examples/multilabel.py           (EPOCHS=3 python ... for a quick run)
"""

import os

import numpy as np

import xpnn
from xpnn.datasets import load, train_test_split
from xpnn.preprocessing import StandardScaler

data = load("digits_tags")  # y has three 0/1 columns
train, test = train_test_split(len(data.x), 0.2, seed=0)
scaler = StandardScaler().fit(data.x[train])

model = xpnn.Sequential(
    [
        xpnn.Input(shape=(64,)),
        xpnn.Dense(32, activation="relu"),
        xpnn.Dense(3, activation="sigmoid"),  # three independent probabilities
    ],
    seed=0,
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(
    scaler.transform(data.x[train]),
    data.y[train],
    epochs=int(os.environ.get("EPOCHS", 40)),
    verbose=0,
)

answers = model.predict(scaler.transform(data.x[test])) > 0.5
per_question = np.mean(answers == data.y[test].astype(bool), axis=0)
for question, accuracy in zip(["even", ">= 5", "prime"], per_question):
    print(f"{question:>6}: {accuracy:.4f}")
print(f"test accuracy: {per_question.mean():.4f}")
