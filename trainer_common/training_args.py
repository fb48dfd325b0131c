"""`TrainingArguments` with the defaults every task of the toolkit shares."""

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class TaskTrainingArguments(TrainingArguments):
    """Train, evaluate and checkpoint once per epoch, keep only the last checkpoint.

    Each task subclasses it for its own `output_dir`, learning rate, batch sizes and epochs, as the transformers
    example scripts set theirs.
    """

    do_train: bool = field(default=True, metadata={"help": "Train (--no_do_train to only evaluate/predict)."})
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the evaluation split."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate during training."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints to keep."})
    # transformers 5 dropped this flag; here it means: remove the previous run in output_dir before training
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train into an output_dir that holds a previous run, removing that run's files first. Without "
            "it (or --resume_from_checkpoint), such a folder is refused."
        },
    )
