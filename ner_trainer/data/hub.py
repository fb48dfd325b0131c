"""NER datasets from the Hugging Face Hub (`tokens`/`ner_tags` columns)."""

from trainer_common.errors import InputError

from .sentence import Sentence, apply_tag_scheme, build_label_list, check_tag

DEFAULT_HUB_DATASET = "eriktks/conll2003"


def _class_label_names(split) -> list[str] | None:
    """Names of the `ner_tags` ClassLabel of a datasets split, or None when the tags are plain strings."""
    from datasets import ClassLabel

    feature = split.features.get("ner_tags")
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def hub_label_list(dataset) -> list[str]:
    """The label list of a Hub dataset (a `Dataset` or `DatasetDict`) from its `ner_tags` ClassLabel feature."""
    split = next(iter(dataset.values())) if hasattr(dataset, "values") else dataset
    names = _class_label_names(split)
    if names is None:
        raise InputError(f"dataset has no ClassLabel 'ner_tags' feature (features: {split.features})")
    for name in names:
        check_tag(name, "ner_tags ClassLabel")
    return names


def sentences_from_hf(split, source: str) -> list[Sentence]:
    """Convert a datasets split with `tokens` and (optional) `ner_tags` columns into Sentences.

    `ner_tags` may be ClassLabel ids (mapped to names) or strings. A row whose ids are all -1 (the "no label"
    value of ClassLabel, used by some test splits) is untagged. `line` is the 1-based row number.
    """
    if "tokens" not in split.column_names:
        raise InputError(f"{source}: no 'tokens' column (columns: {split.column_names})")
    has_tags = "ner_tags" in split.column_names
    names = _class_label_names(split) if has_tags else None
    columns = split.select_columns(["tokens", "ner_tags"] if has_tags else ["tokens"])[:]
    sentences = []
    for row, tokens in enumerate(columns["tokens"]):
        tags = columns["ner_tags"][row] if has_tags else None
        where = f"{source}:{row + 1}"
        if tags is not None and len(tags) != len(tokens):
            raise InputError(f"{where}: {len(tokens)} tokens but {len(tags)} ner_tags")
        if tags is not None and names is not None:
            if tags and all(t == -1 for t in tags):
                tags = None
            else:
                bad = [t for t in tags if not 0 <= t < len(names)]
                if bad:
                    raise InputError(f"{where}: ner_tags id {bad[0]} is not a label id (0..{len(names) - 1})")
                tags = [names[t] for t in tags]
        for tag in tags or ():
            check_tag(tag, where)
        sentences.append(Sentence(list(tokens), tags, source, row + 1))
    return sentences


def load_hub_dataset(
    name: str = DEFAULT_HUB_DATASET, config: str | None = None, tag_scheme: str = "auto", label_scheme: str = "iob2"
):
    """Load a Hub NER dataset with `datasets.load_dataset`, its tags rewritten in `label_scheme`.

    Returns `(splits, label_list)`: `splits` maps split names to Sentence lists; `label_list` is the `ner_tags`
    ClassLabel's names (so ids keep the dataset's order) when the dataset is already in `label_scheme`, else built
    from the train split.
    """
    from datasets import load_dataset

    dataset = load_dataset(name, config) if config else load_dataset(name)
    splits = {split: sentences_from_hf(dataset[split], f"{name}[{split}]") for split in dataset}
    schemes = {split: apply_tag_scheme(sentences, tag_scheme, label_scheme) for split, sentences in splits.items()}
    if _class_label_names(next(iter(dataset.values()))) is not None and set(schemes.values()) == {label_scheme}:
        return splits, hub_label_list(dataset)
    return splits, build_label_list(splits.get("train") or [s for part in splits.values() for s in part], label_scheme)
