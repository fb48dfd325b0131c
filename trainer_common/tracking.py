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
    # our own INFO lines (data counts, the run's size) show on the main process unless a level is asked for;
    # transformers keeps its quieter default
    ours = logging.INFO if training_args.log_level == "passive" and training_args.should_log else level
    for lib_logger in (logging.getLogger(package), logging.getLogger(__package__)):
        lib_logger.setLevel(ours)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    transformers.utils.logging.disable_progress_bar()  # loading and saving weights: the training bar is the Trainer's
    datasets.disable_progress_bars()


def log_run_size(trainer) -> None:
    """One INFO line on the main process before training: world size, batch sizes, optimisation steps, output."""
    from .console import planned_steps

    args = trainer.args
    if not trainer.is_world_process_zero():
        return
    steps, _ = planned_steps(trainer)
    logger.info(
        "training: world size %d, per-device train batch size %d, total train batch size %d (x%d gradient "
        "accumulation), %d optimisation steps, loss logged every %s, output in %s",
        args.world_size, args.per_device_train_batch_size, args.total_train_batch_size,
        args.gradient_accumulation_steps, steps, _steps(args.logging_steps), args.output_dir,
    )  # fmt: skip


def _steps(count: float) -> str:
    return f"{count:g} of the run" if count < 1 else f"{int(count)} step" + ("s" if count != 1 else "")


def setup_wandb(training_args, project: str) -> None:
    """Give W&B runs a project name per task unless the user set WANDB_PROJECT, and hide secrets from the command
    line W&B records (`--token`, `--hub_token`: it stores `sys.argv`, already parsed by now)."""
    if "wandb" in (training_args.report_to or []):
        os.environ.setdefault("WANDB_PROJECT", project)
        sys.argv = _redacted(sys.argv)


def _redacted(argv: list[str]) -> list[str]:
    from .args import flag_name

    out, hide_next = [], False
    for arg in argv:
        flag, equals, _ = arg.partition("=")
        if hide_next:
            arg, hide_next = "<TOKEN>", False
        elif flag.startswith("--") and _is_secret(flag_name(flag)):
            arg, hide_next = (f"{flag}=<TOKEN>", False) if equals else (arg, True)
        out.append(arg)
    return out


def log_results(trainer, args, results: dict, images: dict[str, str], tables: dict) -> None:
    """End of a `--report_to wandb` run (main process): the task's own arguments join the run's config (the
    training arguments and model config are already there), then the final test metrics, the figures and the
    prediction tables are logged and the run is closed, so that a next run in this process starts its own."""
    if not trainer.is_world_process_zero() or "wandb" not in (trainer.args.report_to or []):
        return
    import dataclasses

    import wandb

    if wandb.run is None:
        return
    # secrets never leave the machine (TrainingArguments.to_dict hides its own *_token fields alike)
    task_args = {key: f"<{key.upper()}>" if _is_secret(key) and value else value
                 for key, value in dataclasses.asdict(args).items()}  # fmt: skip
    wandb.config.update(task_args, allow_val_change=True)
    final = {f"test/{key[len('test_') :]}": value for key, value in results.items() if key.startswith("test_")}
    logged = {name: wandb.Image(path) for name, path in images.items()}
    logged.update({name: wandb.Table(columns=columns, data=rows) for name, (columns, rows) in tables.items()})
    wandb.log({**final, **logged})
    wandb.run.summary.update(final)
    wandb.finish()


def _is_secret(key: str) -> bool:
    return key == "token" or key.endswith("_token")
