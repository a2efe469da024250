"""The layer protocol: what every layer gives the model, and nothing more.

A model knows its layers only through this interface. Data flows one way: ``forward`` in layer
order, ``backward`` in reverse, the optimizer last; a layer never reaches into the model.

Structure (allocates nothing, so a model file can be sized before anything is built):
    ``output_dim(input_dim)``, ``param_shapes(input_dim)`` (trainable: the optimizer updates
    them), ``state_shapes(input_dim)`` (non-trainable, e.g. moving statistics: saved with the
    model, never touched by the optimizer).
Weights: ``initial_params(input_dim, rng)`` and ``initial_state(input_dim)`` draw host arrays;
    ``attach(input_dim, params, grads, state)`` hands the layer its views into the model's flat
    buffers (one for the parameters, one for their gradients, one for the state).
Running: ``workspace(batch, xp, dtype, need_dx)`` allocates the layer's buffers for one batch
    size; ``forward(x, training, ws)`` computes the output into them (``ws=None`` allocates, for
    inference); ``backward(delta, ws, need_dx)`` takes ``dL/d(output)``, writes the gradients
    of the parameters into the grad views and returns ``dL/d(input)`` (None when
    ``need_dx`` is false). ``delta`` is a step buffer the layer may overwrite.
Penalties: a layer whose ``regularized`` is true adds ``penalty(ws)`` to the loss.
Output shortcut: a layer ending in an ``activation`` may also implement
    ``backward_z(delta_z, ws, need_dx)``, the same pass from ``dL/dz`` before the activation,
    which the step uses when the loss collapses the chain rule (see losses.py).
Internal state: a layer whose ``state_in_weights`` is false keeps its state out of
    ``get_weights`` and the parameter counts (Keras does not list it), though it is saved.
Saving: ``get_config()`` (with ``class_name``) and ``from_config(config)``.
Rows: a layer whose ``rowwise`` is true computes each row of its inference output from that
    row of its input alone, so ``predict`` may cut a batch into smaller ones (training.py).

A model's layers run through a ``Chain``: forward in order, backward in reverse, through one
workspace per layer. ``layers.chain`` picks it, or ``Dense``'s compiled form of the same chain
for an all-Dense model on the CPU (dense.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import Activation

__all__ = ["Layer", "Input", "Chain"]


class Layer:
    """Base class of the protocol; a layer without weights overrides only the running part."""

    activation: Activation | None = None  # the output activation, when the layer ends in one
    # False for internal state Keras does not list as weights (Dropout's seed and counter):
    # saved with the model, but not in get_weights()/set_weights() nor in the counts
    state_in_weights = True
    # True when an inference row depends on its input row alone (every built-in layer): such
    # a model's CPU predict runs big batches in cache-sized blocks (training.predict_arrays)
    rowwise = False

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        """``kwargs``: Keras's layer keywords a drop-in must take: ``input_shape`` (or
        ``input_dim``) on the first layer declares the model's input, as Keras still
        accepts; ``dtype`` may name the model's dtype; ``trainable`` must be True (freezing
        is outside the subset). Anything else is refused, as Keras refuses it."""
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string, received {name!r}.")
        self.name = name
        self.declared_input_shape: tuple[int, ...] | None = None
        self.declared_dtype: str | None = None
        shape = kwargs.pop("input_shape", None)
        dim = kwargs.pop("input_dim", None)
        if dim is not None:
            shape = (dim,)
        if shape is not None:
            self.declared_input_shape = Input(shape).shape
        dtype = kwargs.pop("dtype", None)
        if dtype is not None:
            if str(dtype) not in ("float32", "float64"):
                raise ValueError(f"dtype must be 'float32' or 'float64', received {dtype!r}.")
            self.declared_dtype = str(dtype)
        if kwargs.pop("trainable", True) is not True:
            raise NotImplementedError(
                "trainable=False (frozen layers) is outside xpnn's subset: every layer trains."
            )
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        self.input_dim: int | None = None
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.state: list[Any] = []

    # -- structure ------------------------------------------------------------------------
    def output_dim(self, input_dim: int) -> int:
        return input_dim

    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return []

    def state_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return []

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        return []

    def initial_state(self, input_dim: int) -> list[np.ndarray]:
        return []

    def attach(self, input_dim: int, params: list[Any], grads: list[Any], state: list[Any]) -> None:
        self.input_dim = input_dim
        self.params, self.grads, self.state = list(params), list(grads), list(state)

    @property
    def built(self) -> bool:
        return self.input_dim is not None

    def count_params(self) -> int:
        """Trainable plus non-trainable numbers, as Keras counts them."""
        if self.input_dim is None:
            raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights.")
        shapes = self.param_shapes(self.input_dim)
        if self.state_in_weights:
            shapes = shapes + self.state_shapes(self.input_dim)
        return sum(int(np.prod(s)) for s in shapes)

    # -- running --------------------------------------------------------------------------
    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> Any:
        return None

    def forward(self, x: Any, training: bool = False, ws: Any = None) -> Any:
        raise NotImplementedError

    def backward(self, delta: Any, ws: Any, need_dx: bool = True) -> Any:
        raise NotImplementedError

    regularized = False  # True when ``penalty`` adds to the loss

    def penalty(self, ws: Any) -> Any:
        """The layer's addition to the loss after a forward into ``ws`` (regularization, as
        Keras adds ``layer.losses``); its gradient is the layer's own business in ``backward``.
        Called only when ``regularized`` is true."""
        raise NotImplementedError

    def __call__(self, x: Any, training: bool = False) -> Any:
        """Forward on backend arrays (the layer must be built)."""
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet; build it or its model first.")
        return self.forward(x, training)

    # -- saving ---------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**{k: v for k, v in config.items() if k != "class_name"})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Input:
    """The model's input: ``shape`` is ``(features,)`` (the batch axis is implied), or the
    shape of one sample, e.g. ``(28, 28)``, when a ``Flatten`` layer comes first."""

    def __init__(self, shape: tuple[int, ...] | int, name: str | None = None) -> None:
        if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
            shape = (int(shape),)
        if (
            not isinstance(shape, tuple | list)
            or len(shape) < 1
            or any(isinstance(d, bool) or not isinstance(d, int | np.integer) for d in shape)
            or any(d < 1 for d in shape)
        ):
            raise ValueError(
                "Input shape must be a tuple of positive integers, (features,) or one sample's "
                f"shape such as (28, 28), received {shape!r}."
            )
        self.shape = tuple(int(d) for d in shape)
        self.name = name or "input"

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"


class Chain:
    """``layers`` run one after another through their workspaces ``spaces``: a model's forward
    and backward."""

    def __init__(self, layers: list[Layer], spaces: list[Any], training: bool) -> None:
        self.layers, self.spaces, self.training = layers, spaces, training

    def forward(self, x: Any) -> Any:
        """The output of the last layer, in its workspace."""
        for layer, ws in zip(self.layers, self.spaces):
            x = layer.forward(x, self.training, ws)
        return x

    def trainer(self, loss_kernel: tuple[str, tuple[Any, ...]]) -> Any:
        """A compiled training pass for the loss kernel ``loss_kernel`` (losses.Loss.fused_kernel)
        with the chain's buffers: ``train(X, Y, order, start, steps, (x, y, delta), update,
        totals, metrics) -> (bad, output)`` runs ``steps`` training steps in one call, each
        gathering its batch of the shuffled ``order`` into ``x`` and ``y``, then forward, the
        ``metrics`` rows (training.fused_metrics; or none, for the caller to update) and the
        loss into ``totals`` and ``delta``, backward, and the optimizer's ``update``
        (Optimizer.fused_update; or none, for the caller to make); ``bad`` is the first step
        after which the loss sum is not finite (-1: none). None here: a plain chain has none
        (DenseStack has)."""
        return None

    def backward(self, delta: Any, shortcut: bool) -> None:
        """Every layer's gradients from ``delta``, the output's ``dL/da`` (``dL/dz`` when
        ``shortcut``: the last layer's ``backward_z`` takes it). The first layer's input
        gradient is not computed."""
        layers, spaces = self.layers, self.spaces
        n = len(layers)
        last = layers[-1].backward_z if shortcut else layers[-1].backward
        delta = last(delta, spaces[-1], n > 1)
        for i in range(n - 2, -1, -1):
            delta = layers[i].backward(delta, spaces[i], i > 0)
