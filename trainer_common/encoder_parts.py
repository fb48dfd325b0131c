"""The parts of a fine-tuned model that the encoder strategies act on: its encoder, the head, each encoder parameter's
layer depth, and which parameters the config freezes.

Two kinds of model: one that names its parts itself (`BertTagger.parameter_groups`, `layer_depths`,
`apply_freezing`), and a stock transformers model (`BertForSequenceClassification`, ...), whose encoder is its base
model (`model.base_model_prefix`: `bert`, `roberta`, ...). In a stock model the head is everything outside the base
model plus the base model's pooler: a classifier reads the pooler's output, and sentence-embedding checkpoints often
lack its weights, so it trains at the head's rate, is never frozen and gets no LoRA adapters.

The freezing and depth rules are the tagger's own (`ner_trainer.encoder_layers`), so both kinds freeze alike.
"""

from types import SimpleNamespace

from torch import nn

from ner_trainer.encoder_layers import is_frozen, layer_depth, pooled_index

# modules of a stock model's base model that belong to the head
HEAD_INSIDE_ENCODER = ("pooler",)


def names_own_parts(model) -> bool:
    """Whether the model names its parts itself (a `BertTagger`), rather than being a stock transformers model."""
    return all(callable(getattr(model, name, None)) for name in ("parameter_groups", "layer_depths", "apply_freezing"))


def encoder_module(model) -> tuple[str, nn.Module]:
    """The encoder inside `model` and its attribute name: a tagger's `encoder`, a stock model's base model."""
    name = "encoder" if names_own_parts(model) else model.base_model_prefix
    encoder = getattr(model, name, None)
    if encoder is None or encoder is model:
        raise ValueError(f"{type(model).__name__} has no encoder module {name!r} under a task head")
    return name, encoder


def num_encoder_layers(model) -> int:
    return encoder_module(model)[1].config.num_hidden_layers


def pooled_layer(model) -> int | None:
    """The `hidden_states` index the head reads (`layer_pooling` of a tagger; the last layer for a stock model)."""
    return pooled_index(getattr(model.config, "layer_pooling", "last"), num_encoder_layers(model))


def is_head_inside_encoder(model, name: str) -> bool:
    """Whether a parameter or module of the encoder (its name relative to the encoder) belongs to the head."""
    return not names_own_parts(model) and name.split(".")[0] in HEAD_INSIDE_ENCODER


def parameter_groups(model) -> dict[str, set[str]]:
    """Parameter names by part: `encoder` and the head's (`classifier`; a tagger also has `crf`)."""
    if names_own_parts(model):
        return model.parameter_groups()
    prefix, encoder = encoder_module(model)
    inside = {f"{prefix}.{name}" for name, _ in encoder.named_parameters() if not is_head_inside_encoder(model, name)}
    groups = {"encoder": set(), "classifier": set()}
    for name, _ in model.named_parameters():
        groups["encoder" if name in inside else "classifier"].add(name)
    return groups


def layer_depths(model) -> dict[str, int]:
    """Depth of each encoder parameter by full name: 0 for the embeddings, `i + 1` for layer `i`, the top layer's
    depth (the number of layers) for anything else (`ner_trainer.encoder_layers.layer_depth`)."""
    if names_own_parts(model):
        return model.layer_depths()
    prefix, encoder = encoder_module(model)
    layers = encoder.config.num_hidden_layers
    return {
        f"{prefix}.{name}": layer_depth(name, layers)
        for name, _ in encoder.named_parameters()
        if not is_head_inside_encoder(model, name)
    }


def apply_freezing(model) -> None:
    """`requires_grad` of every encoder parameter from the settings in `model.config` (`freeze_encoder`,
    `freeze_layers`, a tagger's `layer_pooling`): False where they freeze it, True elsewhere; the head always trains.
    Call it on a model without LoRA adapters (before `add_lora`, after `merge_lora`)."""
    if names_own_parts(model):
        model.apply_freezing()
        return
    _, encoder = encoder_module(model)
    layers, config = encoder.config.num_hidden_layers, model.config
    settings = SimpleNamespace(
        freeze_encoder=getattr(config, "freeze_encoder", False),
        freeze_layers=getattr(config, "freeze_layers", None),
        layer_pooling="last",
    )
    for name, param in encoder.named_parameters():
        param.requires_grad_(is_head_inside_encoder(model, name) or not is_frozen(name, layers, settings))


__all__ = [
    "HEAD_INSIDE_ENCODER",
    "names_own_parts",
    "encoder_module",
    "num_encoder_layers",
    "pooled_layer",
    "is_head_inside_encoder",
    "parameter_groups",
    "layer_depths",
    "apply_freezing",
]
