"""Which entries of an output folder a run owns: the only ones `--overwrite_output_dir` may remove.

A run writes a fixed set of top-level names (the model, its config and code, the tokenizer, results, figures,
predictions, `checkpoint-N` folders): `OUTPUT_NAMES`, every task's, so that one task's run replaces another's whole.
It records those it wrote in a manifest, `.run_manifest.json`, at every checkpoint and at its end (written
atomically). Anything else in the folder (the user's notes, data, a git repository) is never touched. A folder
written by an older version has no manifest; its run is then known by the output names alone.

`--overwrite_output_dir` first sets the previous run aside, in `.previous_run/`: it is deleted once the new run has
finished, and put back if the new run fails, so that a bad input found late (at the first step, the first
evaluation) never leaves a folder with neither run.
"""

import fnmatch
import json
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

MANIFEST = ".run_manifest.json"
STAGING = ".staging"  # where a checkpoint is written before it is renamed into place (`MultiLossTrainer`)
PREVIOUS_RUN = ".previous_run"  # the run --overwrite_output_dir replaces, until the new one has finished
# What each task writes beside the common outputs: its model code (the package's flat model files), figures and
# predictions.
TASK_OUTPUT_NAMES = {
    "ner": ("modeling_bert_tagger.py", "configuration_bert_tagger.py", "crf.py", "encoder_layers.py", "tagging.py",
            "word_chains.py", "training_curves.png", "test_predictions.txt", "test_report.txt",
            "dev_predictions.json", "test_predictions.json", "dev_span_metrics.json", "test_span_metrics.json",
            "cluener_predict.json"),
    "vae": ("modeling_vae.py", "configuration_vae.py", "loss_curves.png", "samples.png", "samples",
            "reconstructions.png"),
    "classification": ("training_curves.png", "confusion_matrix.png", "test_predictions.tsv", "test_report.txt"),
}  # fmt: skip
OUTPUT_NAMES = (
    MANIFEST, STAGING, PREVIOUS_RUN, "checkpoint-[0-9]*", "README.md", "config.json", "generation_config.json",
    "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
    "training_args.bin", "trainer_state.json", "all_results.json", "train_results.json", "eval_results.json",
    "test_results.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model",
    "chat_template.jinja", *(name for names in TASK_OUTPUT_NAMES.values() for name in names),
)  # fmt: skip
# What marks a folder as holding a run of this toolkit (or of transformers' Trainer), not a downloaded model.
RUN_MARKERS = (MANIFEST, "trainer_state.json", "all_results.json", "training_args.bin", "checkpoint-[0-9]*")


def is_output_name(name: str, patterns=OUTPUT_NAMES) -> bool:
    """Whether an entry called `name` matches `patterns`: by default, whether a run writes it."""
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        return not name.startswith("checkpoint-") or name[len("checkpoint-") :].isdigit()
    return is_partial_write(name, patterns)


def is_partial_write(name: str, patterns=OUTPUT_NAMES) -> bool:
    """An atomic write of an output cut short: `.NAME.` and mkstemp's 8 random characters (`io.atomic_path`)."""
    return any(fnmatch.fnmatchcase(name, f".{pattern}.????????*") for pattern in patterns)


def output_entries(folder: str | os.PathLike, patterns=OUTPUT_NAMES) -> list[str]:
    """Names in `folder` that match `patterns` (by default, that a run writes), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir() if is_output_name(entry.name, patterns))


def run_markers(folder: str | os.PathLike) -> list[str]:
    """Names in `folder` that show a run was made there: empty for a folder of the user's own files."""
    return output_entries(folder, RUN_MARKERS)


def read_manifest(folder: str | os.PathLike) -> list[str] | None:
    """The entries the manifest in `folder` records (only plain names, nothing outside the folder); None without
    one. A damaged manifest is an `InputError`: what the run wrote is unknown."""
    from .errors import InputError

    path = Path(folder) / MANIFEST
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
        if not isinstance(entries, list):
            raise TypeError(f"entries is a {type(entries).__name__}, not a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"{path}: damaged run manifest ({type(err).__name__}: {err}), so what the run wrote is unknown: move it "
            "away to treat the folder as an older version's (whose every output name is the run's)"
        ) from err
    return [e for e in entries if isinstance(e, str) and e not in ("", ".", "..") and Path(e).name == e]


