"""Pictures of training: learning curves and labelled digits (matplotlib, an optional extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_history", "plot_digits"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("Plotting needs matplotlib: pip install 'xpnn[plots]'.") from exc
    if matplotlib.get_backend().lower() not in ("agg",) and not _has_display():
        matplotlib.use("Agg")  # no screen: draw to files
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY"))


def plot_history(
    history: dict[str, list[float]], path: str | None = None, title: str | None = None
) -> Any:
    """Loss (and accuracy or another metric, when recorded) per epoch, training and validation.

    Args:
        history: ``History.history``: ``{"loss": [...], "val_loss": [...], ...}``.
        path: save the figure there as PNG when given.
        title: the figure's title.

    Returns:
        The matplotlib figure.
    """
    plt = _pyplot()
    metrics = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, key in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label=f"training {key}", color="tab:blue")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}", color="tab:orange")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(key.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_digits(
    images: np.ndarray,
    predicted: Sequence[int],
    true: Sequence[int],
    path: str,
    columns: int = 8,
    title: str | None = None,
) -> None:
    """A grid of digit images, each titled with its prediction; mistakes in red, with the
    true label."""
    plt = _pyplot()
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.4 * columns, 1.6 * rows + 0.6), squeeze=False
    )
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k], cmap="gray_r", interpolation="nearest")
        right = int(predicted[k]) == int(true[k])
        label = f"{int(predicted[k])}" if right else f"{int(predicted[k])} (true {int(true[k])})"
        ax.set_title(
            label,
            color="black" if right else "red",
            fontsize=10,
            fontweight="normal" if right else "bold",
        )
    mistakes = sum(int(p) != int(t) for p, t in zip(predicted, true))
    marked = "none wrong" if mistakes == 0 else f"{mistakes} wrong, marked in red"
    fig.suptitle(title or f"Test digits labelled with their predictions ({marked})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
