"""One-kernel CUDA versions of the training step's elementwise work (CuPy ElementwiseKernel).

Each eager CuPy expression launches one kernel per operation (Adam's update is about a dozen,
each a full pass over every parameter); these do the same arithmetic, in the same order as the
NumPy code, in one launch. They are built on first use from the array module the arrays
belong to (backend.py stays the only file that imports CuPy).
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module

__all__ = ["DEVICE_SCALARS", "accepts"]

# Kernels that read their changing scalars (Adam's step size) from device memory, so that a
# training step recorded as a CUDA graph stays valid when replayed (optimizers.py).
DEVICE_SCALARS = True

_cache: dict[str, Any] = {}


def accepts(*arrays: Any) -> bool:
    """True for C-contiguous CuPy arrays."""
    for a in arrays:
        if not type(a).__module__.startswith("cupy") or not a.flags.c_contiguous:
            return False
    return True


def _kernel(name: str, like: Any, params: str, outputs: str, body: str) -> Any:
    if name not in _cache:
        _cache[name] = array_module(like).ElementwiseKernel(params, outputs, body, f"xpnn_{name}")
    return _cache[name]


def sigmoid_forward(z: Any, out: Any) -> Any:
    k = _kernel(
        "sigmoid",
        z,
        "T z",
        "T a",
        "T e = exp(-fabs(z)); a = (z >= 0 ? (T)1 : e) / ((T)1 + e);",
    )
    return k(z, out)


def bias_relu(z: Any, b: Any, out: Any) -> Any:
    k = _kernel("bias_relu", z, "T b", "T z, T a", "z = z + b; a = z > (T)0 ? z : (T)0;")
    k(b, z, out)
    return out


def bias_sigmoid(z: Any, b: Any, out: Any) -> Any:
    k = _kernel(
        "bias_sigmoid",
        z,
        "T b",
        "T z, T a",
        "z = z + b; T e = exp(-fabs(z)); a = (z >= 0 ? (T)1 : e) / ((T)1 + e);",
    )
    k(b, z, out)
    return out


def sigmoid_backward_inplace(delta: Any, a: Any) -> Any:
    k = _kernel("sigmoid_bwd", delta, "T a", "T d", "T t = d * a; d = t - t * a;")
    k(a, delta)
    return delta


def relu_backward_inplace(delta: Any, z: Any) -> Any:
    k = _kernel("relu_bwd", delta, "T z", "T d", "if (z <= (T)0) d = (T)0;")
    k(z, delta)
    return delta


_ADAM = """
        T mi = m + (g - m) * c1;
        T vi = v + (g * g - v) * c2;
        m = mi;
        v = vi;
        w -= ALPHA * (mi / (sqrt(vi) + eps));
"""


def adam_update(w: Any, g: Any, m: Any, v: Any, c1: Any, c2: Any, alpha: Any, eps: Any) -> None:
    """optimizers.Adam's update in one launch; w, m, v are read and written in place."""
    params = "T g, T c1, T c2, T alpha, T eps"
    k = _kernel("adam", w, params, "T w, T m, T v", _ADAM.replace("ALPHA", "alpha"))
    k(g, c1, c2, alpha, eps, w, m, v)


def adam_update_device_alpha(
    w: Any, g: Any, m: Any, v: Any, c1: Any, c2: Any, alpha: Any, eps: Any
) -> None:
    """``adam_update`` with the step size read from the one-element device array ``alpha``."""
    params = "T g, T c1, T c2, raw T alpha, T eps"
    k = _kernel("adam_dev", w, params, "T w, T m, T v", _ADAM.replace("ALPHA", "alpha[0]"))
    k(g, c1, c2, alpha, eps, w, m, v)


def adam_step_size(lr64: Any, t: Any, beta_1: float, beta_2: float, dev: dict) -> Any:
    """Adam's ``alpha_t`` from the device step count ``t``, in float64 (as the host computes
    it), rounded into ``dev["alpha"]``'s dtype: one launch on one-element arrays."""
    out = dev["alpha"]
    name = f"adam_alpha_{out.dtype.name}"
    k = _kernel(
        name,
        out,
        "float64 lr, float64 t, float64 b1, float64 b2",
        f"{out.dtype.name} alpha",
        "alpha = lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t));",
    )
    k(lr64, t, beta_1, beta_2, out)
    return out


