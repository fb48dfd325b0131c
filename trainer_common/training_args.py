"""`TrainingArguments` with the defaults every task of the toolkit shares, and the value checks transformers lacks."""

import json
import re
import sys
from dataclasses import dataclass, field
from typing import ClassVar

from transformers import TrainingArguments

MAX_SEED = 2**32 - 1  # numpy's seed range; transformers' set_seed seeds numpy with it
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")  # the Hub's licence ids: apache-2.0, cc-by-4.0, other, ...

# TrainingArguments values that transformers accepts but that fail later (after training, for an eval batch size) or
# train nonsense: NaN rates, empty batches, negative seeds. Each option's `check_range` bounds; None (unset) passes.
# transformers refuses a negative --warmup_steps itself; it is here for NaN and inf.
TRAINING_RANGES = {
    "learning_rate": {"low": 0},
    "weight_decay": {"low": 0},
    "adam_beta1": {"low": 0, "high": 1, "below": True},
    "adam_beta2": {"low": 0, "high": 1, "below": True},
    "adam_epsilon": {"low": 0, "above": True},
    "max_grad_norm": {"low": 0},
    "label_smoothing_factor": {"low": 0, "high": 1, "below": True},
    "neftune_noise_alpha": {"low": 0, "above": True},
    "warmup_steps": {},
    "num_train_epochs": {"low": 0},
    "per_device_train_batch_size": {"low": 1},
    "per_device_eval_batch_size": {"low": 1},
    "gradient_accumulation_steps": {"low": 1},
    "eval_accumulation_steps": {"low": 1},
    "logging_steps": {"low": 0, "above": True},
    "eval_steps": {"low": 0, "above": True},
    "save_steps": {"low": 0, "above": True},
    "eval_delay": {"low": 0},
    "save_total_limit": {"low": 1},
    "seed": {"low": 0, "high": MAX_SEED},
    "data_seed": {"low": 0, "high": MAX_SEED},
    "dataloader_num_workers": {"low": 0},
    "dataloader_prefetch_factor": {"low": 1},
    "ddp_timeout": {"low": 1},
    "ddp_bucket_cap_mb": {"low": 1},
}
# dict options given as JSON text that are keyword arguments, never a file's path (as --deepspeed may be)
JSON_OBJECT_OPTIONS = ("lr_scheduler_kwargs", "activation_checkpointing_kwargs", "gradient_checkpointing_kwargs")


