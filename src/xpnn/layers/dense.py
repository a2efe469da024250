"""``Dense``: ``activation(x @ kernel + bias)``, with Keras's names and defaults.

The ``kernel`` is ``(inputs, units)`` and the ``bias`` ``(units,)``. Inside a model they are
views into the model's flat parameter buffer; a layer used on its own gets arrays of its own
from ``build``. ``kernel_form`` picks the per-neuron loop or the batched matrix twin
(kernels.py); the training step runs the matrix form into the layer's workspace.

Regularizers add to the loss as Keras adds them (``keras/src/layers/layer.py``): the kernel's
and the bias's penalties as they are, the activity regularizer's penalty of the layer's output
``a`` divided by the batch size. Their gradients are added here, in the backward: ``dW +=
reg.gradient(W)`` after the data term, and the activity term ``reg.gradient(a) / batch`` to
``dL/da`` before the activation's backward. ``backward_z`` (the loss shortcut hands over
``dL/dz``) chains that activity term through the activation itself, so the shortcut stays exact
with an activity regularizer.

``DenseStack`` runs a whole all-Dense model as two compiled calls, forward and backward
(fused/cpu.py), where numba and NumPy's OpenBLAS are there: the same operations in the same
order as the layer-by-layer chain, without its dozens of calls per step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, initializers, regularizers
from ..backend import array_module, to_device, to_numpy
from ..fused import cpu, team
from ..kernels import KERNELS, dense_backward_into, dense_forward_into
from .base import Chain, Layer

__all__ = ["Dense", "DenseStack", "KERNEL_FORMS"]

KERNEL_FORMS = tuple(KERNELS)


def check_kernel_form(value: Any, argument: str) -> str | None:
    if value is None or value in KERNELS:
        return value
    raise ValueError(
        f"{argument} must be one of {', '.join(repr(k) for k in KERNELS)}, received {value!r}."
    )


class _Buffers:
    """A Dense layer's step buffers at one batch size. ``z`` is made on first use: a training
    stack's ReLU layer keeps it in ``a``'s buffer (DenseStack) and never makes one."""

    __slots__ = ("x", "_z", "a", "dx")

    def __init__(self, batch: int, input_dim: int, units: int, linear: bool, xp: Any, dtype: Any):
        self.x: Any = None  # the input of the last forward (a buffer of the layer before)
        self.a = xp.empty((batch, units), dtype=dtype)
        # a linear layer's activation is its z: share the buffer instead of copying
        self._z = self.a if linear else None
        self.dx = None if input_dim is None else xp.empty((batch, input_dim), dtype=dtype)

    @property
    def z(self) -> Any:
        if self._z is None:
            self._z = array_module(self.a).empty_like(self.a)
        return self._z

    @z.setter
    def z(self, value: Any) -> None:
        self._z = value


class Dense(Layer):
    """A densely connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: number of output units (a positive integer).
        activation: a name (``"sigmoid"``, ``"relu"``, ``"linear"``, ``"tanh"``,
            ``"softmax"``), an ``Activation``, or None for linear.
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initialisers, by name (``"glorot_uniform"``,
            ``"zeros"``, ...) or instance (``xpnn.initializers.HeNormal(seed=1)``).
        kernel_regularizer, bias_regularizer: a penalty on the weights (``"l2"``,
            ``xpnn.regularizers.L1L2(l1=1e-4)``, ...) or None.
        activity_regularizer: a penalty on the layer's output, divided by the batch size, or
            None.
        name: the layer's name (unique names are made up when None).
        kernel_form: ``"loop"`` (per-neuron, for teaching) or ``"matrix"``; None follows the
            model's ``kernel`` setting. (Named so because ``kernel`` is the weight matrix.)
    """

    rowwise = True

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        name: str | None = None,
        kernel_form: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if isinstance(units, bool) or not isinstance(units, int | np.integer) or units < 1:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # the config records a name as given, an instance serialized
        self._initializer_configs = (
            initializers.identifier_config(kernel_initializer),
            initializers.identifier_config(bias_initializer),
        )
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_form = check_kernel_form(kernel_form, "kernel_form")
        self.kernel: Any = None  # views into the model's parameters, set by attach
        self.bias: Any = None
        self.default_form = "matrix"  # the form when kernel_form is None (a model sets it)

    @property
    def form(self) -> str:
        """The kernel form in use: the layer's own choice, else its model's."""
        return self.kernel_form or self.default_form

    def attach(self, input_dim: int, params: list[Any], grads: list[Any], state: list[Any]) -> None:
        super().attach(input_dim, params, grads, state)
        # named once here, not looked up on every step
        self.kernel = self.params[0]
        self.bias = self.params[1] if self.use_bias else None

    # -- structure ------------------------------------------------------------------------
    def output_dim(self, input_dim: int) -> int:
        return self.units

    def param_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        """Shapes of the layer's weights for ``input_dim`` inputs, kernel before bias."""
        return [(input_dim, self.units)] + ([(self.units,)] if self.use_bias else [])

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Freshly drawn host weights (float64), in ``param_shapes`` order."""
        inits = [self.kernel_initializer, self.bias_initializer]
        return [init(s, rng) for init, s in zip(inits, self.param_shapes(input_dim))]

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

    @property
    def regularized(self) -> bool:
        """True when a regularizer adds to the loss."""
        return (
            self.kernel_regularizer is not None
            or self.activity_regularizer is not None
            or (self.bias_regularizer is not None and self.use_bias)
        )

    def penalty(self, ws: _Buffers) -> Any:
        """The regularizers' addition to the loss after a forward into ``ws``: the weights'
        penalties plus the output's divided by the batch size (Keras's ``layer.losses``)."""
        terms = []  # Keras's order: the output's penalty (added at call), then the weights'
        if self.activity_regularizer is not None:
            terms.append(self.activity_regularizer.penalty(ws.a) / ws.a.shape[0])
        if self.kernel_regularizer is not None:
            terms.append(self.kernel_regularizer.penalty(self.kernel))
        if self.bias_regularizer is not None and self.use_bias:
            terms.append(self.bias_regularizer.penalty(self.bias))
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def backward(self, delta: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        if self.activity_regularizer is not None:
            delta += self._activity_gradient(ws)  # dL/da gains the output's penalty
        return self._backward(delta, ws, need_dx, self.activation)

    def backward_z(self, delta_z: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        if self.activity_regularizer is not None:
            # the loss's dL/dz came through the shortcut; the output's penalty still has to
            # pass through the activation (a vector-Jacobian product for softmax)
            g = self._activity_gradient(ws)
            delta_z += self.activation.backward(g, ws.z, ws.a, out=g)
        return self._backward(delta_z, ws, need_dx, activations.linear)

    def _activity_gradient(self, ws: _Buffers) -> Any:
        g = self.activity_regularizer.gradient(ws.a)  # a new array: free to overwrite
        g /= ws.a.shape[0]
        return g

    def _backward(self, delta: Any, ws: _Buffers, need_dx: bool, activation: Any) -> Any:
        dW = self.grads[0]
        db = self.grads[1] if self.use_bias else None
        dx = ws.dx if need_dx else None
        if self.form == "matrix":
            dx = dense_backward_into(delta, ws.x, self.kernel, ws.z, ws.a, activation, dW, db, dx)
        else:
            grads = KERNELS[self.form][1](delta, ws.x, self.kernel, ws.z, ws.a, activation)
            dW[...] = grads[0]
            if db is not None:
                db[...] = grads[1]
            if dx is not None:
                dx[...] = grads[2]
        if self.kernel_regularizer is not None:
            dW += self.kernel_regularizer.gradient(self.kernel)
        if self.bias_regularizer is not None and db is not None:
            db += self.bias_regularizer.gradient(self.bias)
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
            "kernel_initializer": self._initializer_configs[0],
            "bias_initializer": self._initializer_configs[1],
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_form": self.kernel_form,
        }

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r}, name={self.name!r})"


_STACK_CODES = {
    id(activations.linear): cpu.LINEAR,
    id(activations.relu): cpu.RELU,
    id(activations.sigmoid): cpu.SIGMOID,
    id(activations.softmax): cpu.SOFTMAX,
}


class DenseStack(Chain):
    """A chain of Dense layers as two compiled calls (fused/cpu.py). ``of`` builds one when
    every layer can go: ``Dense`` itself (not a subclass), the matrix form, no regularizer, a
    linear, relu, sigmoid or softmax activation, C-contiguous NumPy buffers of one float dtype; it
    returns None otherwise. An input or ``delta`` the kernels cannot take (another dtype or
    layout) goes through the plain chain."""

    @classmethod
    def of(cls, layers: list[Any], spaces: list[Any], training: bool) -> DenseStack | None:
        if not cpu.STACK_ENABLED or not layers:
            return None
        codes = []
        for layer in layers:
            if type(layer) is not Dense or layer.form != "matrix" or layer.regularized:
                return None
            code = _STACK_CODES.get(id(layer.activation))
            if code is None:
                return None
            codes.append(code)
        dtype = layers[0].kernel.dtype
        arrays = [p for layer in layers for p in layer.params + layer.grads]
        # (``z``, made on first use, takes ``a``'s type and layout)
        arrays += [a for ws in spaces for a in (ws.a, ws.dx) if a is not None]
        for a in arrays:
            if type(a) is not np.ndarray or not a.flags.c_contiguous or a.dtype != dtype:
                return None
        if training and any(ws.dx is None for ws in spaces[1:]):
            return None
        return cls(layers, spaces, training, tuple(codes), dtype)

    def __init__(
        self,
        layers: list[Any],
        spaces: list[Any],
        training: bool,
        codes: tuple[int, ...],
        dtype: Any,
    ) -> None:
        super().__init__(layers, spaces, training)
        self.codes, self.dtype = codes, dtype
        self.widest = max(layer.units for layer in layers)
        none = np.zeros(0, dtype=dtype)
        if training:
            # A ReLU layer's backward needs only the mask ``a > 0``, the same as ``z > 0``: in
            # training its ``z`` lives in ``a``'s buffer (``bias_relu`` in place), which saves a
            # pass of writes over the layer's output and the buffer itself (benchmarks/README.md,
            # 2026-12-02 14:30). The plain chain, run where an input or ``delta`` does not suit
            # the compiled one, works on the shared buffer alike. Inference keeps ``z`` apart:
            # predict's search for NaN reads the first layer's product (``first_product``).
            for ws, code in zip(spaces, codes):
                if code == cpu.RELU:
                    ws.z = ws.a
        self.Ws = tuple(layer.kernel for layer in layers)
        self.bs = tuple(layer.bias if layer.use_bias else none for layer in layers)
        self.zs = tuple(ws.z for ws in spaces)
        self.As = tuple(ws.a for ws in spaces)
        if training:
            self.dWs = tuple(layer.grads[0] for layer in layers)
            self.dbs = tuple(layer.grads[1] if layer.use_bias else none for layer in layers)
            # the first layer's input gradient is never computed: a placeholder keeps the indices
            self.dxs = (np.zeros((0, 0), dtype=dtype), *(ws.dx for ws in spaces[1:]))
        for ws, a in zip(spaces[1:], self.As):  # each layer's input, as Dense.forward notes it
            ws.x = a

    @property
    def first_product(self) -> Any:
        """The first layer's ``x @ W + b`` of the last forward (either path writes it; an
        inference stack's: in training a ReLU layer's ``z`` is its ``a``)."""
        return self.zs[0]

    def _takes(self, a: Any) -> bool:
        return type(a) is np.ndarray and a.flags.c_contiguous and a.dtype == self.dtype

    def forward(self, x: Any) -> Any:
        if not self._takes(x):
            return super().forward(x)
        self.spaces[0].x = x
        cpu.stack_forward(x, self.Ws, self.bs, self.codes, self.zs, self.As, self._team(x))
        return self.As[-1]

    def _team(self, x: Any, big: bool = False) -> Any:
        """The thread team (fused/team.py) for a call with ``x`` as its input, where it has work
        to share with it (``big``, or a layer of ``x``'s rows big enough to split), else
        ``cpu.IDLE``: a small net's products are too small for OpenBLAS to split either, so it
        does not start the team (nor compile it)."""
        if big or x.shape[0] * self.widest >= cpu.LAYER_SPLIT or x.nbytes >= cpu.GATHER_SPLIT:
            return team.team()
        return cpu.IDLE

    def trainer(self, loss_kernel: tuple[str, tuple[Any, ...]]) -> Any:
        name, args = loss_kernel
        kernel = getattr(cpu, f"stack_train_{name}", None)
        if kernel is None or not self.training:
            return None
        stack = (self.Ws, self.bs, self.codes, self.zs, self.As, self.dWs, self.dbs, self.dxs)
        first, output = self.spaces[0], self.As[-1]
        big = sum(p.size for p in self.Ws + self.bs) >= cpu.ADAM_SPLIT  # Adam's update splits

        def train(
            X: Any, Y: Any, order: Any, start: int, steps: int, bufs: Any, *state: Any
        ) -> tuple[int, Any]:
            """Chain.trainer's ``train``; ``state``: ``(update, totals, metrics)``."""
            first.x = bufs[0]  # the first layer's input, as Dense.forward notes it
            words = self._team(bufs[0], big)
            bad = kernel(X, Y, order, start, steps, bufs, stack, words, *state, *args)
            return bad, output

        return train

    def backward(self, delta: Any, shortcut: bool) -> None:
        x = self.spaces[0].x
        if not (self._takes(delta) and delta.flags.writeable and self._takes(x)):
            return super().backward(delta, shortcut)
        stack = (self.Ws, self.codes, self.As, self.dWs, self.dbs, self.dxs)
        cpu.stack_backward(delta, x, *stack, shortcut, self._team(x))
