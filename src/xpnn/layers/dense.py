"""``Dense``: ``activation(x @ kernel + bias)``, with Keras's names and defaults.

The ``kernel`` is ``(inputs, units)`` and the ``bias`` ``(units,)``. Inside a model they are
views into the model's flat parameter buffer; a layer used on its own gets arrays of its own
from ``build``. ``kernel_form`` picks the per-neuron loop or the batched matrix twin
(kernels.py); the training step runs the matrix form into the layer's workspace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, initializers
from ..backend import array_module, to_device, to_numpy
from ..kernels import KERNELS, dense_backward_into, dense_forward_into
from .base import Layer

__all__ = ["Dense", "KERNEL_FORMS"]

KERNEL_FORMS = tuple(KERNELS)


def check_kernel_form(value: Any, argument: str) -> str | None:
    if value is None or value in KERNELS:
        return value
    raise ValueError(
        f"{argument} must be one of {', '.join(repr(k) for k in KERNELS)}, received {value!r}."
    )


class _Buffers:
    """A Dense layer's step buffers at one batch size."""

    __slots__ = ("x", "z", "a", "dx")

    def __init__(self, batch: int, input_dim: int, units: int, linear: bool, xp: Any, dtype: Any):
        self.x: Any = None  # the input of the last forward (a buffer of the layer before)
        self.z = xp.empty((batch, units), dtype=dtype)
        # a linear layer's activation is its z: share the buffer instead of copying
        self.a = self.z if linear else xp.empty_like(self.z)
        self.dx = None if input_dim is None else xp.empty((batch, input_dim), dtype=dtype)


class Dense(Layer):
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
        super().__init__(name)
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
        self.kernel_form = check_kernel_form(kernel_form, "kernel_form")
        self.default_form = "matrix"  # the form when kernel_form is None (a model sets it)

    @property
    def form(self) -> str:
        """The kernel form in use: the layer's own choice, else its model's."""
        return self.kernel_form or self.default_form

    @property
    def kernel(self) -> Any:
        return self.params[0] if self.params else None

    @property
    def bias(self) -> Any:
        return self.params[1] if self.use_bias and self.params else None

    # -- structure ------------------------------------------------------------------------
    def output_dim(self, input_dim: int) -> int:
        return self.units

    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        """Shapes of the layer's weights for ``input_dim`` inputs, kernel before bias."""
        return [(input_dim, self.units)] + ([(self.units,)] if self.use_bias else [])

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Freshly drawn host weights (float64), in ``param_shapes`` order."""
        names = [self.kernel_initializer, self.bias_initializer]
        return [initializers.get(n)(s, rng) for n, s in zip(names, self.param_shapes(input_dim))]

    def build(
        self, input_shape: tuple[int, ...] | int, seed: int | None = None, dtype: str = "float32"
    ) -> None:
        """Give a stand-alone layer its own weights (a model builds its layers itself)."""
        input_dim = int(input_shape if isinstance(input_shape, int) else input_shape[-1])
        params = [
            to_device(w, dtype=dtype)
            for w in self.initial_params(input_dim, np.random.default_rng(seed))
        ]
        self.attach(input_dim, params, [array_module(p).zeros_like(p) for p in params], [])

    # -- running --------------------------------------------------------------------------
    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> _Buffers:
        linear = self.activation is activations.linear
        return _Buffers(batch, self.input_dim if need_dx else None, self.units, linear, xp, dtype)

    def forward(self, x: Any, training: bool = False, ws: _Buffers | None = None) -> Any:
        if ws is None:  # inference: fresh buffers, the same code as the training step's
            ws = self.workspace(x.shape[0], array_module(x), x.dtype, need_dx=False)
        ws.x = x
        if self.form == "matrix":
            return dense_forward_into(x, self.kernel, self.bias, self.activation, ws.z, ws.a)
        z, a = KERNELS[self.form][0](x, self.kernel, self.bias, self.activation)
        ws.z[...] = z
        if ws.a is not ws.z:
            ws.a[...] = a
        return ws.a

    def backward(self, delta: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        return self._backward(delta, ws, need_dx, self.activation)

    def backward_z(self, delta_z: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        return self._backward(delta_z, ws, need_dx, activations.linear)

    def _backward(self, delta: Any, ws: _Buffers, need_dx: bool, activation: Any) -> Any:
        dW = self.grads[0]
        db = self.grads[1] if self.use_bias else None
        dx = ws.dx if need_dx else None
        if self.form == "matrix":
            return dense_backward_into(delta, ws.x, self.kernel, ws.z, ws.a, activation, dW, db, dx)
        grads = KERNELS[self.form][1](delta, ws.x, self.kernel, ws.z, ws.a, activation)
        dW[...] = grads[0]
        if db is not None:
            db[...] = grads[1]
        if dx is not None:
            dx[...] = grads[2]
        return dx

    # -- weights of a stand-alone layer -------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Kernel then bias, as host NumPy arrays (copies)."""
        return [to_numpy(p).copy() for p in self.params]

    def set_weights(self, weights: list[Any]) -> None:
        """Copy host arrays into the layer's weights; shapes must match exactly."""
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet; build the model first.")
        if len(weights) != len(self.params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(self.params)} weight arrays, "
                f"received {len(weights)}."
            )
        for target, w in zip(self.params, weights):
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
            **super().get_config(),
            "units": self.units,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_form": self.kernel_form,
        }

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r}, name={self.name!r})"
