"""One-kernel CUDA twins of the training step's elementwise work (CuPy ElementwiseKernels).

Each eager CuPy expression launches one kernel per operation (Adam's update is about a dozen,
each a full pass over every parameter); these do the same arithmetic, in the same order and
dtype as the NumPy code in activations.py, losses.py and optimizers.py (the reference), in one
launch. tests/test_fused.py holds each to its reference on a GPU.

Every kernel is declared as data in ``KERNELS``: its parameters, its body, which of its inputs
are host scalars, and the dtypes it is built for. ``build`` turns a declaration into the
``ElementwiseKernel`` the functions below launch, so tests/test_cuda_compile.py can compile
every kernel exactly as CuPy would, on a machine without a GPU. The kernels are built on first
use from the array module the arrays belong to (backend.py stays the only file that imports
CuPy).

Host scalars are baked into a training step recorded as a CUDA graph (graphs.py), so only
values fixed for a run may be scalars: the step count and learning rate come as device arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backend import array_module

__all__ = ["FLOATS", "KERNELS", "LABELS", "OPTIONS", "Kernel", "accepts", "build"]

FLOATS = ("float32", "float64")
# Class labels: int64 from the host path (losses.prepare_targets); device labels keep their
# integer dtype, commonly int32, or uint8 as data sets ship them.
LABELS = ("int64", "int32", "uint8")

# No multiply-add contraction: the reference rounds after every operation (one ufunc each), and
# a contracted ``a * b + c`` rounds once, which would change results in the last bit.
OPTIONS = ("--fmad=false",)


@dataclass(frozen=True)
class Kernel:
    """An ElementwiseKernel as data. In the parameters ``T`` is the float type and ``I`` the
    label type; ``i`` in a body is the loop index."""

    name: str
    in_params: str
    out_params: str
    body: str
    scalars: tuple[str, ...] = ()  # inputs passed as host scalars, not arrays
    broadcast: tuple[str, ...] = ()  # inputs passed as one row, broadcast over the batch
    raw_ndim: int = 1  # the rank of the arrays passed as ``raw`` (indexed by hand)
    dtypes: tuple[str, ...] = FLOATS  # what T is built for
    labels: tuple[str, ...] = ()  # what I is built for


# activations._sigmoid: exp(-|z|) never overflows
_SIGMOID = "T e = exp(-fabs(z)); a = (z >= 0 ? (T)1 : e) / ((T)1 + e);"
# xp.maximum(z, 0.0) as CuPy writes it, but for the NaN it returns
_RELU = "(isnan(z) ? z : max(z, (T)0))"


def _clip(x: str) -> str:
    """``xp.clip(x, lo, hi)`` as CuPy writes it (NaN passes through)."""
    return f"({x} < lo ? lo : ({x} > hi ? hi : {x}))"


# Sparse categorical CE, one thread per row (a row's classes in a loop: outputs are a handful
# of classes). A label outside [0, classes) (device labels are not checked on the host) gives
# a NaN loss and a zero delta, not a read out of bounds. PROBABILITY is softmax(z) (logits) or
# the given probabilities; the delta is then, as the reference: minus 1 at the label, / batch.
_SOFTMAX_CE = """
const ptrdiff_t C = classes, r = i * C;
const long long lab = (long long)y;
if (lab < 0 || lab >= C) {
    l = (T)nan("");
    for (ptrdiff_t c = 0; c < C; ++c) d[r + c] = (T)0;
} else {
    T s = (T)0;
    LOSS
    for (ptrdiff_t c = 0; c < C; ++c) {
        T p = PROBABILITY;
        if (c == lab) p -= (T)1;
        d[r + c] = p / nb;
    }
}
"""
_LOSS_LOGITS = """
    T m = z[r];
    for (ptrdiff_t c = 1; c < C; ++c) m = max(m, z[r + c]);
    for (ptrdiff_t c = 0; c < C; ++c) { T e = exp(z[r + c] - m); d[r + c] = e; s += e; }
    l = log(s) - (z[r + lab] - m);
"""
_LOSS_PROBS = """
    for (ptrdiff_t c = 0; c < C; ++c) s += z[r + c];
    const T q = z[r + lab] / s;
    l = -log(CLIP);
