"""`TrainingArguments` with the defaults every task of the toolkit shares."""

from dataclasses import dataclass, field
from typing import ClassVar

from transformers import TrainingArguments


@dataclass
class TaskTrainingArguments(TrainingArguments):
    """Train, evaluate and checkpoint once per epoch, keep only the last checkpoint (and the best one, when the best
    model is loaded at the end).

    Each task subclasses it for its own `output_dir`, learning rate, batch sizes and epochs, as the transformers
    example scripts set theirs.
    """

    do_train: bool = field(default=True, metadata={"help": "Train (--no_do_train to only evaluate/predict)."})
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the evaluation split."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate during training."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(
        default=1,
        metadata={"help": "Checkpoints to keep (at least 2 with the best model kept: the best and the last)."},
    )
    load_best_model_at_end: bool | None = field(
        default=None,
        metadata={
            "help": "At the end, load the checkpoint with the best --metric_for_best_model. Default: on when "
            "evaluation and saving happen at the same steps and the task keeps its best model (NER: validation F1) "
            "or --early_stopping_patience is given; --load_best_model_at_end false keeps the last weights."
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop after this many evaluations without improvement of --metric_for_best_model; the best "
            "model is loaded at the end."
        },
    )
    keeps_best_model: ClassVar[bool] = False  # a task whose validation metric is worth selecting on sets it

    # transformers 5 dropped this flag; here it means: remove the previous run in output_dir before training
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train into an output_dir that holds a previous run, removing that run's files first. Without "
            "it (or --resume_from_checkpoint), such a folder is refused."
        },
    )

    def __post_init__(self):
        from .errors import InputError
        from .hub_push import check_hub_strategy
        from .validation import check_range

        check_range("early_stopping_patience", self.early_stopping_patience, 1)
        if not self.do_eval:  # transformers would turn it back on for the default eval_strategy="epoch"
            self.eval_strategy = "no"
        if self.dataloader_pin_memory and not _has_accelerator():
            self.dataloader_pin_memory = False  # pinning needs a GPU; on CPU torch only warns on every dataloader
        if self.load_best_model_at_end is None:
            wanted = self.keeps_best_model or self.early_stopping_patience is not None
            self.load_best_model_at_end = wanted and self._evaluates_at_every_save()
        if self.load_best_model_at_end and self.save_total_limit == 1:
            # transformers then deletes every checkpoint but the best when training ends, the last one too: an
            # interrupted run could not resume. Keep the best and the last.
            self.save_total_limit = 2
        super().__post_init__()
        check_hub_strategy(self)
        if self.early_stopping_patience is not None and not self.load_best_model_at_end:
            raise InputError(
                "--early_stopping_patience needs --load_best_model_at_end and evaluation at every checkpoint "
                "(the same --eval_strategy and --save_strategy)"
            )

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


def _has_accelerator() -> bool:
    import torch

    accelerator = getattr(torch, "accelerator", None)
    return accelerator.is_available() if accelerator is not None else torch.cuda.is_available()
