"""A training run's output folder: never overwrite a finished run unasked; clear it on request; resume from it.

A folder "holds a run" when it has a trainer state, results, a checkpoint or a saved model. Training into one
refuses unless `--overwrite_output_dir` (the old run's files are removed first, so nothing stale stays beside the
new model) or `--resume_from_checkpoint` (a path, or `true` for the last complete checkpoint) says what to do.
"""

import logging
import os
import re
import shutil
from pathlib import Path

from .errors import InputError

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
RUN_FILES = ("trainer_state.json", "all_results.json", "model.safetensors", "pytorch_model.bin")
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
TRUE = {"true", "yes", "1"}


def checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """The `checkpoint-N` folders, by step."""
    folder = Path(output_dir)
    found = [p for p in folder.iterdir() if p.is_dir() and CHECKPOINT.match(p.name)] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(CHECKPOINT.match(p.name).group(1)))


def is_complete(checkpoint: Path) -> bool:
    """Written to the end: the Trainer writes `trainer_state.json` after the weights, optimizer and RNG states."""
    return (checkpoint / "trainer_state.json").is_file() and any((checkpoint / name).is_file() for name in WEIGHTS)


def previous_run(output_dir: str | os.PathLike) -> list[str]:
    """Names of what marks a run in `output_dir`: result and model files, checkpoints. Empty when none."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    return [name for name in RUN_FILES if (folder / name).exists()] + [p.name for p in checkpoints(folder)]


def resolve_resume(output_dir: str, resume_from_checkpoint: str | None) -> str | None:
    """The checkpoint folder to resume from: `true` means the last complete one in `output_dir`; incomplete ones
    (interrupted while saving) are skipped with a warning. A named folder must be complete."""
    if resume_from_checkpoint is None or str(resume_from_checkpoint).lower() in {"false", "no", "0", ""}:
        return None
    if str(resume_from_checkpoint).lower() in TRUE:
        found = checkpoints(output_dir)
        complete = [p for p in found if is_complete(p)]
        for skipped in found[found.index(complete[-1]) + 1 if complete else 0 :]:
            logger.warning("skipping %s: incomplete (interrupted while saving)", skipped)
        if not complete:
            raise InputError(f"--resume_from_checkpoint true: no complete checkpoint-N folder in {output_dir}")
        return str(complete[-1])
    path = Path(resume_from_checkpoint)
    if not path.is_dir():
        raise InputError(f"--resume_from_checkpoint {path}: no such folder")
    if not is_complete(path):
        raise InputError(f"--resume_from_checkpoint {path}: incomplete checkpoint (no trainer_state.json or weights)")
    return str(path)


def check_output_dir(training_args, inputs: dict[str, str | None]) -> str | None:
    """Refuse to train into a folder that holds a run, unless told to overwrite or resume; refuse to overwrite a
    folder that holds one of the run's `inputs` (`{option: path}`, e.g. the model to continue from). Returns the
    checkpoint to resume from (`resolve_resume`), or None. Runs on every process before any of them changes the
    folder, so that all decide alike."""
    out = training_args.output_dir
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--output_dir {out} is a file, not a folder")
    resume = resolve_resume(out, training_args.resume_from_checkpoint)
    if resume and training_args.overwrite_output_dir:
        raise InputError("--overwrite_output_dir would delete the checkpoint --resume_from_checkpoint continues")
    if training_args.overwrite_output_dir:
        folder = Path(out).resolve()
        for option, path in inputs.items():
            if path and Path(path).resolve().is_relative_to(folder):
                raise InputError(f"--overwrite_output_dir would delete --{option} {path}, which is inside {out}")
    found = previous_run(out)
    if not found or training_args.overwrite_output_dir or resume:
        return resume
    shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    raise InputError(
        f"--output_dir {out} holds a previous run ({shown}): pass --overwrite_output_dir to replace it, "
        "or --resume_from_checkpoint true to continue it"
    )


def clear_output_dir(output_dir: str) -> None:
    """Remove everything in a folder that holds a run. Refuses a folder that holds a git repository or the
    working directory, which no run's outputs could be."""
    folder = Path(output_dir).resolve()
    if not previous_run(folder):
        return
    if (folder / ".git").exists() or Path.cwd().resolve().is_relative_to(folder):
        raise InputError(f"--overwrite_output_dir: refusing to clear {folder}, which holds a repository or the cwd")
    logger.warning("--overwrite_output_dir: removing the previous run in %s", folder)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
