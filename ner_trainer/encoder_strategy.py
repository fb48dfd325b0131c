"""The command line's encoder fine-tuning strategy applied to a tagger: the pooled layer (`run_ner.py
--layer_pooling`, the tagger's own), and freezing, LoRA and layer-wise learning-rate decay (`--freeze_encoder /
--freeze_layers / --lora_r / --layer_lr_decay`), which every task shares through `trainer_common.encoder_strategy`.
"""

from trainer_common.encoder_strategy import apply_encoder_strategy
from trainer_common.errors import InputError


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


__all__ = ["check_layer_pooling", "apply_encoder_strategy"]
