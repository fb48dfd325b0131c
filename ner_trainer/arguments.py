"""Arguments of `run_ner.py`: the model and data options, and `TrainingArguments` with the task's defaults."""

from dataclasses import dataclass, field
from typing import ClassVar

from trainer_common.errors import InputError
from trainer_common.training_args import TaskTrainingArguments

from .modeling_bert_tagger import DEFAULT_ENCODER


@dataclass
class NERArguments:
    """Model and data arguments of `run_ner.py`."""

    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={"help": "Pretrained encoder (Hub id or folder) to fine-tune, or a saved BertTagger to continue."},
    )
    config_name: str | None = field(
        default=None, metadata={"help": "Encoder config (Hub id or folder) of a new tagger, if not the model's own."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer (Hub id or folder), if not --model_name_or_path's."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded models and datasets are kept."})
    model_revision: str = field(default="main", metadata={"help": "Branch, tag or commit of a Hub model."})
    token: str | None = field(
        default=None, metadata={"help": "Hub token for private models and datasets (default: `hf auth login`'s)."}
    )
    head: str = field(
        default="linear",
        metadata={
            "help": "Classification head: 'linear' (softmax per token) or 'crf' (linear-chain CRF over words).",
            "choices": ["linear", "crf"],
        },
    )
    label_scheme: str = field(
        default="iob2",
        metadata={
            "help": "Tag scheme the model learns and predicts; input files are converted to it on reading.",
            "choices": ["iob2", "bioes", "iobes", "bios", "none"],
        },
    )
    constrain_transitions: bool = field(
        default=True,
        metadata={"help": "CRF: forbid the label scheme's impossible transitions (O -> I-X, ...), in training too."},
    )
    classifier_dropout: float | None = field(
        default=None, metadata={"help": "Dropout before the classifier (default: the encoder's hidden dropout)."}
    )
    layer_pooling: str | None = field(
        default=None,
        metadata={
            "help": "Encoder features the head reads: 'last' (the default for a new tagger), 'scalar_mix' (ELMo: a "
            "learned softmax-weighted sum of the embeddings and every layer, times a learned scale), 'embeddings', or "
            "a hidden_states index (0 = embeddings, -1 = last layer). A saved tagger keeps its own."
        },
    )
    freeze_encoder: bool = field(
        default=False, metadata={"help": "Train only the head (classifier, CRF, scalar mix): feature extraction."}
    )
    freeze_layers: int | None = field(
        default=None, metadata={"help": "Freeze the embeddings and the bottom N encoder layers (0: the embeddings)."}
    )
    lora_r: int = field(
        default=0,
        metadata={
            "help": "Rank of LoRA adapters (peft) trained instead of the encoder's weights; 0: off. The saved model "
            "has them merged into the weights."
        },
    )
    lora_alpha: float | None = field(
        default=None, metadata={"help": "LoRA scale: the adapters' update is scaled by alpha / r (default: 2 * r)."}
    )
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA adapters' input."})
    lora_target_modules: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated names of the encoder's linear layers to adapt (default: peft's for the encoder "
            "type, query,value for BERT; query,key,value,dense adapts all of BERT's)."
        },
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Hub dataset with tokens/ner_tags columns. Default when no file is given: eriktks/conll2003."
        },
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Config name of --dataset_name."})
    train_file: str | None = field(
        default=None, metadata={"help": "CoNLL column file, JSON/JSONL (.json/.jsonl), or CSV (a sentence a row)."}
    )
    validation_file: str | None = field(default=None, metadata={"help": "Same formats as --train_file."})
    test_file: str | None = field(
        default=None, metadata={"help": "Same formats; a file without tags is predicted, not scored."}
    )
    label_column: int = field(default=-1, metadata={"help": "Tag column of CoNLL files (default: the last)."})
    task_name: str = field(default="ner", metadata={"help": "Names the default tags column: <task_name>_tags."})
    text_column_name: str = field(default="tokens", metadata={"help": "Words column of JSON, CSV and Hub data."})
    label_column_name: str | None = field(
        default=None, metadata={"help": "Tags column of JSON, CSV and Hub data (default: <task_name>_tags, ner_tags)."}
    )
    validation_split: float | None = field(
        default=None,
        metadata={
            "help": "With no validation file or split: hold out this fraction of the training sentences (e.g. 0.1), "
            "drawn at random by --seed."
        },
    )
    overlapping_spans: str = field(
        default="error",
        metadata={
            "help": "Span JSON (CLUENER) with overlapping or nested entities, which one tag per character cannot "
            "hold: 'error' names the file and line; 'keep_longest' keeps the longer span and warns.",
            "choices": ["error", "keep_longest"],
        },
    )
    word_split: str = field(
        default="auto",
        metadata={
            "help": "How `predict` splits raw text into words, saved in the model's config: 'words' (words and "
            "punctuation, one per CJK character, Latin and digit runs whole), 'characters' (one per character, as "
            "span JSON is read); 'auto': 'characters' when the training data is span JSON (CLUENER), else 'words'.",
            "choices": ["auto", "words", "characters"],
        },
    )
    tag_scheme: str = field(
        default="auto",
        metadata={
            "help": "Tag scheme of the input files: 'auto' detects it per file; a file that breaks a declared scheme "
            "is an error naming the file and line.",
            "choices": ["auto", "iob1", "iob2", "bio", "bioes", "iobes", "bios", "none"],
        },
    )
    max_seq_length: int | None = field(
        default=128,
        metadata={
            "help": "Tokens per window (None: the model's limit). Longer sentences are split into windows; no word is "
            "ever dropped."
        },
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={"help": "Pad every batch to --max_seq_length (fixed shapes, for XLA); turns --padding_free off."},
    )
    label_all_tokens: bool = field(
        default=False, metadata={"help": "Train on every sub-token of a word, not only the first (metrics unchanged)."}
    )
    strict: bool = field(
        default=False,
        metadata={"help": "Score only entities well formed in --label_scheme (seqeval strict mode: IOB2, IOBES)."},
    )
    return_entity_level_metrics: bool = field(
        default=True,
        metadata={"help": "Each evaluation's metrics per entity type too (the test metrics always have them)."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N train sentences."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation sentences."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use only the first N test sentences."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the checkpoint."})
    # Accepted so that the transformers example's command lines run; each is logged as having nothing to do.
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={"help": "No effect: a new tagger's head fits its labels; a saved one gains rows for new labels."},
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "No effect: preprocessing is one fast-tokenizer pass, no worker processes."}
    )
    overwrite_cache: bool = field(
        default=False, metadata={"help": "No effect: preprocessed data is never cached, so it is never stale."}
    )
    wandb_project: str = field(default="bert-ner", metadata={"help": "W&B project when --report_to wandb."})

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
        for option in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            check_range(option, getattr(self, option), 1)
        self._check_encoder_strategy()

    unsupported_flags: ClassVar[dict[str, str]] = {
        "use_auth_token": "renamed --token in transformers",
    }

    def _check_columns(self) -> None:
        if self.label_column_name is None:
            self.label_column_name = f"{self.task_name}_tags"
        if not self.text_column_name or not self.label_column_name or self.text_column_name == self.label_column_name:
            raise InputError("--text_column_name and --label_column_name must name two different columns")

    def columns(self, label_names: list[str] | None = None):
        """Where JSON, CSV and Hub records keep words and tags, and `label_names`, the names of tag ids."""
        from .data import Columns

        return Columns(self.text_column_name, self.label_column_name, tuple(label_names) if label_names else None)

    @property
    def hub_kwargs(self) -> dict:
        """`from_pretrained`/`load_dataset` options for Hub downloads."""
        return {"cache_dir": self.cache_dir, "token": self.token}

    def _check_encoder_strategy(self) -> None:
        """Parse-time checks of --layer_pooling, freezing and LoRA; the encoder's layer count is checked on loading."""
        from trainer_common.validation import check_range

        if self.layer_pooling is not None and self.layer_pooling not in ("last", "scalar_mix", "embeddings"):
            try:
                int(self.layer_pooling)
            except ValueError:
                raise InputError(
                    f"--layer_pooling must be last, scalar_mix, embeddings or an index, got {self.layer_pooling!r}"
                ) from None
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
class NERTrainingArguments(TaskTrainingArguments):
    """`TrainingArguments` with token-classification defaults; padding-free training batches."""

    output_dir: str | None = field(default="runs/ner", metadata={"help": "Where the model and outputs go."})
    metric_for_best_model: str | None = field(
        default="f1", metadata={"help": "Validation metric that picks the best checkpoint (entity F1)."}
    )
    keeps_best_model: ClassVar[bool] = True  # the checkpoint with the best validation F1 is the model saved
    do_predict: bool = field(default=True, metadata={"help": "Predict (and score, if tagged) the test split."})
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size per device."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of training epochs."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps; below 1, a fraction of all steps."})
    classifier_learning_rate: float | None = field(
        default=1e-3,
        metadata={
            "help": "Learning rate of the classification head (and of the CRF unless --crf_learning_rate is given). "
            "A head that starts near zero must move much further than the pretrained encoder: 1e-3 gains about a "
            "point of F1 over the encoder's 5e-5 after one CoNLL epoch (README, Results)."
        },
    )
    crf_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the CRF's transition scores (default: --classifier_learning_rate)."},
    )
    layer_lr_decay: float | None = field(
        default=None,
        metadata={
            "help": "Layer-wise learning-rate decay F in (0, 1]: the top encoder layer trains at --learning_rate, "
            "each layer below at the rate above times F, the embeddings at the bottom layer's times F; the head "
            "keeps its own rates."
        },
    )
    label_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "NER: names of the integer tag ids 0, 1, ... of JSON, CSV or Hub data without a ClassLabel "
            "feature (space- or comma-separated, in id order); they also fix a new tagger's label order."
        },
    )
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Pack each training batch's sentences end to end, attention kept within each sentence: the same "
            "batches and loss as padded ones on about 2.6x fewer tokens (CoNLL). --no_padding_free pads instead."
        },
    )

    def __post_init__(self):
        from trainer_common.validation import check_range

        super().__post_init__()
        for option in ("classifier_learning_rate", "crf_learning_rate"):
            check_range(option, getattr(self, option), 0, above=True)
        check_range("layer_lr_decay", self.layer_lr_decay, 0, 1, above=True)
        if not self.eval_do_concat_batches:  # the word alignment reads one array of predictions for the whole split
            raise InputError("--eval_do_concat_batches false is not supported: NER maps all predictions to words")
        if self.label_names is not None:  # here tag names; the Trainer's batches always hold theirs as "labels"
            items = [self.label_names] if isinstance(self.label_names, str) else self.label_names
            names = [name.strip() for item in items for name in item.split(",")]
            if not names or "" in names or len(set(names)) != len(names):
                raise InputError(f"--label_names must name each label once, got {self.label_names}")
            self.label_names = names