"""


def _softmax_ce(loss: str, probability: str) -> str:
    loss = loss.strip().replace("CLIP", _clip("q"))
    return _SOFTMAX_CE.replace("LOSS", loss).replace("PROBABILITY", probability)


KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        Kernel("sigmoid", "T z", "T a", _SIGMOID),
        Kernel("bias_sigmoid", "T b", "T z, T a", "z = z + b; " + _SIGMOID, broadcast=("b",)),
        Kernel("bias_relu", "T b", "T z, T a", f"z = z + b; a = {_RELU};", broadcast=("b",)),
        Kernel("sigmoid_backward", "T a", "T d", "T t = d * a; d = t - t * a;"),
        # delta * (z > 0), a product as the reference's, so -0.0 and NaN come out alike
        Kernel("relu_backward", "T z", "T d", "d = d * (z > (T)0 ? (T)1 : (T)0);"),
        Kernel(
            "bce_sigmoid",
            "T a, T y, T n, T lo, T hi",
            "T d, T l",
            f"""
            T p = {_clip("a")};
            l = -(y * log(p) + ((T)1 - y) * log((T)1 - p));
            d = (a - y) / n;
            """,
            scalars=("n", "lo", "hi"),
        ),
        Kernel(
            "bce_logits",
            "T z, T y, T n",
            "T d, T l",
            f"""
            T e = exp(-fabs(z));
            l = {_RELU} - z * y + log1p(e);
            d = ((z >= 0 ? (T)1 : e) / ((T)1 + e) - y) / n;
            """,
            scalars=("n",),
        ),
        Kernel(
            "softmax_ce_logits",
            "I y, raw T z, int64 classes, T nb",
            "raw T d, T l",
            _softmax_ce(_LOSS_LOGITS, "d[r + c] / s"),
            scalars=("classes", "nb"),
            raw_ndim=2,
            labels=LABELS,
        ),
        Kernel(
            "softmax_ce_probs",
            "I y, raw T z, int64 classes, T nb, T lo, T hi",
            "raw T d, T l",
            _softmax_ce(_LOSS_PROBS, "z[r + c]"),
            scalars=("classes", "nb", "lo", "hi"),
            raw_ndim=2,
            labels=LABELS,
        ),
        # Adam's step size from the device's step count and rate, in float64, then in T ...
        Kernel(
            "adam_alpha",
            "float64 t, float64 lr, float64 b1, float64 b2",
            "T alpha",
            "alpha = (T)(lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)));",
            scalars=("b1", "b2"),
        ),
        # ... which the update reads from device memory
        Kernel(
            "adam",
            "T g, raw T alpha, T c1, T c2, T e",
            "T w, T m, T v",
            """
            T mi = m + (g - m) * c1;
            T vi = v + (g * g - v) * c2;
            m = mi;
            v = vi;
            w -= alpha[0] * (mi / (sqrt(vi) + e));
            """,
            scalars=("c1", "c2", "e"),
        ),
    )
}


def build(kernel: Kernel, cupy: Any) -> Any:
    """The ``cupy.ElementwiseKernel`` for a declaration (compiled by CuPy on first launch)."""
    return cupy.ElementwiseKernel(
        kernel.in_params,
        kernel.out_params,
        kernel.body,
        f"xpnn_{kernel.name}",
        options=OPTIONS,
    )


_built: dict[str, Any] = {}
_alpha: dict[tuple[int, str], Any] = {}  # Adam's step size, one element per device and dtype


def _kernel(name: str, like: Any) -> Any:
    if name not in _built:
        _built[name] = build(KERNELS[name], array_module(like))
    return _built[name]


def accepts(*arrays: Any) -> bool:
    """True for C-contiguous CuPy arrays."""
    for a in arrays:
        if not type(a).__module__.startswith("cupy") or not a.flags.c_contiguous:
            return False
    return True


# -- activations --------------------------------------------------------------------------------
def sigmoid_forward(z: Any, out: Any) -> Any:
    """``out = sigmoid(z)``."""
    return _kernel("sigmoid", z)(z, out)


def bias_relu(z: Any, b: Any, out: Any) -> Any:
    """``z += b; out = max(z, 0)`` in one launch."""
    _kernel("bias_relu", z)(b, z, out)
    return out


def bias_sigmoid(z: Any, b: Any, out: Any) -> Any:
    """``z += b; out = sigmoid(z)`` in one launch."""
    _kernel("bias_sigmoid", z)(b, z, out)
    return out


def sigmoid_backward_inplace(delta: Any, a: Any) -> Any:
    """``delta *= a (1 - a)``."""
    _kernel("sigmoid_backward", delta)(a, delta)
    return delta


def relu_backward_inplace(delta: Any, z: Any) -> Any:
    """``delta *= (z > 0)``."""
    _kernel("relu_backward", delta)(z, delta)
    return delta


def softmax_forward(z: Any, out: Any) -> Any:
    """``out = softmax(z)`` along rows: the reference's array code (a max, an exp, a sum and a
    division, each one launch already; output rows are a handful of classes)."""
    from ..activations import softmax_rows  # here: activations imports this package

    return softmax_rows(z, out)


def softmax_backward_inplace(delta: Any, a: Any) -> Any:
    """``delta = a (delta - sum(delta a))`` per row: the reference's array code."""
    from ..activations import softmax_rows_backward

    return softmax_rows_backward(delta, a, delta)


