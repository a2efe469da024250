"""scikit-learn estimators: ``NeuralNetClassifier`` and ``NeuralNetRegressor``.

They follow scikit-learn's conventions (``sklearn.utils.estimator_checks.check_estimator``
passes on both): parameters are stored by ``__init__`` untouched and checked in ``fit``;
``clone``, ``get_params``/``set_params``, ``Pipeline``, ``GridSearchCV`` and pickling work.
Inside, ``fit`` builds an ``xpnn.Sequential`` (``model_``) whose output layer and loss follow
the targets, and trains it with ``model.fit``:

| targets | output layer | loss |
| --- | --- | --- |
| two classes | ``Dense(1, "sigmoid")`` | ``BinaryCrossentropy()`` |
| more classes | ``Dense(k)`` (logits) | ``SparseCategoricalCrossentropy(from_logits=True)`` |
| multi-label 0/1 matrix ``(n, k)`` | ``Dense(k, "sigmoid")`` | ``BinaryCrossentropy()`` |
| numbers ``(n,)`` or ``(n, k)`` | ``Dense(1)`` or ``Dense(k)`` | ``MeanSquaredError()`` |

Where scikit-learn's ``MLPClassifier`` and Keras differ, the choice made is said where it is made:
the dtype (X's, as MLPClassifier), sample weights (normalised to mean 1, as MLPClassifier's
loss divides by their sum), the validation split of ``early_stopping`` (stratified and shuffled,
as MLPClassifier; Keras would take the last rows).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import DataConversionWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import (
        check_classification_targets,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # validate_data arrived in 1.6
    raise ImportError(
        "xpnn.sklearn needs scikit-learn >= 1.6: pip install 'xpnn[sklearn]'"
    ) from exc

from . import losses, optimizers, regularizers
from .backend import BACKENDS, get_backend, to_device, to_numpy, use_backend
from .callbacks import Callback, EarlyStopping
from .layers import Dense, Dropout, Input
from .model import Sequential

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

# scikit-learn's names for the hidden activations beside Keras's
_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "logistic": "sigmoid",
    "linear": "linear",
    "identity": "linear",
}
_PREDICT_BATCH = 4096  # rows per forward in predict: big batches, bounded memory
_SEED_RANGE = 2**31 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


class _Settings:
    """The constructor's parameters, checked (by ``fit``, as scikit-learn wants)."""

    def __init__(self, est: _NeuralNet) -> None:
        sizes = est.hidden_layer_sizes
        sizes = (sizes,) if _is_int(sizes) else sizes
        try:
            self.hidden = tuple(sizes)
        except TypeError:
            self.hidden = None
        if self.hidden is None or not all(_is_int(h) and h >= 1 for h in self.hidden):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive integers (units per hidden "
                f"layer), received {est.hidden_layer_sizes!r}."
            )
        self.hidden = tuple(int(h) for h in self.hidden)
        name = est.activation.lower() if isinstance(est.activation, str) else None
        if name not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, _ACTIVATIONS))}, received "
                f"{est.activation!r}."
            )
        self.activation = _ACTIVATIONS[name]
        given = est.optimizer
        if not isinstance(given, str | optimizers.Optimizer):
            raise ValueError(
                f"optimizer must be a name such as 'adam' or an xpnn optimizer, received {given!r}."
            )
        try:  # a name makes one with Keras's defaults; an instance is copied by its config
            self.optimizer_config = optimizers.get(
                given.lower() if isinstance(given, str) else given
            ).get_config()
        except ValueError as exc:
            raise ValueError(f"Invalid optimizer: {exc}") from exc
        if not _is_real(est.learning_rate) or not 0 < est.learning_rate < np.inf:
            raise ValueError(
                f"learning_rate must be a positive number, received {est.learning_rate!r}."
            )
        if not (est.batch_size == "auto" or (_is_int(est.batch_size) and est.batch_size >= 1)):
            raise ValueError(
                f"batch_size must be 'auto' or a positive integer, received {est.batch_size!r}."
            )
        self.epochs = _positive_int(est.epochs, "epochs")
        if not _is_real(est.dropout) or not 0 <= est.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), received {est.dropout!r}.")
        if not _is_real(est.l2) or not 0 <= est.l2 < np.inf:
            raise ValueError(f"l2 must be a non-negative number, received {est.l2!r}.")
        if not isinstance(est.early_stopping, bool | np.bool_):
            raise ValueError(
                f"early_stopping must be True or False, received {est.early_stopping!r}."
            )
        if not _is_real(est.validation_fraction) or not 0 < est.validation_fraction < 1:
            raise ValueError(
                "validation_fraction must be a number in (0, 1), received "
                f"{est.validation_fraction!r}."
            )
        if not _is_int(est.patience) or est.patience < 0:
            raise ValueError(f"patience must be a non-negative integer, received {est.patience!r}.")
        if est.verbose not in (0, 1, 2):  # True and False are 1 and 0
            raise ValueError(f"verbose must be 0, 1 or 2, received {est.verbose!r}.")
        if est.backend is not None and (
            not isinstance(est.backend, str) or est.backend.lower() not in BACKENDS
        ):
            raise ValueError(
                f"backend must be None (NN_BACKEND, or the active backend) or one of "
                f"{', '.join(map(repr, BACKENDS))}, received {est.backend!r}."
            )
        try:
            self.dtype = None if est.dtype is None else np.dtype(est.dtype).name
        except TypeError:
            self.dtype = "unknown"
        if self.dtype not in (None, "float32", "float64"):
            raise ValueError(
                f"dtype must be None (X's: float32 stays float32, anything else is float64), "
                f"'float32' or 'float64', received {est.dtype!r}."
            )
        self.est = est

    def optimizer(self) -> optimizers.Optimizer:
        """A fresh optimizer (one per model: an optimizer holds its model's moments)."""
        opt = optimizers.from_config(self.optimizer_config)
        opt.learning_rate = float(self.est.learning_rate)
        return opt

    def batch_size(self, n: int) -> int:
        # "auto" is MLPClassifier's: min(200, n). A larger int is one batch of n (Keras).
        return min(200, n) if self.est.batch_size == "auto" else int(self.est.batch_size)


