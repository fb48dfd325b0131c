"""The options of every task that fine-tunes a pretrained model: where the model and its tokenizer come from, how
many examples of each split to use, and the transformers examples' options that have nothing to do here.

A task's arguments dataclass inherits `ModelSourceArguments` and redeclares `model_name_or_path` and `config_name`
with its own default and help; a redeclared field keeps its place, so `--model_name_or_path` leads the options.
"""

import logging
from dataclasses import dataclass, field
from typing import ClassVar

logger = logging.getLogger(__name__)

# accepted so that the transformers examples' command lines run; each is logged as having nothing to do
NO_EFFECT = ("ignore_mismatched_sizes", "preprocessing_num_workers", "overwrite_cache")


@dataclass
class ModelSourceArguments:
    """Model, tokenizer and Hub options; `--max_*_samples`; the examples' options without effect."""

    model_name_or_path: str = field(
        default="google-bert/bert-base-cased",
        metadata={"help": "Model (Hub id or folder) to fine-tune.", "group": "model"},
    )
    config_name: str | None = field(
        default=None, metadata={"help": "Config (Hub id or folder), if not the model's own.", "group": "model"}
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Tokenizer (Hub id or folder), if not --model_name_or_path's.", "group": "model"},
    )
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where downloaded models and datasets are kept.", "group": "model"}
    )
    model_revision: str = field(
        default="main", metadata={"help": "Branch, tag or commit of a Hub model.", "group": "model"}
    )
    token: str | None = field(
        default=None,
        metadata={"help": "Hub token for private models and datasets (default: `hf auth login`'s).", "group": "model"},
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the checkpoint.", "group": "model"}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N training examples.", "group": "data"}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N validation examples.", "group": "data"}
    )
    max_predict_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N test examples.", "group": "data"}
    )
    ignore_mismatched_sizes: bool = field(
        default=False, metadata={"help": "No effect: a new head is built for the data's labels.", "group": "no effect"}
    )
    preprocessing_num_workers: int | None = field(
        default=None,
        metadata={"help": "No effect: preprocessing is one fast-tokenizer pass, no worker processes.",
                  "group": "no effect"},
    )  # fmt: skip
    overwrite_cache: bool = field(
        default=False,
        metadata={"help": "No effect: preprocessed data is never cached, so it is never stale.", "group": "no effect"},
    )

    unsupported_flags: ClassVar[dict[str, str]] = {"use_auth_token": "renamed --token in transformers"}

    def __post_init__(self):
        from .validation import check_range

        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        for option in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            check_range(option, getattr(self, option), 1)

    @property
    def hub_kwargs(self) -> dict:
        """`from_pretrained`/`load_dataset` options for Hub downloads."""
        return {"cache_dir": self.cache_dir, "token": self.token}

    def log_no_effect(self) -> None:
        """One log line for each of the examples' options given here, where it has nothing to do."""
        for option in NO_EFFECT:
            if getattr(self, option):
                logger.info("--%s: accepted for the transformers example's command lines; nothing to do here", option)


__all__ = ["ModelSourceArguments", "NO_EFFECT"]
