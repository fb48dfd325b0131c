"""The example record every reader yields, label values read as names, and the label list built from examples."""

import difflib
import re
from dataclasses import dataclass

from trainer_common.errors import InputError

INTEGER = re.compile(r"[+-]?[0-9]+(\.0*)?")  # "1", "-1", and "1.0" as pandas writes integer columns with gaps
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
NO_LABEL = -1  # ClassLabel's "no label", which unlabelled test splits hold (GLUE's), also when exported to files


@dataclass(frozen=True)
class Example:
    """One text (or text pair) to classify, its label name (None when its split has no labels), and where it came
    from: `"path/train.tsv:17"` (the 1-based line the record starts on) or `"nyu-mll/glue/sst2 train row 17"`."""

    text: str
    text_pair: str | None
    label: str | None
    source: str


class Unlabelled:
    """A label cell that says "no label": empty, missing, JSON null, or the id -1."""


UNLABELLED = Unlabelled()


def label_name(value, names: list[str] | None, where: str, column: str) -> "str | Unlabelled":
    """The label name of a cell or JSON value: a string as it is (stripped), an integer id as `names[id]` (without
    names, its digits), `UNLABELLED` for an empty or missing value or the id -1. A number with a fraction, a
    boolean, a list or an id out of range is an error naming `where` and `column`."""
    if value is None:
        return UNLABELLED
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return UNLABELLED
        if names is not None and value in names:
            return value
        if value.isascii() and INTEGER.fullmatch(value):
            return _id_name(int(float(value)), names, where, column)
        if value.isascii() and NUMBER.fullmatch(value):
            raise InputError(f"{where}: {column} {value!r} is not an integer: labels are names or integer ids")
        if names is not None:
            raise InputError(f"{where}: {column} {value!r} is not one of the label names {names}")
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _id_name(value, names, where, column)
    noun = type(value).__name__
    found = f"{value!r}" if isinstance(value, (bool, float)) else f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    raise InputError(f"{where}: {column} must be a name or an integer id, found {found}")


def _id_name(label_id: int, names: list[str] | None, where: str, column: str) -> "str | Unlabelled":
    if label_id == NO_LABEL:
        return UNLABELLED
    if names is None:
        return str(label_id)
    if not 0 <= label_id < len(names):
        raise InputError(f"{where}: {column} id {label_id} is out of range: {len(names)} label names {names}")
    return names[label_id]


def build_label_list(examples: list[Example]) -> list[str]:
    """The labels of `examples`, sorted: numerically when all are integers ("2" before "10"), else as strings."""
    labels = {example.label for example in examples if example.label is not None}
    if labels and all(INTEGER.fullmatch(label) and "." not in label for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def check_labels(examples: list[Example], label2id: dict[str, int]) -> None:
    """Raise an `InputError` naming the source and label of the first example whose label is not in `label2id`."""
    for example in examples:
        if example.label is not None and example.label not in label2id:
            near = difflib.get_close_matches(example.label, list(label2id), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise InputError(
                f"{example.source}: label {example.label!r} is not one of the model's labels {list(label2id)}{hint}"
            )
