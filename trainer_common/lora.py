"""LoRA adapters on the tagger's encoder through peft, and merging them back into plain weights.

Training only: the model files never import this module (nor peft), so a saved tagger, whose adapters are merged,
loads and predicts with torch and transformers alone.

While training, the adapters live inside the encoder as peft's LoRA layers (`...query.base_layer.weight`,
`...query.lora_A.default.weight`, ...). Checkpoints hold them that way, so a resumed run rebuilds the same adapted
model and loads them exactly; `NERTrainer.save_model` merges them before the final save.
"""

import logging

from .encoder_layers import is_above, pooled_index

logger = logging.getLogger(__name__)


def add_lora(model, r: int, alpha: float | None = None, dropout: float = 0.1, target_modules=None) -> None:
    """Put LoRA adapters of rank `r` into `model.encoder`'s linear layers named by `target_modules` (`None`: peft's
    default for the encoder's model type, `query` and `value` for BERT). The encoder's own weights are frozen, the
    adapters and the head train. `alpha` defaults to `2 * r`. The settings are recorded in the config."""
    from peft import LoraConfig, inject_adapter_in_model

    alpha = 2 * r if alpha is None else alpha
    targets = list(target_modules) if target_modules else None
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    try:
        inject_adapter_in_model(config, model.encoder)
    except ValueError as err:  # peft: no default targets for this model type, or no module matched
        raise ValueError(f"LoRA on the {model.config.encoder.model_type} encoder: {err}") from err
    targets = model.encoder.peft_config["default"].target_modules  # peft's defaults filled in
    vars(model.encoder).pop("peft_config", None)  # peft's record on the module; our config keeps the settings
    layers = model.config.encoder.num_hidden_layers
    pooled = pooled_index(model.config.layer_pooling, layers)
    for name, param in model.encoder.named_parameters():
        # peft freezes every encoder weight but the adapters; those above the pooled layer cannot reach the output
        if "lora_" in name and is_above(name, layers, pooled):
            param.requires_grad_(False)
    model.config.lora_r, model.config.lora_alpha, model.config.lora_dropout = r, alpha, dropout
    model.config.lora_target_modules = sorted(targets) if isinstance(targets, set | list | tuple) else targets


def has_lora(model) -> bool:
    return any(_is_lora_layer(module) for module in model.modules())


def merge_lora(model) -> int:
    """Merge every LoRA adapter of `model` into its base layer's weight and put the plain layer back in place, in
    place; returns how many layers were merged. The model's outputs stay the same up to float rounding."""
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
        model.apply_freezing()  # the trainable state a plain tagger with this config has
        logger.info("merged the LoRA adapters of %d layers into the encoder's weights", merged)
    return merged


def _is_lora_layer(module) -> bool:
    import sys

    if "peft" not in sys.modules:  # no adapters can exist without peft imported: keep peft out of plain runs
        return False
    from peft.tuners.lora import LoraLayer

    return isinstance(module, LoraLayer)


__all__ = ["add_lora", "has_lora", "merge_lora"]
