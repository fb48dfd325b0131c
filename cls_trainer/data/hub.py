"""Classification datasets from the Hugging Face Hub (or a local dataset folder), and GLUE's by `--task_name`."""

import logging

from trainer_common.errors import InputError

from .columns import ColumnOptions, Columns, choose_columns
from .example import Example
from .records import records_to_examples

logger = logging.getLogger(__name__)

GLUE_DATASET = "nyu-mll/glue"
# The label names of GLUE's single-label classification tasks, in the order of nyu-mll/glue's ClassLabel ids
GLUE_LABELS = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "qqp": ["not_duplicate", "duplicate"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["not_entailment", "entailment"],
    "mnli": ["entailment", "neutral", "contradiction"],
}
# Hub split names read as the run's splits; MNLI's matched sets are its validation and test
SPLIT_NAMES = {
    "train": "train",
    "validation": "validation",
    "dev": "validation",
    "valid": "validation",
    "test": "test",
    "validation_matched": "validation",
    "test_matched": "test",
}


def class_label_names(split, column: str | None) -> list[str] | None:
    """The names of `column`'s ClassLabel feature in a datasets split, or None when it holds plain values."""
    from datasets import ClassLabel

    feature = split.features.get(column) if column is not None else None
    return list(feature.names) if isinstance(feature, ClassLabel) else None


def split_examples(split, source: str, columns: Columns, names: list[str] | None) -> list[Example]:
    """The examples of one datasets split, read from `columns`; rows are named `"{source} row {n}"`, 1-based."""
    wanted = [name for name in (columns.text, columns.pair, columns.label) if name is not None]
    table = split.select_columns(wanted)[:]
    rows = (dict(zip(wanted, values)) for values in zip(*(table[name] for name in wanted)))
    return records_to_examples(((f"{source} row {n}", row) for n, row in enumerate(rows, start=1)), columns, names)


def load_hub_examples(
    name: str,
    config: str | None,
    options: ColumnOptions,
    label_names: list[str] | None,
    option: str,
    names_option: str = "--label_names",
    **load_kwargs,
) -> tuple[dict[str, list[Example]], list[str] | None]:
    """The train/validation/test examples of a Hub dataset (`datasets.load_dataset(name, config, **load_kwargs)`),
    and its label list: the label column's ClassLabel names (which `label_names`, when given, must equal; errors
    name them by `names_option`), else `label_names`. Other splits (MNLI's mismatched sets, say) are left out, with
    a note in the log. One that does not load is an `InputError` naming `option`; an unreachable Hub a
    `HubUnreachable`."""
    from trainer_common.hub_data import load_dataset_checked

    dataset = load_dataset_checked(name, config, option, **load_kwargs)
    kept = {}  # split -> the run's split it is read as; "validation" before "dev" or "valid" when a dataset has both
    for split in sorted(dataset, key=lambda split: SPLIT_NAMES.get(split) != split):
        if SPLIT_NAMES.get(split) and SPLIT_NAMES[split] not in kept.values():
            kept[split] = SPLIT_NAMES[split]
    left_out = [split for split in dataset if split not in kept]
    if not kept:
        raise InputError(f"{option} {name}: no train, validation or test split (splits: {list(dataset)})")
    if left_out:
        logger.info("%s: split(s) %s left out (read: %s)", name, left_out, list(kept))
    shown = f"{name}/{config}" if config else name
    hub_options = ColumnOptions(options.text, options.pair, options.label)  # Hub columns have names
    columns = {
        split: choose_columns(dataset[split].column_names, hub_options, f"{shown} {split}", run == "test")
        for split, run in kept.items()
    }
    class_names = next(
        (names for split in kept if (names := class_label_names(dataset[split], columns[split].label))), None
    )
    if class_names is not None and label_names is not None and list(label_names) != class_names:
        raise InputError(f"{names_option} {list(label_names)} differ from {name}'s ClassLabel {class_names}")
    names = class_names or label_names
    splits = {}
    for split, run in kept.items():
        splits[run] = split_examples(dataset[split], f"{shown} {split}", columns[split], names)
        logger.info("%s %s: %d examples; %s", shown, split, len(splits[run]), columns[split].describe())
    return splits, names
