"""Batches: the word mask padded beside the inputs, and padding-free packing of a batch's sentences into rows."""

from trainer_common.batches import pack_rows, packed_positions


class PaddingFreeCollator:
    """Training batches without padding: the batch's sentences packed end to end into rows as long as its longest.

    Wraps a `WordMaskCollator` (or a `DataCollatorForTokenClassification`), which pads the packed rows.
    `position_ids` restart at 0 at every sentence and no `attention_mask` is returned: `BertTagger` reads the
    restarts as sentence boundaries and lets each token attend only within its own sentence, so the model sees the
    same sentences and computes the same loss as with the padded batch, on about 2.6x fewer tokens for CoNLL.
    Padding at the end of a row gets positions of its own, as one more sentence that attends only to itself and has
    no labels.
    """

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, features: list[dict]) -> dict:
        import torch

        lengths = [len(feature["input_ids"]) for feature in features]
        rows = pack_rows(lengths)
        keys = [key for key in features[0] if key != "attention_mask"]
        batch = self.collator([{key: [x for i in row for x in features[i][key]] for key in keys} for row in rows])
        batch.pop("attention_mask", None)
        width = batch["input_ids"].shape[1]
        pad_right = self.collator.tokenizer.padding_side == "right"
        position_ids, _ = packed_positions(rows, lengths, width, pad_right)
        batch["position_ids"] = torch.tensor(position_ids, dtype=torch.long)
        return batch


class WordMaskCollator:
    """Wraps a `DataCollatorForTokenClassification` and pads the `word_mask` column too (with 0), on the tokenizer's
    padding side. The wrapped collator pads the inputs and labels; it does not know `word_mask`."""

    def __init__(self, collator):
        self.collator = collator
        self.tokenizer = collator.tokenizer

    def __call__(self, features: list[dict]) -> dict:
        import torch

        masks = [feature["word_mask"] for feature in features] if "word_mask" in features[0] else None
        batch = self.collator([{k: v for k, v in feature.items() if k != "word_mask"} for feature in features])
        if masks is not None:
            width = batch["input_ids"].shape[1]
            right = self.tokenizer.padding_side == "right"
            rows = [list(m) + [0] * (width - len(m)) if right else [0] * (width - len(m)) + list(m) for m in masks]
            batch["word_mask"] = torch.tensor(rows, dtype=torch.long)
        return batch
