"""`test_predictions.tsv`: one row per example with its text, gold class, predicted class and that class's
probability; and the same rows as a W&B table.

A text holding a tab, a line break or a backslash would break the columns or be ambiguous, so each field is written
with the escapes `\\t`, `\\n`, `\\r` and `\\\\` (two characters each; `unescape_field` reads them back) and nothing
else changed. So each example is one line, and `pandas.read_csv(path, sep="\\t", quoting=csv.QUOTE_NONE,
keep_default_na=False)` reads the columns (then `unescape_field` the texts), as `read_test_predictions` does alone.
"""

import os
from collections.abc import Sequence

import numpy as np

from trainer_common.io import read_utf8, write_text

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {escaped[1]: raw for raw, escaped in _ESCAPES.items()}


def escape_field(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def unescape_field(field: str) -> str:
    """The text `escape_field` wrote (a backslash before any other character stays as it is)."""
    out, chars = [], iter(field)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_UNESCAPES.get(following, char + following))
        else:
            out.append(char)
    return "".join(out)


def _predicted(examples, predicted_ids, probabilities, label_names) -> tuple[list[str], list[float]]:
    """The predicted class names and their probabilities. `probabilities` is (n, num_labels), every class's, or
    (n,), the predicted class's already."""
    ids = np.asarray(predicted_ids).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(examples) == len(ids) == len(probabilities):
        raise ValueError(f"{len(examples)} examples but {len(ids)} predictions and {len(probabilities)} probabilities")
    if ids.size and not (0 <= ids.min() and ids.max() < len(label_names)):
        raise ValueError(f"predicted ids outside 0 to {len(label_names) - 1}")
    if probabilities.ndim == 2:
        probabilities = probabilities[np.arange(len(ids)), ids]
    return [label_names[i] for i in ids], probabilities.tolist()


def _columns(examples) -> tuple[bool, bool]:
    """Whether any example has a second text, and whether any has a gold label."""
    return any(e.text_pair is not None for e in examples), any(e.label is not None for e in examples)


def _gold_name(label, label_names: Sequence[str]) -> str:
    """A gold label as its class name: an integer id is looked up, a name kept; None (unlabelled) is empty."""
    if label is None:
        return ""
    if isinstance(label, int | np.integer) and not isinstance(label, bool):
        return label_names[label]
    return str(label)


def write_test_predictions(path: str | os.PathLike, examples, predicted_ids, probabilities, label_names) -> None:
    """Write `test_predictions.tsv` at `path`, atomically (it appears only when complete).

    Columns, tab-separated, under a header row: `text`, `text_pair` (when any example is a pair), `gold` (when any
    example has a label; empty for one that has none), `predicted`, `probability` (the predicted class's, 6
    decimals). One row per example, in their order. Fields are escaped as the module docstring says.

    Args:
        examples: objects with `.text`, `.text_pair` (None for a single text) and `.label` (a class id or name;
            None when unlabelled).
        predicted_ids: the predicted class id of each example.
        probabilities: each example's class probabilities, (n, num_labels), or the predicted class's, (n,).
        label_names: each class id's name.
    """
    names, scores = _predicted(examples, predicted_ids, probabilities, label_names)
    pairs, gold = _columns(examples)
    header = ["text"] + ["text_pair"] * pairs + ["gold"] * gold + ["predicted", "probability"]
    lines = ["\t".join(header)]
    for example, name, score in zip(examples, names, scores):
        fields = [example.text] + [example.text_pair or ""] * pairs
        fields += [_gold_name(example.label, label_names)] * gold + [name]
        lines.append("\t".join(escape_field(str(field)) for field in fields) + f"\t{score:.6f}")
    write_text(path, "\n".join(lines) + "\n")


def read_test_predictions(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a `test_predictions.tsv`, one dict per row keyed by the header, fields unescaped (all strings)."""
    # Not splitlines(): it also splits at form feeds and U+2028, which a text may hold unescaped.
    header, *rows = read_utf8(path, "predictions file").removesuffix("\n").split("\n")
    columns = header.split("\t")
    return [dict(zip(columns, map(unescape_field, row.split("\t")))) for row in rows]


def prediction_table(
    examples, predicted_ids, probabilities, label_names, limit: int = 100
) -> tuple[list[str], list[list]]:
    """The first `limit` examples with their predictions, as `(columns, rows)` for a W&B table: the columns of
    `write_test_predictions`, texts as they are (no escapes) and the probability as a float."""
    examples = list(examples)[:limit]
    names, scores = _predicted(
        examples, np.asarray(predicted_ids)[:limit], np.asarray(probabilities)[:limit], label_names
    )
    pairs, gold = _columns(examples)
    columns = ["text"] + ["text_pair"] * pairs + ["gold"] * gold + ["predicted", "probability"]
    rows = []
    for example, name, score in zip(examples, names, scores):
        row = [example.text] + [example.text_pair or ""] * pairs
        rows.append(row + [_gold_name(example.label, label_names)] * gold + [name, round(score, 4)])
    return columns, rows