def bce_sigmoid(a: Any, y: Any, delta: Any, eps: float) -> Any:
    """Mean clipped BCE of probabilities ``a`` (a 0-d device array), and
    ``delta = (a - y) / size``: one elementwise launch and one sum."""
    k = _kernel(
        "bce_sigmoid",
        a,
        "T a, T y, T n, T lo, T hi",
        "T d, T l",
        """
        T p = min(max(a, lo), hi);
        l = -(y * log(p) + ((T)1 - y) * log((T)1 - p));
        d = (a - y) / n;
        """,
    )
    t = a.dtype.type
    per = array_module(a).empty_like(a)
    k(a, y, t(a.size), t(eps), t(1.0) - t(eps), delta, per)
    return per.mean()


def bce_logits(z: Any, y: Any, delta: Any) -> Any:
    """Mean BCE of logits ``z`` (softplus form) and ``delta = (sigmoid(z) - y) / size``."""
    k = _kernel(
        "bce_logits",
        z,
        "T z, T y, T n",
        "T d, T l",
        """
        T e = exp(-fabs(z));
        l = max(z, (T)0) - z * y + log1p(e);
        d = ((z >= 0 ? (T)1 : e) / ((T)1 + e) - y) / n;
        """,
    )
    per = array_module(z).empty_like(z)
    k(z, y, z.dtype.type(z.size), delta, per)
    return per.mean()


def softmax_ce_sparse(z: Any, y: Any, delta: Any, from_logits: bool, eps: float) -> Any:
    """Mean sparse categorical CE and ``delta = (softmax(z) - onehot(y)) / batch`` (from
    logits), or ``(z - onehot(y)) / batch`` for softmax outputs ``z``: one thread per row
    (a row's classes in a loop: the outputs here are a handful of classes), then one sum.
    A label outside ``[0, classes)`` (device labels are not checked on the host) gives a NaN
    loss, not a read out of bounds."""
    name = "softmax_ce_logits" if from_logits else "softmax_ce_probs"
    head = """
        const ptrdiff_t C = classes, r = i * C;
        const T nb = (T)batch;
        const long long lab = (long long)y;
        if (lab < 0 || lab >= C) {
            l = (T)nan("");
            for (ptrdiff_t c = 0; c < C; ++c) d[r + c] = (T)0;
        } else {
    """
    if from_logits:
        body = """
        T m = z[r];
        for (ptrdiff_t c = 1; c < C; ++c) m = max(m, z[r + c]);
        double s = 0.0;
        for (ptrdiff_t c = 0; c < C; ++c) { T e = exp(z[r + c] - m); d[r + c] = e; s += e; }
        l = (T)(log(s) - (double)(z[r + lab] - m));
        for (ptrdiff_t c = 0; c < C; ++c) d[r + c] = (T)(d[r + c] / s / batch);
        d[r + lab] -= (T)1 / nb;
        """
    else:
        body = """
        double s = 0.0;
        for (ptrdiff_t c = 0; c < C; ++c) s += z[r + c];
        double p = min(max(z[r + lab] / s, eps), 1.0 - eps);
        l = (T)(-log(p));
        for (ptrdiff_t c = 0; c < C; ++c) d[r + c] = z[r + c] / nb;
        d[r + lab] -= (T)1 / nb;
        """
    k = _kernel(
        name,
        z,
        "I y, raw T z, int64 classes, int64 batch, float64 eps",
        "raw T d, T l",
        head + body + "}",
    )
    batch, classes = z.shape
    per = array_module(z).empty(batch, dtype=z.dtype)
    k(y, z, classes, batch, eps, delta, per)
    return per.mean()


def column_sums(dz: Any, out: Any) -> Any:
    # cuBLAS-backed reductions are already one kernel on the GPU
    return dz.sum(axis=0, out=out)
