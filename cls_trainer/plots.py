"""The classifier's figures: training curves (loss; validation accuracy and macro F1) and the confusion matrix."""

import os
import warnings
from pathlib import Path

import numpy as np

from trainer_common.io import atomic_path
from trainer_common.plots import CURVE_DPI, Panel, plot_curves

CLS_PANELS = [
    Panel("Loss", ["loss", "eval_loss"], "cross-entropy per example"),
    Panel("Validation accuracy and macro F1", ["eval_accuracy", "eval_macro_f1"], "score", limits=(0, 1)),
]
MAX_NAME = 24  # characters of a class name on an axis; longer ones end in "..."


def write_training_curves(log_history: list[dict], output_dir: str | os.PathLike) -> str:
    path = Path(output_dir) / "training_curves.png"
    plot_curves(log_history, CLS_PANELS, path)
    return str(path)


def _short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def confusion_figure(matrix, label_names: list[str]):
    """Gold classes down, predicted classes across; each cell holds its count and is coloured by its share of the
    gold row (the row's recall on the diagonal), so a rare class reads as clearly as a common one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    n = len(label_names)
    if matrix.shape != (n, n):
        raise ValueError(f"a confusion matrix of shape {matrix.shape} for {n} labels")
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows != 0)
    names = [_short(name) for name in label_names]
    margin = 0.9 + 0.075 * max(len(name) for name in names)  # inches for the tick labels
    side = max(3.0, 0.45 * n)
    fig, ax = plt.subplots(figsize=(side + margin + 1.6, side + margin + 0.6))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fontsize = 10 if n <= 8 else 8 if n <= 14 else 6
    for (gold, predicted), count in np.ndenumerate(matrix):
        colour = "white" if shares[gold, predicted] > 0.6 else "black"
        ax.text(predicted, gold, str(count), ha="center", va="center", color=colour, fontsize=fontsize)
    slanted = n > 4 or max(len(name) for name in names) > 8  # else the names would overlap
    ax.set_xticks(
        range(n), names, rotation=45 if slanted else 0, ha="right" if slanted else "center", rotation_mode="anchor"
    )
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion matrix (counts)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the gold row")
    fig.tight_layout()
    return fig


def write_confusion_matrix(matrix, label_names: list[str], path: str | os.PathLike) -> str:
    """Write `confusion_figure` as a PNG at `path` (atomically) and return the path."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        # A name in a script the default font lacks (CJK) is drawn as boxes, with one warning per glyph.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig = confusion_figure(matrix, label_names)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=CURVE_DPI, format="png")
    plt.close(fig)
    return str(path)
