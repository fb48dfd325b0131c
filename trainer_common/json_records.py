"""JSON records as the tasks read them: JSON lines, or one JSON list, each record with the line it starts on."""

import json
import re

from .errors import InputError


def json_records(text: str, path: str):
    """Yield (line, record) from JSON lines or a JSON list, with the 1-based line where each record starts."""
    if not text.lstrip().startswith("["):
        for line_number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    yield line_number, json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(f"{path}:{line_number}: not valid JSON: {err.msg} (column {err.colno})") from err
                except RecursionError as err:
                    raise InputError(f"{path}:{line_number}: JSON nested too deeply") from err
        return
    # A JSON list: decode it element by element so that each record keeps its line number.
    decoder = json.JSONDecoder()
    space = re.compile(r"\s*")
    pos = space.match(text, text.index("[") + 1).end()
    line, counted_to = 1, 0
    while not text.startswith("]", pos):
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{err.lineno}: not valid JSON: {err.msg} (column {err.colno})") from err
        except RecursionError as err:
            raise InputError(f"{path}:{line}: JSON nested too deeply") from err
        yield line, record
        pos = space.match(text, pos).end()
        if text.startswith(",", pos):
            pos = space.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            where = f"{path}:{line + text.count(chr(10), counted_to, pos)}"
            raise InputError(f"{where}: not valid JSON: expected ',' or ']' after a list element")
    if text[pos + 1 :].strip():
        raise InputError(f"{path}: not valid JSON: extra data after the closing ']'")
