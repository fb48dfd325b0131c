"""Sentences stored as a tokens column and a tags column: JSON records, CSV rows and Hub dataset rows.

The column names default to the transformers example's (`tokens`, `ner_tags`). Tags may be strings or integer
ids; ids need their names, from a `ClassLabel` feature or `--label_names`.
"""

import ast
import csv
import io
import json
import os
import tokenize
from dataclasses import dataclass

from trainer_common.errors import InputError
from trainer_common.io import read_utf8

from .sentence import Sentence, apply_tag_scheme, check_keys, check_tag


@dataclass(frozen=True)
class Columns:
    """Where a record keeps its words and tags, and the names of integer tag ids (index i: the name of id i)."""

    text: str = "tokens"
    labels: str = "ner_tags"
    label_names: tuple[str, ...] | None = None


DEFAULT_COLUMNS = Columns()


def token_sentence(tokens, tags, columns: Columns, where: str, source: str, line: int) -> Sentence:
    """One `Sentence` from a tokens value and a tags value (None: untagged), checked; `where` is "file:line"."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise InputError(f"{where}: {columns.text!r} must be a list of strings")
    if tags is not None:
        if not isinstance(tags, list):
            raise InputError(f"{where}: {columns.labels!r} must be a list of tags like 'B-PER' or of label ids")
        if len(tags) != len(tokens):
            raise InputError(f"{where}: {len(tokens)} {columns.text} but {len(tags)} {columns.labels}")
        # all -1: ClassLabel's "no label", which test splits use, also when exported to JSON or CSV
        tags = None if tags and all(_is_id(t) and t == -1 for t in tags) else tag_names(tags, columns, where)
    return Sentence(tokens, tags, source, line)


def tag_names(tags: list, columns: Columns, where: str) -> list[str]:
    """The tags as strings: integer ids mapped through `columns.label_names` (with names given, a digits-only
    string that is not a name is an id too, as in a CSV cell); every tag checked."""
    names = columns.label_names
    if names is not None:
        tags = [int(t) if isinstance(t, str) and t.isdigit() and t.isascii() and t not in names else t for t in tags]
    if any(_is_id(t) for t in tags):
        if names is None:
            raise InputError(f"{where}: {columns.labels!r} holds label ids: give their names with --label_names")
        bad = [t for t in tags if not (_is_id(t) and 0 <= t < len(names))]
        if bad:
            raise InputError(f"{where}: {columns.labels} value {bad[0]!r} is not a label id (0..{len(names) - 1})")
        tags = [names[t] for t in tags]
    for tag in tags:
        check_tag(tag, where)
    return tags


def _is_id(tag) -> bool:
    return isinstance(tag, int) and not isinstance(tag, bool)


def record_sentence(record: dict, columns: Columns, where: str, source: str, line: int) -> Sentence:
    """A JSON object with the tokens column and, optionally, the tags column."""
    check_keys(record, (columns.text, columns.labels), where)
    return token_sentence(record[columns.text], record.get(columns.labels), columns, where, source, line)


def read_csv(path: str | os.PathLike, columns: Columns, tag_scheme: str = "auto", label_scheme: str = "iob2"):
    """A CSV file with a header row and one sentence per row.

    The tokens and tags cells each hold a list literal (`list_literal`: JSON, a Python list or tuple, or numpy's
    print form, as `Dataset.to_csv` and pandas write it) or whitespace-separated items (`EU rejects`). Tags may be
    names or label ids. A row without a tags cell (or an empty one) is untagged.
    """
    path = str(path)
    reader = csv.reader(read_utf8(path).splitlines(keepends=True))
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: empty CSV file")
    header = [name.strip() for name in header]  # "tokens, ner_tags" names ner_tags too
    check_keys(dict.fromkeys(header), (columns.text, columns.labels), f"{path}:1")
    for name in (columns.text, columns.labels) if columns.labels in header else (columns.text,):
        if header.count(name) != 1:
            raise InputError(f"{path}:1: expected one {name!r} column in the header, found columns {header}")
    text_at = header.index(columns.text)
    labels_at = header.index(columns.labels) if columns.labels in header else None
    sentences, start = [], reader.line_num + 1
    for row in reader:
        where = f"{path}:{start}"
        if any(cell.strip() for cell in row):
            if len(row) != len(header):
                raise InputError(f"{where}: {len(row)} cells, but the header has {len(header)} columns")
            tokens = _cell_items(row[text_at], columns.text, where)
            tags = None
            if labels_at is not None and row[labels_at].strip():
                tags = _cell_items(row[labels_at], columns.labels, where, digits_are_ids=True)
            sentences.append(token_sentence(tokens, tags, columns, where, path, start))
        start = reader.line_num + 1
    apply_tag_scheme(sentences, tag_scheme, label_scheme)
    return sentences


def _cell_items(cell: str, column: str, where: str, digits_are_ids: bool = False) -> list:
    """A CSV cell's list: a list (or tuple) literal when it starts with '[' (or '('), else whitespace-separated
    items (where, in a tags cell, digits-only items are label ids)."""
    text = cell.strip()
    if text.startswith(("[", "(")):
        try:
            return list_literal(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, tokenize.TokenError):
            raise InputError(
                f"{where}: {column!r} cell starts with {text[0]!r} but is not a JSON, Python or numpy list: "
                f"{_short(text)}"
            ) from None
    items = text.split()
    if digits_are_ids:
        items = [int(item) if item.isdigit() and item.isascii() else item for item in items]
    return items


def list_literal(text: str) -> list:
    """The items of a flat list literal in JSON (`["EU", "rejects"]`), Python (`['EU', 'rejects']`, a tuple too) or
    numpy's print form, which `Dataset.to_csv` and pandas write (`['EU' 'rejects']`, `[3 0 7]`): string and number
    literals separated by commas or spaces. Python would join adjacent strings ('EU' 'rejects' -> 'EUrejects');
    here each is an item."""
    closing = {"[": "]", "(": ")"}
    tokens = [token for token in tokenize.generate_tokens(io.StringIO(text).readline) if token.type not in SKIPPED]
    if len(tokens) < 2 or closing.get(tokens[0].string) != tokens[-1].string:
        raise ValueError("not a bracketed list")
    items, sign = [], ""
    for token in tokens[1:-1]:
        if token.type == tokenize.OP and token.string == "," and not sign:
            continue
        if token.type == tokenize.OP and token.string == "-" and not sign:
            sign = "-"
        elif token.type == tokenize.STRING and not sign:
            items.append(_string_literal(token.string))
        elif token.type == tokenize.NUMBER:
            items.append(ast.literal_eval(sign + token.string))
            sign = ""
        else:
            raise ValueError(f"unexpected {token.string!r}")
    if sign:
        raise ValueError("a sign without a number")
    return items


def _string_literal(text: str) -> str:
    """A JSON string (its escapes: \\/, \\uD83D\\uDE00), else a Python one."""
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return ast.literal_eval(text)


SKIPPED = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
