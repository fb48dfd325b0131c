"""Arguments of `run_ner.py`: the model and data options, and `TrainingArguments` with the task's defaults."""

from dataclasses import dataclass, field

from trainer_common.encoder_args import EncoderStrategyArguments, FineTuningArguments
from trainer_common.errors import InputError
from trainer_common.model_args import ModelSourceArguments

from .modeling_bert_tagger import DEFAULT_ENCODER


@dataclass
class NERArguments(ModelSourceArguments, EncoderStrategyArguments):
    """Model and data arguments of `run_ner.py`; the tokenizer, Hub and `--max_*_samples` options come from
    `ModelSourceArguments`, freezing and LoRA from `EncoderStrategyArguments`."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={
            "help": "Encoder (Hub id or folder) to fine-tune, or a saved BertTagger to continue.",
            "group": "model",
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Encoder config (Hub id or folder) of a new tagger, if not the model's own.",
            "group": "model",
        },
    )
    head: str = field(
        default="linear",
        metadata={
            "help": "Classification head: 'linear' (softmax per token) or 'crf' (linear-chain CRF over words).",
            "choices": ["linear", "crf"],
            "group": "head and tags",
        },
    )
    label_scheme: str = field(
        default="iob2",
        metadata={
            "help": "Tag scheme the model learns and predicts; input files are converted to it on reading.",
            "choices": ["iob2", "bioes", "iobes", "bios", "none"],
            "group": "head and tags",
        },
    )
    constrain_transitions: bool = field(
        default=True,
        metadata={
            "help": "CRF: forbid the label scheme's impossible transitions (O -> I-X, ...), in training too.",
            "group": "head and tags",
        },
    )
    classifier_dropout: float | None = field(
        default=None,
        metadata={
            "help": "Dropout before the classifier (default: the encoder's hidden dropout).",
            "group": "head and tags",
        },
    )
    layer_pooling: str | None = field(
        default=None,
        metadata={
            "help": "Encoder features the head reads: 'last' (default), 'scalar_mix' (ELMo: a learned "
            "weighted sum of all layers), 'embeddings' or a layer index (0 = embeddings, -1 = last); a saved tagger "
            "keeps its own.",
            "group": "encoder fine-tuning",
        },
    )
    freeze_encoder: bool = field(
        default=False,
        metadata={
            "help": "Train only the head (classifier, CRF, scalar mix): feature extraction.",
            "group": "encoder fine-tuning",
        },
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset with tokens/ner_tags columns (default: eriktks/conll2003 when no file is given).",
            "group": "data",
        },
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config name of --dataset_name.", "group": "data"}
    )
    train_file: str | None = field(
        default=None,
        metadata={"help": "CoNLL column file, JSON/JSONL (.json/.jsonl), or CSV (a sentence a row).", "group": "data"},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Same formats as --train_file.", "group": "data"}
    )
    test_file: str | None = field(
        default=None, metadata={"help": "Same formats; a file without tags is predicted, not scored.", "group": "data"}
    )
    label_column: int = field(
        default=-1, metadata={"help": "Tag column of CoNLL files (default: the last).", "group": "data"}
    )
    task_name: str = field(
        default="ner", metadata={"help": "Names the default tags column: <task_name>_tags.", "group": "data"}
    )
    text_column_name: str = field(
        default="tokens", metadata={"help": "Words column of JSON, CSV and Hub data.", "group": "data"}
    )
    label_column_name: str | None = field(
        default=None,
        metadata={
            "help": "Tags column of JSON, CSV and Hub data (default: <task_name>_tags, ner_tags).",
            "group": "data",
        },
    )
    validation_split: float | None = field(
        default=None,
        metadata={
            "help": "Without a validation file or split: hold out this fraction of the training sentences (0.1).",
            "group": "data",
        },
    )
    overlapping_spans: str = field(
        default="error",
        metadata={
            "help": "Overlapping or nested entities in span JSON (CLUENER): 'error' names the file and line, "
            "'keep_longest' keeps the longer span and warns.",
            "choices": ["error", "keep_longest"],
            "group": "data",
        },
    )
    word_split: str = field(
        default="auto",
        metadata={
            "help": "How `predict` splits raw text into words (saved with the model): 'words' (a CJK character, a "
            "Latin or digit run, a punctuation mark), 'characters', or 'auto' (characters for span JSON, else words).",
            "choices": ["auto", "words", "characters"],
            "group": "data",
        },
    )
    tag_scheme: str = field(
        default="auto",
        metadata={
            "help": "Tag scheme of the input files: 'auto' detects it per file; a file breaking a declared one is an "
            "error naming the file and line.",
            "choices": ["auto", "iob1", "iob2", "bio", "bioes", "iobes", "bios", "none"],
            "group": "data",
        },
    )
    max_seq_length: int | None = field(
        default=128,
        metadata={
            "help": "Tokens per window (None: the model's limit); longer sentences are split, no word is dropped.",
            "group": "data",
        },
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={
            "help": "Pad every batch to --max_seq_length (fixed shapes, for XLA); turns --padding_free off.",
            "group": "data",
        },
    )
    label_all_tokens: bool = field(
        default=False,
        metadata={
            "help": "Train on every sub-token of a word, not only the first (metrics unchanged).",
            "group": "head and tags",
        },
    )
    strict: bool = field(
        default=False,
        metadata={
            "help": "Score only entities well formed in --label_scheme (seqeval strict mode: IOB2, IOBES).",
            "group": "head and tags",
        },
    )
    return_entity_level_metrics: bool = field(
        default=True,
        metadata={
            "help": "Each evaluation's metrics per entity type too (the test metrics always have them).",
            "group": "head and tags",
        },
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={
            "help": "No effect: a new tagger's head fits its labels; a saved one gains rows for new labels.",
            "group": "no effect",
        },
    )
    wandb_project: str = field(
        default="bert-ner", metadata={"help": "W&B project when --report_to wandb.", "group": "outputs and run"}
    )

    def __post_init__(self):
        from trainer_common.validation import check_range

        from .tagging import normalize_scheme

        self.tag_scheme = normalize_scheme(self.tag_scheme, allow_auto=True)
        self.label_scheme = normalize_scheme(self.label_scheme)
        if self.head == "crf" and self.label_all_tokens:
            raise InputError("--label_all_tokens does not apply to --head crf: the CRF reads one tag per word")
        if self.classifier_dropout is not None and not 0 <= self.classifier_dropout < 1:
            raise InputError(f"--classifier_dropout must be in [0, 1), got {self.classifier_dropout}")
        check_range("max_seq_length", self.max_seq_length, 2)
        self._check_columns()
        if self.validation_split is not None and not 0 < self.validation_split < 1:
            raise InputError(f"--validation_split must be in (0, 1), got {self.validation_split}")
        self._check_layer_pooling()
        super().__post_init__()  # --max_*_samples, freezing and LoRA

    def _check_columns(self) -> None:
        if self.label_column_name is None:
            self.label_column_name = f"{self.task_name}_tags"
        if not self.text_column_name or not self.label_column_name or self.text_column_name == self.label_column_name:
            raise InputError("--text_column_name and --label_column_name must name two different columns")

    def columns(self, label_names: list[str] | None = None):
        """Where JSON, CSV and Hub records keep words and tags, and `label_names`, the names of tag ids."""
        from .data import Columns

        return Columns(self.text_column_name, self.label_column_name, tuple(label_names) if label_names else None)

    def _check_layer_pooling(self) -> None:
        """Parse-time check of --layer_pooling; the encoder's layer count is checked on loading."""
        if self.layer_pooling is not None and self.layer_pooling not in ("last", "scalar_mix", "embeddings"):
            try:
                int(self.layer_pooling)
            except ValueError:
                raise InputError(
                    f"--layer_pooling must be last, scalar_mix, embeddings or an index, got {self.layer_pooling!r}"
                ) from None


