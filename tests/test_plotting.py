"""Learning curves and digit grids: the right panels, labels and legends, real PNG files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from xpnn import plotting

matplotlib = pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [0.7, 0.5, 0.3],
    "accuracy": [0.5, 0.8, 0.9],
    "val_loss": [0.75, 0.55, 0.4],
    "val_accuracy": [0.5, 0.75, 0.85],
}


def _image_size(path: Path) -> tuple[int, int]:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG
    height, width = matplotlib.image.imread(path).shape[:2]
    return width, height


def test_history_has_loss_and_accuracy_panels(tmp_path: Path) -> None:
    fig = plotting.plot_history(HISTORY, tmp_path / "c.png", title="Learning")
    loss, accuracy = fig.axes
    for ax, name in ((loss, "loss"), (accuracy, "accuracy")):
        assert ax.get_title() == name and ax.get_ylabel() == name and ax.get_xlabel() == "epoch"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), HISTORY["val_loss"])
    assert fig.get_suptitle() == "Learning"
    width, height = _image_size(tmp_path / "c.png")
    assert width > 2 * height > 600


def test_history_without_validation_or_metrics(tmp_path: Path) -> None:
    fig = plotting.plot_history({"loss": [1.0, 0.5]}, tmp_path / "c.png")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training"]
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG


def test_history_object_and_figure_without_saving(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from xpnn.callbacks import History

    history = History()
    for epoch, loss in enumerate([0.9, 0.4]):
        history.on_epoch_end(epoch, {"loss": loss, "val_loss": loss + 0.1})
    fig = plotting.plot_history(history)  # a pyplot figure, to show
    try:
        assert len(fig.axes) == 1 and not list(tmp_path.iterdir())
    finally:
        plt.close(fig)


def test_history_needs_a_loss() -> None:
    with pytest.raises(ValueError, match="needs a history with a 'loss' list"):
        plotting.plot_history({})


def test_digits_mark_mistakes_in_red_with_the_true_label(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 17, size=(10, 8, 8))
    predicted = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    true = [0, 1, 0, 1, 0, 1, 0, 1, 1, 0]
    fig = plotting.plot_digits(images, predicted, true, tmp_path / "d.png", columns=4)
    titles = [ax.title for ax in fig.axes[:10]]
    assert [t.get_text() for t in titles[:8]] == [str(p) for p in predicted[:8]]
    assert titles[8].get_text() == "0 (true 1)" and titles[9].get_text() == "1 (true 0)"
    red = matplotlib.colors.to_rgba("red")
    is_red = [matplotlib.colors.to_rgba(t.get_color()) == red for t in titles]
    assert is_red == [False] * 8 + [True] * 2
    assert "2 wrong" in fig.get_suptitle()
    assert len(fig.axes) == 12 and not fig.axes[11].axison  # 3 rows of 4, 2 left empty
    width, height = _image_size(tmp_path / "d.png")
    assert width > 400 and height > 400


def test_digits_take_flat_rows_and_check_lengths(tmp_path: Path) -> None:
    fig = plotting.plot_digits(np.zeros((3, 64)), [1, 2, 3], [1, 2, 3], tmp_path / "d.png")
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
    assert "none" not in fig.get_suptitle() and "all right" in fig.get_suptitle()
    with pytest.raises(ValueError, match="as many predictions and true labels as images"):
        plotting.plot_digits(np.zeros((3, 8, 8)), [1, 2], [1, 2, 3], tmp_path / "e.png")


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ImportError, match=r"pip install 'xpnn\[plots\]'"):
        plotting.plot_history(HISTORY, "never.png")
