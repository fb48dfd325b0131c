"""BERT named-entity tagger as a `PreTrainedModel`: a pretrained encoder and a linear classifier over every token.

Self-contained on purpose: only torch, transformers and the sibling configuration file, so that a checkpoint
saved with its code loads through `trust_remote_code=True` where this package is not installed.
"""

import copy
import inspect
import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.utils.generic import can_return_tuple

from .configuration_bert_tagger import BertTaggerConfig
from .crf import LinearChainCRF
from .encoder_layers import (
    ScalarMix,
    build_encoder,
    head_features,
    is_frozen,
    layer_depth,
    load_encoder,
    packed_attention_mask,
    packed_position_offset,
    pooled_index,
)
from .tagging import CHUNK_SCHEMES, allowed_transitions
from .word_chains import WordChains, default_word_mask, sentence_starts

# The encoder fine-tuned by default (cased: capitalisation is a strong entity cue).
DEFAULT_ENCODER = "google-bert/bert-base-cased"


class BertTaggerPreTrainedModel(PreTrainedModel):
    config_class = BertTaggerConfig
    base_model_prefix = "tagger"
    supports_gradient_checkpointing = True
    # The encoder checks the attention implementation it is asked for; the head itself has no attention.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Classifier: normal(0, encoder's initializer_range) weights, zero bias. CRF: zero scores. Scalar mix: zero
        logits (an even average of the layers) and a scale of 1.

        `initialize_weights` hands the encoder's modules to the encoder's own `_init_weights`, and the `init`
        functions skip weights that were loaded, so this never clobbers pretrained values.
        """
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=getattr(self.config.encoder, "initializer_range", 0.02))
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, LinearChainCRF):  # no preference between tags until training finds one
            for param in (module.start_transitions, module.end_transitions, module.transitions):
                init.zeros_(param)
            # the constraint buffers are not in the checkpoint: rebuild them from the config whenever weights load
            module.set_constraints(*_allowed(self.config))
        elif isinstance(module, ScalarMix):
            init.zeros_(module.weights)
            init.ones_(module.gamma)


class BertTagger(BertTaggerPreTrainedModel):
    r"""
    Encoder (any `AutoModel` base model, BERT by default) -> dropout -> `nn.Linear(hidden_size, num_labels)` at every
    token. The encoder is the base model, not a masked-LM model, and BERT's pooler is left out: a tagger never reads
    it, and unused parameters would waste compute and break DDP without `find_unused_parameters`.

    The head reads the encoder's last layer, or the hidden states `config.layer_pooling` names (a scalar mix of all
    of them, one layer, the embeddings). Encoder parameters the config freezes get `requires_grad=False`
    ([`BertTagger.apply_freezing`]), when the tagger is built and when it is loaded.

    Build a tagger to fine-tune with [`BertTagger.from_encoder`]; reload a saved one with `from_pretrained`.
    """

    def __init__(self, config: BertTaggerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.encoder = build_encoder(config.encoder)
        # Some encoders (DistilBERT, ...) have no segment embeddings; BERT tokenizers still return token_type_ids.
        self._encoder_takes_token_type_ids = "token_type_ids" in inspect.signature(self.encoder.forward).parameters
        dropout = config.classifier_dropout
        if dropout is None:
            dropout = getattr(config.encoder, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.encoder.hidden_size, config.num_labels)
        self.crf = LinearChainCRF(config.num_labels) if config.head == "crf" else None  # constrained in _init_weights
        # the hidden_states index the head reads; None: all of them, through the scalar mix
        self._pooled = pooled_index(config.layer_pooling, config.encoder.num_hidden_layers)
        self.scalar_mix = ScalarMix(config.encoder.num_hidden_layers + 1) if self._pooled is None else None
        self.post_init()
        self.apply_freezing()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        loaded = super().from_pretrained(*args, **kwargs)
        # loading puts new, trainable parameters in place of those built in __init__
        (loaded[0] if isinstance(loaded, tuple) else loaded).apply_freezing()
        return loaded

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        word_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        r"""
        position_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Without an `attention_mask`, a row whose positions restart at 0 holds several sentences packed end to
            end (`data.PaddingFreeCollator`), and each token attends only within its own sentence.
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Tag index of each token; -100 leaves a token out of the loss (special tokens, padding, later word
            pieces). The loss is the mean cross-entropy over the other tokens.
        word_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 on the first sub-token of each word (`data.encode_sentences` makes it). The linear head does not need
            it; a structured head decodes over these tokens.
        kwargs:
            Passed to the encoder (`output_hidden_states=True`, `output_attentions=True`, ...), except
            `num_items_in_batch`: the Trainer's count of labelled tokens in the whole batch (all gradient
            accumulation steps and devices), by which the summed loss is divided so that every token weighs the same.
        """
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        if token_type_ids is not None and self._encoder_takes_token_type_ids:
            kwargs["token_type_ids"] = token_type_ids
        row_mask = attention_mask  # None for packed rows: the CRF reads sentence boundaries from position_ids
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
            if attention_mask is None:
                attention_mask = self._packed_attention_mask(position_ids)
                kwargs["position_ids"] = position_ids + packed_position_offset(self.encoder)
        keep_states, top = True, self.config.encoder.num_hidden_layers
        if self._pooled != top:  # the head reads hidden states; return them only to a caller who asked
            keep_states = kwargs.get("output_hidden_states", self.config.encoder.output_hidden_states)
            kwargs["output_hidden_states"] = True
        outputs = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, return_dict=True, **kwargs
        )
        logits = self.classifier(self.dropout(head_features(outputs, self._pooled, self.scalar_mix)))
        loss = None
        if self.crf is not None:
            chains = self._word_chains(logits, word_mask, labels, position_ids, row_mask)
            if labels is not None:
                loss = self._crf_loss(logits, labels, chains, num_items_in_batch)
            if not self.training:
                logits = self._path_logits(logits, chains)
        elif labels is not None:
            labels = labels.to(logits.device)
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100, reduction="sum"
            )
            # clamp: a batch without labelled tokens has loss 0, not nan
            count = labels.ne(-100).sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
            loss = loss / count

        return TokenClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=getattr(outputs, "hidden_states", None) if keep_states else None,
            attentions=getattr(outputs, "attentions", None),
        )

    def decode(
        self,
        emissions: torch.Tensor,
        word_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The predicted tag id of every token, from the classifier's scores (`emissions`, `[batch, seq, tags]`).

        Linear head: the argmax at each token. CRF head: batched Viterbi over each sentence's words (the tokens of
        `word_mask`; sentences as in `forward`), and every later sub-token of a word takes its word's tag; -100
        before a sentence's first word. Outside training `forward` returns logits whose argmax is this decoding.
        """
        if self.crf is None:
            return emissions.argmax(-1)
        chains = self._word_chains(emissions, word_mask, None, position_ids, attention_mask)
        tags, _ = self.crf.viterbi_decode(chains.gather(emissions), chains.mask)
        return chains.scatter(tags, torch.full(emissions.shape[:2], -100, device=emissions.device))

    def _word_chains(self, emissions, word_mask, labels, position_ids, attention_mask) -> WordChains:
        """Each sentence's words as one chain. Without a `word_mask`: the labelled tokens when there are labels
        (first sub-tokens), else every sub-token between the special tokens (as `pipeline` calls the model)."""
        shape, device = emissions.shape[:2], emissions.device
        if word_mask is None:
            word_mask = labels.ne(-100) if labels is not None else default_word_mask(attention_mask, shape, device)
        return WordChains.build(word_mask, sentence_starts(position_ids, attention_mask, shape, device))

    def _crf_loss(self, emissions, labels, chains: WordChains, num_items_in_batch) -> torch.Tensor:
        """Summed negative log-likelihood of the sentences, over the labelled words of the whole batch."""
        tags = chains.gather(labels.to(emissions.device)).clamp(min=0)
        nll = self.crf(chains.gather(emissions), tags, chains.mask, reduction="sum")
        count = chains.mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return nll / count

    def _path_logits(self, emissions, chains: WordChains) -> torch.Tensor:
        """Per-token scores whose argmax is the Viterbi path: log(best path through the tag / best path) from the
        CRF's max-marginals, 0 on the Viterbi tag and below it elsewhere (ties broken towards the Viterbi tag).
        Later sub-tokens carry their word's scores, so `pipeline` reads Viterbi tags with any aggregation."""
        word_emissions = chains.gather(emissions)
        tags, best = self.crf.viterbi_decode(word_emissions, chains.mask, pad_tag=0)
        scores = self.crf.max_marginals(word_emissions, chains.mask) - best[:, None, None]
        scores = scores.clamp(max=-1e-4).scatter(-1, tags.unsqueeze(-1), 0.0)
        return chains.scatter(scores, emissions.float())

    def parameter_groups(self) -> dict[str, set[str]]:
        """Parameter names by part, for per-part learning rates: `encoder`, `classifier` (with the scalar mix) and
        `crf`."""
        groups = {"encoder": set(), "classifier": set(), "crf": set()}
        for name, _ in self.named_parameters():
            groups[name.split(".")[0] if name.startswith(("encoder.", "crf.")) else "classifier"].add(name)
        return groups

    def layer_depths(self) -> dict[str, int]:
        """Depth of each encoder parameter by full name, for layer-wise learning rates: 0 for the embeddings, `i + 1`
        for layer `i` (`...layer.<i>.`), the top layer's depth (`num_hidden_layers`) for anything else."""
        layers = self.config.encoder.num_hidden_layers
        return {f"encoder.{name}": layer_depth(name, layers) for name, _ in self.encoder.named_parameters()}

    def apply_freezing(self) -> None:
        """`requires_grad` of every encoder parameter from the config: False where `freeze_encoder` or
        `freeze_layers` freezes it, and in the layers above the hidden state the head reads (they cannot change the
        output); True elsewhere. The head's parameters always train. Call again after changing those settings."""
        layers = self.config.encoder.num_hidden_layers
        for name, param in self.encoder.named_parameters():
            param.requires_grad_(not is_frozen(name, layers, self.config))

    def _packed_attention_mask(self, position_ids: torch.Tensor):
        """The encoder's 4D attention mask for packed rows: a position of 0 starts a sentence, seen only by itself."""
        return packed_attention_mask(self.encoder.config, position_ids, self.dtype)

    @classmethod
    def from_encoder(
        cls,
        model_name_or_path: str | os.PathLike,
        id2label: Mapping[int, str] | Sequence[str],
        classifier_dropout: float | None = None,
        head: str = "linear",
        label_scheme: str = "iob2",
        constrain_transitions: bool = True,
        layer_pooling: str = "last",
        **from_pretrained_kwargs,
    ) -> "BertTagger":
        r"""
        A new tagger around a pretrained encoder, e.g. `BertTagger.from_encoder(DEFAULT_ENCODER, ["O", "B-PER", ...])`.

        The encoder's weights and config are copied in; the classifier starts random. Raises when the checkpoint
        lacks any encoder weight (only a pooler may be missing, it is not used), rather than fine-tuning a
        half-random encoder.

        Args:
            model_name_or_path: Hub id or folder of the pretrained encoder (base model or any model built on one).
            id2label: tags in class-index order, as a list or an `{index: tag}` map.
            classifier_dropout, head, label_scheme, constrain_transitions, layer_pooling: see [`BertTaggerConfig`].
            from_pretrained_kwargs: passed to `AutoModel.from_pretrained` (`revision`, `cache_dir`,
                `attn_implementation`, `dtype`, ...).
        """
        if isinstance(id2label, str) or not isinstance(id2label, Mapping | Sequence):
            raise TypeError(f"id2label must be a list of tags or an {{index: tag}} dict, got {id2label!r}")
        if not isinstance(id2label, Mapping):
            id2label = dict(enumerate(id2label))
        encoder = load_encoder(model_name_or_path, cls.config_class.model_type, **from_pretrained_kwargs)
        config = cls.config_class(
            encoder=copy.deepcopy(encoder.config),
            id2label=dict(id2label),
            classifier_dropout=classifier_dropout,
            head=head,
            label_scheme=label_scheme,
            constrain_transitions=constrain_transitions,
            layer_pooling=layer_pooling,
        )
        model = cls(config)
        result = model.encoder.load_state_dict(encoder.state_dict(), strict=False)
        unexpected = [key for key in result.unexpected_keys if not key.startswith("pooler.")]
        if result.missing_keys or unexpected:
            raise RuntimeError(
                f"encoder weights of {model_name_or_path} do not fit the tagger's encoder: "
                f"missing {result.missing_keys}, unexpected {unexpected}"
            )
        return model.to(encoder.dtype)  # the dtype asked for with `dtype=`, float32 by default


def _allowed(config: BertTaggerConfig) -> tuple:
    """The CRF's allowed starts, transitions and ends for the config's labels and scheme; Nones when unconstrained."""
    if not config.constrain_transitions or config.label_scheme not in CHUNK_SCHEMES:
        return None, None, None
    return allowed_transitions([config.id2label[i] for i in range(config.num_labels)], config.label_scheme)


def register_auto_classes() -> None:
    """Make the Auto classes and `pipeline` know the tagger, and make `save_pretrained` ship this code.

    Idempotent. After it, a saved tagger's `config.json` has an `auto_map` and its folder holds this file and the
    configuration file, so it also loads with `trust_remote_code=True` where this package is not installed.
    """
    AutoConfig.register(BertTaggerConfig.model_type, BertTaggerConfig, exist_ok=True)
    AutoModel.register(BertTaggerConfig, BertTagger, exist_ok=True)
    AutoModelForTokenClassification.register(BertTaggerConfig, BertTagger, exist_ok=True)
    BertTaggerConfig.register_for_auto_class()
    BertTagger.register_for_auto_class("AutoModelForTokenClassification")


__all__ = ["DEFAULT_ENCODER", "BertTaggerPreTrainedModel", "BertTagger", "register_auto_classes"]
