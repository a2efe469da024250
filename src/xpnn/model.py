"""``Sequential``: build, compile, fit, evaluate, predict, summary and weights, as in Keras 3.

All weights and biases live in one flat buffer (``model._params``) with per-layer views, and the
gradients likewise (``model._grads``), so the optimizer updates everything in one pass.
The training data goes to the device once per ``fit``; each batch is gathered on the device
into buffers allocated once per batch size; the loss and metrics are summed on the device and
read back once per epoch (and when the progress bar refreshes).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from typing import Any

import numpy as np

from . import graphs
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .activations import linear
from .backend import array_module, get_backend, to_device, to_numpy
from .callbacks import Callback, History, ProgressBar
from .kernels import KERNELS
from .layers import Dense, Input, _check_kernel_form

__all__ = ["Sequential", "set_random_seed"]

_seed_source = np.random.SeedSequence()


def set_random_seed(seed: int) -> None:
    """Seed the generator that models without an explicit ``seed`` draw from (like
    ``keras.utils.set_random_seed``): models built after this get reproducible weights."""
    global _seed_source
    _seed_source = np.random.SeedSequence(seed)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, received {value!r}.")
    return int(value)


class _Workspace:
    """The buffers of one training step at one batch size, allocated once and reused."""

    def __init__(self, model: Sequential, batch: int, y_tail: tuple[int, ...], y_dtype: Any):
        xp, dtype = model._xp, model.dtype
        self.batch = batch
        self.x = xp.empty((batch, model.input_dim), dtype=dtype)
        self.y = xp.empty((batch, *y_tail), dtype=y_dtype)
        self.z, self.a, self.delta = [], [], []
        for layer in model.layers:
            z = xp.empty((batch, layer.units), dtype=dtype)
            self.z.append(z)
            # a linear layer's activation is its z: share the buffer instead of copying
            self.a.append(z if layer.activation is linear else xp.empty_like(z))
            self.delta.append(xp.empty_like(z))
        self.warm = False  # a step has run on these buffers (graphs record the second)
        self.graph: Any = None  # the recorded step, when fit replays graphs


class Sequential:
    """A linear stack of layers.

    Args:
        layers: an optional ``Input`` followed by ``Dense`` layers.
        name: the model's name.
        kernel: ``"matrix"`` (batched matmul, default) or ``"loop"`` (the per-neuron textbook
            form) for every layer that does not choose its own ``kernel_form``.
        dtype: ``"float32"`` (default) or ``"float64"``.
        seed: seeds weight initialisation and shuffling; None draws from
            ``set_random_seed``'s generator.
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
        if _check_kernel_form(kernel, "kernel") is None:
            raise ValueError("kernel must be 'loop' or 'matrix', received None.")
        self.kernel = kernel
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', received {dtype!r}.")
        self.dtype = np.dtype(str(dtype))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be an integer or None, received {seed!r}.")
        self.seed = seed
        self._rng = np.random.default_rng(seed if seed is not None else _seed_source.spawn(1)[0])
        self.layers: list[Dense] = []
        self.input_dim: int | None = None
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.metrics: list[metrics_module.Metric] = []
        self._metric_names: list[str] = []
        self.stop_training = False
        self.history: History | None = None
        self._params: Any = None
        self._grads: Any = None
        self._xp: Any = None
        self.jit_compile = False
        self._steps: dict[str, Any] | None = None  # training buffers (and graphs) kept by fit
        self._recorder: graphs.Recorder | None = None
        if layers is not None:
            if not isinstance(layers, list | tuple):
                raise TypeError(
                    f"layers must be a list of layers, received {type(layers).__name__}."
                )
            for layer in layers:
                self.add(layer, _build=False)
        if self.input_dim is not None and self.layers:
            self.build((None, self.input_dim))

    # -- structure ------------------------------------------------------------------------
    def add(self, layer: Dense | Input, _build: bool = True) -> None:
        """Append a layer: an ``Input`` first (then the model builds as layers arrive, as in
        Keras), then ``Dense`` layers. Adding to a built model keeps the existing weights."""
        if isinstance(layer, Input):
            if self.layers or self.input_dim is not None:
                raise ValueError(
                    "Input can only be the first entry of a Sequential model; this one already "
                    f"has {'layers' if self.layers else 'an input'}."
                )
            self.input_dim = layer.shape[0]
            return
        if not isinstance(layer, Dense):
            raise TypeError(
                f"Sequential takes Input and Dense layers, received {type(layer).__name__}."
            )
        taken = {lyr.name for lyr in self.layers}
        if layer.name is None:
            base, k = "dense", 0
            while (candidate := base if k == 0 else f"{base}_{k}") in taken:
                k += 1
            layer.name = candidate
        elif layer.name in taken:
            raise ValueError(f"Layer names must be unique; {layer.name!r} is used twice.")
        self.layers.append(layer)
        if _build and self.input_dim is not None:
            self.build((None, self.input_dim))

    @property
    def built(self) -> bool:
        return self._params is not None

    @property
    def output_units(self) -> int:
        return self.layers[-1].units

    def build(self, input_shape: tuple[int | None, ...] | int) -> None:
        """Create the weights for inputs of ``input_shape`` (``(None, features)`` or
        ``features``), drawn on the host from the model's seed and moved to the backend.

        As in Keras, a built model keeps its weights: building again with the same shape
        changes nothing (layers added since are built, the others keep their weights), and a
        different feature count is refused."""
        if not self.layers:
            raise ValueError("The model has no layers to build; add Dense layers first.")
        features = input_shape if isinstance(input_shape, numbers.Integral) else input_shape[-1]
        features = _positive_int(features, "The input feature count")
        if self.input_dim is not None and features != self.input_dim:
            raise ValueError(
                f"Sequential model {self.name!r} has already been configured to use input shape "
                f"(None, {self.input_dim}). You cannot build it with input_shape "
                f"(None, {features})."
            )
        self.input_dim = features
        done = len(self._param_views) if self.built else 0  # layers that have weights
        if done == len(self.layers):
            return
        xp = get_backend().xp
        if self.built and self._xp is not xp:
            raise RuntimeError(
                f"This model's weights live on another backend than the active one "
                f"({get_backend().name}); add its layers on that backend."
            )
        shapes, host = [], [] if not done else [to_numpy(self._params)]
        fan_in = self.input_dim
        for i, layer in enumerate(self.layers):
            shapes.append(layer.param_shapes(fan_in))
            if i >= done:
                host.extend(w.ravel() for w in layer.initial_weights(fan_in, self._rng))
            fan_in = layer.units
        flat = np.concatenate(host).astype(self.dtype)
        self._xp = xp
        self._params = to_device(flat)  # the one flat buffer: [W1, b1, W2, b2, ...]
        self._grads = xp.zeros_like(self._params)
        self._steps = None  # buffers and graphs point at the old weights
        self._param_views = self._views(self._params, shapes)
        self._grad_views = self._views(self._grads, shapes)
        fan_in = self.input_dim
        for layer, views in zip(self.layers, self._param_views):
            layer.attach(fan_in, views)
            fan_in = layer.units
        if self.optimizer is not None:
            self.optimizer.build(self._params)

    @staticmethod
    def _views(flat: Any, shapes: list[list[tuple[int, ...]]]) -> list[list[Any]]:
        views, offset = [], 0
        for layer_shapes in shapes:
            layer_views = []
            for shape in layer_shapes:
                size = math.prod(shape)
                layer_views.append(flat[offset : offset + size].reshape(shape))
                offset += size
            views.append(layer_views)
        return views

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(self._params.size)

    # -- compile --------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: str | losses_module.Loss | None = None,
        metrics: list[str] | None = None,
        jit_compile: bool | str = False,
    ) -> None:
        """Set the optimizer (default ``"rmsprop"``, as Keras), loss and metrics.

        ``jit_compile=True`` records the training step once as a CUDA graph on the CuPy
        backend and replays it for every batch (see graphs.py): one launch per step instead
        of dozens, which is what a small network's step costs on a GPU. On NumPy there is no
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
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is not None and not isinstance(metrics, list | tuple):
            raise TypeError(f"metrics must be a list of names, received {metrics!r}.")
        self._metric_names = list(metrics or [])
        self.metrics = [
            metrics_module.get(m, self.loss, self.output_units) for m in self._metric_names
        ]
        self.jit_compile = jit_compile is True
        self._steps = None
        if self.built:
            self.optimizer.build(self._params)

    # -- input checking (the edge: everything after this assumes clean arrays) -------------
    def _check_x(self, x: Any, where: str) -> Any:
        if x is None:
            raise ValueError(f"{where}() needs input data x, received None.")
        on_device = array_module(x) is not np
        if on_device:  # already on the device: checked there, with one scalar copied home
            arr = x
        else:
            try:
                arr = np.asarray(x)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}() could not read x as a numeric array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{where}() expects numeric x, received an array of dtype {arr.dtype}.")
        if arr.ndim != 2:
            hint = " Use x.reshape(-1, 1) for a single feature." if arr.ndim == 1 else ""
            raise ValueError(
                f"{where}() expects x of shape (samples, features), received shape "
                f"{tuple(arr.shape)}.{hint}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{where}() received empty data: x has 0 samples.")
        if self.input_dim is not None and arr.shape[1] != self.input_dim:
            raise ValueError(
                f"{where}() expects x with {self.input_dim} features (the model's input), "
                f"received {arr.shape[1]}."
            )
        if on_device:
            if arr.dtype.kind == "f" and not bool(to_numpy(array_module(arr).isfinite(arr).all())):
                raise ValueError(f"{where}() input x contains NaN or infinity.")
            return arr.astype(self.dtype, copy=False)
        # Row sums are finite only if every entry is (NaN and inf propagate); as a
        # matrix-vector product they take one multithreaded BLAS pass, and the full search
        # runs only when they are not (which may also be an overflow).
        if (
            arr.dtype.kind == "f"
            and not np.isfinite((arr @ np.ones(arr.shape[1], arr.dtype)).sum())
            and not np.isfinite(arr).all()
        ):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise ValueError(
                f"{where}() input x contains NaN or infinity (first at row {bad[0]}, "
                f"column {bad[1]}); clean or impute the data first."
            )
        return arr.astype(self.dtype, copy=False)

    def _check_xy(self, x: Any, y: Any, where: str) -> tuple[Any, Any]:
        x = self._check_x(x, where)
        if y is None:
            raise ValueError(f"{where}() needs targets y, received None.")
        n_y = len(y) if array_module(y) is not np else np.shape(y)[0] if np.ndim(y) else 0
        if n_y != x.shape[0]:
            raise ValueError(
                f"{where}() received {x.shape[0]} samples in x but {n_y} in y; they must match."
            )
        return x, self.loss.prepare_targets(y, (x.shape[0], self.output_units), self.dtype)

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

    # -- forward and the training step -----------------------------------------------------
    def _forward_kernel(self, layer: Dense) -> Any:
        return KERNELS[layer.kernel_form or self.kernel][0]

    def __call__(self, x: Any) -> Any:
        """Forward on backend arrays; returns the output on the same backend."""
        if not self.built:
            self.build((None, x.shape[-1]))
        a = x
        for layer in self.layers:
            _, a = self._forward_kernel(layer)(a, layer.kernel, layer.bias, layer.activation)
        return a

    def _train_step(self, ws: _Workspace, totals: Any) -> None:
        """One mini-batch: forward, loss, backward, update; adds the batch's loss (weighted by
        its size, as Keras averages) and metric sums to ``totals``, on the device.

        Everything here is device work on fixed buffers (recordable as a graph: graphs.py)."""
        a = ws.x  # (batch, inputs)
        for layer, z_buf, a_buf in zip(self.layers, ws.z, ws.a):
            _, a = self._forward_kernel(layer)(
                a, layer.kernel, layer.bias, layer.activation, out=(z_buf, a_buf)
            )  # (batch, units)
        sums = [m.batch_sum(ws.y, a) for m in self.metrics]

        # dL/dz of the output layer in one step where the pair allows (see losses.py);
        # otherwise dL/da, chained through the output activation by the kernel.
        last = self.layers[-1]
        loss, delta = self.loss.value_and_delta(ws.y, a, last.activation, out=ws.delta[-1])
        activation = linear
        if delta is None:
            delta = self.loss.gradient(ws.y, a, out=ws.delta[-1])
            activation = last.activation
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            x_in = ws.x if i == 0 else ws.a[i - 1]
            grads = self._grad_views[i]
            backward = KERNELS[layer.kernel_form or self.kernel][1]
            backward(
                delta,
                x_in,
                layer.kernel,
                ws.z[i],
                ws.a[i],
                activation,
                need_dx=i > 0,
                out=(
                    grads[0],
                    grads[1] if layer.use_bias else None,
                    ws.delta[i - 1] if i else None,
                ),
            )
            if i:
                delta, activation = ws.delta[i - 1], self.layers[i - 1].activation
        self.optimizer.step(self._params, self._grads)
        totals[0] += loss * ws.batch
        for k, batch_sum in enumerate(sums, start=1):
            totals[k] += batch_sum

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
        initial_epoch: int = 0,
    ) -> History:
        """Train with mini-batch gradient descent; returns a ``History``.

        Args follow Keras: ``validation_split`` holds out the *last* fraction of the samples
        (before shuffling); ``validation_data=(x_val, y_val)`` overrides it; ``shuffle``
        reshuffles every epoch from the model's seeded generator; ``verbose`` 0 silent, 1 a
        progress bar, 2 one line per epoch; training runs epochs ``initial_epoch..epochs-1``.
        """
        self._require_compiled("fit")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        epochs = _positive_int(epochs, "epochs")
        if (
            isinstance(initial_epoch, bool)
            or not isinstance(initial_epoch, numbers.Integral)
            or not 0 <= initial_epoch < epochs
        ):
            raise ValueError(
                f"initial_epoch must be an integer in [0, epochs={epochs}), received "
                f"{initial_epoch!r}."
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, received {verbose!r}.")
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(
                f"validation_split must be a number in [0, 1), received {validation_split!r}."
            )
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be Callback instances, received {type(cb).__name__}."
                )

        x, y = self._check_xy(x, y, "fit")
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val).")
            x_val, y_val = self._check_xy(*validation_data, "fit (validation_data)")
        elif validation_split > 0:
            split = int(math.floor(x.shape[0] * (1.0 - validation_split)))
            if split == 0 or split == x.shape[0]:
                raise ValueError(
                    f"validation_split={validation_split} leaves {split} of {x.shape[0]} "
                    "samples for training; use a split that keeps both parts non-empty."
                )
            x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
        else:
            x_val = y_val = None
        self._ensure_built(x)

        # The data goes to the device once; batches are gathered there.
        X, Y = to_device(x), to_device(y)
        if x_val is not None:
            x_val, y_val = to_device(x_val), to_device(y_val)
        n = X.shape[0]
        steps = math.ceil(n / batch_size)
        sizes = {min(batch_size, n), n - (steps - 1) * batch_size}
        recorder = self._graph_recorder()  # first: it may move the optimizer's scalars
        y_layout = (tuple(Y.shape[1:]), Y.dtype)
        cache = self._step_cache(*y_layout)
        spaces = {b: cache["spaces"].get(b) or _Workspace(self, b, *y_layout) for b in sizes}
        cache["spaces"].update(spaces)
        totals = cache["totals"]  # loss and metric sums of the epoch, on the device

        self.history = history = History()
        callbacks = [history, *callbacks]
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        progress = ProgressBar(verbose, epochs, steps)
        for cb in callbacks:
            cb.on_train_begin()
        with recorder.stream() if recorder else contextlib.nullcontext():
            for epoch in range(initial_epoch, epochs):
                for cb in callbacks:
                    cb.on_epoch_begin(epoch)
                progress.epoch_begin(epoch)
                # one small host-to-device copy per epoch: the permutation, drawn on the host
                # so that every backend shuffles identically
                order = to_device(self._rng.permutation(n)) if shuffle else None
                totals.fill(0)
                seen = 0
                for step in range(steps):
                    start = step * batch_size
                    ws = spaces[min(batch_size, n - start)]
                    if order is None:
                        ws.x[...] = X[start : start + ws.batch]
                        ws.y[...] = Y[start : start + ws.batch]
                    else:
                        idx = order[start : start + ws.batch]
                        X.take(idx, axis=0, out=ws.x)
                        Y.take(idx, axis=0, out=ws.y)
                    if recorder is None:
                        self._train_step(ws, totals)
                    else:
                        recorder = self._replay_step(ws, totals, recorder)
                    seen += ws.batch
                    progress.step(self._logs(totals, seen) if progress.wants_logs() else None)
                logs = self._logs(totals, seen)
                if x_val is not None:
                    logs.update(
                        {
                            f"val_{k}": v
                            for k, v in self._evaluate_device(x_val, y_val, batch_size).items()
                        }
                    )
                progress.epoch_end(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        for cb in callbacks:
            cb.on_train_end()
        return history

    # -- buffers and graphs kept between fits ----------------------------------------------------
    def _step_cache(self, y_tail: tuple[int, ...], y_dtype: Any) -> dict[str, Any]:
        """The workspaces (per batch size), the epoch sums and the recorded graphs, kept from
        one fit to the next while the arrays they point at stay the same."""
        opt = self.optimizer
        # What the buffers and graphs point at; the cache holds these objects, so their ids
        # cannot be reused by others while it lives.
        refs = (self._params, opt, self.loss, *opt.state.values(), *(opt._dev or {}).values())
        key = (
            tuple(id(r) for r in refs),
            tuple(self._metric_names),
            y_tail,
            np.dtype(str(y_dtype)).str,
            self.jit_compile,
        )
        cached = self._steps
        if cached is None or cached["key"] != key:
            self._steps = cached = {
                "key": key,
                "refs": refs,
                "spaces": {},
                "totals": self._xp.zeros(1 + len(self.metrics), dtype=self.dtype),
            }
        return cached

    def _graph_recorder(self) -> graphs.Recorder | None:
        """The recorder when this fit replays recorded steps, else None (and the optimizer
        back on host scalars)."""
        if not (self.jit_compile and graphs.supported(self._xp)):
            if self.optimizer.capturable:
                self.optimizer.release_capturable()
            return None
        if self._recorder is None or self._recorder.xp is not self._xp:
            self._recorder = graphs.Recorder(self._xp)
        if not self.optimizer.capturable:
            self.optimizer.make_capturable(self._params)
        return self._recorder

    def _replay_step(
        self, ws: _Workspace, totals: Any, recorder: graphs.Recorder
    ) -> graphs.Recorder | None:
        """One step through the graph: the first step at a batch size runs eagerly (it builds
        the kernels and the cuBLAS state the recording needs), the second is recorded, and
        every step is then one launch. Returns None when recording failed (fit goes on
        eagerly)."""
        opt = self.optimizer
        opt.sync_learning_rate()
        if ws.graph is not None:
            ws.graph.launch()
            opt.count_replayed_step()
            return recorder
        if not ws.warm:
            self._train_step(ws, totals)
            ws.warm = True
            return recorder
        iterations = opt.iterations
        try:
            ws.graph = recorder.record(lambda: self._train_step(ws, totals))
        except Exception as exc:  # the step could not be recorded: train on, eagerly
            warnings.warn(
                f"xpnn could not record the training step as a graph ({type(exc).__name__}: "
                f"{exc}); training goes on without jit_compile.",
                RuntimeWarning,
                stacklevel=4,
            )
            opt.iterations = iterations  # the recording ran nothing
            opt.release_capturable()
            self.jit_compile = False
            self._steps = None
            self._train_step(ws, totals)
            return None
        # Recording ran the step's Python once (counting it) but no kernel: launch it.
        ws.graph.launch()
        return recorder

    def _logs(self, totals: Any, seen: int) -> dict[str, float]:
        values = to_numpy(totals).astype(np.float64) / seen  # the one copy home
        logs = {"loss": float(values[0])}
        for name, v in zip(self._metric_names, values[1:]):
            logs[name] = float(v)
        return logs

    # -- evaluate and predict ---------------------------------------------------------------
    def _evaluate_device(self, X: Any, Y: Any, batch_size: int) -> dict[str, float]:
        xp = self._xp
        totals = xp.zeros(1 + len(self.metrics), dtype=self.dtype)
        n = X.shape[0]
        for start in range(0, n, batch_size):
            xb, yb = X[start : start + batch_size], Y[start : start + batch_size]
            a = self(xb)
            totals[0] += self.loss.value(yb, a) * xb.shape[0]
            for k, m in enumerate(self.metrics, start=1):
                totals[k] += m.batch_sum(yb, a)
        return self._logs(totals, n)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = 32,
        verbose: int = 0,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss (and metrics) on ``x, y``: a float without metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``), as in Keras."""
        self._require_compiled("evaluate")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        x, y = self._check_xy(x, y, "evaluate")
        self._ensure_built(x)
        logs = self._evaluate_device(to_device(x), to_device(y), batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else list(logs.values())

    def predict(self, x: Any, batch_size: int | None = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array, whatever the backend."""
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        x = self._check_x(x, "predict")
        self._ensure_built(x)
        X = to_device(x)
        outputs = [self(X[s : s + batch_size]) for s in range(0, X.shape[0], batch_size)]
        return to_numpy(self._xp.concatenate(outputs, axis=0))

    # -- weights ----------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """``[W1, b1, W2, b2, ...]`` as NumPy arrays, ``W`` shaped ``(inputs, units)``."""
        self._require_built("get_weights")
        flat = to_numpy(self._params)  # one copy home, then split into the layers' shapes
        out, offset = [], 0
        for views in self._param_views:
            for v in views:
                out.append(flat[offset : offset + v.size].reshape(v.shape).copy())
                offset += v.size
        return out

    def set_weights(self, weights: list[Any]) -> None:
        """Load ``get_weights()``-ordered arrays (e.g. from Keras); every shape is checked."""
        self._require_built("set_weights")
        expected = [tuple(v.shape) for views in self._param_views for v in views]
        if not isinstance(weights, list | tuple) or len(weights) != len(expected):
            got = len(weights) if isinstance(weights, list | tuple) else type(weights).__name__
            raise ValueError(
                f"set_weights expects a list of {len(expected)} arrays "
                f"(kernel and bias per layer), received {got}."
            )
        host = []
        for i, (w, shape) in enumerate(zip(weights, expected)):
            w = np.asarray(w)
            if w.shape != shape:
                raise ValueError(f"Weight {i} should have shape {shape}, received shape {w.shape}.")
            if w.dtype.kind not in "biuf" or not np.isfinite(w).all():
                raise ValueError(f"Weight {i} must be finite numbers.")
            host.append(w.ravel())
        self._params[...] = to_device(np.concatenate(host).astype(self.dtype))

    # -- summary ------------------------------------------------------------------------------
    def summary(self, print_fn: Any = print) -> None:
        """Print the layers, output shapes and parameter counts, laid out as Keras does."""
        widths = (33, 24, 15)
        rows = []
        for layer in self.layers:
            params = layer.count_params() if layer.input_dim is not None else 0
            shape = f"(None, {layer.units})"
            count = f"{params:,}" if self.built else "0 (unbuilt)"
            rows.append((f"{layer.name} (Dense)", shape, count))

        def line(left: str, mid: str, right: str, fill: str) -> str:
            return left + mid.join(fill * w for w in widths) + right

        def row(cells: tuple[str, str, str], edge: str) -> str:
            a, b, c = cells
            return (
                f"{edge} {a:<{widths[0] - 2}} {edge} {b:<{widths[1] - 2}} "
                f"{edge} {c:>{widths[2] - 2}} {edge}"
            )

        total = self.count_params() if self.built else 0
        size = total * self.dtype.itemsize
        out = [
            f'Model: "{self.name}"',
            line("┏", "┳", "┓", "━"),
            row(("Layer (type)", "Output Shape", "Param #"), "┃"),
            line("┡", "╇", "┩", "━"),
        ]
        for i, r in enumerate(rows):
            out.append(row(r, "│"))
            if i < len(rows) - 1:
                out.append(line("├", "┼", "┤", "─"))
        out.append(line("└", "┴", "┘", "─"))
        out.append(f" Total params: {total:,} ({_human_bytes(size)})")
        out.append(f" Trainable params: {total:,} ({_human_bytes(size)})")
        out.append(" Non-trainable params: 0 (0.00 B)")
        print_fn("\n".join(out))

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kernel": self.kernel,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "input_dim": self.input_dim,
            "layers": [layer.get_config() for layer in self.layers],
        }

    def save(self, path: str) -> None:
        """Save architecture, weights and optimizer state to ``path`` (no pickle; atomic)."""
        from .saving import save_model

        save_model(self, path)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"
