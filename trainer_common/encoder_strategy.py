"""The command line's encoder fine-tuning strategy applied to a model: freezing, LoRA adapters and layer-wise
learning-rate decay (`--freeze_encoder / --freeze_layers / --lora_r / --layer_lr_decay`), for a `BertTagger` and a
stock transformers model alike.
"""

import logging

from .encoder_parts import apply_freezing, num_encoder_layers
from .errors import InputError

logger = logging.getLogger(__name__)


def check_encoder_strategy(config, num_layers: int) -> None:
    """`ValueError` unless the freezing and learning-rate settings in `config` fit an encoder of `num_layers`."""
    freeze_layers, decay = getattr(config, "freeze_layers", None), getattr(config, "layer_lr_decay", None)
    if freeze_layers is not None and not 0 <= freeze_layers <= num_layers:
        raise ValueError(
            f"freeze_layers must be in [0, {num_layers}] (the encoder has {num_layers}), got {freeze_layers}"
        )
    if decay is not None and not 0 < decay <= 1:
        raise ValueError(f"layer_lr_decay must be in (0, 1], got {decay}")
    own_check = getattr(config, "check_encoder_strategy", None)  # a tagger's config also checks its layer pooling
    if callable(own_check):
        own_check()


def apply_encoder_strategy(model, args, training_args) -> None:
    """This run's freezing, LoRA adapters and layer-wise learning-rate decay, set in the model and recorded in its
    config (a saved model's own settings give way to the command line's). `args` holds the fields of
    `encoder_args.EncoderStrategyArguments`, `training_args` those of `encoder_args.EncoderRatesArguments`.

    A stock model's config keeps them as extra attributes in its `config.json`: harmless to other readers, and what
    a resumed run compares its own settings with."""
    config = model.config
    config.freeze_encoder, config.freeze_layers = args.freeze_encoder, args.freeze_layers
    config.layer_lr_decay = getattr(training_args, "layer_lr_decay", None)
    config.lora_r, config.lora_alpha, config.lora_target_modules = 0, None, None
    try:
        check_encoder_strategy(config, num_encoder_layers(model))
    except ValueError as err:
        raise InputError(f"--{err}") from err
    apply_freezing(model)
    if args.lora_r:
        from .lora import add_lora

        targets = args.lora_target_modules.split(",") if args.lora_target_modules else None
        try:
            add_lora(model, args.lora_r, args.lora_alpha, args.lora_dropout, targets)
        except ValueError as err:  # a target module the encoder does not have, ...
            raise InputError(f"--lora_target_modules: {err}") from err
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100 * trainable / total)


__all__ = ["check_encoder_strategy", "apply_encoder_strategy"]