@dataclass
class NERTrainingArguments(FineTuningArguments):
    """`TrainingArguments` of fine-tuning a tagger (`FineTuningArguments`: the encoder tasks' defaults, the head's and
    layers' rates, packed training batches); the best checkpoint by entity F1; the CRF's own rate."""

    output_dir: str | None = field(
        default="runs/ner", metadata={"help": "Where the model and outputs go.", "group": "outputs and run"}
    )
    metric_for_best_model: str | None = field(
        default="f1",
        metadata={"help": "Validation metric that picks the best checkpoint (entity F1).", "group": "training"},
    )
    do_predict: bool = field(
        default=True, metadata={"help": "Predict (and score, if tagged) the test split.", "group": "training"}
    )
    classifier_learning_rate: float | None = field(
        default=1e-3,
        metadata={
            "help": "Learning rate of the head (and of the CRF unless --crf_learning_rate is given): a head starting "
            "near zero must move further than the encoder (README, Results).",
            "group": "training",
        },
    )
    crf_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the CRF's transition scores (default: --classifier_learning_rate).",
            "group": "training",
        },
    )
    label_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "Names of the integer tags 0, 1, ... of JSON, CSV or Hub data without a ClassLabel feature, in "
            "id order; they also fix a new tagger's label order.",
            "group": "data",
        },
    )
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Pack each training batch's sentences end to end, attention kept within each: the loss of padded "
            "batches on about 2.6x fewer tokens (CoNLL).",
            "group": "training",
        },
    )

    def __post_init__(self):
        from trainer_common.validation import check_range

        super().__post_init__()  # with --classifier_learning_rate and --layer_lr_decay
        check_range("crf_learning_rate", self.crf_learning_rate, 0, above=True)
        if not self.eval_do_concat_batches:  # the word alignment reads one array of predictions for the whole split
            raise InputError("--eval_do_concat_batches false is not supported: NER maps all predictions to words")
