"""The tagger's encoder: building and loading it, packed rows' attention mask, which hidden states feed the head
(`layer_pooling`), ELMo's scalar mix, the layer depth of every encoder parameter, and which ones a config freezes.

Imports only torch and transformers: it ships beside the model file, so that a saved tagger loads with
`trust_remote_code=True` where this package is not installed.
"""

import inspect
import os
import re
from collections.abc import Sequence

import torch
from torch import nn
from transformers import MODEL_MAPPING, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.masking_utils import (
    ALL_MASK_ATTENTION_FUNCTIONS,
    create_bidirectional_mask,
    packed_sequence_mask_function,
    sdpa_mask,
)

# `layer_pooling` values besides an integer index into the encoder's `hidden_states`
POOLINGS = ("last", "scalar_mix", "embeddings")
# `layer.3.` / `layers.3.` anywhere in a parameter name: BERT, RoBERTa, ELECTRA (`encoder.layer.3`), DistilBERT
# (`transformer.layer.3`), and most other encoders
_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


class ScalarMix(nn.Module):
    r"""ELMo's scalar mix (Peters et al., 2018): `gamma * sum_j softmax(w)_j * h_j` over the hidden states `h_j` of
    the embeddings and of every layer. `weights` (the logits `w`) start at zero, an even average, and `gamma` at 1;
    both are trained with the head."""

    def __init__(self, num_states: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_states))
        self.gamma = nn.Parameter(torch.ones(1))

    def extra_repr(self) -> str:
        return f"num_states={self.weights.numel()}"

    def forward(self, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(hidden_states) != self.weights.numel():
            raise ValueError(f"ScalarMix over {self.weights.numel()} hidden states got {len(hidden_states)}")
        first = hidden_states[0]
        weights = self.weights.softmax(-1).to(first.dtype)
        mixed = torch.tensordot(weights, torch.stack(tuple(hidden_states)), dims=1)
        return self.gamma.to(first.dtype) * mixed


def build_encoder(config: PreTrainedConfig) -> PreTrainedModel:
    """The encoder's base model, without a pooling layer where its class can leave it out."""
    if type(config) not in MODEL_MAPPING:
        raise ValueError(f"no AutoModel base model for the encoder's model_type {config.model_type!r}")
    encoder_class = MODEL_MAPPING[type(config)]
    if isinstance(encoder_class, tuple | list):
        encoder_class = encoder_class[0]
    takes_pooling = "add_pooling_layer" in inspect.signature(encoder_class.__init__).parameters
    return AutoModel.from_config(config, **({"add_pooling_layer": False} if takes_pooling else {}))


def load_encoder(model_name_or_path: str | os.PathLike, tagger_type: str, **from_pretrained_kwargs) -> PreTrainedModel:
    """`AutoModel.from_pretrained`, refusing a saved tagger (`tagger_type`) and a checkpoint without every encoder
    weight (only a pooler may be missing: the tagger does not use it)."""
    encoder, info = AutoModel.from_pretrained(model_name_or_path, output_loading_info=True, **from_pretrained_kwargs)
    if encoder.config.model_type == tagger_type:
        raise ValueError(f"{model_name_or_path} is a saved tagger, not an encoder: use BertTagger.from_pretrained")
    missing = sorted(key for key in info["missing_keys"] if not key.startswith("pooler."))
    if missing or info["mismatched_keys"]:
        raise ValueError(
            f"{model_name_or_path} does not hold all encoder weights: missing {missing}, "
            f"mismatched {sorted(info['mismatched_keys'])}"
        )
    return encoder


def packed_attention_mask(config: PreTrainedConfig, position_ids: torch.Tensor, dtype: torch.dtype):
    """The encoder's 4D attention mask for packed rows: a position of 0 starts a sentence, seen only by itself."""
    implementation = config._attn_implementation
    if "flash" in implementation:  # flash kernels take sequence lengths, not a block-diagonal mask
        raise ValueError(f"packed rows need sdpa, eager or flex attention, not {implementation}")
    sentence = (position_ids == 0).cumsum(-1)
    if ALL_MASK_ATTENTION_FUNCTIONS.get(implementation) is sdpa_mask:
        # sdpa's boolean mask (True: may attend), directly: transformers' vmapped mask functions take 4 ms a step
        return sentence[:, None, :, None] == sentence[:, None, None, :]
    shape_only = torch.empty(*position_ids.shape, 0, dtype=dtype, device=position_ids.device)
    return create_bidirectional_mask(
        config=config,
        inputs_embeds=shape_only,
        attention_mask=None,
        and_mask_function=packed_sequence_mask_function(sentence),
    )


def packed_position_offset(encoder: PreTrainedModel) -> int:
    """What to add to packed rows' positions (0 at every sentence start) for the encoder's position embeddings:
    RoBERTa-like embeddings number positions from `padding_idx + 1`, as they do for a padded row, not from 0."""
    embeddings = getattr(encoder, "embeddings", None)
    if embeddings is None or not hasattr(embeddings, "create_position_ids_from_input_ids"):
        return 0
    return embeddings.padding_idx + 1


def pooled_index(layer_pooling: str, num_layers: int) -> int | None:
    """The index into `hidden_states` (0 = embeddings output ... `num_layers` = last layer) whose states the head
    reads; None for `scalar_mix`, which reads them all. A `ValueError` names a bad value or an out-of-range index."""
    if layer_pooling == "last":
        return num_layers
    if layer_pooling == "embeddings":
        return 0
    if layer_pooling == "scalar_mix":
        return None
    try:
        index = int(layer_pooling)
    except (TypeError, ValueError):
        raise ValueError(
            f"layer_pooling must be one of {POOLINGS} or an integer layer index, got {layer_pooling!r}"
        ) from None
    if not -(num_layers + 1) <= index <= num_layers:
        raise ValueError(
            f"layer_pooling {index} is out of range for an encoder with {num_layers} layers: the index runs from "
            f"{-(num_layers + 1)} to {num_layers} (0 = embeddings output, {num_layers} or -1 = last layer)"
        )
    return index % (num_layers + 1)


def head_features(outputs, pooled: int | None, scalar_mix: ScalarMix | None) -> torch.Tensor:
    """The encoder features the head reads: the scalar mix of all `hidden_states`, or the pooled one (the last
    layer's output when `hidden_states` were not asked for)."""
    if scalar_mix is not None:
        return scalar_mix(outputs.hidden_states)
    if getattr(outputs, "hidden_states", None) is None or pooled == len(outputs.hidden_states) - 1:
        return outputs.last_hidden_state
    return outputs.hidden_states[pooled]


def layer_depth(name: str, num_layers: int) -> int:
    """Depth of an encoder parameter (its name relative to the encoder): 0 for the embeddings, `i + 1` for layer
    `i` (`...layer.<i>.` or `...layers.<i>.`), and `num_layers`, the top layer's depth, for anything else."""
    match = _LAYER.search(name)
    if match:
        return min(int(match.group(1)) + 1, num_layers)
    if any(part.startswith("embed") for part in name.split(".")):
        return 0
    return num_layers


def is_above(name: str, num_layers: int, pooled: int | None) -> bool:
    """Whether an encoder parameter sits in a layer above the pooled hidden state: its output never reaches the head.
    Only parameters inside a numbered layer count; shared ones (relative position tables, ...) may feed every layer."""
    return pooled is not None and _LAYER.search(name) is not None and layer_depth(name, num_layers) > pooled


def is_frozen(name: str, num_layers: int, config) -> bool:
    """Whether the config freezes this encoder parameter: `freeze_encoder`, or `freeze_layers` N (the embeddings
    and layers 0 .. N-1), or a layer above the pooled hidden state."""
    if config.freeze_encoder:
        return True
    if config.freeze_layers is not None:
        depth, in_layer = layer_depth(name, num_layers), _LAYER.search(name) is not None
        if depth == 0 or (in_layer and depth <= config.freeze_layers):
            return True
    return is_above(name, num_layers, pooled_index(config.layer_pooling, num_layers))


__all__ = [
    "POOLINGS",
    "ScalarMix",
    "build_encoder",
    "load_encoder",
    "packed_attention_mask",
    "packed_position_offset",
    "pooled_index",
    "head_features",
    "layer_depth",
    "is_above",
    "is_frozen",
]
