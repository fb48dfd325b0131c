"""BERT tagger configuration: a pretrained encoder's config plus the token-classification head's settings.

Imports only transformers and its sibling `encoder_layers` (torch), so that it loads through `trust_remote_code=True`
where this package is not installed.
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .encoder_layers import pooled_index

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
        layer_pooling (`str`, *optional*, defaults to `"last"`):
            The encoder features the head reads: `"last"` (the last layer), `"scalar_mix"` (ELMo's learned
            softmax-weighted sum of the embeddings output and every layer's output, times a learned scale; the
            weights are parameters of the model), `"embeddings"` (the embeddings output), or an integer index into
            the encoder's `hidden_states` as a string (`"0"` = embeddings output, `"-1"` = last layer). The layers
            above an index still run but cannot reach the output: they are frozen.
        freeze_encoder (`bool`, *optional*, defaults to `False`):
            Train only the head (classifier, CRF, scalar mix): every encoder parameter gets `requires_grad=False`.
        freeze_layers (`int`, *optional*):
            Freeze the embeddings and the bottom `freeze_layers` layers of the encoder (0: the embeddings only).
        layer_lr_decay (`float`, *optional*):
            Layer-wise learning-rate decay the tagger was trained with: the top layer at the learning rate, each
            layer below at the rate above times this factor, the embeddings below the bottom layer. Read by the
            trainer, recorded here.
        lora_r (`int`, *optional*, defaults to 0):
            Rank of the LoRA adapters the encoder was trained with (0: none). A record: the adapters are merged into
            the encoder's weights when the trained tagger is saved, so a tagger built from this config has none.
        lora_alpha (`float`, *optional*):
            LoRA scaling numerator (updates scaled by `lora_alpha / lora_r`); `None` means `2 * lora_r`.
        lora_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the LoRA adapters' input.
        lora_target_modules (`list[str]`, *optional*):
            Names of the encoder's linear layers that got adapters; `None`: peft's default for the encoder type
            (`query` and `value` for BERT and RoBERTa).

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
    layer_pooling: str = "last"
    freeze_encoder: bool = False
    freeze_layers: int | None = None
    layer_lr_decay: float | int | None = None
    lora_r: int = 0
    lora_alpha: float | int | None = None
    lora_dropout: float | int = 0.1
    lora_target_modules: list[str] | None = None

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
        self.check_encoder_strategy()

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

    def check_encoder_strategy(self) -> None:
        """`ValueError` unless layer_pooling, freeze_layers, layer_lr_decay and the LoRA settings fit the encoder."""
        self.layer_pooling = str(self.layer_pooling)  # an int from Python code: the index it names
        pooled_index(self.layer_pooling, self.encoder.num_hidden_layers)
        layers = self.encoder.num_hidden_layers
        if self.freeze_layers is not None and not 0 <= self.freeze_layers <= layers:
            raise ValueError(
                f"freeze_layers must be in [0, {layers}] (the encoder has {layers}), got {self.freeze_layers}"
            )
        if self.layer_lr_decay is not None and not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}")
        if self.lora_r < 0 or (self.lora_alpha is not None and self.lora_alpha <= 0):
            raise ValueError(f"lora_r must be >= 0 and lora_alpha > 0, got {self.lora_r} and {self.lora_alpha}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")

    @property
    def hidden_size(self) -> int:
        """Width of the encoder's output, the classifier's input."""
        return self.encoder.hidden_size

    def get_text_config(self, decoder=None, encoder=None) -> PreTrainedConfig:
        # The encoder's config holds vocab_size, pad_token_id, ...: `resize_token_embeddings` and the Trainer's
        # special-token alignment must update it there, or the saved tagger would not reload.
        return self.encoder


__all__ = ["SUPPORTED_HEADS", "LABEL_SCHEMES", "WORD_SPLITS", "BertTaggerConfig"]