def _is_checkpoint(name: str) -> bool:
    return is_output_name(name, ("checkpoint-[0-9]*",))


def _always_a_runs(folder: Path, name: str) -> bool:
    """Entries only a run makes: its manifest, staging folders, cut-short atomic writes, and complete checkpoints
    (a `checkpoint-N` without a trainer state is not the Trainer's)."""
    if _is_checkpoint(name):
        return (folder / name / "trainer_state.json").is_file()
    return name in (MANIFEST, STAGING, PREVIOUS_RUN) or is_partial_write(name)


def previous_run_entries(folder: str | os.PathLike) -> list[str]:
    """What a previous run wrote in `folder`, among the names a run writes: those its manifest records,
    and the entries only a run makes; in a folder without a manifest (an older version's), every output name."""
    folder, recorded = Path(folder), read_manifest(folder)
    present = output_entries(folder)
    if recorded is None and run_markers(folder):  # an older version's run: known by the names alone
        return present
    return [name for name in present if name in (recorded or ()) or _always_a_runs(folder, name)]


def foreign_entries(folder: str | os.PathLike) -> list[str]:
    """Entries with a name a run writes that no run wrote (the user's `README.md`, a `vocab.txt` added beside a
    run): a run would write over them."""
    owned = set(previous_run_entries(folder))
    return [name for name in output_entries(folder) if name not in owned]


def record_run(folder: str | os.PathLike, planned=()) -> None:
    """Write the manifest of the entries the run has written so far (main process only), and of the `planned`
    names it is about to write (so that a run killed while writing them resumes: they are its own). Every entry
    with an output name is the run's: the run refused to start beside any that no run wrote (`foreign_entries`)."""
    from .io import write_json

    entries = (set(output_entries(folder)) - {PREVIOUS_RUN}) | {MANIFEST} | set(planned)  # not the replaced run's
    write_json(Path(folder) / MANIFEST, {"format": 1, "entries": sorted(entries)})


def set_aside_previous_run(folder: str | os.PathLike) -> None:
    """Move the previous run's entries into `.previous_run/` (an older run set aside there, whose replacement was
    interrupted, is deleted), and nothing else; log what is kept."""
    folder = Path(folder)
    aside = folder / PREVIOUS_RUN
    _remove(aside)
    moved = [name for name in previous_run_entries(folder) if name != PREVIOUS_RUN]
    kept = sorted(
        entry.name + ("/" if entry.is_dir() else "") for entry in folder.iterdir() if entry.name not in moved
    )
    aside.mkdir()
    for name in moved:
        os.replace(folder / name, aside / name)
    shown = f"; kept, not written by a run: {', '.join(kept)}" if kept else ""
    logger.warning(
        "--overwrite_output_dir: the previous run (%d entries) is set aside in %s until this one finishes%s",
        len(moved), aside, shown,
    )  # fmt: skip


def put_back_previous_run(folder: str | os.PathLike) -> None:
    """After a failed run: remove what it wrote and move the run it was replacing back into place."""
    folder = Path(folder)
    aside = folder / PREVIOUS_RUN
    if not aside.is_dir():
        return
    for name in output_entries(folder):
        if name != PREVIOUS_RUN:
            _remove(folder / name)
    for entry in aside.iterdir():
        os.replace(entry, folder / entry.name)
    aside.rmdir()
    logger.warning("the run failed: the previous run is back in place in %s", folder)


def discard_previous_run(folder: str | os.PathLike) -> None:
    """Delete the run set aside in `.previous_run/`, once the run replacing it has finished."""
    _remove(Path(folder) / PREVIOUS_RUN)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    elif entry.exists() or entry.is_symlink():
        entry.unlink()


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> str | None:
    """The top-level entry of `folder` that `path` is or lies in, or "." for `folder` itself; None when outside."""
    try:
        relative = Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else "."


def recording_callback():
    """A `TrainerCallback` that records the run's entries in the manifest at every checkpoint (main process)."""
    from transformers import TrainerCallback

    class RecordRun(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                record_run(args.output_dir)

    return RecordRun()
