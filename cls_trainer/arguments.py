"""Arguments of `run_classification.py`: model and data options, and `TrainingArguments` with its defaults."""

from dataclasses import dataclass, field

from trainer_common.encoder_args import EncoderStrategyArguments, FineTuningArguments
from trainer_common.errors import InputError
from trainer_common.model_args import ModelSourceArguments

DEFAULT_ENCODER = "google-bert/bert-base-cased"  # as run_ner.py's
# GLUE's single-label classification tasks (stsb is a regression): --task_name reads nyu-mll/glue's config of that name
GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "qnli", "rte", "wnli", "mnli")


@dataclass
class ClassificationArguments(ModelSourceArguments, EncoderStrategyArguments):
    """Model and data arguments of `run_classification.py`; the tokenizer, Hub and `--max_*_samples` options come
    from `ModelSourceArguments`, freezing and LoRA from `EncoderStrategyArguments`."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={
            "help": "Encoder (Hub id or folder) to fine-tune, or a saved classifier to continue or evaluate.",
            "group": "model",
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={"help": "Encoder config (Hub id or folder) of a new classifier, if not the model's own.",
                  "group": "model"},
    )  # fmt: skip
    classifier_dropout: float | None = field(
        default=None,
        metadata={"help": "Dropout before the classifier (default: the encoder's).", "group": "model"},
    )
    task_name: str | None = field(
        default=None,
        metadata={
            "help": "A GLUE task (sst2, rte, mrpc, ...): without files, its data from the Hub (nyu-mll/glue); its "
            "columns and label names.",
            "choices": list(GLUE_TASKS),
            "group": "data",
        },
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub dataset with text and label columns.", "group": "data"}
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config name of --dataset_name.", "group": "data"}
    )
    train_file: str | None = field(
        default=None,
        metadata={"help": "TSV or CSV with a header row (see --no_header), or JSON/JSONL records.", "group": "data"},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Same formats as --train_file.", "group": "data"}
    )
    test_file: str | None = field(
        default=None,
        metadata={"help": "Same formats; a file without labels is predicted, not scored.", "group": "data"},
    )
    text_column_name: str | None = field(
        default=None,
        metadata={
            "help": "Text column (default: the first of sentence1, question, premise, sentence, text, review, ...).",
            "group": "data",
        },
    )
    text_pair_column_name: str | None = field(
        default=None,
        metadata={
            "help": "Second text of sentence pairs (default: found beside the first: sentence2, hypothesis, ...).",
            "group": "data",
        },
    )
    label_column_name: str | None = field(
        default=None, metadata={"help": "Label column (default: label, labels, gold_label or class).", "group": "data"}
    )
    no_header: bool = field(
        default=False,
        metadata={
            "help": "TSV/CSV files have no header row: the column options are 0-based positions (default: label 0, "
            "text 1, pair 2).",
            "group": "data",
        },
    )
    validation_split: float | None = field(
        default=None,
        metadata={
            "help": "Without validation data: hold out this fraction of the training examples (0.1), drawn by --seed.",
            "group": "data",
        },
    )
    max_seq_length: int | None = field(
        default=128,
        metadata={"help": "Tokens per example (None: the model's limit); longer texts are cut.", "group": "data"},
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={
            "help": "Pad every batch to --max_seq_length (fixed shapes, for XLA); turns --padding_free off.",
            "group": "data",
        },
    )
    wandb_project: str = field(
        default="text-classification",
        metadata={"help": "W&B project when --report_to wandb.", "group": "outputs and run"},
    )

    def __post_init__(self):
        from trainer_common.validation import check_range

        if self.classifier_dropout is not None and not 0 <= self.classifier_dropout < 1:
            raise InputError(f"--classifier_dropout must be in [0, 1), got {self.classifier_dropout}")
        check_range("max_seq_length", self.max_seq_length, 2)
        if self.validation_split is not None and not 0 < self.validation_split < 1:
            raise InputError(f"--validation_split must be in (0, 1), got {self.validation_split}")
        columns = [self.text_column_name, self.text_pair_column_name, self.label_column_name]
        given = [column for column in columns if column is not None]
        if "" in given or len(set(given)) != len(given):
            raise InputError("--text_column_name, --text_pair_column_name and --label_column_name must name "
                             "different columns")  # fmt: skip
        if self.no_header:
            for option, column in zip(("text", "text_pair", "label"), columns, strict=True):
                if column is not None and not column.isdigit():
                    raise InputError(f"--no_header: --{option}_column_name is a 0-based position, got {column!r}")
        super().__post_init__()  # --max_*_samples, freezing and LoRA


@dataclass
class ClassificationTrainingArguments(FineTuningArguments):
    """`TrainingArguments` of fine-tuning a classifier (`FineTuningArguments`: the encoder tasks' defaults, the head's
    and layers' rates, packed training batches); the best checkpoint by validation accuracy."""

    output_dir: str | None = field(
        default="runs/classification", metadata={"help": "Where the model and outputs go.", "group": "outputs and run"}
    )
    metric_for_best_model: str | None = field(
        default="accuracy",
        metadata={"help": "Validation metric that picks the best checkpoint.", "group": "training"},
    )
