"""The command line's encoder fine-tuning strategy applied to a tagger: the pooled layer, freezing, LoRA, layer-wise
learning-rate decay (`run_ner.py --layer_pooling / --freeze_encoder / --freeze_layers / --lora_r / --layer_lr_decay`).
"""

import logging

from trainer_common.errors import InputError

logger = logging.getLogger(__name__)


def check_layer_pooling(args, encoder_config, saved: str | None = None) -> None:
    """`InputError` unless --layer_pooling fits the encoder's layers, and a saved tagger's own pooling."""
    from .encoder_layers import pooled_index

    layers = encoder_config.num_hidden_layers
    try:
        wanted = pooled_index(args.layer_pooling or saved or "last", layers)
    except ValueError as err:
        raise InputError(f"--{err}") from err
    if saved is not None and wanted != pooled_index(saved, layers):
        raise InputError(
            f"--layer_pooling {args.layer_pooling}: {args.model_name_or_path} is a tagger trained on layer_pooling "
            f"{saved!r}, which it keeps (its head reads those features)"
        )


def apply_encoder_strategy(model, args, training_args) -> None:
    """This run's freezing, LoRA adapters and layer-wise learning-rate decay, set in the model and recorded in its
    config (a saved tagger's own settings give way to the command line's)."""
    config = model.config
    config.freeze_encoder, config.freeze_layers = args.freeze_encoder, args.freeze_layers
    config.layer_lr_decay = training_args.layer_lr_decay
    config.lora_r, config.lora_alpha, config.lora_target_modules = 0, None, None
    try:
        config.check_encoder_strategy()
    except ValueError as err:
        raise InputError(f"--{err}") from err
    model.apply_freezing()
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


__all__ = ["check_layer_pooling", "apply_encoder_strategy"]
