"""Classification data: readers for TSV, CSV, JSON and Hub datasets, the example record, and encoding.

Every reader yields `Example` records (a text, an optional second text, a label name or None, and the file and
line or Hub row they came from); `encode_examples` turns them into model features, truncating but never dropping.
"""

from .columns import LABELS, PAIRS, SINGLES, ColumnOptions, Columns, choose_columns
from .encoding import encode_examples, to_dataset
from .example import Example, build_label_list, check_labels
from .files import read_table
from .hub import GLUE_DATASET, GLUE_LABELS, load_hub_examples
from .load import load_examples, read_examples

__all__ = [
    "GLUE_DATASET", "GLUE_LABELS", "LABELS", "PAIRS", "SINGLES", "ColumnOptions", "Columns", "Example",
    "build_label_list", "check_labels", "choose_columns", "encode_examples", "load_examples", "load_hub_examples",
    "read_examples", "read_table", "to_dataset",
]  # fmt: skip
