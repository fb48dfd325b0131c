"""Examples from records (file rows, JSON objects, Hub rows): the chosen columns read and checked, row by row."""

import logging

from trainer_common.errors import InputError

from .columns import Columns
from .example import UNLABELLED, Example, label_name

logger = logging.getLogger(__name__)


def records_to_examples(records, columns: Columns, names: list[str] | None, positions: bool = False) -> list[Example]:
    """One `Example` per `(source, record)`: the text (and pair) columns must hold strings; the label column a name
    or an integer id (named by `names`). Either every record has a label or none has (an unlabelled split: empty
    cells, nulls or -1); a labelled split with one missing is an error naming the record. An empty text is kept
    (a real example, such as ChnSentiCorp's empty review) with a warning."""
    what = _describer(positions)
    examples, unlabelled, labelled, empty = [], None, None, []
    for source, record in records:
        text = _text(record, columns.text, source, what)
        pair = None if columns.pair is None else _text(record, columns.pair, source, what)
        if not text.strip() or (pair is not None and not pair.strip()):
            empty.append(source)
        label = None
        if columns.label is not None:
            label = label_name(record.get(columns.label), names, source, f"label ({what(columns.label)})")
            if label is UNLABELLED:
                unlabelled, label = unlabelled or source, None
            else:
                labelled = labelled or source
        if labelled and unlabelled:
            raise InputError(
                f"{unlabelled}: no label (an empty or missing value, null or -1) in {what(columns.label)}, but "
                f"{labelled} has one: label every record, or none (a split to predict)"
            )
        examples.append(Example(text.strip(), None if pair is None else pair.strip(), label, source))
    if empty:
        more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        logger.warning("%s%s: empty text, kept: classified from the special tokens alone", empty[0], more)
    return examples


def _text(record: dict, column: str, source: str, what) -> str:
    if column not in record:
        raise InputError(f"{source}: no {what(column)} (keys: {sorted(record)})")
    value = record[column]
    if not isinstance(value, str):
        found = "null" if value is None else _a(type(value).__name__)
        raise InputError(f"{source}: {what(column)} must hold a string, found {found}")
    return value


def _describer(positions: bool):
    return (lambda column: f"column {column}") if positions else (lambda column: f"column {column!r}")


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
