"""``Sequential``: a list of layers, its weights, and ``fit``/``evaluate``/``predict`` as thin
edges, as in Keras 3.

The model knows its layers only through the layer protocol (layers/base.py). All trainable
parameters live in one flat buffer (``_params``) with per-layer views, their gradients likewise
(``_grads``), so the optimizer updates everything in one pass; non-trainable state (moving
statistics) has a flat buffer of its own (``_state``), saved with the model and never seen by
the optimizer. The step and the epoch loop are in training.py, the edge checks in inputs.py.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import weakref
from functools import partial
from typing import Any

import numpy as np

from . import distributed, inputs, weights
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .backend import array_module, get_backend, to_device, to_numpy
from .callbacks import Callback, History, ProgressBar, begin_training
from .layers import Input, Layer, deserialize
from .layers.dense import check_kernel_form
from .summary import summary_text
from .training import Trainer, evaluate_arrays, predict_arrays

__all__ = ["Sequential", "set_random_seed"]

_seed_source = np.random.SeedSequence()


def set_random_seed(seed: int) -> None:
    """Seed the generator that models without an explicit ``seed`` draw from (like
    ``keras.utils.set_random_seed``): models built after this get reproducible weights."""
    global _seed_source
    _seed_source = np.random.SeedSequence(seed)


class Sequential:
    """A linear stack of layers.

    Args:
        layers: an optional ``Input`` followed by layers (``Dense``, or any ``Layer``).
        name: the model's name.
        kernel: ``"matrix"`` (batched matmul, default) or ``"loop"`` (the per-neuron textbook
            form) for every layer that does not choose its own ``kernel_form``.
        dtype: ``"float32"`` (default) or ``"float64"``.
        seed: seeds weight initialisation and shuffling; None draws from
            ``set_random_seed``'s generator (when the model first needs it).
    """

    def __init__(
        self,
        layers: list[Any] | None = None,
        name: str | None = None,
        kernel: str = "matrix",
        dtype: str = "float32",
        seed: int | None = None,
    ) -> None:
        self.name = name or "sequential"
        if check_kernel_form(kernel, "kernel") is None:
            raise ValueError("kernel must be 'loop' or 'matrix', received None.")
        self.kernel = kernel
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', received {dtype!r}.")
        self.dtype = np.dtype(str(dtype))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be an integer or None, received {seed!r}.")
        self.seed = seed
        self._generator: np.random.Generator | None = None
        self.layers: list[Layer] = []
        self.input_dim: int | None = None
        self.sample_shape: tuple[int, ...] | None = None  # one sample's shape, if not flat
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.metrics: list[metrics_module.Metric] = []
        self._metric_names: list[str] = []
        self._metric_weighted: list[bool] = []  # weighted_metrics: by sample_weight
        self.jit_compile = False
        self.stop_training = False
        self.history: History | None = None
        self._params: Any = None
        self._grads: Any = None
        self._state: Any = None
        self._xp: Any = None
        self._trainer: Trainer | None = None  # the step's buffers (and graphs), kept by fit
        # the last x fit searched whole for NaN and infinity (a weak reference: see fit)
        self._scanned: weakref.ref | None = None
        if layers is not None:
            if not isinstance(layers, list | tuple):
                raise TypeError(
                    f"layers must be a list of layers, received {type(layers).__name__}."
                )
            for layer in layers:
                self.add(layer, _build=False)
        if self.input_dim is not None and self.layers:
            self.build((None, self.input_dim))

    @property
    def _rng(self) -> np.random.Generator:
        """Weight initialisation and shuffling; created on first use, so that a model that
        never draws (one being loaded) takes nothing from the global seed sequence."""
        if self._generator is None:
            source = self.seed if self.seed is not None else _seed_source.spawn(1)[0]
            self._generator = np.random.default_rng(source)
        return self._generator

    def _set_rng_state(self, state: dict[str, Any]) -> None:
        generator = np.random.Generator(np.random.PCG64())
        generator.bit_generator.state = state
        self._generator = generator

    # -- structure ------------------------------------------------------------------------
    def add(self, layer: Layer | Input, _build: bool = True) -> None:
        """Append a layer: an ``Input`` first (then the model builds as layers arrive, as in
        Keras), then layers. Adding to a built model keeps the existing weights."""
        if isinstance(layer, Input):
            if self.layers or self.input_dim is not None:
                raise ValueError(
                    "Input can only be the first entry of a Sequential model; this one already "
                    f"has {'layers' if self.layers else 'an input'}."
                )
            self._declare_input(layer.shape)
            return
        _check_layer(layer)
        if not self.layers and self.input_dim is None and layer.declared_input_shape:
            self._declare_input(layer.declared_input_shape)  # Keras's Dense(8, input_shape=...)
        if layer.declared_dtype is not None and layer.declared_dtype != self.dtype.name:
            raise ValueError(
                f"Layer {layer.name or type(layer).__name__!r} asks for dtype "
                f"{layer.declared_dtype!r}; an xpnn model has one dtype, "
                f"Sequential(dtype={self.dtype.name!r}): set it there."
            )
        if self.sample_shape is not None and not self.layers and not _flattens(layer):
            raise NotImplementedError(
                f"A sample of shape {self.sample_shape} reaches {type(layer).__name__} "
                "unflattened; Keras would apply it along the last axis, which is outside "
                "xpnn's subset of dense networks on flat samples: put Flatten() first."
            )
        taken = {lyr.name for lyr in self.layers}
        if layer.name is None:
            base, k = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower(), 0
            while (candidate := base if k == 0 else f"{base}_{k}") in taken:
                k += 1
            layer.name = candidate
        elif layer.name in taken:
            raise ValueError(f"Layer names must be unique; {layer.name!r} is used twice.")
        self.layers.append(layer)
        if _build and self.input_dim is not None:
            self.build((None, self.input_dim))

    def _declare_input(self, shape: tuple[int, ...]) -> None:
        """The input the model takes: ``(features,)``, or one sample's shape, which a Flatten
        first layer turns into ``prod(shape)`` features at the edge."""
        self.input_dim = math.prod(shape)
        self.sample_shape = tuple(shape) if len(shape) > 1 else None

    def _flatten(self, x: Any, where: str) -> Any:
        """Samples of ``sample_shape`` as rows of features: where a ``Flatten`` first layer
        does its work (inputs.flatten_samples)."""
        if x is None or not self.layers or not _flattens(self.layers[0]):
            return x
        return inputs.flatten_samples(self, x, where)

    @property
    def built(self) -> bool:
        return self._params is not None

    @property
    def output_units(self) -> int:
        if self.input_dim is None:
            return _last_units(self.layers)
        dim = self.input_dim
        for layer in self.layers:
            dim = layer.output_dim(dim)
        return dim

    def build(self, input_shape: tuple[int | None, ...] | int) -> None:
        """Create the weights for inputs of ``input_shape`` (``(None, features)`` or
        ``features``), drawn on the host from the model's seed and moved to the backend.

        As in Keras, a built model keeps its weights: building again with the same shape
        changes nothing (layers added since are built, the others keep their weights), and a
        different feature count is refused."""
        if not self.layers:
            raise ValueError("The model has no layers to build; add layers first.")
        if not isinstance(input_shape, numbers.Integral) and len(input_shape) > 2:
            if self.input_dim is None:  # Keras's build((None, 28, 28)) before a Flatten
                self._declare_input(tuple(input_shape[1:]))
            input_shape = (None, math.prod(input_shape[1:]))
        features = input_shape if isinstance(input_shape, numbers.Integral) else input_shape[-1]
        features = inputs.positive_int(features, "The input feature count")
        if self.input_dim is not None and features != self.input_dim:
            raise ValueError(
                f"Sequential model {self.name!r} has already been configured to use input shape "
                f"(None, {self.input_dim}). You cannot build it with input_shape "
                f"(None, {features})."
            )
        self._build(features)

    def _build(self, input_dim: int, draw: bool = True) -> None:
        """Allocate the flat buffers; new layers' weights are drawn (``draw``) or zeros."""
        if self.built and self._built_layers == len(self.layers):
            return
        xp = get_backend().xp
        if self.built and self._xp is not xp:
            raise RuntimeError(
                f"This model's weights live on another backend than the active one "
                f"({get_backend().name}); add its layers on that backend."
            )
        self.input_dim = input_dim
        for layer in self.layers:
            if hasattr(layer, "default_form"):  # layers with kernel twins follow the model's
                layer.default_form = self.kernel
        old = (self._params, self._state, self._built_layers) if self.built else None
        rng = self._rng if draw else None
        self._params, self._grads, self._state = weights.allocate(
            self.layers, input_dim, self.dtype, xp, rng, old
        )
        self._xp = xp
        self._built_layers = len(self.layers)
        self._trainer = None  # its buffers and graphs point at the old arrays
        if self.optimizer is not None:
            self.optimizer.build(self._params, segments=weights.segments(self.layers))

    def count_params(self) -> int:
        """Trainable plus non-trainable numbers, as Keras counts them (a layer's internal
        state that Keras does not list as weights, such as Dropout's seed, is left out)."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    # -- compile --------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: str | losses_module.Loss | None = None,
        metrics: list[Any] | None = None,
        jit_compile: bool | str = False,
        weighted_metrics: list[Any] | None = None,
    ) -> None:
        """Set the optimizer (default ``"rmsprop"``, as Keras), loss and metrics.

        ``metrics`` and ``weighted_metrics`` take names (``"accuracy"``, ``"mae"``, ...) or
        ``xpnn.metrics`` instances; as in Keras 3, ``sample_weight`` and ``class_weight`` weight
        the loss and ``weighted_metrics``, not ``metrics``. Each metric's ``name`` is its key
        in the History.

        ``jit_compile=True`` records the training step once as a CUDA graph on the CuPy
        backend and replays it for every batch (graphs.py): one launch per step instead of
        dozens, which is what a small network's step costs on a GPU. On NumPy there is no
        graph to record and it changes nothing. It is off by default (``"auto"`` means off
        too) until the GPU check has measured it on hardware; if recording fails, fit warns
        once and trains eagerly.
        """
        if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
            raise ValueError(
                f"jit_compile must be True, False or 'auto', received {jit_compile!r}."
            )
        if loss is None:
            raise ValueError(
                "compile() needs a loss, e.g. loss=xpnn.losses.BinaryCrossentropy() or "
                f"one of: {', '.join(losses_module.names())}."
            )
        if not self.layers:
            raise ValueError("Add layers to the model before compiling it.")
        optimizer = optimizers_module.get(optimizer)
        optimizer.bind(self)
        # As in Keras, compiling again with the same optimizer instance keeps its state (the
        # moments, the step count); a new optimizer starts fresh.
        keep = (
            optimizer is self.optimizer
            and self.built
            and optimizer._shape == tuple(self._params.shape)
        )
        self.optimizer = optimizer
        self.loss = losses_module.get(loss)
        resolved = metrics_module.resolve(metrics, weighted_metrics, self.loss, self.output_units)
        self.metrics = [m for m, _ in resolved]
        self._metric_names = [m.name for m in self.metrics]
        self._metric_weighted = [w for _, w in resolved]
        self.jit_compile = jit_compile is True
        self._trainer = None
        if self.built and not keep:
            self.optimizer.build(self._params, segments=weights.segments(self.layers))

    def _require_compiled(self, where: str) -> None:
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(
                f"You must call compile() before {where}(), e.g. "
                "model.compile(optimizer='adam', loss='binary_crossentropy')."
            )

    def _require_built(self, where: str) -> None:
        if not self.built:
            raise ValueError(
                f"The model has no weights yet, so {where}() cannot run: give it an Input, "
                "call build((None, features)), or fit/predict on data first."
            )

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self.build((None, x.shape[1]))
        elif self._xp is not get_backend().xp:
            raise RuntimeError(
                f"This model's weights live on another backend than the active one "
                f"({get_backend().name}); save and load_model it on the new backend."
            )

    def _check_xy(self, x: Any, y: Any, where: str, scan: bool = True) -> tuple[Any, Any]:
        x = self._flatten(x, where)
        return inputs.check_xy(
            x, y, where, self.input_dim, self.dtype, self.loss, self.output_units, scan
        )

    # -- forward --------------------------------------------------------------------------
    def __call__(self, x: Any, training: bool = False) -> Any:
        """Forward on backend arrays; returns the output on the same backend."""
        if not self.built:
            self.build((None, x.shape[-1]))
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = 32,
        epochs: int = 1,
        verbose: int = 1,
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train with mini-batch gradient descent; returns a ``History``.

        Args follow Keras: ``validation_split`` holds out the *last* fraction of the samples
        (before shuffling); ``validation_data=(x_val, y_val)`` overrides it; ``shuffle``
        reshuffles every epoch from the model's seeded generator; ``verbose`` 0 silent, 1 a
        progress bar, 2 one line per epoch; training runs epochs ``initial_epoch..epochs-1``;
        ``sample_weight`` (one weight per sample) or ``class_weight`` (``{class: weight}``)
        weight the loss and metrics (``validation_data`` may carry its own weights as a third
        entry).
        """
        self._require_compiled("fit")
        batch_size, epochs, callbacks = inputs.check_fit_args(
            batch_size, epochs, verbose, validation_split, initial_epoch, callbacks, Callback
        )
        dist = distributed.current()
        # The search of x for NaN and infinity reads all of it, 2% of an epoch on MNIST. Given
        # the same array again, fit leaves the search to the compiled pass, which checks every
        # batch's values as it gathers them, before the step that would use them (training.py
        # Trainer.run): all of x in every epoch, and what was changed in place since. Only a
        # NumPy array of the model's dtype (not a converted copy), on the host backend, with
        # nothing held out of it for validation, and in one process.
        raw = x
        scanned = self._scanned() if self._scanned is not None else None
        deferred = (
            scanned is raw
            and type(raw) is np.ndarray
            and raw.dtype == self.dtype
            and self._xp is np
            and not validation_split
            and dist is None
        )
        x, y, w, validation = inputs.fit_data(
            self,
            x,
            y,
            sample_weight,
            class_weight,
            validation_split,
            validation_data,
            scan=not deferred,
        )
        if type(raw) is np.ndarray:
            self._scanned = weakref.ref(raw)
        scan = partial(inputs.scan_x, x, x, "fit()") if deferred else None

        if dist is not None:  # data-parallel: every rank starts from rank 0's replica
            dist.agree((x.shape, None if w is None else True), "the training data's shape")
            distributed.sync_replicas(self, dist)
            verbose = verbose if dist.is_main else 0  # rank 0 prints for the job

        # The data go to the device once; batches are gathered there.
        X, Y, W = to_device(x), to_device(y), None if w is None else to_device(w)
        if validation is not None:
            validation = tuple(None if v is None else to_device(v) for v in validation)
        trainer = Trainer.for_model(self, tuple(Y.shape[1:]), Y.dtype, W is not None, dist)

        steps = math.ceil(X.shape[0] / batch_size)
        keys = ["loss", *self._metric_names]
        keys += [f"val_{k}" for k in keys] if validation is not None else []
        callbacks, self.history = begin_training(
            callbacks, self, {"verbose": verbose, "epochs": epochs, "steps": steps}, keys
        )
        self.stop_training = False
        progress = ProgressBar(verbose, epochs, steps)
        epoch_range = range(initial_epoch, epochs)
        logs = trainer.run(
            X, Y, W, validation, batch_size, epoch_range, shuffle, callbacks, progress, scan
        )
        for cb in callbacks:
            cb.on_train_end(logs)
        return self.history

    # -- evaluate and predict ---------------------------------------------------------------
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = 32,
        verbose: int = 0,
        sample_weight: Any = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss (and metrics) on ``x, y``: a float without metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``), as in Keras."""
        self._require_compiled("evaluate")
        batch_size = inputs.positive_int(32 if batch_size is None else batch_size, "batch_size")
        x, y = self._check_xy(x, y, "evaluate()")
        self._ensure_built(x)
        w = inputs.sample_weights(sample_weight, None, y, x.shape[0], "evaluate()", self.dtype)
        W = None if w is None else to_device(w)
        dist = distributed.current()
        logs = evaluate_arrays(self, to_device(x), to_device(y), W, batch_size, dist)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else list(logs.values())

    def predict(self, x: Any, batch_size: int | None = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array, whatever the backend."""
        batch_size = inputs.positive_int(32 if batch_size is None else batch_size, "batch_size")
        x, dist = self._flatten(x, "predict()"), distributed.current()
        # every rank checks all the rows (all raise alike); alone, predict_arrays may skip it
        checked = inputs.check_x(x, "predict()", self.input_dim, self.dtype, dist is not None)
        self._ensure_built(checked)
        scan = None
        if dist is None and array_module(checked) is np:  # host data: scanned where it must be
            original = np.asarray(x)
            if original.dtype.kind == "f":  # (integers are finite)
                scan = partial(inputs.scan_x, original, checked, "predict()")
        n = checked.shape[0]
        if dist is not None:  # each rank predicts its share; every rank gets all the rows
            lo, hi = distributed.shares(n, dist.size)[dist.rank]
            checked = checked[lo:hi]
        part = to_numpy(predict_arrays(self, to_device(checked), batch_size, scan))  # one copy
        return part if dist is None else dist.gather_rows(part, n)

    # -- weights ----------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """``[W1, b1, W2, b2, ...]`` as NumPy arrays, ``W`` shaped ``(inputs, units)``;
        a layer's non-trainable state follows its parameters, as in Keras."""
        self._require_built("get_weights")
        return weights.get_weights(self.layers, self._params, self._state)

    def set_weights(self, weights_: list[Any]) -> None:
        """Load ``get_weights()``-ordered arrays (e.g. from Keras); every shape is checked,
        and nothing is written unless all pass."""
        self._require_built("set_weights")
        weights.set_weights(self.layers, self._params, self._state, weights_)

    # -- summary, config, saving ------------------------------------------------------------
    def summary(self, print_fn: Any = print) -> None:
        """Print the layers, output shapes and parameter counts, laid out as Keras does."""
        print_fn(summary_text(self))

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kernel": self.kernel,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "input_dim": self.input_dim,
            "sample_shape": None if self.sample_shape is None else list(self.sample_shape),
            "layers": [layer.get_config() for layer in self.layers],
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Sequential:
        """An unbuilt model from ``get_config()`` (nothing allocated, nothing drawn)."""
        model = cls(
            name=config["name"], kernel=config["kernel"], dtype=config["dtype"], seed=config["seed"]
        )
        shape = config.get("sample_shape")
        if shape is not None:
            model.add(Input(tuple(shape)), _build=False)
        for layer in config["layers"]:
            model.add(deserialize(layer, custom_objects), _build=False)
        return model

    def save_weights(self, filepath: str) -> None:
        """Save the weights (and, when compiled, the optimizer's state) without the
        architecture: ``.weights.h5`` is Keras 3's HDF5 layout (needs h5py: ``xpnn[keras]``),
        ``.weights.npz`` xpnn's own."""
        module = _weights_module(filepath, "save_weights")
        module.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Load weights saved by ``save_weights`` (or Keras's ``.weights.h5``) into this built
        model of the same architecture; every shape is checked and nothing is written unless
        all pass. A compiled model also takes the optimizer state the file holds."""
        module = _weights_module(filepath, "load_weights")
        module.load_weights(self, filepath)

    def save(self, path: str) -> None:
        """Save architecture, weights and optimizer state to ``path`` (no pickle; atomic)."""
        from .saving import save_model

        save_model(self, path)


def _weights_module(filepath: Any, where: str) -> Any:
    """The module that reads and writes weights files of ``filepath``'s suffix."""
    path = os.fspath(filepath)
    if path.endswith(".weights.h5"):
        from . import keras_format

        return keras_format
    if path.endswith(".weights.npz"):
        from . import saving

        return saving
    raise ValueError(
        f"{where}() takes a path ending in .weights.h5 (Keras's format) or .weights.npz "
        f"(xpnn's), received {path!r}."
    )


def _flattens(layer: Any) -> bool:
    from .layers import Flatten

    return isinstance(layer, Flatten)


def _check_layer(layer: Any) -> None:
    """What ``add`` refuses: anything but an xpnn layer, clearly (a Keras layer object, a
    Keras-style subclass that defines ``call`` instead of the layer protocol)."""
    if not isinstance(layer, Layer):
        module = type(layer).__module__
        if module.startswith(("keras", "tensorflow", "tf_keras")):
            raise NotImplementedError(
                f"{type(layer).__name__} is a Keras layer object; xpnn runs its own layers: "
                "import xpnn as keras and build the model from keras.layers there."
            )
        raise TypeError(f"Sequential takes Input and xpnn layers, received {type(layer).__name__}.")
    if "call" in vars(type(layer)) and type(layer).forward is Layer.forward:
        raise NotImplementedError(
            f"{type(layer).__name__} is written as a Keras Layer subclass (call/build), which is "
            "outside xpnn's subset; an xpnn layer implements the protocol of "
            "xpnn.layers.Layer (forward/backward, see layers/base.py)."
        )


def _last_units(layers: list[Layer]) -> int:
    """The output width of an unbuilt model, where its last layer declares it."""
    for layer in reversed(layers):
        units = getattr(layer, "units", None)
        if units is not None:
            return units
    raise ValueError("The model's output width is unknown until it is built; add an Input.")
