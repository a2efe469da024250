"""Every CUDA kernel in fused/cuda.py compiles, for every dtype it is built for, without a GPU.

The kernels are CUDA C strings that nothing checks until CuPy compiles them on a GPU's first
launch, and CI has no GPU. This generates each kernel's source the way CuPy 14 does for an
``ElementwiseKernel`` launch (``cupy._core._kernel._get_elementwise_kernel_code``, for the
argument layouts the wrappers pass), with CuPy's headers and compile options
(``cupy._core.core.assemble_cupy_compiler_options``, then the flags its NVRTC path adds), and
compiles it with NVRTC for Ampere and Hopper. NVRTC needs no device.

These are CuPy's private functions (checked against CuPy 14.2's source); if they move, this
test breaks loudly rather than passing. It needs the ``cuda-compile`` extra and is skipped
without it, unless ``XPNN_REQUIRE_CUDA_COMPILE=1`` (as .ci/run sets) makes that a failure.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any

import numpy as np
import pytest

from xpnn.fused import cuda

ARCHS = ("80", "90")  # A100, H100/H200


def _require() -> tuple[Any, Any]:
    """CuPy and its NVRTC binding, or a skip (a failure where CI requires them)."""
    why = None
    try:
        import cupy
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()  # loads libnvrtc
        cupy._core.core.assemble_cupy_compiler_options(())  # finds the CUDA headers
    except ImportError as exc:
        why = f"CuPy is not installed ({exc})"
    except Exception as exc:  # libnvrtc or the CUDA headers missing
        why = f"NVRTC or the CUDA headers are missing ({type(exc).__name__}: {exc})"
    if why is None:
        return cupy, nvrtc
    why += "; pip install '.[cuda-compile]'"
    if os.environ.get("XPNN_REQUIRE_CUDA_COMPILE") == "1":
        pytest.fail(why)
    pytest.skip(why, allow_module_level=True)


cupy, nvrtc = _require()
from cupy._core import _carray, _kernel, _scalar, core  # noqa: E402  (after the skip above)

# cupy/_core/_kernel.pxd: enum _ArgKind
_NDARRAY, _INDEXER, _SCALAR = 1, 2, 3


class CompileError(Exception):
    """NVRTC refused a kernel; the message is its log."""


def layouts(kernel: cuda.Kernel) -> tuple[int, ...]:
    """The ranks of the loop CuPy runs a kernel over. Same-shape C-contiguous arrays are
    reduced to one dimension; a broadcast row keeps the loop 2-D (and a batch of one row is
    1-D again)."""
    return (2, 1) if kernel.broadcast else (1,)


def kernel_source(
    kernel: cuda.Kernel, dtype: str, label: str | None, ndim: int, index_32_bits: bool = True
) -> str:
    """The CUDA source CuPy generates for one launch of ``kernel``, headers included."""
    k = cuda.build(kernel, cupy)
    types = {"T": np.dtype(dtype), "I": None if label is None else np.dtype(label)}

    def dtype_of(p: Any) -> Any:
        return p.dtype if p.dtype is not None else types[p.ctype]

    in_dtypes = tuple(None if p.name in kernel.scalars else dtype_of(p) for p in k.in_params)
    out_dtypes = tuple(dtype_of(p) for p in k.out_params)
    in_types, _, type_map = k._decide_params_type(in_dtypes, out_dtypes)
    infos = []
    for p, t in zip(k.in_params + k.out_params, in_types + out_dtypes):
        if p.name in kernel.scalars:
            infos.append(_kernel._ArgInfo(_SCALAR, _scalar.CScalar, np.dtype(t), 0, True, True))
        elif p.raw:
            infos.append(
                _kernel._ArgInfo(
                    _NDARRAY, cupy.ndarray, np.dtype(t), kernel.raw_ndim, True, index_32_bits
                )
            )
        else:
            contiguous = ndim == 1 or p.name not in kernel.broadcast
            infos.append(
                _kernel._ArgInfo(
                    _NDARRAY, cupy.ndarray, np.dtype(t), ndim, contiguous, index_32_bits
                )
            )
    infos.append(_kernel._ArgInfo(_INDEXER, _carray.Indexer, None, ndim, True, index_32_bits))
    code = _kernel._get_elementwise_kernel_code(
        tuple(infos), type_map, k.params, k.operation, k.name, k.preamble, **k.kwargs
    )
    assert f"CIndexer<{ndim}, {int(index_32_bits)}> _ind" in code, code  # the layout took
    return "".join(f"#include <{h}>\n" for h in core._cupy_header_list) + code


def compile_source(source: str, name: str, arch: str, options: tuple[str, ...]) -> bytes:
    """Compile as CuPy's NVRTC path does (``cupy.cuda.compiler._compile_with_cache_cuda``):
    its assembled options, then ``-ftz=true``, the architecture, and the default device
    execution space. Returns the cubin; raises CompileError with NVRTC's log."""
    options = core.assemble_cupy_compiler_options(options) + (
        "-ftz=true",
        f"-arch=sm_{arch}",
        "--device-as-default-execution-space",
    )
    prog = nvrtc.createProgram(source, f"{name}.cu", (), ())
    try:
        nvrtc.compileProgram(prog, options)
        return nvrtc.getCUBIN(prog)
    except nvrtc.NVRTCError as exc:
        raise CompileError(f"{exc}\n{nvrtc.getProgramLog(prog)}") from None
    finally:
        nvrtc.destroyProgram(prog)


