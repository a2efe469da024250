"""Pictures of training: learning curves and labelled digits (matplotlib, an optional extra).

With a ``path`` the figure is drawn on matplotlib's Agg canvas and written as PNG without
touching pyplot, so saving works on a machine without a display and changes no global backend.
Without one the figure comes from pyplot, to be shown (``plt.show()``, or inline in a notebook).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_digits", "plot_history"]

_INSTALL = "Plotting needs matplotlib: pip install 'xpnn[plots]'."


def _figure(path: Any, figsize: tuple[float, float]) -> Any:
    """A new figure: headless (Agg) when it is only to be saved, else pyplot's."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    if path is not None:
        from matplotlib.figure import Figure

        return Figure(figsize=figsize, layout="constrained")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def _label(key: str) -> str:
    return key.replace("_", " ")


def plot_history(
    history: dict[str, list[float]] | Any,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Any:
    """Loss, and accuracy (or another metric) when recorded, per epoch: training and validation.

    Args:
        history: ``History.history`` (``{"loss": [...], "val_loss": [...], ...}``) or a History.
        path: write the figure there as PNG when given.
        title: the figure's title.

    Returns:
        The matplotlib figure.
    """
    history = getattr(history, "history", history)
    if not isinstance(history, dict) or not history.get("loss"):
        raise ValueError(
            "plot_history needs a history with a 'loss' list (History.history after fit), "
            f"received {history!r}."
        )
    # One panel per quantity: loss first, then the metrics, each with its val_ twin.
    keys = ["loss"] + [k for k in history if k != "loss" and not k.startswith("val_")]
    fig = _figure(path, figsize=(5.5 * len(keys), 4.0))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    epochs = np.arange(1, len(history["loss"]) + 1)
    marker = "o" if len(epochs) <= 20 else None  # a single epoch is still visible
    for ax, key in zip(axes, keys):
        ax.plot(epochs, history[key], marker=marker, color="tab:blue", label="training")
        if f"val_{key}" in history:
            val = history[f"val_{key}"]
            ax.plot(epochs, val, marker=marker, color="tab:orange", ls="--", label="validation")
        ax.set_title(_label(key))
        ax.set_xlabel("epoch")
        ax.set_ylabel(_label(key))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_digits(
    images: np.ndarray,
    predicted: Sequence[Any],
    true: Sequence[Any],
    path: str | os.PathLike[str] | None = None,
    columns: int = 8,
    title: str | None = None,
) -> Any:
    """A grid of digit images, each titled with its predicted class; mistakes in red, framed,
    with the true label.

    Args:
        images: (n, h, w) images, or (n, h*w) rows of a square image.
        predicted: the predicted class of each image.
        true: the true class of each image.
        path: write the figure there as PNG when given.
        columns: images per row.
        title: the figure's title (default: how many are wrong).

    Returns:
        The matplotlib figure.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        images = images.reshape(len(images), side, side)
    if not (len(images) == len(predicted) == len(true)) or len(images) == 0:
        raise ValueError(
            f"plot_digits needs as many predictions and true labels as images, received "
            f"{len(images)} images, {len(predicted)} predicted, {len(true)} true."
        )
    n = len(images)
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    fig = _figure(path, figsize=(1.35 * columns, 1.55 * rows + 0.5))
    axes = fig.subplots(rows, columns, squeeze=False)
    mistakes = 0
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[k], cmap="gray_r", interpolation="nearest")
        right = str(predicted[k]) == str(true[k])
        mistakes += not right
        if right:
            ax.set_title(f"{predicted[k]}", fontsize=10)
            for spine in ax.spines.values():
                spine.set_visible(False)
        else:
            ax.set_title(f"{predicted[k]} (true {true[k]})", fontsize=9, color="red")
            for spine in ax.spines.values():
                spine.set(color="red", linewidth=2.5)
    wrong = "all right" if mistakes == 0 else f"{mistakes} wrong, in red"
    fig.suptitle(title or f"Predicted class of {n} test digits ({wrong})")
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
