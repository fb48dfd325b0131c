"""Padding-free training batches for the encoder's stock `AutoModelForSequenceClassification`.

A batch's sequences are packed end to end into rows (`PackedSequenceCollator`), with the packed-rows attention mask
of the tagger (`ner_trainer.encoder_layers.packed_attention_mask`): each token attends only within its sequence, and
positions restart at 0. The stock model is kept as it is, so that a saved classifier loads anywhere without remote
code: its own forward runs on the packed rows, and a hook on its encoder hands the rest of the model (pooler, head,
loss) the first token of every sequence, the only token its head reads (`packed_batch`).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ner_trainer.encoder_layers import packed_attention_mask, packed_position_offset
from trainer_common.batches import pack_rows, packed_positions

# Model types whose stock sequence classifier reads only the first token's final state (directly, or through the
# base model's pooler), whose attention takes a 4D mask, and whose position embeddings follow `position_ids`.
FIRST_TOKEN_MODEL_TYPES = ("albert", "bert", "camembert", "distilbert", "electra", "roberta", "xlm-roberta")
# Packed rows need a 4D block mask; flash kernels take sequence lengths instead.
MASK_ATTENTION = ("sdpa", "eager")


class PackedSequenceCollator:
    """Training batches without padding: the batch's sequences (sentences or sentence pairs) packed end to end into
    rows as long as its longest.

    Wraps a `DataCollatorWithPadding` (or any collator with a `tokenizer` that pads `input_ids` and
    `token_type_ids`), which pads the packed rows. Returns `input_ids`, `token_type_ids` (when the features have
    them), `position_ids` restarting at 0 at every sequence, `labels` (one per feature, in the features' order), and
    `sequence_starts` of shape `(num_sequences, 2)`: the row and column of each feature's first token, in the same
    order. No `attention_mask`: `packed_batch` builds the block mask from `position_ids`. Padding at the end of a
    row gets positions of its own but no entry in `sequence_starts`, so it never becomes a sequence.
    """

    def __init__(self, collator):
        self.collator = collator
        self.tokenizer = collator.tokenizer

    def __call__(self, features: list[dict]) -> dict:
        lengths = [len(feature["input_ids"]) for feature in features]
        rows = pack_rows(lengths)
        keys = [key for key in ("input_ids", "token_type_ids") if key in features[0]]
        batch = self.collator([{key: [x for i in row for x in features[i][key]] for key in keys} for row in rows])
        batch.pop("attention_mask", None)
        width = batch["input_ids"].shape[1]
        position_ids, starts = packed_positions(rows, lengths, width, self.tokenizer.padding_side == "right")
        batch["position_ids"] = torch.tensor(position_ids, dtype=torch.long)
        batch["sequence_starts"] = torch.tensor(starts, dtype=torch.long).reshape(-1, 2)
        labels = [feature["labels"] if "labels" in feature else feature["label"] for feature in features]
        batch["labels"] = torch.tensor(labels, dtype=torch.float if isinstance(labels[0], float) else torch.long)
        return batch


def packing_refusal(model) -> str | None:
    """Why the stock classifier `model` cannot train on packed rows, or None when it can."""
    stock = _stock_model(model)
    model_type, implementation = stock.config.model_type, stock.config._attn_implementation
    if model_type not in FIRST_TOKEN_MODEL_TYPES:
        known = ", ".join(FIRST_TOKEN_MODEL_TYPES)
        return f"{model_type!r} is not among the model types whose head reads only the first token ({known})"
    if implementation not in MASK_ATTENTION:
        return f"packed rows need {' or '.join(MASK_ATTENTION)} attention, not {implementation}"
    return None


def supports_packing(model) -> bool:
    """Whether the stock classifier's head reads only the first token and its attention takes the packed 4D mask."""
    return packing_refusal(model) is None


@contextmanager
def packed_batch(model, inputs: dict) -> Iterator[dict]:
    """Within this context, `model(**yielded)` is the stock classifier's output for the packed batch `inputs` (from
    `PackedSequenceCollator`): `logits` of shape `(num_sequences, num_labels)` in the order of `labels`, and its own
    loss over them, as for the padded batch.

    The yielded inputs carry the packed-rows attention mask and the model's own position ids. Meanwhile a forward
    hook on the encoder replaces its `last_hidden_state` by the first-token states of every sequence, shape
    `(num_sequences, 1, hidden_size)`, so that the base model's pooler (BERT, ALBERT) and the head run on exactly
    the states they read in a padded batch, and train the same. `model` may be wrapped (DDP, PEFT).
    """
    inputs = dict(inputs)
    starts = inputs.pop("sequence_starts")
    stock = _stock_model(model)
    position_ids = inputs["position_ids"]
    inputs["attention_mask"] = packed_attention_mask(stock.config, position_ids, stock.dtype)
    inputs["position_ids"] = position_ids + packed_position_offset(stock.base_model)

    def first_tokens(module, args, output):
        states = output[0][starts[:, 0], starts[:, 1]].unsqueeze(1)
        if isinstance(output, tuple):
            return (states, *output[1:])
        return type(output)(**{**output, "last_hidden_state": states})

    handle = _encoder(stock).register_forward_hook(first_tokens)
    try:
        yield inputs
    finally:
        handle.remove()


def packed_forward(model, inputs: dict):
    """The stock classifier's own output (loss, logits of shape `(num_sequences, num_labels)`) for a packed batch."""
    with packed_batch(model, inputs) as model_inputs:
        return model(**model_inputs)


def _stock_model(model):
    """The transformers model inside DDP / accelerate (`.module`) and PEFT (`get_base_model`) wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _encoder(stock):
    """The base model's layer stack, whose output the pooler and head read."""
    base = stock.base_model
    return base.transformer if stock.config.model_type == "distilbert" else base.encoder


__all__ = [
    "FIRST_TOKEN_MODEL_TYPES",
    "PackedSequenceCollator",
    "packing_refusal",
    "supports_packing",
    "packed_batch",
    "packed_forward",
]