def compile_kernel(
    kernel: cuda.Kernel, dtype: str, label: str | None, ndim: int, arch: str
) -> None:
    """Compile ``kernel`` for arrays of any size (32- and 64-bit indexing)."""
    for index_32_bits in (True, False):
        source = kernel_source(kernel, dtype, label, ndim, index_32_bits)
        assert compile_source(source, f"xpnn_{kernel.name}", arch, cuda.OPTIONS)


def _cases() -> list[Any]:
    cases = []
    for kernel in cuda.KERNELS.values():
        for dtype in kernel.dtypes:
            for label in kernel.labels or (None,):
                for ndim in layouts(kernel):
                    name = "-".join(str(p) for p in (kernel.name, dtype, label, f"{ndim}d") if p)
                    cases.append(pytest.param(kernel, dtype, label, ndim, id=name))
    return cases


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: f"sm_{a}")
@pytest.mark.parametrize(("kernel", "dtype", "label", "ndim"), _cases())
def test_kernel_compiles(kernel: cuda.Kernel, dtype: str, label: str | None, ndim: int, arch: str):
    compile_kernel(kernel, dtype, label, ndim, arch)


def test_every_kernel_is_built_for_both_float_types_and_the_label_types() -> None:
    for kernel in cuda.KERNELS.values():
        assert set(kernel.dtypes) == {"float32", "float64"}, kernel.name
        uses_labels = any(p.split()[-2] == "I" for p in kernel.in_params.split(","))
        assert bool(kernel.labels) == uses_labels, kernel.name
        if uses_labels:
            assert {"int64", "int32"} <= set(kernel.labels), kernel.name  # host, device labels


def test_every_kernel_in_the_module_comes_from_the_table() -> None:
    """A kernel written inline in a wrapper would escape this file's compile check."""
    source = inspect.getsource(cuda)
    for maker in ("ElementwiseKernel(", "ReductionKernel(", "RawKernel(", "RawModule("):
        assert source.count(maker) == (maker == "ElementwiseKernel("), maker  # build()'s only


def test_scalars_and_broadcast_name_inputs() -> None:
    for kernel in cuda.KERNELS.values():
        inputs = {p.split()[-1]: p.split() for p in kernel.in_params.split(",")}
        for name in kernel.scalars + kernel.broadcast:
            assert name in inputs and "raw" not in inputs[name], (kernel.name, name)


def test_a_broken_kernel_fails_to_compile() -> None:
    """The check can fail: the same path rejects a body with a typo in it."""
    adam = cuda.KERNELS["adam"]
    broken = dataclasses.replace(adam, body=adam.body.replace("sqrt(vi)", "sqrt(vj)"))
    with pytest.raises(CompileError, match='identifier "vj" is undefined'):
        compile_kernel(broken, "float32", None, 1, ARCHS[0])
