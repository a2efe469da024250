"""scikit-learn: an xpnn network as one step of a Pipeline, cross-validated and grid-searched.

``NeuralNetClassifier`` is a scikit-learn estimator: it goes wherever MLPClassifier goes
(Pipeline, cross_val_score, GridSearchCV with worker processes, pickle), and trains an
``xpnn.Sequential`` on NumPy or, with NN_BACKEND=cupy or backend="cupy", on the GPU.
Run: python examples/sklearn_pipeline.py      (EPOCHS=15 python ... for a quick run)
"""

import os

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xpnn.sklearn import NeuralNetClassifier

X, y = load_digits(return_X_y=True)  # 1,797 images of 8 x 8 pixels, digits 0-9
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
epochs = int(os.environ.get("EPOCHS", 200))

# 1. A pipeline: the scaler's statistics come from each training fold only.
pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=epochs, random_state=0))

# 2. Cross-validation: three fits on three splits of the training data.
scores = cross_val_score(pipe, X_train, y_train, cv=3)
print(f"3-fold accuracy: {scores.mean():.4f} (+/- {scores.std():.4f})")

# 3. A grid search over the network's shape, two fits at a time in worker processes;
#    the best setting is then refitted on all the training data.
grid = {"neuralnetclassifier__hidden_layer_sizes": [(64,), (128,), (128, 64)]}
search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print(f"best: {search.best_params_} ({search.best_score_:.4f})")

# 4. The refitted pipeline on data it has never seen.
network = search.best_estimator_[-1]
print(f"trained {network.n_iter_} epochs, last loss {network.loss_:.4f}")
print(f"test accuracy: {search.score(X_test, y_test):.4f}")
