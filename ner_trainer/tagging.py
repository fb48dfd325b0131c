"""Tag schemes of the NER tagger: parsing, spans, conversion, detection and CRF transition constraints.

Standard library only: this file is copied to the Hub as remote code next to the model file.

Schemes: "iob1", "iob2" (alias "bio"), "bioes" (alias "iobes"), "bios" (CLUENER: B, I up to the last token, S for
single tokens) and "none" (tags without chunk prefixes, e.g. POS tags). A chunk tag is "O" or PREFIX-TYPE; TYPE is
everything after the first "-", so "B-ORG-X" has type "ORG-X".

Spans are read leniently, exactly as conlleval chunks (its Python port, which also knows S and BIOES's E): every
non-O tag continues the entity before it if its prefix is I or E and the previous tag is B or I of the same type, and
starts a new entity otherwise. Well-formed sequences thus give the obvious spans in every scheme. `well_formed_spans`
keeps only the spans that are well formed in the scheme: the entities that strict scoring counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SCHEMES = ("iob1", "iob2", "bioes", "bios", "none")
CHUNK_SCHEMES = ("iob1", "iob2", "bioes", "bios")
_ALIASES = {"bio": "iob2", "iobes": "bioes"}
_PREFIXES = {"iob1": ("B", "I"), "iob2": ("B", "I"), "bioes": ("B", "I", "E", "S"), "bios": ("B", "I", "S")}
_OUTSIDE = ("O", None)  # what lies before and after every sequence, as conlleval's sentence boundary

Tag = tuple[str, str | None]


class TagSchemeError(ValueError):
    """A bad scheme name, a malformed tag, or a tag the scheme does not allow. The message is one line."""


def normalize_scheme(name: str, allow_auto: bool = False) -> str:
    """The canonical name of scheme `name` (case-insensitive, aliases "bio" and "iobes" resolved).

    "auto" is returned as is when `allow_auto`; anything else unknown raises `TagSchemeError`.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    key = _ALIASES.get(key, key)
    if key in SCHEMES or (allow_auto and key == "auto"):
        return key
    choices = ", ".join(SCHEMES + (("auto",) if allow_auto else ()))
    raise TagSchemeError(f"unknown tag scheme {name!r}: expected one of {choices} (aliases: bio, iobes)")


def _is_plain_tag(tag: object) -> bool:
    return isinstance(tag, str) and bool(tag) and not any(c.isspace() for c in tag)


def split_tag(tag: str) -> tuple[str, str | None]:
    """`("B", "PER")` for "B-PER", `("O", None)` for "O"; `TagSchemeError` for anything else ("B-", "X-PER", "")."""
    if tag == "O":
        return _OUTSIDE
    if _is_plain_tag(tag):
        prefix, dash, type_ = tag.partition("-")
        if dash and type_ and prefix in ("B", "I", "E", "S"):
            return prefix, type_
    raise TagSchemeError(f"bad tag {tag!r}: expected 'O' or PREFIX-TYPE with PREFIX one of B, I, E, S")


