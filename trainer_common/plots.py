"""Training curves from `trainer_state.json` and image grids, written as PNG files."""

import json
import os
from pathlib import Path
from typing import NamedTuple

from .io import atomic_path

CURVE_DPI = 150
LABEL_HEIGHT, CHAR_WIDTH = 14, 6  # PIL's default bitmap font: about 11 px high, 6 px a character


def read_log_history(output_dir: str | os.PathLike) -> list[dict]:
    """The `log_history` list that `Trainer.save_state()` writes to `trainer_state.json`."""
    path = Path(output_dir) / "trainer_state.json"
    if not path.is_file():
        raise FileNotFoundError(f"no trainer_state.json in {output_dir}")
    return json.loads(path.read_text())["log_history"]


class Panel(NamedTuple):
    """One plot of `plot_curves`: the log keys drawn, the y-axis label, and the metric's range (None: unbounded;
    F1 is `(0, 1)`). A positive series whose largest value is over `LOG_SCALE_RATIO` times its smallest (the first
    steps of a loss) is drawn on a log scale, so that the rest of the curve stays readable."""

    title: str
    keys: list[str]
    ylabel: str
    limits: tuple[float, float] | None = None


LOG_SCALE_RATIO = 10


def plot_curves(log_history: list[dict], panels: list[Panel], path: str | os.PathLike) -> None:
    """Write `curves_figure` as a PNG."""
    import matplotlib.pyplot as plt

    fig = curves_figure(log_history, panels)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=CURVE_DPI, format="png")
    plt.close(fig)


def curves_figure(log_history: list[dict], panels: list[Panel]):
    """One plot per `Panel`; each key present in the logs becomes a line against the optimizer step (integer ticks).

    Training keys are logged every `logging_steps` and `eval_*` keys at each evaluation, so they are plotted
    as points of their own steps rather than aligned. A series of few points gets markers, so a single one shows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        drawn = []
        for key in panel.keys:
            points = [(entry["step"], entry[key]) for entry in log_history if key in entry]
            if points:
                steps, values = zip(*points)
                marker = "o" if key.startswith("eval_") or len(points) <= 3 else None
                ax.plot(steps, values, marker=marker, markersize=3, label=key)
                drawn += values
        ax.set_title(panel.title)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(panel.ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if panel.limits is not None:
            low, high = panel.limits
            ax.set_ylim(low, high)
        elif drawn and min(drawn) > 0 and max(drawn) > LOG_SCALE_RATIO * min(drawn):
            ax.set_yscale("log")
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    return fig


def to_uint8(images):
    """Float images in [0, 1] (any array-like, shape [N, H, W]) to a uint8 numpy array."""
    import numpy as np

    return (np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)


def save_image_grid(
    images,
    path: str | os.PathLike,
    ncols: int = 10,
    pad: int = 2,
    scale: int = 1,
    column_labels: list[str] | None = None,
    row_labels: list[str] | None = None,
) -> None:
    """Tile grayscale images of shape [N, H, W] with values in [0, 1] into one PNG, `ncols` per row, each image
    enlarged `scale` times (nearest pixel, so no blur). `column_labels` go in a row of text above the images,
    `row_labels` in a column of text on their left."""
    import numpy as np
    from PIL import Image, ImageDraw

    images = to_uint8(images)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    top0 = LABEL_HEIGHT if column_labels else 0
    left0 = max(len(label) for label in row_labels) * CHAR_WIDTH + pad if row_labels else 0
    grid = np.full((top0 + nrows * (h + pad) + pad, left0 + ncols * (w + pad) + pad), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        top, left = top0 + pad + row * (h + pad), left0 + pad + col * (w + pad)
        grid[top : top + h, left : left + w] = image
    canvas = Image.fromarray(grid)
    draw = ImageDraw.Draw(canvas)
    for col, label in enumerate(column_labels or ()):
        draw.text((left0 + pad + col * (w + pad) + 2, 2), label, fill=0)
    for row, label in enumerate(row_labels or ()):
        draw.text((2, top0 + pad + row * (h + pad) + h // 2 - 5), label, fill=0)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")


def save_images(images, directory: str | os.PathLike, prefix: str = "sample") -> list[Path]:
    """Write each [H, W] image in [0, 1] to `directory/{prefix}_{i}.png`, and remove the `{prefix}_{j}.png` of an
    earlier, larger set, so that the folder holds exactly this set."""
    from PIL import Image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(to_uint8(images)):
        paths.append(directory / f"{prefix}_{i}.png")
        with atomic_path(paths[-1]) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
    for stale in directory.glob(f"{prefix}_*.png"):
        number = stale.stem[len(prefix) + 1 :]
        if number.isdigit() and int(number) >= len(paths):
            stale.unlink()
    return paths
