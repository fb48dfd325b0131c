"""Classification data files as records: TSV, CSV, JSON lines or a JSON list, each record with its 1-based line.

TSV (`.tsv`, `.tab`) is split on tabs with no quote processing, as GLUE's files need (their texts hold bare quotes).
CSV (`.csv`) follows CSV quoting; a record with a multi-line quoted field keeps the line it starts on. A header row
names the columns, unless `no_header`: then the columns are named by their 0-based positions, `"0"`, `"1"`, ...
"""

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from trainer_common.errors import InputError
from trainer_common.io import read_utf8
from trainer_common.json_records import json_records

DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}
JSON_SUFFIXES = (".json", ".jsonl")
SUFFIXES = (*DELIMITERS, *JSON_SUFFIXES)


@dataclass
class Table:
    """A file's records as dicts from column name to value (a TSV/CSV cell or a JSON value), with their lines."""

    path: str
    columns: list[str]  # the header's names, the positions with no header, or the JSON keys in order of appearance
    records: list[tuple[int, dict]]
    has_header: bool = True


def read_table(path: str | os.PathLike, no_header: bool = False) -> Table:
    """The records of a data file, by its extension (see the module's docstring). An empty file, a file with only
    a header, and a row with another number of fields than the header (or than the first row) are errors naming the
    file and line."""
    path = str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{path}: unknown data format {suffix or '(no extension)'!r}: give .tsv, .csv, .json or .jsonl"
        )
    text = read_utf8(path)
    if suffix in JSON_SUFFIXES:
        table = _json_table(text, path)
    else:
        table = _delimited_table(text, path, DELIMITERS[suffix], no_header)
    if not table.records:
        raise InputError(f"{path}: no records{' after the header row' if table.has_header and table.columns else ''}")
    return table


def _delimited_table(text: str, path: str, delimiter: str, no_header: bool) -> Table:
    rows = _tsv_rows(text) if delimiter == "\t" else _csv_rows(text, path)
    header = None if no_header else next(rows, None)
    if header is not None:
        header = (header[0], [name.strip() for name in header[1]])
        if not any(header[1]):
            raise InputError(f"{path}:{header[0]}: an empty header row: name the columns, or give --no_header")
    records, width = [], None if header is None else len(header[1])
    for line, cells in rows:
        if width is None:
            width = len(cells)
        if len(cells) != width:
            source = "the header has" if header is not None else "the first row has"
            raise InputError(f"{path}:{line}: {len(cells)} fields, but {source} {width}{_separator_hint(delimiter)}")
        names = header[1] if header is not None else [str(i) for i in range(width)]
        records.append((line, dict(zip(names, cells))))
    columns = header[1] if header is not None else [str(i) for i in range(width or 0)]
    return Table(path, columns, records, has_header=header is not None)


def _separator_hint(delimiter: str) -> str:
    return " (fields are separated by tabs)" if delimiter == "\t" else " (fields are separated by commas)"


def _tsv_rows(text: str):
    """(line, cells) of each non-blank line, split on tabs; quotes are text."""
    for line, row in enumerate(text.split("\n"), start=1):
        if row.strip():
            yield line, row.split("\t")


def _csv_rows(text: str, path: str):
    """(line the record starts on, cells) of each non-blank CSV record."""
    # newline="\n": records end at "\n" only (read_utf8 made every line end one), not at U+2028 and the like
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputError(f"{path}:{start}: not valid CSV: {err}") from err
        if any(cell.strip() for cell in cells):
            yield start, cells
        start = reader.line_num + 1


def _json_table(text: str, path: str) -> Table:
    records, columns = [], {}
    for line, record in json_records(text, path):
        if not isinstance(record, dict):
            raise InputError(f"{path}:{line}: expected a JSON object with a text and a label, found "
                             f"{type(record).__name__}")  # fmt: skip
        columns.update(dict.fromkeys(record))
        records.append((line, record))
    return Table(path, list(columns), records)
