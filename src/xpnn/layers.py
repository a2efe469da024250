"""``Input`` and ``Dense``, with Keras's names and defaults.

A ``Dense`` layer holds its ``kernel`` ``(inputs, units)`` and ``bias`` ``(units,)``. Inside a
model they are views into the model's one flat parameter buffer; a layer used on its own gets
arrays of its own from ``build``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import activations, initializers
from .backend import array_module, to_device, to_numpy
from .kernels import KERNELS

__all__ = ["Input", "Dense", "KERNEL_FORMS"]

KERNEL_FORMS = tuple(KERNELS)


def _check_kernel_form(value: Any, argument: str) -> str | None:
    if value is None or value in KERNELS:
        return value
    raise ValueError(
        f"{argument} must be one of {', '.join(repr(k) for k in KERNELS)}, received {value!r}."
    )


class Input:
    """The model's input: ``shape`` is ``(features,)`` (the batch axis is implied)."""

    def __init__(self, shape: tuple[int, ...] | int, name: str | None = None) -> None:
        if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
            shape = (int(shape),)
        if (
            not isinstance(shape, tuple | list)
            or len(shape) != 1
            or isinstance(shape[0], bool)
            or not isinstance(shape[0], int | np.integer)
            or shape[0] < 1
        ):
            raise ValueError(
                "Input shape must be a tuple with one positive integer, (features,), "
                f"received {shape!r}. xpnn's layers are dense: flatten images first."
            )
        self.shape = (int(shape[0]),)
        self.name = name or "input"

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"


class Dense:
    """A densely connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: number of output units (a positive integer).
        activation: a name (``"sigmoid"``, ``"relu"``, ``"linear"``, ``"tanh"``,
            ``"softmax"``), an ``Activation``, or None for linear.
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initialiser names, as in Keras.
        name: the layer's name (unique names are made up when None).
        kernel_form: ``"loop"`` (per-neuron, for teaching) or ``"matrix"``; None follows the
            model's ``kernel`` setting. (Named so because ``kernel`` is the weight matrix.)
    """

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        name: str | None = None,
        kernel_form: str | None = None,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, int | np.integer) or units < 1:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string, received {name!r}.")
        self.name = name
        self.kernel_form = _check_kernel_form(kernel_form, "kernel_form")
        self.input_dim: int | None = None
        self.kernel: Any = None
        self.bias: Any = None

    # -- building -------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.kernel is not None

    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        """Shapes of the layer's weights for ``input_dim`` inputs, kernel before bias."""
        return [(input_dim, self.units)] + ([(self.units,)] if self.use_bias else [])

    def initial_weights(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Freshly drawn host weights (float64), in ``param_shapes`` order."""
        names = [self.kernel_initializer, self.bias_initializer]
        return [initializers.get(n)(s, rng) for n, s in zip(names, self.param_shapes(input_dim))]

    def build(
        self, input_shape: tuple[int, ...] | int, seed: int | None = None, dtype: str = "float32"
    ) -> None:
        """Give a stand-alone layer its own weights (a model builds its layers itself)."""
        input_dim = input_shape if isinstance(input_shape, int) else input_shape[-1]
        weights = self.initial_weights(int(input_dim), np.random.default_rng(seed))
        self.attach(int(input_dim), [to_device(w, dtype=dtype) for w in weights])

    def attach(self, input_dim: int, arrays: list[Any]) -> None:
        """Point the layer at its weight arrays (views into a model's flat buffer)."""
        self.input_dim = input_dim
        self.kernel = arrays[0]
        self.bias = arrays[1] if self.use_bias else None

    # -- use ------------------------------------------------------------------------------
    def __call__(self, x: Any) -> Any:
        """Forward on backend arrays (the layer must be built)."""
        if not self.built:
            self.build(x.shape[-1])
        forward = KERNELS[self.kernel_form or "matrix"][0]
        return forward(x, self.kernel, self.bias, self.activation)[1]

    def count_params(self) -> int:
        if self.input_dim is None:
            raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights.")
        return sum(int(np.prod(s)) for s in self.param_shapes(self.input_dim))

    def get_weights(self) -> list[np.ndarray]:
        """Kernel then bias, as host NumPy arrays (copies)."""
        if not self.built:
            return []
        return [to_numpy(self.kernel).copy()] + (
            [to_numpy(self.bias).copy()] if self.use_bias else []
        )

    def set_weights(self, weights: list[Any]) -> None:
        """Copy host arrays into the layer's weights; shapes must match exactly."""
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet; build the model first.")
        targets = [self.kernel] + ([self.bias] if self.use_bias else [])
        if len(weights) != len(targets):
            raise ValueError(
                f"Layer {self.name!r} expects {len(targets)} weight arrays, "
                f"received {len(weights)}."
            )
        for target, w in zip(targets, weights):
            w = np.asarray(w)
            if w.shape != tuple(target.shape):
                raise ValueError(
                    f"Layer {self.name!r} expected a weight of shape {tuple(target.shape)}, "
                    f"received shape {w.shape}."
                )
            if not np.all(np.isfinite(w)):
                raise ValueError(f"Weights for layer {self.name!r} contain NaN or infinity.")
            target[...] = array_module(target).asarray(w, dtype=target.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "class_name": "Dense",
            "units": self.units,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "name": self.name,
            "kernel_form": self.kernel_form,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        config = {k: v for k, v in config.items() if k != "class_name"}
        return cls(**config)

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r}, name={self.name!r})"
