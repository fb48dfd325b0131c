"""A training run's output folder: never overwrite a finished run unasked; clear it on request; resume from it.

A folder "holds a run" when it has a trainer state, results, a checkpoint or a saved model. Training into one
refuses unless `--overwrite_output_dir` (the old run's files are removed first, so nothing stale stays beside the
new model) or `--resume_from_checkpoint` (a path, or `true` for the last complete checkpoint) says what to do.
Evaluating without training refuses it too, unless the model evaluated is the one saved there (`--model_name_or_path`
is `output_dir`): then the new metrics join the run's results.
"""

import json
import logging
import os
import re
import shutil
from pathlib import Path

from .errors import InputError
from .io import read_utf8

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
    _check_folder(out)
    resume = resolve_resume(out, training_args.resume_from_checkpoint)
    if resume and training_args.overwrite_output_dir:
        raise InputError("--overwrite_output_dir would delete the checkpoint --resume_from_checkpoint continues")
    if training_args.overwrite_output_dir:
        _check_inputs_outside(out, inputs)
    found = previous_run(out)
    if not found or training_args.overwrite_output_dir or resume:
        return resume
    raise InputError(
        f"--output_dir {out} holds a previous run ({_shown(found)}): pass --overwrite_output_dir to replace it, "
        "or --resume_from_checkpoint true to continue it"
    )


def check_evaluation_dir(training_args, inputs: dict[str, str | None]) -> bool:
    """Without training: refuse a folder that holds a run of another model than `inputs["model_name_or_path"]`,
    whose results and predictions the evaluation would replace, unless told to overwrite it. Returns True when
    the model evaluated is the one saved in `output_dir` (its new metrics are then merged, `merged_results`)."""
    out, model = training_args.output_dir, inputs.get("model_name_or_path")
    _check_folder(out)
    if training_args.overwrite_output_dir:
        _check_inputs_outside(out, inputs)
        return False
    if model and Path(model).resolve() == Path(out).resolve():
        return True
    found = previous_run(out)
    if not found:
        return False
    raise InputError(
        f"--output_dir {out} holds a previous run ({_shown(found)}) of another model than --model_name_or_path "
        f"{model}: pass --overwrite_output_dir to replace it, or evaluate into another --output_dir"
    )


def read_results(output_dir: str) -> dict:
    """The metrics in `output_dir`/all_results.json ({} without one); an error naming the file if unreadable."""
    path = Path(output_dir) / "all_results.json"
    if not path.exists():
        return {}
    try:
        saved = json.loads(read_utf8(path, "results file"))
    except json.JSONDecodeError as err:
        message = f"{path}:{err.lineno}: not JSON ({err.msg}); move it away to evaluate into {output_dir}"
        raise InputError(message) from err
    if not isinstance(saved, dict):
        raise InputError(f"{path}: not a JSON object of metrics; move it away to evaluate into {output_dir}")
    return saved


def merged_results(saved: dict, results: dict) -> dict:
    """A re-evaluation's `results` over the run's `saved` ones, as `save_metrics(combined=True)`: the evaluation
    metrics are updated, the training ones kept, and so is `epoch`, the saved model's (an evaluation reports 0)."""
    return {**saved, **{key: value for key, value in results.items() if key != "epoch"}}


def _check_folder(out: str) -> None:
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--output_dir {out} is a file, not a folder")


def _check_inputs_outside(out: str, inputs: dict[str, str | None]) -> None:
    folder = Path(out).resolve()
    for option, path in inputs.items():
        if path and Path(path).resolve().is_relative_to(folder):
            raise InputError(f"--overwrite_output_dir would delete --{option} {path}, which is inside {out}")


def _shown(found: list[str]) -> str:
    return ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")


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
