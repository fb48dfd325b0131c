"""A training run's output folder: never overwrite a finished run unasked, nor anything a run did not write.

A folder "holds a run" when it has a run manifest, a trainer state, results or a checkpoint (`run_files`). Training
into one refuses unless `--overwrite_output_dir` (the old run's entries are removed first, so nothing stale stays
beside the new model; the user's other files stay) or `--resume_from_checkpoint` (a path, or `true` for the last
complete checkpoint) says what to do. A folder that holds no run but files a run would write over (`README.md`,
`config.json`, ...) is refused, whatever the flags. Evaluating without training refuses a run's folder too, unless
the model evaluated is the one saved there (`--model_name_or_path` is `output_dir`): then the new metrics join the
run's results. No input of the run (config file, data, model, tokenizer) may lie in what the run deletes or writes.
"""

import contextlib
import json
import logging
import os
import re
from pathlib import Path

from .errors import InputError
from .io import read_utf8
from .run_files import foreign_entries, inside, is_output_name, previous_run_entries, run_markers

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
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


def _resume_asked(value) -> bool:
    return value is not None and str(value).lower() not in {"false", "no", "0", ""}


def resolve_resume(output_dir: str, resume_from_checkpoint: str | None) -> str | None:
    """The checkpoint folder to resume from: `true` means the last complete one in `output_dir`; incomplete ones
    (interrupted while saving) are skipped with a warning. A named folder must be complete."""
    if not _resume_asked(resume_from_checkpoint):
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
    if path.is_file():
        raise InputError(f"--resume_from_checkpoint {path}: a file, not a checkpoint folder (checkpoint-N)")
    if not path.is_dir():
        raise InputError(f"--resume_from_checkpoint {path}: no such folder")
    if not is_complete(path):
        raise InputError(f"--resume_from_checkpoint {path}: incomplete checkpoint (no trainer_state.json or weights)")
    return str(path)


def check_output_dir(training_args, inputs: dict[str, str | None]) -> str | None:
    """Refuse to train into a folder that holds a run, unless told to overwrite or resume it; refuse a folder whose
    own files (not a run's) the run would write over; refuse to delete or write over any of the run's `inputs`
    (`{option: path}`); what a run writes and owns is `run_files`'. Returns the checkpoint to resume from
    (`resolve_resume`), or None. Runs on every process before any of them changes the folder, so that all decide
    alike."""
    out = training_args.output_dir
    _check_folder(out)
    finished = (Path(out) / "all_results.json").is_file()  # written last: the run there finished
    wanted = training_args.resume_from_checkpoint
    own_checkpoint = _resume_asked(wanted) and (str(wanted).lower() in TRUE or inside(wanted, out) not in (None, "."))
    if finished and own_checkpoint and not training_args.overwrite_output_dir:
        raise InputError(
            f"--output_dir {out} holds a finished run (all_results.json): nothing to resume; pass "
            f"--overwrite_output_dir to replace it, or train its model further into a new folder "
            f"(--model_name_or_path {out} --output_dir NEW)"
        )
    resume = resolve_resume(out, training_args.resume_from_checkpoint)
    if resume and training_args.overwrite_output_dir:
        raise InputError("--overwrite_output_dir would delete the checkpoint --resume_from_checkpoint continues")
    found = run_markers(out)
    if found and not (training_args.overwrite_output_dir or resume):
        hint = "" if finished else ", or --resume_from_checkpoint true to continue it"
        raise InputError(
            f"--output_dir {out} holds a previous run ({_shown(found)}): pass --overwrite_output_dir to replace it"
            + hint
        )
    _check_writes(out, inputs, deletes=bool(found) and training_args.overwrite_output_dir)
    return resume


