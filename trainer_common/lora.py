"""LoRA adapters on a model's encoder through peft, and merging them back into plain weights.

Works on a `BertTagger` and on a stock transformers model (`BertForSequenceClassification`, ...): the adapters go into
the encoder module `encoder_parts.encoder_module` finds. Training only: no model file imports this module (nor peft),
so a saved model, whose adapters are merged, loads and predicts with torch and transformers alone.

While training, the adapters live inside the encoder as peft's LoRA layers (`...query.base_layer.weight`,
`...query.lora_A.default.weight`, ...). Checkpoints hold them that way, so a resumed run rebuilds the same adapted
model and loads them exactly; the trainer's final `save_model` merges them (`encoder_trainer.EncoderTrainerMixin`).
"""

import logging

from torch import nn

from ner_trainer.encoder_layers import is_above

from .encoder_parts import apply_freezing, encoder_module, is_head_inside_encoder, pooled_layer

logger = logging.getLogger(__name__)


def add_lora(model, r: int, alpha: float | None = None, dropout: float = 0.1, target_modules=None) -> None:
    """Put LoRA adapters of rank `r` into the encoder's linear layers named by `target_modules` (`None`: peft's
    default for the encoder's model type, `query` and `value` for BERT). The encoder's own weights are frozen; the
    adapters and the head (a stock model's pooler included, which gets no adapter) train. `alpha` defaults to
    `2 * r`. The settings are recorded in the model's config."""
    from peft import LoraConfig, inject_adapter_in_model

    _, encoder = encoder_module(model)
    alpha = 2 * r if alpha is None else alpha
    targets = list(target_modules) if target_modules else None
    head = [name for name, _ in encoder.named_modules() if name and is_head_inside_encoder(model, name)]
    if targets:
        _check_targets(encoder, targets, set(head))
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, exclude_modules=head or None, bias="none"
    )
    try:
        inject_adapter_in_model(config, encoder)
    except ValueError as err:  # peft: no default targets for this model type, or no module matched
        raise ValueError(f"LoRA on the {encoder.config.model_type} encoder: {err}") from err
    targets = encoder.peft_config["default"].target_modules  # peft's defaults filled in
    vars(encoder).pop("peft_config", None)  # peft's record on the module; our config keeps the settings
    layers, pooled = encoder.config.num_hidden_layers, pooled_layer(model)
    for name, param in encoder.named_parameters():
        if is_head_inside_encoder(model, name):  # peft froze every weight but the adapters: the head trains
            param.requires_grad_(True)
        elif "lora_" in name and is_above(name, layers, pooled):  # cannot reach the output
            param.requires_grad_(False)
    model.config.lora_r, model.config.lora_alpha, model.config.lora_dropout = r, alpha, dropout
    model.config.lora_target_modules = sorted(targets) if isinstance(targets, set | list | tuple) else targets


def _check_targets(encoder, targets: list[str], head: set[str]) -> None:
    """`ValueError` naming a target that matches no module of the encoder outside the head (peft would adapt the
    others and drop it silently), and the linear layers there are."""
    modules = {name: module for name, module in encoder.named_modules() if name not in head}
    for target in targets:
        if not any(name == target or name.endswith(f".{target}") for name in modules):
            linear = {name.rsplit(".", 1)[-1] for name, module in modules.items() if isinstance(module, nn.Linear)}
            names = ", ".join(sorted(linear))
            model_type = encoder.config.model_type
            raise ValueError(f"no linear layer of the {model_type} encoder is named {target!r} ({names})")


def has_lora(model) -> bool:
    return any(_is_lora_layer(module) for module in model.modules())


def merge_lora(model) -> int:
    """Merge every LoRA adapter of `model` into its base layer's weight and put the plain layer back in place, in
    place; returns how many layers were merged. The model's outputs stay the same up to float rounding, and its
    parameters train as a model without adapters with its config would (`encoder_parts.apply_freezing`)."""
    merged = 0
    for name, module in list(model.named_modules()):
        if not _is_lora_layer(module):
            continue
        module.merge(safe_merge=True)  # refuses to write nan/inf into the weights
        parent, _, child = name.rpartition(".")
        base = module.get_base_layer()
        for param in base.parameters():
            param.requires_grad_(True)
        setattr(model.get_submodule(parent), child, base)
        merged += 1
    if merged:
        apply_freezing(model)
        logger.info("merged the LoRA adapters of %d layers into the encoder's weights", merged)
    return merged


def _is_lora_layer(module) -> bool:
    import sys

    if "peft" not in sys.modules:  # no adapters can exist without peft imported: keep peft out of plain runs
        return False
    from peft.tuners.lora import LoraLayer

    return isinstance(module, LoraLayer)


__all__ = ["add_lora", "has_lora", "merge_lora"]
