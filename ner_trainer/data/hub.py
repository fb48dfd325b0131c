"""NER datasets from the Hugging Face Hub (a tokens column and a tags column, `tokens`/`ner_tags` by default)."""

from dataclasses import replace

from trainer_common.errors import InputError

from .sentence import Sentence, apply_tag_scheme, build_label_list, check_tag, named_label_list
from .token_records import DEFAULT_COLUMNS, Columns, token_sentence

DEFAULT_HUB_DATASET = "eriktks/conll2003"


def _class_label_names(split, column: str = "ner_tags") -> list[str] | None:
    """Names of the tags column's ClassLabel in a datasets split, or None when the tags are plain values."""
    from datasets import ClassLabel

    feature = split.features.get(column)
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def hub_label_list(dataset, column: str = "ner_tags") -> list[str]:
    """The label list of a Hub dataset (a `Dataset` or `DatasetDict`) from its tags column's ClassLabel feature."""
    split = next(iter(dataset.values())) if hasattr(dataset, "values") else dataset
    names = _class_label_names(split, column)
    if names is None:
        raise InputError(f"dataset has no ClassLabel {column!r} feature (features: {split.features})")
    for name in names:
        check_tag(name, f"{column} ClassLabel")
    return names


def sentences_from_hf(split, source: str, columns: Columns = DEFAULT_COLUMNS) -> list[Sentence]:
    """Convert a datasets split with a tokens column and an (optional) tags column into Sentences.

    Tags may be strings, or ids named by the column's ClassLabel (else by `columns.label_names`). A row whose ids
    are all -1 (the "no label" value of ClassLabel, used by some test splits) is untagged. `line` is the 1-based row.
    """
    if columns.text not in split.column_names:
        raise InputError(f"{source}: no {columns.text!r} column (columns: {split.column_names})")
    has_tags = columns.labels in split.column_names
    names = _class_label_names(split, columns.labels) if has_tags else None
    if names is not None:
        columns = replace(columns, label_names=tuple(names))
    rows = split.select_columns([columns.text, columns.labels] if has_tags else [columns.text])[:]
    sentences = []
    for row, tokens in enumerate(rows[columns.text]):
        tags = rows[columns.labels][row] if has_tags else None
        sentences.append(token_sentence(tokens, tags, columns, f"{source}:{row + 1}", source, row + 1))
    return sentences


def load_hub_dataset(
    name: str = DEFAULT_HUB_DATASET,
    config: str | None = None,
    tag_scheme: str = "auto",
    label_scheme: str = "iob2",
    columns: Columns = DEFAULT_COLUMNS,
    option: str = "--dataset_name",
    **load_kwargs,
):
    """Load a Hub NER dataset with `datasets.load_dataset` (`load_kwargs`: `cache_dir`, `token`, ...), its tags
    rewritten in `label_scheme`. One that does not load is an `InputError` naming `option` and `name`.

    Returns `(splits, label_list)`: `splits` maps split names to Sentence lists; `label_list` is the tag names of
    the ClassLabel (or `columns.label_names`), so ids keep the dataset's order, when the dataset is already in
    `label_scheme`; else built from the train split.
    """
    from trainer_common.hub_data import load_dataset_checked

    dataset = load_dataset_checked(name, config, option, **load_kwargs)
    class_names = _class_label_names(next(iter(dataset.values())), columns.labels)
    if class_names is not None and columns.label_names is not None and tuple(class_names) != columns.label_names:
        raise InputError(f"--label_names {list(columns.label_names)} differ from {name}'s ClassLabel {class_names}")
    splits = {split: sentences_from_hf(dataset[split], f"{name}[{split}]", columns) for split in dataset}
    schemes = {split: apply_tag_scheme(sentences, tag_scheme, label_scheme) for split, sentences in splits.items()}
    source = f"{name}'s {columns.labels} ClassLabel" if class_names else "--label_names"
    named = named_label_list(class_names or columns.label_names, set(schemes.values()), label_scheme, source)
    if named is not None:
        return splits, named
    return splits, build_label_list(splits.get("train") or [s for part in splits.values() for s in part], label_scheme)
