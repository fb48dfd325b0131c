"""The sentence record every reader yields, and the label list built from sentences."""

import difflib
import logging
from dataclasses import dataclass

from trainer_common.errors import InputError

from .. import tagging

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label id the loss ignores (specials, non-first sub-tokens)


@dataclass
class Sentence:
    """One sentence: its words, their tags (None when untagged), and where it came from.

    Readers give the file's tags; `apply_tag_scheme` rewrites them in the label scheme and keeps the file's own in
    `file_tags`, so that predictions are written back in the file's scheme.

    `line` is the 1-based line where the sentence starts in `source`. For CoNLL files each word is on its
    own line (`one_word_per_line`), so word i sits on line `line + i`; for JSON the whole record is on `line`.
    """

    tokens: list[str]
    tags: list[str] | None
    source: str
    line: int
    one_word_per_line: bool = False
    file_tags: list[str] | None = None
    file_scheme: str | None = None
    text: str | None = None  # span JSON (CLUENER): the record's text, one word per character
    record_id: object = None  # span JSON: the record's "id", which a CLUE submission is keyed by

    def word_line(self, i: int) -> int:
        """1-based line of word `i` in `source`."""
        return self.line + i if self.one_word_per_line else self.line


def check_keys(record: dict, known: tuple[str, ...], where: str) -> None:
    """Raise on a key that looks like a misspelt known one: a misspelt tag key would otherwise read as untagged
    data, and score nothing. Other extra keys are left alone."""
    for key in record:
        near = None if key in known else difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.75)
        if near:
            raise InputError(f"{where}: unknown key {key!r}; did you mean {near[0]!r}?")


def check_tag(tag: str, where: str) -> None:
    """Raise unless `tag` is a non-empty string without whitespace; `where` is the "file:line" to blame. Whether its
    prefix suits the tag scheme is checked once the scheme is known (`apply_tag_scheme`)."""
    if not isinstance(tag, str) or not tag or any(c.isspace() for c in tag):
        raise InputError(f"{where}: bad tag {tag!r}: expected 'O' or a tag like 'B-PER' without spaces")


def apply_tag_scheme(sentences: list[Sentence], tag_scheme: str, label_scheme: str) -> str:
    """Read the tags of one file's sentences in `tag_scheme` and rewrite them in `label_scheme`, in place.

    `tag_scheme="auto"` detects the file's scheme (`tagging.detect_scheme`); a file that is ill-formed in it (an IOB2
    file with an entity starting with `I-`) is read as conlleval reads it, with a warning naming the file and line.
    A file that breaks the scheme it was declared to be in is an error naming the file and line: strict scoring of an
    IOB1 file read as IOB2, say, would silently score near zero. The original tags stay in `Sentence.file_tags`.
    Returns the file's scheme.
    """
    tagged = [s for s in sentences if s.tags is not None]
    if not tagged:  # untagged text: its predictions are written in the label scheme, or the declared one
        scheme = label_scheme if tag_scheme == "auto" else tag_scheme
        for s in sentences:
            s.file_scheme = scheme
        return scheme
    where = lambda s, i: f"{s.source}:{s.word_line(i)}"  # noqa: E731
    if tag_scheme == "auto":
        scheme, bad = tagging.detect_scheme([s.tags for s in tagged])
        if bad is not None:
            s, i = tagged[bad[0]], bad[1]
            logger.warning("%s: tag %r breaks the %s scheme; read leniently, as conlleval does", where(s, i),
                           s.tags[i], scheme)  # fmt: skip
    else:
        scheme = tag_scheme
        for s in tagged:
            i = tagging.first_violation(s.tags, scheme)
            if i is not None:
                hint = " (an IOB1 file? use --tag_scheme iob1 or auto)" if scheme == "iob2" else ""
                raise InputError(f"{where(s, i)}: tag {s.tags[i]!r} cannot stand there in {scheme}{hint}")
    if (scheme == "none") != (label_scheme == "none"):
        raise InputError(f"{tagged[0].source}: tags in scheme {scheme!r} cannot be learnt as {label_scheme!r}")
    for s in tagged:
        for i, tag in enumerate(s.tags):
            try:
                tagging.check_tag(tag, scheme)
            except tagging.TagSchemeError as err:
                raise InputError(f"{where(s, i)}: {err}") from err
        s.file_tags, s.file_scheme = s.tags, scheme
        s.tags = tagging.convert(s.tags, scheme, label_scheme)
    return scheme


def build_label_list(sentences: list[Sentence], label_scheme: str = "iob2") -> list[str]:
    """Deterministic label list: "O", then for each entity type in sorted order its tags in `label_scheme` (B, I,
    E, S as the scheme has them). With scheme "none", every tag seen, sorted."""
    types, tags = set(), set()
    tagged = False
    for sentence in sentences:
        if sentence.tags is None:
            continue
        tagged = True
        tags.update(sentence.tags)
        if label_scheme != "none":
            types.update(span[0] for span in tagging.get_spans(sentence.tags, label_scheme))
    if not tagged:
        raise InputError("cannot build a label list: no sentence has tags")
    if label_scheme == "none":
        return sorted(tags)
    return tagging.label_list(types, label_scheme)


def named_label_list(names, schemes: set[str], label_scheme: str, source: str) -> list[str] | None:
    """The label list that `names` fix (a `ClassLabel`'s, or `--label_names`), in their order so that ids stay the
    data's, when every split's `schemes` is the label scheme; else None, and the list is built from the data. Each
    name must be a tag of the label scheme, used by the data or not; `source` names where they came from."""
    if names is None or set(schemes) != {label_scheme}:
        return None
    for name in names:
        check_tag(name, source)
        try:
            tagging.check_tag(name, label_scheme)
        except tagging.TagSchemeError as err:
            raise InputError(f"{source}: {err}") from err
    return list(names)


def check_labels(sentences: list[Sentence], label2id: dict[str, int]) -> None:
    """Raise on the first tag that is not in `label2id`, naming its file, line and tag."""
    for sentence in sentences:
        for i, tag in enumerate(sentence.tags or ()):
            if tag not in label2id:
                raise InputError(
                    f"{sentence.source}:{sentence.word_line(i)}: tag {tag!r} (word {sentence.tokens[i]!r}) "
                    f"is not one of the training labels {sorted(label2id, key=label2id.get)}"
                )