def column_sums(dz: Any, out: Any) -> Any:
    """``dz.sum(axis=0)``: the reference itself, already one reduction kernel on the GPU."""
    return dz.sum(axis=0, out=out)


# -- output layer: loss value and dL/dz ---------------------------------------------------------
def bce_sigmoid(a: Any, y: Any, delta: Any, eps: float) -> Any:
    """Mean clipped BCE of probabilities ``a`` (a 0-d device array), and
    ``delta = (a - y) / size``: one elementwise launch and one mean."""
    t = a.dtype.type
    per = array_module(a).empty_like(a)
    _kernel("bce_sigmoid", a)(a, y, t(a.size), t(eps), t(1.0 - eps), delta, per)
    return per.mean()


def bce_logits(z: Any, y: Any, delta: Any) -> Any:
    """Mean BCE of logits ``z`` (softplus form) and ``delta = (sigmoid(z) - y) / size``."""
    per = array_module(z).empty_like(z)
    _kernel("bce_logits", z)(z, y, z.dtype.type(z.size), delta, per)
    return per.mean()


def softmax_ce_sparse(z: Any, y: Any, delta: Any, from_logits: bool, eps: float) -> Any:
    """Mean sparse categorical CE and ``delta = (softmax(z) - onehot(y)) / batch`` (from
    logits), or ``(z - onehot(y)) / batch`` for softmax outputs ``z``: one launch, one mean."""
    batch, classes = z.shape
    t = z.dtype.type
    per = array_module(z).empty(batch, dtype=z.dtype)
    if from_logits:
        _kernel("softmax_ce_logits", z)(y, z, classes, t(batch), delta, per)
    else:
        k = _kernel("softmax_ce_probs", z)
        k(y, z, classes, t(batch), t(eps), t(1.0 - eps), delta, per)
    return per.mean()


def softmax_ce(z: Any, y: Any, delta: Any, from_logits: bool, eps: float) -> Any:
    """Mean categorical CE against target rows ``y`` and ``delta = (softmax(z) - y) / batch``
    (from logits), or ``(z - y) / batch`` for softmax outputs ``z``: the reference's array
    code (losses.py), a few launches; the output layers this takes are narrow."""
    xp = array_module(z)
    batch = z.shape[0]
    if from_logits:
        shifted = z - z.max(axis=-1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=-1, keepdims=True)
        per = -(y * (shifted - xp.log(s))).sum(axis=-1)
        xp.divide(e, s, out=delta)
    else:
        q = xp.clip(z / z.sum(axis=-1, keepdims=True), eps, 1.0 - eps)
        per = -(y * xp.log(q)).sum(axis=-1)
        delta[...] = z
    delta -= y
    delta /= batch
    return per.mean()


def mse(a: Any, y: Any, delta: Any) -> Any:
    """Mean squared error and ``delta = 2 (a - y) / size`` after a linear output: the
    reference itself (losses.py), a few launches on a narrow output."""
    from ..activations import linear  # here: losses imports this package
    from ..losses import MeanSquaredError

    loss = MeanSquaredError()
    loss.output_delta(y, a, linear, delta)
    return loss.value(y, a)


# -- optimizers ---------------------------------------------------------------------------------
def adam_update(
    w: Any,
    g: Any,
    m: Any,
    v: Any,
    t: Any,
    lr: Any,
    beta_1: float,
    beta_2: float,
    eps: float,
) -> None:
    """optimizers.Adam's update; ``t`` (the step count, this step's) and ``lr`` are one-element
    float64 device arrays, so the launches read nothing from the host that changes per step.
    ``w``, ``m``, ``v`` are updated in place."""
    # The step size goes through a one-element buffer kept for good: a recorded step bakes in
    # its address. The two launches run back to back on one stream, so every optimizer on the
    # device can share it.
    key = (w.device.id, w.dtype.str)
    if key not in _alpha:
        _alpha[key] = array_module(w).empty(1, dtype=w.dtype)
    alpha = _alpha[key]
    _kernel("adam_alpha", w)(t, lr, beta_1, beta_2, alpha)
    d = w.dtype.type
    _kernel("adam", w)(g, alpha, d(1.0 - beta_1), d(1.0 - beta_2), d(eps), w, m, v)
