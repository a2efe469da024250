"""One-kernel CUDA versions of the training step's elementwise work (CuPy ElementwiseKernel).

Each eager CuPy expression launches one kernel per operation (Adam's update is about a dozen,
each a full pass over every parameter); these do the same arithmetic, in the same order as the
NumPy code, in one launch. They are built on first use from the array module the arrays
belong to (backend.py stays the only file that imports CuPy).
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module

__all__ = ["accepts"]

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


def adam_update(w: Any, g: Any, m: Any, v: Any, c1: Any, c2: Any, alpha: Any, eps: Any) -> None:
    """optimizers.Adam's update in one launch; w, m, v are read and written in place."""
    k = _kernel(
        "adam",
        w,
        "T g, T c1, T c2, T alpha, T eps",
        "T w, T m, T v",
        """
        T mi = m + (g - m) * c1;
        T vi = v + (g * g - v) * c2;
        m = mi;
        v = vi;
        w -= alpha * (mi / (sqrt(vi) + eps));
        """,
    )
    k(g, c1, c2, alpha, eps, w, m, v)


def column_sums(dz: Any, out: Any) -> Any:
    # cuBLAS-backed reductions are already one kernel on the GPU
    return dz.sum(axis=0, out=out)
