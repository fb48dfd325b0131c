"""The tagger's figure: training loss, validation loss and validation F1 against steps."""

import os
from pathlib import Path

from trainer_common.plots import Panel, plot_curves

NER_PANELS = [
    Panel("Loss", ["loss", "eval_loss"], "cross-entropy per token"),
    Panel("Validation entity F1", ["eval_f1"], "entity F1", limits=(0, 1)),
]


def write_training_curves(log_history: list[dict], output_dir: str | os.PathLike) -> str:
    path = Path(output_dir) / "training_curves.png"
    plot_curves(log_history, NER_PANELS, path)
    return str(path)
