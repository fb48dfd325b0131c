"""Examples to model features: one row per example, longer texts truncated (never dropped), in one batched call."""

from trainer_common.errors import InputError

from .example import Example, check_labels

NO_LIMIT = 1_000_000  # a tokenizer's model_max_length at or above this is transformers' "no limit" placeholder


def encode_examples(
    examples: list[Example], tokenizer, label2id: dict[str, int] | None, max_seq_length: int | None
) -> tuple[dict[str, list], dict]:
    """Tokenize `examples` (pairs as the tokenizer joins them) into at most `max_seq_length` tokens each (None: the
    tokenizer's limit); a longer example is truncated, a pair from its longer text first (`longest_first`).

    Returns `(features, stats)`. `features` has `input_ids`, `token_type_ids` (when the tokenizer makes them),
    `labels` (ids by `label2id`, only when the examples have labels) and `length`; no attention mask (all ones: the
    collator pads). `stats` is `{"examples": n, "truncated": k, "truncated_rows": [the k examples' indices]}`.
    """
    pairs = [example.text_pair for example in examples]
    has_pairs = any(pair is not None for pair in pairs)
    if has_pairs and None in pairs:
        raise ValueError("examples mix single texts and text pairs")
    labelled = [example.label is not None for example in examples]
    if any(labelled) and not all(labelled):
        raise ValueError("examples mix labelled and unlabelled ones")
    max_length = _max_length(tokenizer, max_seq_length, has_pairs)
    texts = [example.text for example in examples]
    pairs = pairs if has_pairs else None
    call = {"add_special_tokens": True, "return_attention_mask": False, "verbose": False}
    encoded = tokenizer(texts, pairs, truncation="longest_first", max_length=max_length, **call) if texts else {}
    input_ids = list(encoded.get("input_ids", []))
    # Only an example cut to exactly max_length may have been truncated: tokenize those again, whole.
    full = [i for i, ids in enumerate(input_ids) if len(ids) == max_length]
    truncated = []
    if full:
        again = tokenizer([texts[i] for i in full], [pairs[i] for i in full] if pairs else None, **call)
        truncated = [i for i, ids in zip(full, again["input_ids"]) if len(ids) > max_length]
    features = {"input_ids": input_ids}
    if "token_type_ids" in encoded:
        features["token_type_ids"] = list(encoded["token_type_ids"])
    if examples and all(labelled):
        if label2id is None:
            raise ValueError("labelled examples need label2id")
        check_labels(examples, label2id)
        features["labels"] = [label2id[example.label] for example in examples]
    features["length"] = [len(ids) for ids in input_ids]
    return features, {"examples": len(examples), "truncated": len(truncated), "truncated_rows": truncated}


def _max_length(tokenizer, max_seq_length: int | None, has_pairs: bool) -> int:
    """`max_seq_length`, or the tokenizer's limit; an error when it leaves no room for text."""
    if max_seq_length is None:
        if tokenizer.model_max_length >= NO_LIMIT:
            raise InputError("the tokenizer sets no length limit: give --max_seq_length")
        max_seq_length = tokenizer.model_max_length
    specials = tokenizer.num_special_tokens_to_add(pair=has_pairs)
    if max_seq_length <= specials + has_pairs:
        what = "a text pair" if has_pairs else "a text"
        raise InputError(
            f"--max_seq_length {max_seq_length} leaves no room for {what} beside the {specials} special tokens"
        )
    return max_seq_length


def to_dataset(features: dict[str, list]):
    """A `datasets.Dataset` with one row per example."""
    from datasets import Dataset

    return Dataset.from_dict(features)