def check_evaluation_dir(training_args, inputs: dict[str, str | None]) -> bool:
    """Without training: refuse a folder that holds a run of another model than `inputs["model_name_or_path"]`,
    whose results and predictions the evaluation would replace, unless told to overwrite it; refuse as
    `check_output_dir` does for the user's files and the run's inputs. Returns True when the model evaluated is
    the one saved in `output_dir` (its new metrics are then merged, `merged_results`)."""
    out, model = training_args.output_dir, inputs.get("model_name_or_path")
    _check_folder(out)
    overwrite = training_args.overwrite_output_dir
    if model and inside(model, out) == "." and not overwrite:
        return True
    found = run_markers(out)
    if found and not overwrite:
        raise InputError(
            f"--output_dir {out} holds a previous run or evaluation ({_shown(found)}), not the model evaluated "
            f"({model}): pass --overwrite_output_dir to replace it, or evaluate into another --output_dir"
        )
    _check_writes(out, inputs, deletes=bool(found) and overwrite)
    return False


def _check_writes(out: str, inputs: dict[str, str | None], deletes: bool) -> None:
    """Refuse what the run would lose: a user's file with an output's name that no run wrote (never removed, even
    with --overwrite_output_dir); an input inside an entry the run deletes (`deletes`: the previous
    run's, with --overwrite_output_dir) or writes (a file with an output's name)."""
    theirs = foreign_entries(out)
    if theirs:
        raise InputError(
            f"--output_dir {out} holds files that a run would write over but no run wrote ({_shown(theirs)}): "
            "move them, or choose another --output_dir"
        )
    doomed = set(previous_run_entries(out)) if deletes else set()
    for option, path in inputs.items():
        entry = inside(path, out) if path else None
        if entry == "." and deletes:
            raise InputError(f"--overwrite_output_dir would delete --{option} {path}: it is the --output_dir")
        if entry in doomed:
            raise InputError(
                f"--overwrite_output_dir would delete --{option} {path}: {entry} in {out} is the previous run's"
            )
        if entry not in (None, ".") and is_output_name(entry) and not entry.startswith("checkpoint-"):
            raise InputError(f"--{option} {path} would be written over: the run writes {entry} in {out}; move it")


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


def _shown(found: list[str]) -> str:
    return ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")


def remove_redundant_checkpoints(output_dir: str) -> list[str]:
    """After a finished run (`--keep_checkpoints` off): remove the `checkpoint-N` folders whose weights equal the
    final model's, tensor for tensor (a finished run is not resumed; the optimizer state alone is often 2x the
    model). Each goes into `.staging/` first, so that a kill mid-way never leaves half a checkpoint. Returns the
    names removed."""
    import shutil

    from .run_files import STAGING, read_manifest

    final, recorded = _weights(Path(output_dir)), set(read_manifest(output_dir) or ())
    removed = []
    for checkpoint in checkpoints(output_dir) if final is not None else ():
        if checkpoint.name not in recorded:  # only this run's own: one the user copied in stays
            continue
        weights = _weights(checkpoint)
        if weights is None or weights.keys() != final.keys():
            continue
        if all(weights[name].dtype == final[name].dtype and weights[name].equal(final[name]) for name in final):
            staging = Path(output_dir) / STAGING
            staging.mkdir(exist_ok=True)
            os.replace(checkpoint, staging / checkpoint.name)
            shutil.rmtree(staging / checkpoint.name)
            removed.append(checkpoint.name)
    if removed:
        with contextlib.suppress(OSError):
            (Path(output_dir) / STAGING).rmdir()
        logger.info("removed %s: the final model in %s holds the same weights (--keep_checkpoints keeps them)",
                    ", ".join(removed), output_dir)  # fmt: skip
    return removed


def _weights(folder: Path) -> dict | None:
    """The tensors of `folder/model.safetensors`; None without one (sharded or .bin weights are not compared)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / "model.safetensors"
    if not path.is_file():
        return None
    try:
        return load_file(path)
    except (OSError, SafetensorError):  # a damaged file is never "the same weights": keep that checkpoint
        return None