def check_tag(tag: str, scheme: str) -> None:
    """Raise `TagSchemeError` unless `tag` is well formed and its prefix is one that `scheme` uses.

    With scheme "none" any non-empty tag without whitespace is fine.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        if not _is_plain_tag(tag):
            raise TagSchemeError(f"bad tag {tag!r}: expected a non-empty tag without whitespace")
        return
    prefix, _ = split_tag(tag)
    if prefix != "O" and prefix not in _PREFIXES[scheme]:
        uses = ", ".join(("O",) + _PREFIXES[scheme])
        raise TagSchemeError(f"tag {tag!r} has prefix {prefix!r}, which scheme {scheme} does not use ({uses})")


def _chunk_scheme(scheme: str) -> str:
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        raise TagSchemeError("scheme 'none' has no entity spans")
    return scheme


def _parse(tags: Sequence[str], scheme: str) -> list[Tag]:
    """Split every tag after checking it against `scheme` (a chunk scheme); errors name the position."""
    parsed, seen = [], {}  # a tag set is small: check each distinct tag once
    for i, tag in enumerate(tags):
        split = seen.get(tag) if isinstance(tag, str) else None
        if split is None:
            try:
                check_tag(tag, scheme)
            except TagSchemeError as err:
                raise TagSchemeError(f"position {i}: {err}") from None
            split = seen[tag] = split_tag(tag)
        parsed.append(split)
    return parsed


def get_spans(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    """Entities of `tags` as `(type, start, end_exclusive)`, in order, read leniently as conlleval reads them."""
    return _spans(_parse(tags, _chunk_scheme(scheme)))


def well_formed_spans(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    """The spans of `get_spans` that are well formed in `scheme`: the entities that strict scoring counts.

    A span is well formed when its first tag may start an entity and its last tag may end one: in iob2 it starts
    with B-X; in bioes it is S-X or B-X I-X... E-X; in bios S-X or B-X I-X... (a lone B-X is not). What lies around
    the span does not matter, as in seqeval's strict mode: `B-X B-X E-X` has the entity B-X E-X. Except in iob1,
    whose one rule is about the tag before: a span that starts with B-X is well formed only right after an X tag.
    """
    scheme = _chunk_scheme(scheme)
    parsed = _parse(tags, scheme)
    kept = []
    for type_, start, end in _spans(parsed):
        before = parsed[start - 1] if scheme == "iob1" and start else _OUTSIDE
        if _can_follow(before, parsed[start], scheme) and _can_follow(parsed[end - 1], _OUTSIDE, scheme):
            kept.append((type_, start, end))
    return kept


def _spans(parsed: Sequence[Tag]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    prev_prefix, prev_type = _OUTSIDE
    start = None
    for i, (prefix, type_) in enumerate(parsed):
        # conlleval's startOfChunk/endOfChunk come down to this: only I or E right after B/I of its type continues.
        continues = prefix in ("I", "E") and prev_prefix in ("B", "I") and type_ == prev_type
        if start is not None and not continues:
            spans.append((prev_type, start, i))
            start = None
        if prefix != "O" and not continues:
            start = i
        prev_prefix, prev_type = prefix, type_
    if start is not None:
        spans.append((prev_type, start, len(parsed)))
    return spans


def from_spans(spans: Iterable[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """`length` tags in `scheme` marking `spans` (`(type, start, end_exclusive)`, non-overlapping, any order)."""
    scheme = _chunk_scheme(scheme)
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for type_, start, end in sorted(spans, key=lambda span: (span[1], span[2])):
        if not _is_plain_tag(type_) or not 0 <= start < end <= length or start < prev_end:
            span = (type_, start, end)
            raise TagSchemeError(f"bad span {span!r}: spans must be non-empty, inside 0..{length} and not overlap")
        if scheme == "iob1":
            # B only where an entity directly follows one of its type: elsewhere I starts an entity.
            first = "B" if (start == prev_end and type_ == prev_type) else "I"
            tags[start:end] = [f"{first}-{type_}"] + [f"I-{type_}"] * (end - start - 1)
        elif end - start == 1 and scheme in ("bioes", "bios"):
            tags[start] = f"S-{type_}"
        else:
            tags[start:end] = [f"B-{type_}"] + [f"I-{type_}"] * (end - start - 1)
            if scheme == "bioes":
                tags[end - 1] = f"E-{type_}"
        prev_end, prev_type = end, type_
    return tags


def convert(tags: Sequence[str], source: str, target: str, strict: bool = False) -> list[str]:
    """`tags` in scheme `source` rewritten in scheme `target` through their spans: read leniently, or with `strict`
    only those well formed in `source` (`well_formed_spans`: the entities strict scoring counts).

    "none" converts only to itself (an identity, after checking the tags).
    """
    source, target = normalize_scheme(source), normalize_scheme(target)
    if source == target == "none":
        for tag in tags:
            check_tag(tag, "none")
        return list(tags)
    if "none" in (source, target):
        raise TagSchemeError(f"cannot convert tags from scheme {source} to {target}: 'none' has no entities")
    spans = well_formed_spans(tags, source) if strict else get_spans(tags, source)
    return from_spans(spans, len(tags), target)


def _can_follow(prev: Tag, cur: Tag, scheme: str) -> bool:
    """Whether tag `cur` may directly follow tag `prev` in a well-formed sequence (`_OUTSIDE` stands for a
    boundary, so that this one relation also says which tags may start or end a sequence)."""
    (p, p_type), (c, c_type) = prev, cur
    after_same = p in ("B", "I") and p_type == c_type
    if scheme == "iob2":
        return c != "I" or after_same
    if scheme == "iob1":
        return c != "B" or after_same
    if scheme == "bioes":
        return (c in ("I", "E") and after_same) if p in ("B", "I") else c in ("O", "B", "S")
    if scheme == "bios":
        return after_same if c == "I" else p != "B"
    return True  # "none"


def first_violation(tags: Sequence[str], scheme: str) -> int | None:
    """Index of the first tag that no well-formed sequence of `scheme` can have there, else None.

    That is a tag that cannot follow the one before it (or start the sequence), the last tag if a sequence cannot end
    with it (a BIOES B-X), or a tag that is malformed or uses a prefix the scheme lacks.
    """
    scheme = normalize_scheme(scheme)
    prev = _OUTSIDE
    for i, tag in enumerate(tags):
        try:
            check_tag(tag, scheme)
        except TagSchemeError:
            return i
        cur = split_tag(tag) if scheme != "none" else (tag, None)
        if not _can_follow(prev, cur, scheme):
            return i
        prev = cur
    return len(tags) - 1 if not _can_follow(prev, _OUTSIDE, scheme) else None


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> tuple[str, tuple[int, int] | None]:
    """The scheme of a file's tag sequences, and `(sequence_index, tag_index)` of the first tag that breaks it.

    A tag other than "O" without a B/I/E/S prefix means "none"; an E- prefix "bioes"; S- without E- "bios".
    Otherwise: an I-X starting an entity is IOB1 evidence, a B-X not after an X tag IOB2 evidence (IOB1 has none).
    Only IOB1 evidence gives "iob1", anything else "iob2"; with both, the position returned is the first I-X that
    starts an entity (read leniently, it still gives conlleval's entities). For bioes/bios it is the first violation.
    """
    sequences = [list(tags) for tags in tag_sequences]
    try:
        parsed = [[split_tag(tag) for tag in tags] for tags in sequences]
    except TagSchemeError:
        return "none", None
    prefixes = {prefix for tags in parsed for prefix, _ in tags}
    if "E" in prefixes or "S" in prefixes:
        scheme = "bioes" if "E" in prefixes else "bios"
        for s, tags in enumerate(sequences):
            i = first_violation(tags, scheme)
            if i is not None:
                return scheme, (s, i)
        return scheme, None
    iob1_at, iob2_seen = None, False
    for s, tags in enumerate(parsed):
        for i, (prefix, type_) in enumerate(tags):
            p, p_type = tags[i - 1] if i else _OUTSIDE
            after_same = p in ("B", "I") and p_type == type_
            if prefix == "I" and not after_same and iob1_at is None:
                iob1_at = (s, i)
            iob2_seen = iob2_seen or (prefix == "B" and not after_same)
    if iob1_at is not None and not iob2_seen:
        return "iob1", None
    return "iob2", iob1_at


def label_list(types: Iterable[str], scheme: str) -> list[str]:
    """Deterministic labels: "O", then for each entity type in sorted order its tags in `scheme`, prefixes in the
    order B, I, E, S. For scheme "none", `types` are the tags themselves: they come back sorted."""
    scheme = normalize_scheme(scheme)
    types = sorted(set(types))
    for type_ in types:
        if not _is_plain_tag(type_):
            raise TagSchemeError(f"bad entity type {type_!r}: expected a non-empty string without whitespace")
    if scheme == "none":
        return types
    return ["O"] + [f"{prefix}-{type_}" for type_ in types for prefix in _PREFIXES[scheme]]


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """CRF constraints over `labels` in their order: `(allowed_start, allowed, allowed_end)` with `allowed[i][j]`
    whether label j may follow label i. Exactly the sequences these allow have `first_violation(...) is None`."""
    scheme = normalize_scheme(scheme)
    for i, label in enumerate(labels):
        try:
            check_tag(label, scheme)
        except TagSchemeError as err:
            raise TagSchemeError(f"label {i}: {err}") from None
    parsed = [split_tag(label) if scheme != "none" else (label, None) for label in labels]
    start = [_can_follow(_OUTSIDE, cur, scheme) for cur in parsed]
    allowed = [[_can_follow(prev, cur, scheme) for cur in parsed] for prev in parsed]
    end = [_can_follow(prev, _OUTSIDE, scheme) for prev in parsed]
    return start, allowed, end
