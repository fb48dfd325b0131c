"""JSON lines or a JSON list of records: `{"tokens", "ner_tags"}` records, or CLUENER span records."""

import os

from trainer_common.errors import InputError
from trainer_common.io import read_utf8
from trainer_common.json_records import json_records

from .cluener import cluener_record
from .sentence import Sentence, apply_tag_scheme
from .token_records import DEFAULT_COLUMNS, Columns, record_sentence


def read_json(
    path: str | os.PathLike,
    tag_scheme: str = "auto",
    label_scheme: str = "iob2",
    overlapping_spans: str = "error",
    columns: Columns = DEFAULT_COLUMNS,
) -> list[Sentence]:
    """Read JSON lines or a JSON list of records.

    Two record formats: `{"tokens": [...], "ner_tags": ["B-PER", ...]}` (ner_tags optional, as tags or label ids;
    other column names in `columns`), and CLUENER's
    `{"text": "...", "label": {type: {entity: [[start, end_inclusive], ...]}}}` (label optional), which becomes
    one word per character (`cluener_record`; `overlapping_spans` says what to do with overlapping spans). The tags,
    in `tag_scheme` ("auto": detected), are rewritten in `label_scheme`.
    """
    path = str(path)
    sentences = []
    for line, record in json_records(read_utf8(path), path):
        where = f"{path}:{line}"
        is_object = isinstance(record, dict)
        # a "text" string is a CLUENER record, whatever the words column is called
        if is_object and columns.text in record and not (columns.text == "text" and isinstance(record["text"], str)):
            sentences.append(record_sentence(record, columns, where, path, line))
        elif is_object and isinstance(record.get("text"), str):
            sentences.append(cluener_record(record, where, path, line, overlapping_spans))
        else:
            found = f"keys {sorted(record)}" if is_object else type(record).__name__
            raise InputError(
                f"{where}: expected an object with a {columns.text!r} list (+ optional {columns.labels!r}) or "
                f"CLUENER's 'text' string (+ optional 'label'), found {found}"
            )
    apply_tag_scheme(sentences, tag_scheme, label_scheme)
    return sentences
