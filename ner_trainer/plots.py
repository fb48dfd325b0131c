"""The tagger's figure: training loss, validation loss and validation F1 against steps."""

import os
from pathlib import Path

from trainer_common.plots import plot_curves

NER_PANELS = [("Loss", ["loss", "eval_loss"]), ("Validation entity F1", ["eval_f1"])]


def write_training_curves(log_history: list[dict], output_dir: str | os.PathLike) -> str:
    path = Path(output_dir) / "training_curves.png"
    plot_curves(log_history, NER_PANELS, path)
    return str(path)
