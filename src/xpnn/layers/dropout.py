"""``Dropout``: inverted dropout with a mask drawn on the device from a counter.

In training each unit is kept with probability ``1 - rate`` and the kept ones are multiplied by
``1 / (1 - rate)``, so inference is the identity. Keras writes ``where(mask, x / keep_prob, 0)``
(``keras/src/backend/jax/random.py``), which XLA computes as a product with the reciprocal: the
float32 numbers recorded from Keras on JAX are ``x * (1 / keep_prob)``, one ulp off a true
division in about half the entries (tests/test_layers_keras.py), and these are the same.

The mask cannot come from the host: the training step is recorded once as a CUDA graph and
replayed, and a replay repeats the recorded kernels with the recorded arguments. So the mask is a
pure function of device values, drawn by a counter-based hash (as Philox and Threefry are
counter-based generators, only smaller): every element's 32 random bits are two rounds of a
32-bit integer mixer (Wellons's "lowbias32") over ``(seed, counter, element index)``, in uint32
array operations that NumPy, CuPy and the strict stand-in compute identically, so every backend
draws the same masks. An element is kept when its bits are at least ``rate * 2**32``.

The layer's non-trainable state holds two numbers, ``[counter, seed]``: the counter counts the
training forwards (one mask each) and the seed keys the stream (the ``seed`` argument modulo
2**24, or drawn from the model's generator when ``seed`` is None). The state is saved with the
model, so a reloaded model goes on with the same masks. It has the model's dtype, float32 as a
rule, which holds integers exactly only up to 2**24: so the seed is taken modulo 2**24 and the
counter wraps modulo 2**24 (16.7 million steps before a mask comes back).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..backend import array_module
from .base import Layer

__all__ = ["Dropout"]

_EXACT = 2**24  # float32 holds every integer below this exactly
_ROUND_KEYS = (0x9E3779B9, 0x85EBCA6B)  # odd constants that spread the seed and the counter


def _mix(h: Any, tmp: Any) -> Any:
    """lowbias32 in place on uint32 ``h`` (``tmp`` a buffer of its shape): a bijection of
    32-bit words whose every output bit depends on every input bit."""
    xp = array_module(h)
    for shift, multiplier in ((16, 0x7FEB352D), (15, 0x846CA68B), (16, None)):
        xp.right_shift(h, np.uint32(shift), out=tmp)
        xp.bitwise_xor(h, tmp, out=h)
        if multiplier is not None:
            xp.multiply(h, np.uint32(multiplier), out=h)  # wraps modulo 2**32
    return h


def random_bits(index: Any, seed: Any, counter: Any, out: Any, tmp: Any) -> Any:
    """32 random bits per element of ``index`` (uint32 element numbers) into ``out``, a pure
    function of ``(seed, counter, index)``; ``seed`` and ``counter`` are one-element float
    arrays holding integers below 2**24."""
    xp = array_module(index)
    s = seed.astype(xp.uint32) * np.uint32(_ROUND_KEYS[0])  # (1,), wraps
    c = counter.astype(xp.uint32) * np.uint32(_ROUND_KEYS[1])
    xp.bitwise_xor(index, s, out=out)  # (rows, cols)
    _mix(out, tmp)
    out += c  # a second round keyed by the counter: each step a fresh, unrelated stream
    return _mix(out, tmp)


class _Buffers:
    __slots__ = ("index", "bits", "tmp", "keep", "out", "dx", "masked")

    def __init__(
        self, batch: int, dim: int, mask: tuple[int, int], xp: Any, dtype: Any, need_dx: bool
    ) -> None:
        rows, cols = mask
        self.index = xp.arange(rows * cols, dtype=xp.uint32).reshape(rows, cols)
        self.bits = xp.empty((rows, cols), dtype=xp.uint32)
        self.tmp = xp.empty((rows, cols), dtype=xp.uint32)
        self.keep = xp.empty((rows, cols), dtype=bool)
        self.out = xp.empty((batch, dim), dtype=dtype)
        self.dx = xp.empty((batch, dim), dtype=dtype) if need_dx else None
        self.masked = False  # whether the last forward applied a mask


class Dropout(Layer):
    """Randomly zero a fraction ``rate`` of the units in training, scaling the rest by
    ``1 / (1 - rate)``; the identity in inference.

    Args:
        rate: the fraction of units dropped, in [0, 1].
        noise_shape: ``(rows, features)`` of the mask, broadcast over the input: each entry
            None (the input's size), 1 (one draw shared along that axis) or the input's size;
            e.g. ``(None, 1)`` keeps or drops whole samples. None: one draw per element.
        seed: an integer for a reproducible stream of masks (taken modulo 2**24), or None to
            draw one from the model's generator when the model is built.
        name: the layer's name.
    """

    rowwise = True

    # Keras keeps a seed generator's state out of ``layer.weights`` (it is in
    # ``layer.variables``): not in get_weights, not counted; saved all the same.
    state_in_weights = False

    def __init__(
        self,
        rate: float,
        noise_shape: tuple[int | None, int | None] | None = None,
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, numbers.Real)
            or not 0 <= rate <= 1  # also refuses NaN
        ):
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between "
                f"0 and 1. Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.noise_shape = _check_noise_shape(noise_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"seed must be an integer or None, received seed={seed!r}.")
        self.seed = None if seed is None else int(seed)
        self._drawn_seed: int | None = None
        self._scale = 1.0 / (1.0 - self.rate) if self.rate < 1 else 0.0
        # kept when the bits are >= threshold: probability exactly 1 - threshold / 2**32
        self._threshold = np.uint32(min(round(self.rate * 2**32), 2**32 - 1))

    # -- structure ------------------------------------------------------------------------
    def output_dim(self, input_dim: int) -> int:
        cols = self.noise_shape[1] if self.noise_shape is not None else None
        if cols not in (None, 1, input_dim):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not broadcast to "
                f"the layer's {input_dim} features: its second entry must be None, 1 or "
                f"{input_dim}."
            )
        return input_dim

    def state_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        return [(2,)]  # [counter, seed]

    def initial_params(self, input_dim: int, rng: np.random.Generator) -> list[np.ndarray]:
        # no parameters; but this is the one call that gets the model's generator, so an
        # unseeded layer draws its seed here, for initial_state (called next) to store
        if self.seed is None:
            self._drawn_seed = int(rng.integers(_EXACT))
        return []

    def initial_state(self, input_dim: int) -> list[np.ndarray]:
        if self.seed is not None:
            seed = self.seed % _EXACT
        elif self._drawn_seed is not None:
            seed, self._drawn_seed = self._drawn_seed, None
        else:  # built without the model's generator: fresh entropy, never NumPy's global state
            seed = int(np.random.default_rng().integers(_EXACT))
        return [np.array([0.0, float(seed)])]

    def count_params(self) -> int:
        """0, as Keras counts it: the random-number state is not a weight."""
        return 0

    @property
    def counter(self) -> Any:
        """How many masks the layer has drawn (modulo 2**24), a one-element backend array."""
        return self.state[0][0:1] if self.state else None

    # -- running --------------------------------------------------------------------------
    def _mask_shape(self, batch: int) -> tuple[int, int]:
        rows, cols = self.noise_shape if self.noise_shape is not None else (None, None)
        if rows not in (None, 1, batch):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not broadcast to a "
                f"batch of {batch}: its first entry must be None, 1 or the batch size."
            )
        return (batch if rows is None else rows, self.input_dim if cols is None else cols)

    def workspace(self, batch: int, xp: Any, dtype: Any, need_dx: bool) -> _Buffers:
        return _Buffers(batch, self.input_dim, self._mask_shape(batch), xp, dtype, need_dx)

    def forward(self, x: Any, training: bool = False, ws: _Buffers | None = None) -> Any:
        if not training or self.rate == 0.0:
            if ws is not None:
                ws.masked = False
            return x
        xp = array_module(x)
        if ws is None:
            ws = self.workspace(x.shape[0], xp, x.dtype, need_dx=False)
        ws.masked = True
        if self.rate == 1.0:  # Keras returns zeros (x / 0 would give NaN where x is 0)
            ws.keep.fill(False)
            ws.out.fill(0)
            return ws.out
        (state,) = self.state
        counter, seed = state[0:1], state[1:2]
        bits = random_bits(ws.index, seed, counter, ws.bits, ws.tmp)
        xp.greater_equal(bits, self._threshold, out=ws.keep)
        counter += 1.0  # the next call draws the next mask
        xp.remainder(counter, float(_EXACT), out=counter)
        xp.multiply(x, self._scale, out=ws.out)
        xp.multiply(ws.out, ws.keep, out=ws.out)
        return ws.out

    def backward(self, delta: Any, ws: _Buffers, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        if not ws.masked:
            return delta
        xp = array_module(delta)
        if self.rate == 1.0:
            ws.dx.fill(0)
            return ws.dx
        xp.multiply(delta, self._scale, out=ws.dx)  # the same mask, the same scale
        xp.multiply(ws.dx, ws.keep, out=ws.dx)
        return ws.dx

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
        }

    def __repr__(self) -> str:
        return f"Dropout({self.rate}, name={self.name!r})"


def _check_noise_shape(noise_shape: Any) -> tuple[int | None, int | None] | None:
    if noise_shape is None:
        return None
    ok = isinstance(noise_shape, tuple | list) and len(noise_shape) == 2
    if ok:
        for d in noise_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)):
                ok = False
            elif d is not None and d < 1:
                ok = False
    if not ok:
        raise ValueError(
            "Invalid value received for argument `noise_shape`: expected a pair (rows, "
            f"features) of positive integers or None. Received: noise_shape={noise_shape!r}"
        )
    return tuple(None if d is None else int(d) for d in noise_shape)  # type: ignore[return-value]