def _positive_int(value: Any, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, received {value!r}.")
    return int(value)


def _sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """Checked weights scaled to mean 1 (None stays None).

    Keras averages ``w_i * loss_i`` over the batch; MLPClassifier divides by the sum of the
    weights instead. Scaling to mean 1 makes the two agree on a full batch: integer weights
    then train exactly as repeating the samples would (scikit-learn's check of weights).
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_weight must be numbers, received {sample_weight!r}.") from exc
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per sample, received shape "
            f"{w.shape}."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative.")
    total = w.sum()
    if total <= 0:
        raise ValueError(
            "sample_weight is zero for every sample; at least one weight must be positive."
        )
    return w * (n / total)


class _ValidationScores(Callback):
    """After each epoch: the estimator's score (accuracy, R^2) on the held-out samples, as
    MLPClassifier's ``validation_scores_``."""

    def __init__(self, score: Any, x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> None:
        super().__init__()
        self.score, self.x, self.y, self.w = score, x, y, w
        self.scores: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        outputs = self.model.predict(self.x, batch_size=_PREDICT_BATCH)
        self.scores.append(self.score(outputs, self.y, self.w))


# -- the fitted model as plain arrays, for pickle -------------------------------------------
# The same content a .xpnn file holds (saving.py), kept in memory: the config, the flat
# parameter and state buffers, the optimizer's config and moments, the shuffling generator.
def _model_arrays(model: Sequential) -> dict[str, Any]:
    return {
        "config": model.get_config(),
        "params": to_numpy(model._params),
        "state": to_numpy(model._state),
        "optimizer": model.optimizer.get_config(),
        "optimizer_state": model.optimizer.get_state(),
        "loss": model.loss.get_config(),
        "rng_state": model._rng.bit_generator.state,
    }


def _model_from_arrays(saved: dict[str, Any]) -> Sequential:
    """The model ``_model_arrays`` describes, on the active backend."""
    model = Sequential.from_config(saved["config"])
    model._build(saved["config"]["input_dim"], draw=False)  # zeros, overwritten next
    model._params[...] = to_device(saved["params"], dtype=model.dtype)
    if saved["state"].size:
        model._state[...] = to_device(saved["state"], dtype=model.dtype)
    model._set_rng_state(saved["rng_state"])
    model.compile(
        optimizer=optimizers.from_config(saved["optimizer"]),
        loss=losses.from_config(saved["loss"]),
    )
    model.optimizer.set_state(saved["optimizer_state"], model._params)
    return model


class _NeuralNet(BaseEstimator):
    """What the classifier and the regressor share: parameters, fit, predict, pickling."""

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "relu",
        optimizer: str | optimizers.Optimizer = "adam",
        learning_rate: float = 1e-3,
        batch_size: int | str = "auto",
        epochs: int = 200,
        dropout: float = 0.0,
        l2: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        backend: str | None = None,
        dtype: str | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.l2 = l2
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.dtype = dtype

    # -- what the subclasses define ---------------------------------------------------------
    _stratify = False  # whether the early-stopping split keeps the class proportions

    def _encode(self, y: np.ndarray, first: bool, classes: Any, incremental: bool) -> np.ndarray:
        """Targets as the model trains on them; on the first fit, sets the target attributes
        (``classes_``, ``n_outputs_``, the output layer and loss in ``_output``)."""
        raise NotImplementedError

    def _check_weighted(self, y_encoded: np.ndarray, w: np.ndarray | None) -> None:
        """Refuse targets that leave nothing to learn once weighted (classifier)."""

    def _score_outputs(self, outputs: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        raise NotImplementedError

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _NeuralNet:
        """Train a new network on ``X``, ``y`` for ``epochs`` epochs (fewer with
        ``early_stopping``).

        Args:
            X: array-like of shape (n_samples, n_features).
            y: targets (see the class's docstring).
            sample_weight: one non-negative weight per sample, or None.

        Returns:
            self, fitted.
        """
        return self._fit(X, y, sample_weight, incremental=False, classes=None)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any) -> Any:
        settings = _Settings(self)
        first = not (incremental and hasattr(self, "model_"))
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True (it trains one epoch on the "
                "data it is given); use fit, or set early_stopping=False."
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=isinstance(self, RegressorMixin),
        )
        if y.ndim == 2 and y.shape[1] == 1 and not self._keeps_column(y):
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y[:, 0]
        n = X.shape[0]
        w = _sample_weight(sample_weight, n)
        y_model = self._encode(y, first, classes, incremental)
        if not incremental:
            self._check_weighted(y_model, w)

        if first:
            # the random_state seeds the weights, the shuffling, dropout and the split
            seed = int(check_random_state(self.random_state).randint(_SEED_RANGE))
            self._backend_name = (self.backend or get_backend().name).lower()
            dtype = settings.dtype or ("float32" if X.dtype == np.float32 else "float64")
            with use_backend(self._backend_name):
                model = self._build(settings, X.shape[1], dtype, seed)
            self.history_: dict[str, list[float]] = {}
            self.loss_curve_: list[float] = []
            self.validation_scores_: list[float] | None = None
            self.best_validation_score_: float | None = None
        else:
            model, seed = self.model_, None

        callbacks: list[Callback] = []
        validation = None
        if self.early_stopping:
            train, val = self._split(y_model, seed)
            w_val = None if w is None else _mean_one(w[val])
            validation = (X[val], y_model[val]) + (() if w_val is None else (w_val,))
            scores = _ValidationScores(self._score_outputs, X[val], y[val], w_val)
            stopping = EarlyStopping(
                monitor="val_loss", patience=int(self.patience), restore_best_weights=True
            )
            callbacks = [scores, stopping]
            X, y_model = X[train], y_model[train]
            w = None if w is None else _mean_one(w[train])

        with use_backend(self._backend_name):
            history = model.fit(
                X,
                y_model,
                batch_size=settings.batch_size(X.shape[0]),
                epochs=1 if incremental else settings.epochs,
                verbose=int(self.verbose),
                callbacks=callbacks,
                validation_data=validation,
                sample_weight=w,
            )
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_.extend(history.history["loss"])
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = len(history.history["loss"]) + (0 if first else self.n_iter_)
        if callbacks:
            self.validation_scores_ = scores.scores
            # the score of the weights EarlyStopping kept: those of the lowest val_loss (a
            # NaN never improves), or the last when none is finite
            val_loss = np.asarray(history.history["val_loss"])
            finite = np.where(np.isfinite(val_loss), val_loss, np.inf)
            best = int(np.argmin(finite)) if np.isfinite(finite).any() else len(val_loss) - 1
            self.best_validation_score_ = scores.scores[best]
        self.model_ = model
        return self

    def _keeps_column(self, y: np.ndarray) -> bool:
        """Whether a (n, 1) y is a one-column target in its own right (no warning)."""
        return False

    def _split(self, y_model: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation rows for early stopping: shuffled with the random_state
        and, for classes, stratified (MLPClassifier's split). Keras's validation_split would
        take the last rows as they come, which for sorted data is one class only."""
        n = y_model.shape[0]
        stratify = y_model if self._stratify else None
        try:
            return train_test_split(
                np.arange(n),
                test_size=self.validation_fraction,
                random_state=seed,
                stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping could not hold out validation_fraction="
                f"{self.validation_fraction} of the {n} samples: {exc} Increase "
                "validation_fraction or the size of the data set, or set early_stopping=False."
            ) from exc

    def _build(self, settings: _Settings, n_features: int, dtype: str, seed: int) -> Sequential:
        units, activation, loss = self._output
        reg = regularizers.L2(float(self.l2)) if self.l2 > 0 else None
        layers: list[Any] = [Input((n_features,))]
        for h in settings.hidden:
            layers.append(Dense(h, settings.activation, kernel_regularizer=reg))
            if self.dropout > 0:
                layers.append(Dropout(float(self.dropout)))
        layers.append(Dense(units, activation, kernel_regularizer=reg))
        model = Sequential(layers, dtype=dtype, seed=seed)
        model.compile(optimizer=settings.optimizer(), loss=loss)
        return model

    # -- predict -----------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's outputs for X (probabilities or logits; values for regression)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with use_backend(self._backend_name):
            return self.model_.predict(X, batch_size=_PREDICT_BATCH)

    # -- pickle -----------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # The model holds device arrays and its step's buffers; what it is fits in plain
        # arrays (as in a .xpnn file), rebuilt on unpickling.
        state = dict(super().__getstate__())  # object.__getstate__ gives __dict__ itself
        model = state.pop("model_", None)
        if model is not None:
            with use_backend(self._backend_name):
                state["_model_arrays"] = _model_arrays(model)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        saved = state.pop("_model_arrays", None)
        super().__setstate__(state)
        if saved is not None:
            # on the backend asked for, else the one active here: a model fitted on a GPU
            # loads on a machine without one
            self._backend_name = (self.backend or get_backend().name).lower()
            with use_backend(self._backend_name):
                self.model_ = _model_from_arrays(saved)


def _mean_one(w: np.ndarray) -> np.ndarray:
    """Weights rescaled to mean 1 (all-zero weights stay zero)."""
    total = w.sum()
    return w * (len(w) / total) if total > 0 else w


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A feed-forward network classifier on NumPy or CuPy, with scikit-learn's API.

    Binary, multiclass (labels of any type: strings, integers) and multi-label (a 0/1 matrix
    ``(n_samples, n_labels)``) targets; see the module's table for the output layer and loss.

    Args:
        hidden_layer_sizes: units of each hidden ``Dense`` layer; ``()`` for none.
        activation: of the hidden layers: ``"relu"``, ``"tanh"``, ``"sigmoid"`` (or
            ``"logistic"``), ``"linear"`` (or ``"identity"``).
        optimizer: ``"adam"``, ``"sgd"``, ``"rmsprop"`` (any name of ``xpnn.optimizers``), or
            an xpnn optimizer, copied with its settings and this ``learning_rate``.
        learning_rate: the optimizer's learning rate.
        batch_size: samples per step; ``"auto"`` is ``min(200, n_samples)`` (MLPClassifier's).
        epochs: passes over the data (``fit``); ``partial_fit`` makes one.
        dropout: if positive, a ``Dropout(dropout)`` after each hidden layer.
        l2: if positive, ``kernel_regularizer=L2(l2)`` on every ``Dense``: Keras's penalty
            ``l2 * sum(W**2)`` added to each batch's loss (MLPClassifier's ``alpha`` is
            ``alpha / 2 * sum(W**2) / n_samples``).
        early_stopping: hold out ``validation_fraction`` of the samples (stratified, shuffled
            with ``random_state``) and stop when ``val_loss`` has not improved for
            ``patience`` epochs, keeping the best weights.
        validation_fraction: the held-out share, in (0, 1).
        patience: epochs without improvement before stopping.
        random_state: seeds the weights, shuffling, dropout and the validation split: an int
            (reproducible), a ``RandomState``, or None.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        backend: ``"numpy"``, ``"cupy"`` or ``"strict"``; None uses ``NN_BACKEND`` (the active
            backend) at fit time.
        dtype: ``"float32"`` or ``"float64"``; None follows X as MLPClassifier does (float32
            stays float32, anything else is float64). Pass float32 X, or ``dtype="float32"``,
            for speed, above all on a GPU.

    Attributes:
        classes_: the class labels (``arange(n_labels)`` for multi-label targets).
        model_: the trained ``xpnn.Sequential`` (``model_.save(path)`` saves it).
        loss_curve_: the training loss of each epoch (with the ``l2`` penalty).
        validation_scores_: with ``early_stopping``, the accuracy on the held-out samples
            after each epoch (else None); ``best_validation_score_`` that of the kept weights.
        history_: the epochs' logs as Keras's ``History.history`` (``loss``, ``val_loss``).
        n_iter_: the epochs trained; ``loss_`` the last epoch's loss; ``n_features_in_``,
            ``feature_names_in_`` as in scikit-learn.
    """

    _stratify = True

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> NeuralNetClassifier:
        """Train one epoch on ``X``, ``y``, continuing from the current weights and optimizer
        state (a new network on the first call).

        Args:
            X: array-like of shape (n_samples, n_features).
            y: labels, all among ``classes``.
            classes: every class label, required on the first call (unless y is a
                multi-label matrix, whose columns are the classes).
            sample_weight: one non-negative weight per sample, or None.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode(self, y: np.ndarray, first: bool, classes: Any, incremental: bool) -> np.ndarray:
        check_classification_targets(y)  # "Unknown label type" for continuous targets
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                "NeuralNetClassifier takes binary, multiclass or multi-label (a 0/1 matrix) "
                f"targets, received {kind} targets of shape {y.shape}."
            )
        if first:
            self._set_classes(y, kind, classes, incremental)
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={classes!r} differs from the classes of the first partial_fit call, "
                f"{self.classes_.tolist()}."
            )
        if self._kind == "multilabel":
            if kind != "multilabel-indicator" or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"NeuralNetClassifier was fitted on a multi-label matrix of "
                    f"{len(self.classes_)} columns, received y of shape {y.shape}."
                )
            return y.astype(np.float64)
        if kind == "multilabel-indicator":
            raise ValueError(
                "NeuralNetClassifier was fitted on class labels, received a multi-label "
                f"matrix of shape {y.shape}."
            )
        index = np.minimum(np.searchsorted(self.classes_, y), len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels that are not among classes_ {self.classes_.tolist()}: "
                f"{np.unique(y[unknown]).tolist()}."
            )
        # class indices for sparse cross-entropy; 0/1 for the sigmoid of two classes
        return index if self._kind == "multiclass" else index.astype(np.float64)

    def _set_classes(self, y: np.ndarray, kind: str, classes: Any, incremental: bool) -> None:
        if kind == "multilabel-indicator":
            self._kind, self._label_dtype = "multilabel", y.dtype
            self.classes_ = np.arange(y.shape[1])
        else:
            if incremental and classes is None:
                raise ValueError(
                    "classes must be given on the first call to partial_fit: every label y "
                    "may hold, e.g. classes=np.unique(y_all)."
                )
            labels = unique_labels(y if classes is None else classes)
            if len(labels) < 2:
                raise ValueError(
                    "NeuralNetClassifier needs samples of at least 2 classes; y holds 1 class "
                    f"({labels[0]!r})."
                )
            self._kind = "binary" if len(labels) == 2 else "multiclass"
            self.classes_ = labels
        self.n_outputs_ = 1 if self._kind == "binary" else len(self.classes_)
        if self._kind == "multiclass":
            self._output = (
                self.n_outputs_,
                None,  # logits: softmax is in the loss and in predict_proba
                losses.SparseCategoricalCrossentropy(from_logits=True),
            )
        else:
            self._output = (self.n_outputs_, "sigmoid", losses.BinaryCrossentropy())

    def _check_weighted(self, y_model: np.ndarray, w: np.ndarray | None) -> None:
        if w is None or self._kind == "multilabel":
            return
        present = np.unique(y_model[w > 0])
        if len(present) < 2:
            raise ValueError(
                "NeuralNetClassifier needs samples of at least 2 classes with a positive "
                f"sample_weight; only 1 class ({self.classes_[int(present[0])]!r}) has one."
            )

    # -- outputs to labels and probabilities ----------------------------------------------------
    def _proba(self, outputs: np.ndarray) -> np.ndarray:
        if self._kind == "binary":
            p = outputs[:, 0]
            return np.stack([1 - p, p], axis=1)
        if self._kind == "multiclass":  # softmax of the logits
            e = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return outputs

    def _labels(self, outputs: np.ndarray) -> np.ndarray:
        if self._kind == "binary":
            return self.classes_[(outputs[:, 0] > 0.5).astype(np.intp)]
        if self._kind == "multiclass":
            return self.classes_[np.argmax(outputs, axis=1)]
        return (outputs > 0.5).astype(self._label_dtype)

    def _score_outputs(self, outputs: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        return float(accuracy_score(y, self._labels(outputs), sample_weight=w))

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of each sample (a 0/1 row per sample for multi-label targets).

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            Labels of shape (n_samples,), or (n_samples, n_labels) for multi-label targets.
        """
        return self._labels(self._outputs(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_`` (multi-label: each
        label's own probability).

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            Array of shape (n_samples, n_classes).
        """
        return self._proba(self._outputs(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The log of ``predict_proba`` (for many classes, the log-softmax of the logits,
        finite where the probabilities underflow).

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            Array of shape (n_samples, n_classes).
        """
        outputs = self._outputs(X)
        if self._kind == "multiclass":
            z = outputs - outputs.max(axis=1, keepdims=True)
            return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        with np.errstate(divide="ignore"):
            return np.log(self._proba(outputs))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A feed-forward network regressor on NumPy or CuPy, with scikit-learn's API.

    Single-output (``y`` of shape ``(n_samples,)``) and multi-output (``(n_samples, k)``)
    regression: a linear output layer and the mean squared error. The targets are used as
    they are: scale them (``TransformedTargetRegressor`` with a ``StandardScaler``) when
    they are far from unit size.

    Args:
        hidden_layer_sizes, activation, optimizer, learning_rate, batch_size, epochs, dropout,
        l2, early_stopping, validation_fraction, patience, random_state, verbose, backend,
        dtype: as ``NeuralNetClassifier``'s (the early-stopping split is shuffled, not
        stratified, and ``validation_scores_`` holds R^2).

    Attributes:
        n_outputs_: the number of targets; ``predict`` returns y's shape.
        model_, loss_curve_, validation_scores_, best_validation_score_, history_, n_iter_,
        loss_, n_features_in_, feature_names_in_: as ``NeuralNetClassifier``'s.
    """

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NeuralNetRegressor:
        """Train one epoch on ``X``, ``y``, continuing from the current weights and optimizer
        state (a new network on the first call).

        Args:
            X: array-like of shape (n_samples, n_features).
            y: targets of shape (n_samples,) or (n_samples, n_outputs).
            sample_weight: one non-negative weight per sample, or None.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=None)

    def _keeps_column(self, y: np.ndarray) -> bool:
        return True  # (n, 1) is one target column; predict returns (n, 1) for it

    def _encode(self, y: np.ndarray, first: bool, classes: Any, incremental: bool) -> np.ndarray:
        outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self._one_dimensional = y.ndim == 1
            self.n_outputs_ = outputs
            self._output = (outputs, None, losses.MeanSquaredError())
        elif outputs != self.n_outputs_ or (y.ndim == 1) != self._one_dimensional:
            expected = (
                "(n_samples,)" if self._one_dimensional else f"(n_samples, {self.n_outputs_})"
            )
            raise ValueError(
                f"NeuralNetRegressor was fitted on y of shape {expected}, received y of shape "
                f"{y.shape}."
            )
        return y.astype(np.float64, copy=False)

    def _values(self, outputs: np.ndarray) -> np.ndarray:
        return outputs[:, 0] if self._one_dimensional else outputs

    def _score_outputs(self, outputs: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        return float(r2_score(y, self._values(outputs), sample_weight=w))

    def predict(self, X: Any) -> np.ndarray:
        """The predicted targets.

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            Array of shape (n_samples,) or (n_samples, n_outputs), as y was.
        """
        return self._values(self._outputs(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
