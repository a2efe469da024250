"""``model.summary()``: the layers, output shapes and parameter counts, laid out as Keras does."""

from __future__ import annotations

from typing import Any

__all__ = ["summary_text"]

_WIDTHS = (33, 24, 15)


def _line(left: str, mid: str, right: str, fill: str) -> str:
    return left + mid.join(fill * w for w in _WIDTHS) + right


def _row(cells: tuple[str, str, str], edge: str) -> str:
    a, b, c = cells
    w = _WIDTHS
    return f"{edge} {a:<{w[0] - 2}} {edge} {b:<{w[1] - 2}} {edge} {c:>{w[2] - 2}} {edge}"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def summary_text(model: Any) -> str:
    rows = []
    dim = model.input_dim
    for layer in model.layers:
        if dim is not None:
            dim = layer.output_dim(dim)
        shape = f"(None, {dim if dim is not None else '?'})"
        count = f"{layer.count_params():,}" if model.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, count))
    trainable = int(model._params.size) if model.built else 0
    fixed = model.count_params() - trainable if model.built else 0
    size = model.dtype.itemsize
    out = [
        f'Model: "{model.name}"',
        _line("┏", "┳", "┓", "━"),
        _row(("Layer (type)", "Output Shape", "Param #"), "┃"),
        _line("┡", "╇", "┩", "━"),
    ]
    for i, r in enumerate(rows):
        out.append(_row(r, "│"))
        if i < len(rows) - 1:
            out.append(_line("├", "┼", "┤", "─"))
    out.append(_line("└", "┴", "┘", "─"))
    total = trainable + fixed
    out.append(f" Total params: {total:,} ({_human_bytes(total * size)})")
    out.append(f" Trainable params: {trainable:,} ({_human_bytes(trainable * size)})")
    out.append(f" Non-trainable params: {fixed:,} ({_human_bytes(fixed * size)})")
    return "\n".join(out)