@dataclass
class TaskTrainingArguments(TrainingArguments):
    """Train, evaluate and checkpoint once per epoch, keep only the last checkpoint (and the best one, when the best
    model is loaded at the end).

    Each task subclasses it for its own `output_dir`, learning rate, batch sizes and epochs, as the transformers
    example scripts set theirs.
    """

    do_train: bool = field(
        default=True,
        metadata={"help": "Train (false: only evaluate the given --model_name_or_path).", "group": "training"},
    )
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the evaluation split.", "group": "training"})
    eval_strategy: str = field(
        default="epoch",
        metadata={"help": "When to evaluate: no, steps (every --eval_steps) or epoch.", "group": "training"},
    )
    save_strategy: str = field(
        default="epoch",
        metadata={
            "help": "When to save a checkpoint: no, steps (every --save_steps), epoch or best.",
            "group": "outputs and run",
        },
    )
    save_total_limit: int | None = field(
        default=1,
        metadata={
            "help": "Checkpoints to keep (at least 2 with the best model kept: the best and the last).",
            "group": "outputs and run",
        },
    )
    load_best_model_at_end: bool | None = field(
        default=None,
        metadata={
            "help": "At the end, load the checkpoint with the best --metric_for_best_model (false: keep the last). "
            "Default: true when each checkpoint is evaluated and the task keeps its best (NER) or stops early.",
            "group": "training",
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop after this many evaluations without improvement of --metric_for_best_model; the best "
            "model is loaded at the end.",
            "group": "training",
        },
    )
    keeps_best_model: ClassVar[bool] = False  # a task whose validation metric is worth selecting on sets it
    # `--help` group and short help of the TrainingArguments options set most often that keep transformers'
    # definition; a field defined here or in a task's subclass names its group in its metadata (`trainer_common.help`)
    help_groups: ClassVar[dict[str, tuple[str, str]]] = {
        "seed": ("training", "Random seed of the initialisation, the data order and dropout."),
        "max_steps": ("training", "Train this many steps instead of --num_train_epochs (-1: off)."),
        "resume_from_checkpoint": ("outputs and run", "Continue a run: a checkpoint-N folder, or true for the last."),
        "report_to": ("outputs and run", "Trackers to log to (wandb, tensorboard, ...; all; none)."),
        "push_to_hub": ("outputs and run", "Upload the model and its card to the Hub (to --hub_model_id)."),
        "hub_model_id": ("outputs and run", "Hub repository of --push_to_hub: user/name."),
    }

    # transformers 5 dropped this flag; here it means: remove the previous run in output_dir before training
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Remove a previous run's files from --output_dir before training; without it (or "
            "--resume_from_checkpoint), such a folder is refused.",
            "group": "outputs and run",
        },
    )

    logging_steps: float | None = field(
        default=None,
        metadata={
            "help": "Log the training loss every N steps (below 1: a fraction of the run). Default: about 50 times "
            "a run, and at least once by the first evaluation.",
            "group": "outputs and run",
        },
    )
    default_logging_steps: ClassVar[int] = 50  # what eval_steps falls back to before the run's length is known
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "Keep the checkpoint-N folders of a finished run; else those whose weights the final model holds "
            "are removed (an unfinished run keeps them).",
            "group": "outputs and run",
        },
    )
    license: str | None = field(
        default=None,
        metadata={
            "help": "Licence in the model card (a Hub licence id, e.g. apache-2.0). Default: the encoder's.",
            "group": "outputs and run",
        },
    )

    def __post_init__(self):
        from .errors import InputError
        from .hub_push import check_hub_strategy
        from .validation import check_range

        self.logging_steps_given = self.logging_steps is not None  # else `console.fit_logging_steps` sets it
        if self.disable_tqdm is None and not sys.stderr.isatty():  # a log file gets the lines, not bar redraws
            self.disable_tqdm = True
        if self.logging_steps is None:
            self.logging_steps = self.default_logging_steps
        self._check_values()
        check_range("early_stopping_patience", self.early_stopping_patience, 1)
        if not self.do_eval:  # transformers would turn it back on for the default eval_strategy="epoch"
            self.eval_strategy = "no"
        if self.dataloader_pin_memory and not _has_accelerator():
            self.dataloader_pin_memory = False  # pinning needs a GPU; on CPU torch only warns on every dataloader
        if self.bf16 and not self.use_cpu and not _has_accelerator():
            from .precision import warn_without_bf16_units

            self.use_cpu = True  # transformers 5 refuses --bf16 without a GPU unless told the CPU is meant: it is
            warn_without_bf16_units()
        if self.load_best_model_at_end is None:
            wanted = self.keeps_best_model or self.early_stopping_patience is not None
            self.load_best_model_at_end = wanted and self._evaluates_at_every_save()
        if self.load_best_model_at_end and self.save_total_limit == 1:
            # transformers then deletes every checkpoint but the best when training ends, the last one too: an
            # interrupted run could not resume. Keep the best and the last.
            self.save_total_limit = 2
        super().__post_init__()
        _check_report_to(self.report_to)
        _check_optimizer(self)
        check_hub_strategy(self)
        if self.early_stopping_patience is not None and not self.load_best_model_at_end:
            raise InputError(
                "--early_stopping_patience needs --load_best_model_at_end and evaluation at every checkpoint "
                "(the same --eval_strategy and --save_strategy)"
            )

    def _check_values(self) -> None:
        """Refuse the values transformers takes but cannot train with, naming the flag and its valid range."""
        from .errors import InputError
        from .validation import check_range

        if self.output_dir is not None and not str(self.output_dir).strip():
            raise InputError("--output_dir is empty: give a folder")
        for option, bounds in TRAINING_RANGES.items():
            check_range(option, getattr(self, option), **bounds)
        if self.max_steps != -1 and self.max_steps < 1:
            raise InputError(f"--max_steps must be -1 (train --num_train_epochs) or at least 1, got {self.max_steps}")
        if self.do_train and self.max_steps == -1 and self.num_train_epochs == 0:
            raise InputError("--num_train_epochs 0 trains nothing: give more epochs, --max_steps, or --no_do_train")
        for option in JSON_OBJECT_OPTIONS:
            _check_json_object(option, getattr(self, option, None))
        if self.optim_args:  # transformers splits it as `key=value,key=value` only when it builds the optimizer
            pairs = self.optim_args.replace(" ", "").split(",")
            if not all(pair.count("=") == 1 and not pair.startswith("=") for pair in pairs):
                raise InputError(f"--optim_args must be key=value pairs separated by commas, got {self.optim_args!r}")
        if self.license is not None and not LICENSE_ID.match(self.license):  # it goes into the card's YAML as is
            raise InputError(f"--license {self.license!r} is not a licence id such as apache-2.0, mit or other")

    @property
    def total_train_batch_size(self) -> int:
        """Examples per optimisation step, over all processes and accumulation steps."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps * self.world_size

    def _evaluates_at_every_save(self) -> bool:
        """Whether the strategies allow `load_best_model_at_end` (transformers refuses it otherwise)."""
        evaluate, save = (str(getattr(s, "value", s)) for s in (self.eval_strategy, self.save_strategy))
        if evaluate == "no" or evaluate != save:
            return False
        if evaluate != "steps":
            return True
        eval_steps = self.eval_steps or self.logging_steps
        return eval_steps >= 1 and self.save_steps >= 1 and self.save_steps % eval_steps == 0


def split_label_names(value) -> list[str]:
    """`--label_names` as a list of names, each given once: `a,b`, `a b` (nargs) or a mix of the two."""
    from .errors import InputError

    items = [value] if isinstance(value, str) else value
    names = [name.strip() for item in items for name in item.split(",")]
    if not names or "" in names or len(set(names)) != len(names):
        raise InputError(f"--label_names must name each label once, got {', '.join(names) or 'none'}")
    return names


def _check_json_object(option: str, value) -> None:
    """`--option` given as text must be a JSON object (the keyword arguments transformers passes on)."""
    from .errors import InputError

    if not isinstance(value, str):
        return
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise InputError(f"--{option} is not valid JSON ({err}): {value!r}") from err
    if not isinstance(parsed, dict):
        raise InputError(f"--{option} must be a JSON object such as '{{\"name\": 1}}', got {value!r}")


def _check_report_to(names: list[str]) -> None:
    """Each `--report_to` integration must be one transformers knows and, but for azure_ml (which transformers' list
    of installed ones leaves out when mlflow is installed), installed: the Trainer raises for either only when built.
    """
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from .errors import InputError

    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            known = ", ".join([*INTEGRATION_TO_CALLBACK, "all", "none"])
            raise InputError(f"--report_to {name}: not an integration transformers knows ({known})")
    installed = get_available_reporting_integrations()
    for name in names:
        if name not in installed and name != "azure_ml":
            raise InputError(f"--report_to {name}: not installed (installed: {', '.join(installed) or 'none'})")


def _has_accelerator() -> bool:
    import torch

    accelerator = getattr(torch, "accelerator", None)
    return accelerator.is_available() if accelerator is not None else torch.cuda.is_available()


def _check_optimizer(training_args) -> None:
    """Refuse an `--optim` whose package is not installed now, not at the first training step."""
    from transformers import Trainer

    from .errors import InputError

    try:
        Trainer.get_optimizer_cls_and_kwargs(training_args)
    except ImportError as err:
        raise InputError(f"--optim {getattr(training_args.optim, 'value', training_args.optim)}: {err}") from err
    except (ValueError, TypeError, KeyError):  # GaLore, Apollo, LOMO need the model: checked when it is built
        pass
