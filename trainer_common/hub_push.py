"""What `--push_to_hub` sends to the Hub, at every push: the model, its card, results and figures; never a
checkpoint, the Trainer's state (`training_args.bin`, optimizer, scheduler and RNG states), staging files or
predictions. Every upload of the toolkit and of its `Trainer` goes through `upload`, and no file it writes holds a
token (`without_secrets`).
"""

import copy
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path


def _at_any_depth(names: list[str]) -> list[str]:
    return [pattern for name in names for pattern in (name, f"*/{name}")]


# The Trainer's state, written beside the model in a checkpoint (`training_args.bin` in output_dir too).
TRAINER_STATE = _at_any_depth(["training_args.bin", "optimizer.pt", "optimizer.bin", "scheduler.pt", "scaler.pt",
                               "rng_state*.pth"])  # fmt: skip
# Prediction files carry the gold test data or predictions on it.
PREDICTIONS = ["*_predictions.txt", "*_predictions.json", "cluener_predict.json", "*_span_metrics.json"]
# What --push_to_hub never uploads: checkpoints, the Trainer's state, staging and temporary files, predictions.
UPLOAD_IGNORE = ["_*", ".*", "checkpoint-*", "*/checkpoint-*", "samples/*", *PREDICTIONS, *TRAINER_STATE]
# What every push removes from the repository, where an earlier push left it: transformers' own pushes (and
# those of earlier versions of this toolkit) sent the Trainer's state and the staging folder, and uploading a
# folder keeps the repository's files that it does not replace.
REMOVED_FROM_REPO = [".staging/*", *TRAINER_STATE]


def check_hub_strategy(training_args) -> None:
    """Refuse a `--hub_strategy` that pushes checkpoints: a checkpoint resumes only with its optimizer, scheduler
    and RNG states, which are never uploaded (without them the Trainer resumes with a new optimizer and restarts
    the learning rate schedule, without an error)."""
    from transformers.trainer_utils import HubStrategy

    from .errors import InputError

    strategy = HubStrategy(training_args.hub_strategy)
    if training_args.push_to_hub and strategy in (HubStrategy.CHECKPOINT, HubStrategy.ALL_CHECKPOINTS):
        raise InputError(
            f"--hub_strategy {strategy.value} would upload resumable checkpoints, but their optimizer, scheduler "
            "and RNG states never leave this machine: use --hub_strategy every_save (the model at every save) "
            "or end"
        )


def upload(repo_id: str, folder: str | os.PathLike, commit_message: str, training_args):
    """Upload `folder` to the root of `repo_id` (with `training_args`' token and revision), leaving out
    `UPLOAD_IGNORE` and removing `REMOVED_FROM_REPO` from the repository. Every push of the toolkit goes through
    here."""
    # copies of the pattern lists: the Hub client extends them
    return hf_api().upload_folder(
        repo_id=repo_id, folder_path=str(folder), commit_message=commit_message, token=training_args.hub_token,
        revision=training_args.hub_revision, ignore_patterns=list(UPLOAD_IGNORE),
        delete_patterns=list(REMOVED_FROM_REPO),
    )  # fmt: skip


def push_output_dir(trainer, commit_message: str = "End of training"):
    """Upload `output_dir` to `--hub_model_id` as the card describes it (`upload`), once the checkpoint pushes
    still in progress are done. A failed upload is an `InputError` that says the run itself is saved."""
    from .errors import InputError
    from .hub_data import hub_reason

    if trainer.hub_model_id is None:
        trainer.init_hf_repo()
    trainer._finish_current_push()  # a checkpoint push of hub_strategy="every_save" may still be uploading
    try:
        return upload(trainer.hub_model_id, trainer.args.output_dir, commit_message, trainer.args)
    except Exception as err:  # noqa: BLE001 (network, permissions, a bad token: each its own type)
        raise InputError(
            f"--push_to_hub: the run is saved in {trainer.args.output_dir}, but its upload to {trainer.hub_model_id} "
            f"failed ({hub_reason(err)}); upload the folder later with `hf upload`"
        ) from err


def checked_repo(trainer, token: str | None = None, private: bool | None = None) -> None:
    """`Trainer.init_hf_repo`, with a Hub that cannot be reached (offline, a bad token, no permission) as an
    `InputError` before training starts."""
    from transformers import Trainer

    from .errors import InputError
    from .hub_data import hub_reason

    try:
        Trainer.init_hf_repo(trainer, token, private)
    except Exception as err:  # noqa: BLE001 (network, permissions, a bad token: each its own type)
        name = trainer.args.hub_model_id or Path(trainer.args.output_dir).name
        raise InputError(f"--push_to_hub: could not create or reach {name} on the Hub ({hub_reason(err)})") from err


def uploaded_files(output_dir: str | os.PathLike) -> list[str]:
    """The files `push_output_dir` would upload, by the same filter the Hub client applies."""
    from huggingface_hub.utils import filter_repo_objects

    root = Path(output_dir)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return list(filter_repo_objects(files, ignore_patterns=UPLOAD_IGNORE))


def without_secrets(training_args):
    """A shallow copy of `training_args` whose token fields (`hub_token`, any `*_token` or `token`) are None: the
    one that is pickled to disk."""
    blank = copy.copy(training_args)
    for f in dataclasses.fields(training_args):
        if f.name == "token" or f.name.endswith("_token"):
            setattr(blank, f.name, None)
    return blank


def linked_copy(folder: str, files: list[str], parent: str, prefix: str) -> str:
    """A new folder under `parent` holding `files` of `folder` as hard links (copies where the file system has
    none): it keeps them as they are while `folder` is renamed or deleted."""
    os.makedirs(parent, exist_ok=True)
    copy_dir = tempfile.mkdtemp(prefix=prefix, dir=parent)
    for name in files:
        source, target = os.path.join(folder, name), os.path.join(copy_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return copy_dir


def upload_and_remove(repo_id: str, folder: str, commit_message: str, training_args):
    try:
        return upload(repo_id, folder, commit_message, training_args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hf_api():
    """The Trainer's shared `HfApi`, looked up at each call as the Trainer does (tests put a fake one there)."""
    from transformers.trainer import hf_api as shared

    return shared()
