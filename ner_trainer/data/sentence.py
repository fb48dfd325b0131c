"""The sentence record every reader yields, and the label list built from sentences."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from trainer_common.errors import InputError

IGNORE_INDEX = -100  # label id the loss ignores (specials, non-first sub-tokens)
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")


@dataclass
class Sentence:
    """One sentence: its words, their IOB2 tags (None when untagged), and where it came from.

    `line` is the 1-based line where the sentence starts in `source`. For CoNLL files each word is on its
    own line (`one_word_per_line`), so word i sits on line `line + i`; for JSON the whole record is on `line`.
    """

    tokens: list[str]
    tags: list[str] | None
    source: str
    line: int
    one_word_per_line: bool = False

    def word_line(self, i: int) -> int:
        """1-based line of word `i` in `source`."""
        return self.line + i if self.one_word_per_line else self.line


def read_utf8(path: str | os.PathLike) -> str:
    """The file's text; missing files and non-UTF-8 bytes get errors that name the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}:{line}: not valid UTF-8 ({err.reason} at byte {err.start})") from err


def check_tag(tag: str, where: str) -> None:
    """Raise unless `tag` looks like `O`, `B-X` or `I-X`; `where` is the "file:line" to blame."""
    if not TAG_RE.match(tag):
        raise InputError(f"{where}: bad tag {tag!r}: expected 'O', 'B-TYPE' or 'I-TYPE' (IOB2 or IOB1)")


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """Convert IOB1 tags to IOB2: an `I-X` that does not continue an `X` entity starts one, so it becomes `B-X`."""
    out = []
    prev_type = None  # entity type of the previous word, None after O
    for tag in tags:
        kind, entity_type = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        if kind == "I" and entity_type != prev_type:
            tag = f"B-{entity_type}"
        out.append(tag)
        prev_type = entity_type
    return out


def build_label_list(sentences: list[Sentence]) -> list[str]:
    """Deterministic label list: "O", then for each entity type in sorted order both `B-X` and `I-X`."""
    types = set()
    tagged = False
    for sentence in sentences:
        if sentence.tags is None:
            continue
        tagged = True
        for i, tag in enumerate(sentence.tags):
            check_tag(tag, f"{sentence.source}:{sentence.word_line(i)}")
            if tag != "O":
                types.add(tag[2:])
    if not tagged:
        raise InputError("cannot build a label list: no sentence has tags")
    return ["O"] + [f"{prefix}-{entity_type}" for entity_type in sorted(types) for prefix in ("B", "I")]


def check_labels(sentences: list[Sentence], label2id: dict[str, int]) -> None:
    """Raise on the first tag that is not in `label2id`, naming its file, line and tag."""
    for sentence in sentences:
        for i, tag in enumerate(sentence.tags or ()):
            if tag not in label2id:
                raise InputError(
                    f"{sentence.source}:{sentence.word_line(i)}: tag {tag!r} (word {sentence.tokens[i]!r}) "
                    f"is not one of the training labels {sorted(label2id, key=label2id.get)}"
                )
