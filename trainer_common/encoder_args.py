"""The command line of the encoder fine-tuning strategies, shared by the tasks that fine-tune a pretrained encoder:
freezing and LoRA (`EncoderStrategyArguments`, beside a task's model arguments) and the head's and layers' learning
rates (`EncoderRatesArguments`, beside its `TaskTrainingArguments`).

```python
@dataclass
class ClassificationArguments(EncoderStrategyArguments):  # model and data fields below
    ...

@dataclass
class ClassificationTrainingArguments(EncoderRatesArguments, TaskTrainingArguments):
    ...
```

A task that redefines a field (its help text, its default) keeps the field's place in the options.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from .errors import InputError
from .training_args import TaskTrainingArguments, split_label_names
from .validation import check_range

GROUP = "encoder fine-tuning"


@dataclass
class EncoderStrategyArguments:
    """--freeze_encoder, --freeze_layers and the LoRA options, checked when parsed (the encoder's layer count is
    checked when the model is built: `encoder_strategy.apply_encoder_strategy`)."""

    freeze_encoder: bool = field(
        default=False,
        metadata={
            "help": "Train only the head (the layers on top of the encoder): feature extraction.",
            "group": GROUP,
        },
    )
    freeze_layers: int | None = field(
        default=None,
        metadata={
            "help": "Freeze the embeddings and the bottom N encoder layers (0: the embeddings).",
            "group": GROUP,
        },
    )
    lora_r: int = field(
        default=0,
        metadata={
            "help": "Rank of LoRA adapters (peft) trained instead of the encoder's weights, merged into the saved "
            "model; 0: off.",
            "group": GROUP,
        },
    )
    lora_alpha: float | None = field(
        default=None,
        metadata={"help": "LoRA scale: the adapters' update is scaled by alpha / r (default: 2 * r).", "group": GROUP},
    )
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA adapters' input.", "group": GROUP})
    lora_target_modules: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated linear layers to adapt (default: peft's for the encoder, query,value for BERT; "
            "query,key,value,dense: all of BERT's).",
            "group": GROUP,
        },
    )

    def __post_init__(self):
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        self.check_encoder_strategy()

    def check_encoder_strategy(self) -> None:
        """`InputError` for values out of range and for options that contradict each other."""
        for option, low in (("freeze_layers", 0), ("lora_r", 0)):
            check_range(option, getattr(self, option), low)
        check_range("lora_alpha", self.lora_alpha, 0, above=True)
        if not 0 <= self.lora_dropout < 1:
            raise InputError(f"--lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.freeze_encoder and self.freeze_layers is not None:
            raise InputError("--freeze_encoder freezes every layer: give it or --freeze_layers, not both")
        if self.lora_r and (self.freeze_encoder or self.freeze_layers is not None):
            raise InputError("--lora_r freezes the encoder's weights itself (adapters, head train): drop --freeze_*")
        if not self.lora_r and (self.lora_alpha is not None or self.lora_target_modules):
            raise InputError("--lora_alpha and --lora_target_modules need --lora_r above 0")
        if self.lora_target_modules is not None:
            self.lora_target_modules = ",".join(t.strip() for t in self.lora_target_modules.split(",") if t.strip())
            if not self.lora_target_modules:
                raise InputError("--lora_target_modules names no module")


@dataclass
class EncoderRatesArguments:
    """--classifier_learning_rate and --layer_lr_decay; put it before `TaskTrainingArguments` among the bases, whose
    checks run first."""

    classifier_learning_rate: float | None = field(
        default=1e-3,
        metadata={
            "help": "Learning rate of the head (the layers on top of the encoder; a stock classifier's pooler too): "
            "a head starting near zero must move further than the encoder.",
            "group": "training",
        },
    )
    layer_lr_decay: float | None = field(
        default=None,
        metadata={
            "help": "Layer-wise learning-rate decay F in (0, 1]: the top encoder layer trains at --learning_rate, "
            "each one below (and the embeddings) at F times the rate above it.",
            "group": GROUP,
        },
    )

    def __post_init__(self):
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        check_range("classifier_learning_rate", self.classifier_learning_rate, 0, above=True)
        check_range("layer_lr_decay", self.layer_lr_decay, 0, 1, above=True)


@dataclass
class FineTuningArguments(EncoderRatesArguments, TaskTrainingArguments):
    """`TrainingArguments` of fine-tuning a pretrained encoder on labelled text (NER, classification): the
    transformers examples' rate and batch sizes, three epochs, 10% warm-up, the test split predicted, the best
    checkpoint kept; the head's and layers' rates (`EncoderRatesArguments`); `--label_names` as the names of the
    data's integer labels; packed training batches. A task redeclares a field to change its default or help."""

    keeps_best_model: ClassVar[bool] = True  # the checkpoint with the best validation metric is the model saved
    do_predict: bool = field(
        default=True, metadata={"help": "Predict (and score, if labelled) the test split.", "group": "training"}
    )
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate.", "group": "training"})
    per_device_train_batch_size: int = field(
        default=32, metadata={"help": "Training batch size per device.", "group": "training"}
    )
    per_device_eval_batch_size: int = field(
        default=64, metadata={"help": "Evaluation batch size per device.", "group": "training"}
    )
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of training epochs.", "group": "training"})
    warmup_steps: float = field(
        default=0.1, metadata={"help": "Warm-up steps; below 1, a fraction of all steps.", "group": "training"}
    )
    label_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "Names of the integer labels 0, 1, ... of data without a ClassLabel feature, in id order; they "
            "also fix a new model's label order.",
            "group": "data",
        },
    )
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Pack each training batch's texts end to end, attention kept within each: the loss of padded "
            "batches on fewer tokens.",
            "group": "training",
        },
    )

    cpu_dropout: bool = field(
        default=True,
        metadata={
            "help": "On a CPU, draw dropout masks four to a 64-bit random number (a fifth of torch's cost; p rounded "
            "to a multiple of 1/65536); false: torch's own dropout.",
            "group": "training",
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.label_names is not None:  # here the data's label names; the batches always hold theirs as "labels"
            self.label_names = split_label_names(self.label_names)


__all__ = ["EncoderStrategyArguments", "EncoderRatesArguments", "FineTuningArguments"]
