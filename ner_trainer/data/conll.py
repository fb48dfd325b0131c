"""CoNLL column files: one word per line, whitespace-separated columns, blank lines between sentences."""

import os

from trainer_common.errors import InputError
from trainer_common.io import read_utf8

from .. import tagging
from .sentence import Sentence, apply_tag_scheme, check_tag

DOCSTART = "-DOCSTART-"


def read_conll(
    path: str | os.PathLike, label_column: int = -1, tag_scheme: str = "auto", label_scheme: str = "iob2"
) -> list[Sentence]:
    """Read a CoNLL-style file: one word per line, whitespace-separated columns, blank lines between sentences.

    The tag is in column `label_column` (default: the last). A file with a single column is untagged.
    `-DOCSTART-` lines are skipped. The tags, in `tag_scheme` ("auto": detected), are rewritten in `label_scheme`
    (`apply_tag_scheme`).
    """
    path = str(path)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    num_columns = None  # fixed by the first data row
    tag_index = None

    def flush():
        if tokens:
            sentence_tags = None if tag_index is None else list(tags)
            sentences.append(Sentence(list(tokens), sentence_tags, path, start, one_word_per_line=True))
        tokens.clear()
        tags.clear()

    for line_number, line in enumerate(read_utf8(path).split("\n"), start=1):
        columns = line.split()
        if not columns:
            flush()
            continue
        if columns[0] == DOCSTART:
            flush()
            continue
        if num_columns is None:
            num_columns = len(columns)
            if num_columns > 1:
                tag_index = label_column if label_column >= 0 else num_columns + label_column
                if not 1 <= tag_index < num_columns:
                    raise InputError(
                        f"{path}:{line_number}: label_column={label_column} does not name a tag column in a row "
                        f"with {num_columns} columns (column 0 is the word)"
                    )
        elif len(columns) != num_columns:
            raise InputError(
                f"{path}:{line_number}: expected {num_columns} columns like the first row, found {len(columns)}: "
                f"{line.strip()!r}"
            )
        if not tokens:
            start = line_number
        tokens.append(columns[0])
        if tag_index is not None:
            check_tag(columns[tag_index], f"{path}:{line_number}")
            tags.append(columns[tag_index])
    flush()
    apply_tag_scheme(sentences, tag_scheme, label_scheme)
    return sentences


SPACE_IN_TOKEN = "\u2423"  # ␣ stands for each whitespace character inside a token
EMPTY_TOKEN = "\u2205"  # ∅ stands for an empty token


def column_token(token: str) -> str:
    """`token` as one whitespace-free column, so that conlleval (which splits lines with `str.split`) reads every
    line as `token gold predicted`: each whitespace character (a space, U+3000, a tab, ...) becomes ␣, and an
    empty token ∅."""
    if not token:
        return EMPTY_TOKEN
    return "".join(SPACE_IN_TOKEN if char.isspace() else char for char in token)


def write_conll_predictions(
    path: str | os.PathLike,
    sentences: list[Sentence],
    predicted: list[list[str]],
    label_scheme: str = "iob2",
    strict: bool = False,
) -> None:
    """`token gold predicted` per line (`token predicted` for untagged input), a blank line after each sentence;
    tokens written by `column_token`.

    Both columns are in the input file's scheme (predictions are converted from `label_scheme`), so that conlleval
    scores the file as it would the gold data. With `strict`, the conversion keeps only the entities well formed in
    `label_scheme`, those that `--strict` scores count, so the file scores as the run did.
    """
    from trainer_common.io import write_text

    lines = []
    for sentence, tags in zip(sentences, predicted):
        scheme = sentence.file_scheme or label_scheme
        tags = tagging.convert(tags, label_scheme, scheme, strict) if scheme != label_scheme else tags
        gold = sentence.file_tags or sentence.tags or [None] * len(tags)
        lines.extend(
            " ".join(x for x in (column_token(word), g, p) if x is not None)
            for word, g, p in zip(sentence.tokens, gold, tags)
        )
        lines.append("")
    write_text(path, "\n".join(lines) + "\n")
