"""BERT tagger configuration: a pretrained encoder's config plus the token-classification head's settings.

Imports only transformers, so that it loads through `trust_remote_code=True` where this package is not installed.
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

SUPPORTED_HEADS = ("linear", "crf")
LABEL_SCHEMES = ("iob2", "bioes", "bios", "iob1", "none")
WORD_SPLITS = ("words", "characters")


class BertTaggerConfig(PreTrainedConfig):
    r"""
    Configuration of a [`BertTagger`]: a pretrained encoder (BERT by default) with a classifier over the tags of
    every token, for named-entity recognition.

    The encoder's full configuration is embedded, so a saved tagger rebuilds its encoder from its own `config.json`
    without the checkpoint it was fine-tuned from (and without network).

    Args:
        encoder (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the encoder: any model type known to `AutoConfig` whose base model returns
            `last_hidden_state` (BERT, RoBERTa, DistilBERT, ...). A dict is read with its `model_type`, `"bert"` when
            it has none; `None` gives the default `BertConfig` (bert-base sized).
        id2label (`dict[int, str]`, *optional*):
            Tag of each class index, e.g. `{0: "O", 1: "B-PER", 2: "I-PER"}`. Indices must be `0 .. num_labels - 1`
            and tags unique. Defaults to `{0: "LABEL_0", 1: "LABEL_1"}` or, with `num_labels`, `{i: "LABEL_{i}"}`.
        label2id (`dict[str, int]`, *optional*):
            Inverse of `id2label`; derived from it when not given, an error when it disagrees.
        num_labels (`int`, *optional*, defaults to 2):
            Number of tags; only read when `id2label` is not given.
        classifier_dropout (`float`, *optional*):
            Dropout probability on the encoder's output, before the classifier. `None` uses the encoder's
            `hidden_dropout_prob` (0.1 when the encoder's config has no such field).
        head (`str`, *optional*, defaults to `"linear"`):
            Classification head over the encoder's output. `"linear"`: an independent softmax over the tags at each
            token, trained with cross-entropy. `"crf"`: the same scores as emissions of a linear-chain CRF over each
            sentence's words (first sub-tokens), trained with its negative log-likelihood and decoded with Viterbi.
            Its start, end and transition scores are parameters (saved in `model.safetensors`).
        label_scheme (`str`, *optional*, defaults to `"iob2"`):
            Tag scheme of `id2label`: `"iob2"`, `"bioes"`, `"bios"`, `"iob1"`, or `"none"` for tags without chunk
            prefixes. The CRF's transition constraints come from it.
        constrain_transitions (`bool`, *optional*, defaults to `True`):
            With the CRF head, forbid the transitions the label scheme cannot have (`O -> I-X` in IOB2, ...), at
            training and decoding alike. Ignored for the linear head and the `"none"` scheme.
        word_split (`str`, *optional*, defaults to `"words"`):
            How raw text is split into words for prediction, as the training data was: `"words"` (words and
            punctuation, each CJK character alone, runs of Latin letters and digits whole) or `"characters"` (one word
            per character, spaces included, as CLUENER's span JSON is read).

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from ner_trainer import BertTaggerConfig, BertTagger

    >>> config = BertTaggerConfig(encoder=BertConfig(num_hidden_layers=2), id2label={0: "O", 1: "B-PER", 2: "I-PER"})
    >>> model = BertTagger(config)
    ```"""

    model_type = "bert_tagger"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    classifier_dropout: float | int | None = None
    head: str = "linear"
    label_scheme: str = "iob2"
    constrain_transitions: bool = True
    word_split: str = "words"

    def __post_init__(self, **kwargs):
        if self.label_scheme not in LABEL_SCHEMES:
            raise ValueError(
                f"BertTaggerConfig.label_scheme must be one of {LABEL_SCHEMES}, got {self.label_scheme!r}"
            )
        if self.word_split not in WORD_SPLITS:
            raise ValueError(f"BertTaggerConfig.word_split must be one of {WORD_SPLITS}, got {self.word_split!r}")
        if self.head not in SUPPORTED_HEADS:
            raise ValueError(f"BertTaggerConfig.head must be one of {SUPPORTED_HEADS}, got {self.head!r}")
        if self.classifier_dropout is not None and not 0 <= self.classifier_dropout < 1:
            raise ValueError(
                f"BertTaggerConfig.classifier_dropout must be in [0, 1) or None, got {self.classifier_dropout}"
            )
        super().__post_init__(**kwargs)  # builds the encoder sub-config, int-keys id2label
        self._check_labels()

    def _check_labels(self) -> None:
        indices = sorted(self.id2label)
        if indices != list(range(len(indices))):
            raise ValueError(f"id2label must have the indices 0..{len(indices) - 1}, got {indices}")
        tags = list(self.id2label.values())
        duplicates = sorted({tag for tag in tags if tags.count(tag) > 1})
        if duplicates:
            raise ValueError(f"id2label has duplicate tags {duplicates}")
        inverse = {tag: i for i, tag in self.id2label.items()}
        if self.label2id is None:
            self.label2id = inverse
        elif {tag: int(i) for tag, i in self.label2id.items()} != inverse:
            raise ValueError(f"label2id {self.label2id} is not the inverse of id2label {self.id2label}")

    @property
    def hidden_size(self) -> int:
        """Width of the encoder's output, the classifier's input."""
        return self.encoder.hidden_size

    def get_text_config(self, decoder=None, encoder=None) -> PreTrainedConfig:
        # The encoder's config holds vocab_size, pad_token_id, ...: `resize_token_embeddings` and the Trainer's
        # special-token alignment must update it there, or the saved tagger would not reload.
        return self.encoder


__all__ = ["SUPPORTED_HEADS", "LABEL_SCHEMES", "WORD_SPLITS", "BertTaggerConfig"]
