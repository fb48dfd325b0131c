"""A run's examples: from the data files, else --dataset_name, else --task_name's GLUE data on the Hub."""

import logging
from collections import Counter
from dataclasses import replace

from trainer_common.errors import InputError
from trainer_common.hub_data import LOCAL_FILES_ADVICE, HubUnreachable
from trainer_common.splits import split_off_validation

from .columns import ColumnOptions, choose_columns
from .example import Example, build_label_list
from .files import read_table
from .hub import GLUE_DATASET, GLUE_LABELS, load_hub_examples
from .records import records_to_examples

logger = logging.getLogger(__name__)

NO_DATA = "no data: give --train_file (and --validation_file, --test_file), --dataset_name or --task_name"


def load_examples(args, seed: int, label_names: list[str] | None) -> tuple[dict[str, list[Example]], list[str] | None]:
    """The 'train'/'validation'/'test' splits present (files, else `--dataset_name`, else `--task_name`'s GLUE data
    on the Hub), after `--validation_split` and `--max_{train,eval,predict}_samples`; and the label list when the
    data fixes one (`label_names`, a Hub `ClassLabel` feature, a known `--task_name`), else None."""
    options = ColumnOptions.from_args(args)
    names = label_names or GLUE_LABELS.get(args.task_name)
    files = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}
    if any(files.values()):
        splits = {split: read_examples(path, options, names, split == "test") for split, path in files.items() if path}
        label_list = names
    elif args.dataset_name or args.task_name:
        name, config = args.dataset_name, args.dataset_config_name
        option = "--dataset_name"
        if not name:
            name, config, option = GLUE_DATASET, args.task_name, "--task_name"
        try:
            names_option = "--label_names" if label_names else f"--task_name {args.task_name}'s labels"
            splits, label_list = load_hub_examples(
                name, config, options, names, option, names_option, **args.hub_kwargs
            )
        except HubUnreachable as err:
            raise err.advise(LOCAL_FILES_ADVICE) from err.__cause__
    else:
        raise InputError(NO_DATA)
    if args.validation_split is not None:
        splits["train"], splits["validation"] = split_off_validation(splits, args.validation_split, seed)
    limits = {"train": args.max_train_samples, "validation": args.max_eval_samples, "test": args.max_predict_samples}
    splits = {split: examples[: limits.get(split)] for split, examples in splits.items()}
    for split, examples in splits.items():
        logger.info("%s: %d examples; %s", split, len(examples), describe_labels(examples))
    return splits, label_list


def read_examples(path: str, options: ColumnOptions, names: list[str] | None, labels_optional: bool) -> list[Example]:
    """The examples of one data file (TSV, CSV, JSON lines or a JSON list; see `files.read_table`), from the columns
    `choose_columns` picks; integer labels named by `names`. A test file (`labels_optional`) may lack labels."""
    table = read_table(path, options.no_header)
    if table.has_header:  # JSON records name their values: --no_header is for TSV and CSV files
        options = replace(options, no_header=False)
    columns = choose_columns(table.columns, options, path, labels_optional)
    for name in {columns.text, columns.pair, columns.label} - {None}:
        if table.columns.count(name) > 1:  # a record keeps only the last of them
            raise InputError(f"{path}:1: the header names column {name!r} {table.columns.count(name)} times")
    records = ((f"{path}:{line}", record) for line, record in table.records)
    examples = records_to_examples(records, columns, names, positions=not table.has_header)
    logger.info("%s: %d examples; %s", path, len(examples), columns.describe(positions=not table.has_header))
    return examples


def describe_labels(examples: list[Example]) -> str:
    """ "labels: negative 428, positive 444", or "no labels"."""
    counts = Counter(example.label for example in examples if example.label is not None)
    if not counts:
        return "no labels"
    order = build_label_list(examples)
    return "labels: " + ", ".join(f"{label} {counts[label]}" for label in order)
