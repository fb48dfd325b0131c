"""Which entries of an output folder a run owns: the only ones `--overwrite_output_dir` may remove.

A run writes a fixed set of top-level names (the model, its config and code, the tokenizer, results, figures,
predictions, `checkpoint-N` folders): `OUTPUT_NAMES` and the task's own `Recipe.output_names`. It records those it
wrote in a manifest, `.run_manifest.json`, at every checkpoint and at its end (written atomically). Anything else in
the folder (the user's notes, data, a git repository) is never touched. A folder written by an older version has no
manifest; its run is then known by the output names alone.
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
# Written by every task's run: the model and its code are added by the task (`Recipe.output_names`).
OUTPUT_NAMES = (
    MANIFEST, STAGING, "checkpoint-[0-9]*", "README.md", "config.json", "generation_config.json", "model.safetensors",
    "model-*-of-*.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "training_args.bin",
    "trainer_state.json", "all_results.json", "train_results.json", "eval_results.json", "test_results.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "chat_template.jinja",
)  # fmt: skip
# What marks a folder as holding a run of this toolkit (or of transformers' Trainer), not a downloaded model.
RUN_MARKERS = (MANIFEST, "trainer_state.json", "all_results.json", "training_args.bin", "checkpoint-[0-9]*")


def is_output_name(name: str, patterns) -> bool:
    """Whether a run writes an entry called `name` (`patterns`: `OUTPUT_NAMES` and the task's own)."""
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        return not name.startswith("checkpoint-") or name[len("checkpoint-") :].isdigit()
    return is_partial_write(name, patterns)


def is_partial_write(name: str, patterns) -> bool:
    """An atomic write of an output cut short: `.NAME.` and mkstemp's 8 random characters (`io.atomic_path`)."""
    return any(fnmatch.fnmatchcase(name, f".{pattern}.????????*") for pattern in patterns)


def output_entries(folder: str | os.PathLike, patterns) -> list[str]:
    """Names in `folder` that a run writes (`patterns`), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir() if is_output_name(entry.name, patterns))


def run_markers(folder: str | os.PathLike) -> list[str]:
    """Names in `folder` that show a run was made there: empty for a folder of the user's own files."""
    return output_entries(folder, RUN_MARKERS)


def read_manifest(folder: str | os.PathLike) -> list[str] | None:
    """The entries the manifest in `folder` records (only plain names, nothing outside the folder); None without a
    readable manifest."""
    path = Path(folder) / MANIFEST
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no manifest, or a damaged one: the output names then tell the run's entries
    if not isinstance(entries, list):
        return None
    return [e for e in entries if isinstance(e, str) and e not in ("", ".", "..") and Path(e).name == e]


def _always_a_runs(name: str, patterns) -> bool:
    """Entries only a run makes: its manifest, checkpoints, staging folder and cut-short atomic writes."""
    return (
        name in (MANIFEST, STAGING) or is_output_name(name, ("checkpoint-[0-9]*",)) or is_partial_write(name, patterns)
    )


def previous_run_entries(folder: str | os.PathLike, patterns) -> list[str]:
    """What a previous run wrote in `folder`, among the names a run writes (`patterns`): those its manifest records,
    and the entries only a run makes; in a folder without a manifest (an older version's), every output name."""
    recorded = read_manifest(folder)
    present = output_entries(folder, patterns)
    if recorded is None:
        return present if run_markers(folder) else [name for name in present if _always_a_runs(name, patterns)]
    return [name for name in present if name in recorded or _always_a_runs(name, patterns)]


def foreign_entries(folder: str | os.PathLike, patterns) -> list[str]:
    """Entries with a name a run writes that no run wrote (the user's `README.md`, a `vocab.txt` added beside a
    run): a run would write over them."""
    owned = set(previous_run_entries(folder, patterns))
    return [name for name in output_entries(folder, patterns) if name not in owned]


def record_run(folder: str | os.PathLike, patterns) -> None:
    """Write the manifest of the entries the run has written so far (main process only). Every entry with an output
    name is the run's: the run refused to start beside any that no run wrote (`foreign_entries`)."""
    from .io import write_json

    entries = set(output_entries(folder, patterns)) | {MANIFEST}
    write_json(Path(folder) / MANIFEST, {"format": 1, "entries": sorted(entries)})


def clear_previous_run(folder: str | os.PathLike, patterns) -> None:
    """Remove the previous run's entries from `folder`, and nothing else; log what is kept. The manifest goes last,
    so that a clear cut short can be finished by the next one."""
    folder = Path(folder)
    doomed = [name for name in previous_run_entries(folder, patterns) if name != MANIFEST]
    others = [entry for entry in folder.iterdir() if entry.name not in doomed and entry.name != MANIFEST]
    kept = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in others)
    for name in doomed:
        entry = folder / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    shown = f"; kept, not written by a run: {', '.join(kept)}" if kept else ""
    logger.warning(
        "--overwrite_output_dir: removed the previous run (%d entries) from %s%s", len(doomed), folder, shown
    )


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> str | None:
    """The top-level entry of `folder` that `path` is or lies in, or "." for `folder` itself; None when outside."""
    try:
        relative = Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else "."


def recording_callback(patterns):
    """A `TrainerCallback` that records the run's entries in the manifest at every checkpoint (main process)."""
    from transformers import TrainerCallback

    class RecordRun(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                record_run(args.output_dir, patterns)

    return RecordRun()
