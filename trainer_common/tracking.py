"""Logging, Weights & Biases and Hub set-up shared by the training scripts."""

import logging
import os
import sys

logger = logging.getLogger(__name__)


def setup_logging(training_args, package: str) -> None:
    """Log like the transformers example scripts: INFO on the main process, warnings elsewhere.

    `package` is the calling task's logger namespace (e.g. "ner_trainer"), set to the same level.
    """
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    for lib_logger in (logging.getLogger(package), logging.getLogger(__package__)):
        lib_logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def setup_wandb(training_args, project: str) -> None:
    """Give W&B runs a project name per task unless the user set WANDB_PROJECT."""
    if "wandb" in (training_args.report_to or []):
        os.environ.setdefault("WANDB_PROJECT", project)


def log_images(trainer, images: dict[str, str]) -> None:
    """Attach PNG files to the active W&B run, when there is one (main process only)."""
    if not trainer.is_world_process_zero() or "wandb" not in (trainer.args.report_to or []):
        return
    import wandb

    if wandb.run is not None:
        wandb.log({name: wandb.Image(path) for name, path in images.items()})


def finish(
    trainer,
    *,
    tasks: str,
    dataset_name: str | None = None,
    finetuned_from: str | None = None,
    tags: list[str] | None = None,
) -> None:
    """Write the model card and, with `--push_to_hub`, upload the output folder."""
    kwargs = {"finetuned_from": finetuned_from, "tasks": tasks, "tags": tags or []}
    if dataset_name:
        kwargs["dataset"] = dataset_name
    if trainer.args.push_to_hub:
        trainer.push_to_hub(**kwargs)
    elif trainer.is_world_process_zero():
        trainer.create_model_card(**kwargs)
