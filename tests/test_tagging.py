"""Tag schemes (`ner_trainer.tagging`): parsing, lenient spans checked against conlleval, conversion, detection and
the CRF transition tables."""

import ast
import itertools
import random
import sys
from pathlib import Path

import pytest

from ner_trainer import tagging
from ner_trainer.tagging import (
    CHUNK_SCHEMES,
    SCHEMES,
    TagSchemeError,
    allowed_transitions,
    check_tag,
    convert,
    detect_scheme,
    first_violation,
    from_spans,
    get_spans,
    label_list,
    normalize_scheme,
    split_tag,
)

SCHEME_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES", "bios": "BIS"}


def raises_one_line(fn, *args, match=None):
    with pytest.raises(TagSchemeError, match=match) as info:
        fn(*args)
    assert "\n" not in str(info.value)
    return str(info.value)


def random_spans(rng: random.Random, length: int, types=("PER", "ORG-X")) -> list[tuple[str, int, int]]:
    """Spans in order; two types only, so that entities of one type often touch (IOB1's B-)."""
    spans, i = [], 0
    while i < length:
        if rng.random() < 0.6:
            n = rng.randint(1, min(3, length - i))
            spans.append((rng.choice(types), i, i + n))
            i += n
        else:
            i += 1
    return spans


def random_tags(rng: random.Random, length: int, scheme: str) -> list[str]:
    """Any tags the scheme's prefixes allow, in any order (mostly ill-formed)."""
    return [
        "O" if rng.random() < 0.3 else f"{rng.choice(SCHEME_PREFIXES[scheme])}-{rng.choice(('PER', 'LOC-X'))}"
        for _ in range(length)
    ]


def conlleval_chunks(gold_seqs, pred_seqs) -> dict[str, tuple[int, int, int]]:
    """conlleval's (gold, found, correct) chunk counts per type, with the overall ones under "" (Python port of
    conlleval.pl, PyPI `conlleval` 0.2: a dev-only oracle, so only the tests that use it skip without it)."""
    conlleval = pytest.importorskip("conlleval")
    lines = []
    for gold, pred in zip(gold_seqs, pred_seqs):
        lines += [f"w {g} {p}" for g, p in zip(gold, pred)] + [""]
    result = conlleval.evaluate(lines)
    counts = {slot: values["stats"] for slot, values in result["slots"]["chunks"].items()}
    counts[""] = result["overall"]["chunks"]["stats"]
    return {slot: (s["gold"], s["pred"], s["correct"]) for slot, s in counts.items()}


def span_chunks(gold_seqs, pred_seqs, scheme) -> dict[str, tuple[int, int, int]]:
    """The same counts from `get_spans`: a chunk is correct when gold and prediction have the same span."""
    gold = {(n, *span) for n, tags in enumerate(gold_seqs) for span in get_spans(tags, scheme)}
    pred = {(n, *span) for n, tags in enumerate(pred_seqs) for span in get_spans(tags, scheme)}
    types = {span[1] for span in gold | pred}

    def count(of_type):
        pick = [{span for span in spans if of_type in ("", span[1])} for spans in (gold, pred)]
        return len(pick[0]), len(pick[1]), len(pick[0] & pick[1])

    return {t: count(t) for t in types | {""}}


# --- names, tags -------------------------------------------------------------------------------------------------


def test_module_imports_only_the_standard_library():
    tree = ast.parse(Path(tagging.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            assert node.module.split(".")[0] in sys.stdlib_module_names | {"__future__"}, node.module
        elif isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in sys.stdlib_module_names for alias in node.names)


def test_normalize_scheme_names_and_aliases():
    assert SCHEMES == ("iob1", "iob2", "bioes", "bios", "none")
    assert CHUNK_SCHEMES == ("iob1", "iob2", "bioes", "bios")
    for name in SCHEMES:
        assert normalize_scheme(name) == name
    assert normalize_scheme("bio") == "iob2"
    assert normalize_scheme("iobes") == "bioes"
    assert normalize_scheme("IOB2") == "iob2"
    assert normalize_scheme("auto", allow_auto=True) == "auto"
    assert issubclass(TagSchemeError, ValueError)


@pytest.mark.parametrize("name", ["auto", "iob3", "", "bi oes", None])
def test_normalize_scheme_rejects_unknown_names_listing_the_choices(name):
    message = raises_one_line(normalize_scheme, name)
    assert all(scheme in message for scheme in SCHEMES)
    assert "auto" not in message.split(":", 1)[1]
    if name != "auto":
        assert "auto" in raises_one_line(normalize_scheme, name, True)


def test_split_tag():
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("O") == ("O", None)
    assert split_tag("I-ORG-X") == ("I", "ORG-X")  # the type is everything after the first "-"
    assert split_tag("E-MISC") == ("E", "MISC")
    assert split_tag("S-a") == ("S", "a")


@pytest.mark.parametrize("tag", ["", "B-", "X-PER", "O-PER", "PER", "-PER", "b-PER", "B-PER X", "B-PE\nR", "O ", None])
def test_split_tag_rejects_malformed_tags(tag):
    raises_one_line(split_tag, tag)


def test_check_tag_knows_each_schemes_prefixes():
    for scheme, prefixes in SCHEME_PREFIXES.items():
        check_tag("O", scheme)
        for prefix in "BIES":
            if prefix in prefixes:
                check_tag(f"{prefix}-PER", scheme)
            else:
                assert scheme in raises_one_line(check_tag, f"{prefix}-PER", scheme)
        raises_one_line(check_tag, "NN", scheme)
        raises_one_line(check_tag, "B-", scheme)
    check_tag("S-PER", "iobes")  # aliases work everywhere
    for tag in ("NN", "O", "B-PER", "X-Y", "$"):
        check_tag(tag, "none")
    for tag in ("", "N N", "\t"):
        raises_one_line(check_tag, tag, "none")
    raises_one_line(check_tag, "O", "iob9")


# --- spans ---------------------------------------------------------------------------------------------------------

HAND_SPANS = [
    # CoNLL-2003 IOB1: B- only where an entity directly follows one of its type.
    ("iob1", "I-PER I-PER O I-LOC B-LOC", [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5)]),
    ("iob1", "I-PER I-LOC B-LOC I-LOC O", [("PER", 0, 1), ("LOC", 1, 2), ("LOC", 2, 4)]),
    ("iob2", "B-PER I-PER O B-LOC B-LOC I-LOC", [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6)]),
    ("iob2", "B-ORG-X I-ORG-X", [("ORG-X", 0, 2)]),
    ("iob2", "I-PER I-PER O I-LOC B-PER I-LOC", [("PER", 0, 2), ("LOC", 3, 4), ("PER", 4, 5), ("LOC", 5, 6)]),
    ("bioes", "B-PER I-PER E-PER S-LOC O B-LOC E-LOC", [("PER", 0, 3), ("LOC", 3, 4), ("LOC", 5, 7)]),
    ("bioes", "E-PER I-PER E-PER", [("PER", 0, 1), ("PER", 1, 3)]),
    ("bioes", "B-PER S-PER I-PER O", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3)]),
    ("bioes", "B-PER O I-LOC I-LOC B-LOC", [("PER", 0, 1), ("LOC", 2, 4), ("LOC", 4, 5)]),
    ("bioes", "B-PER E-LOC E-LOC", [("PER", 0, 1), ("LOC", 1, 2), ("LOC", 2, 3)]),
    ("bioes", "S-PER E-PER", [("PER", 0, 1), ("PER", 1, 2)]),
    ("bios", "B-PER I-PER I-PER S-LOC O B-LOC I-LOC", [("PER", 0, 3), ("LOC", 3, 4), ("LOC", 5, 7)]),
    ("bios", "B-PER S-PER I-PER I-LOC", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3), ("LOC", 3, 4)]),
    ("iob2", "", []),
    ("bios", "O O", []),
]


@pytest.mark.parametrize(("scheme", "tags", "spans"), HAND_SPANS)
def test_get_spans_hand_examples_agree_with_conlleval(scheme, tags, spans):
    tags = tags.split()
    assert get_spans(tags, scheme) == spans
    if tags:
        assert conlleval_chunks([tags], [tags])[""] == (len(spans),) * 3


def test_get_spans_rejects_tags_the_scheme_lacks_and_scheme_none():
    assert "position 1" in raises_one_line(get_spans, ["O", "E-PER"], "iob2")
    raises_one_line(get_spans, ["O", "NN"], "bioes")
    raises_one_line(get_spans, ["NN"], "none")
    assert get_spans(("B-PER", "E-PER"), "iobes") == [("PER", 0, 2)]


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_lenient_spans_match_conlleval_on_random_tags(scheme):
    rng = random.Random(f"conlleval-{scheme}")
    for _ in range(40):
        gold = [random_tags(rng, rng.randint(1, 12), scheme) for _ in range(6)]
        pred = [[random_tags(rng, 1, scheme)[0] if rng.random() < 0.25 else t for t in tags] for tags in gold]
        assert span_chunks(gold, gold, scheme) == conlleval_chunks(gold, gold)
        assert span_chunks(gold, pred, scheme) == conlleval_chunks(gold, pred)
        for tags in gold:  # every non-O tag lies in exactly one span
            covered = [i for _, start, end in get_spans(tags, scheme) for i in range(start, end)]
            assert covered == [i for i, tag in enumerate(tags) if tag != "O"]


def test_oracle_sees_differences():
    """The comparison above is not vacuous: conlleval's counts move when the spans do."""
    gold, pred = [["B-PER", "I-PER", "O"]], [["B-PER", "B-PER", "O"]]
    assert conlleval_chunks(gold, pred)[""] == (1, 2, 0) == span_chunks(gold, pred, "iob2")[""]


# --- from_spans, convert -------------------------------------------------------------------------------------------


def test_from_spans_renders_each_scheme():
    spans = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("LOC", 5, 8)]
    expected = {
        "iob1": "I-PER I-PER B-PER O I-LOC B-LOC I-LOC I-LOC",
        "iob2": "B-PER I-PER B-PER O B-LOC B-LOC I-LOC I-LOC",
        "bioes": "B-PER E-PER S-PER O S-LOC B-LOC I-LOC E-LOC",
        "bios": "B-PER I-PER S-PER O S-LOC B-LOC I-LOC I-LOC",
    }
    for scheme, tags in expected.items():
        assert from_spans(spans, 8, scheme) == tags.split()
        assert from_spans(reversed(spans), 8, scheme) == tags.split()  # any order
    assert from_spans([], 3, "bio") == ["O"] * 3
    assert from_spans([("ORG-X", 1, 3)], 3, "iobes") == ["O", "B-ORG-X", "E-ORG-X"]


@pytest.mark.parametrize(
    "spans", [[("PER", 0, 2), ("LOC", 1, 3)], [("PER", 2, 2)], [("PER", 0, 4)], [("PER", -1, 1)], [("A B", 0, 1)]]
)
def test_from_spans_rejects_bad_spans(spans):
    raises_one_line(from_spans, spans, 3, "iob2")


def test_from_spans_and_convert_refuse_scheme_none():
    raises_one_line(from_spans, [("PER", 0, 1)], 1, "none")
    raises_one_line(convert, ["B-PER"], "iob2", "none")
    raises_one_line(convert, ["NN"], "none", "iob2")
    assert convert(["NN", "VB", "O"], "none", "none") == ["NN", "VB", "O"]
    raises_one_line(convert, ["NN", "V B"], "none", "none")


def test_convert_hand_examples():
    assert convert("I-PER I-PER O I-LOC B-LOC".split(), "iob1", "iob2") == "B-PER I-PER O B-LOC B-LOC".split()
    assert convert("B-PER I-PER O B-LOC B-LOC".split(), "bio", "iob1") == "I-PER I-PER O I-LOC B-LOC".split()
    assert convert("B-PER I-PER O B-LOC".split(), "iob2", "iobes") == "B-PER E-PER O S-LOC".split()
    assert convert("B-PER I-PER I-PER S-LOC".split(), "bios", "bioes") == "B-PER I-PER E-PER S-LOC".split()
    # Ill-formed input is read leniently, as conlleval reads it, and comes out well formed.
    assert convert("O I-PER I-LOC".split(), "iob2", "iob2") == "O B-PER B-LOC".split()
    assert convert("B-PER O E-PER".split(), "bioes", "bios") == "S-PER O S-PER".split()


@pytest.mark.parametrize(("source", "target"), list(itertools.product(CHUNK_SCHEMES, repeat=2)))
def test_convert_round_trips_well_formed_tags(source, target):
    rng = random.Random(f"{source}-{target}")
    for _ in range(150):
        length = rng.randint(0, 12)
        spans = random_spans(rng, length)
        tags = from_spans(spans, length, source)
        assert first_violation(tags, source) is None
        assert get_spans(tags, source) == spans
        converted = convert(tags, source, target)
        assert converted == from_spans(spans, length, target)
        assert convert(converted, target, source) == tags


@pytest.mark.parametrize(("source", "target"), list(itertools.product(CHUNK_SCHEMES, repeat=2)))
def test_convert_keeps_the_lenient_spans_of_ill_formed_tags(source, target):
    rng = random.Random(f"ill-{source}-{target}")
    for _ in range(100):
        tags = random_tags(rng, rng.randint(0, 10), source)
        converted = convert(tags, source, target)
        assert first_violation(converted, target) is None
        assert get_spans(converted, target) == get_spans(tags, source)


# --- violations, detection -----------------------------------------------------------------------------------------

VIOLATIONS = [
    ("iob2", "B-PER I-PER O B-LOC", None),
    ("iob2", "I-PER", 0),
    ("iob2", "O I-PER", 1),
    ("iob2", "B-PER I-LOC", 1),
    ("iob2", "O E-PER", 1),
    ("iob2", "O NN", 1),
    ("iob1", "I-PER I-PER O I-LOC B-LOC", None),
    ("iob1", "B-PER", 0),
    ("iob1", "O B-PER", 1),
    ("iob1", "I-LOC B-PER", 1),
    ("bioes", "B-PER I-PER E-PER S-LOC O", None),
    ("bioes", "B-PER", 0),  # cannot end the sequence
    ("bioes", "B-PER I-PER", 1),
    ("bioes", "B-PER O", 1),
    ("bioes", "E-PER", 0),
    ("bioes", "S-PER E-PER", 1),
    ("bioes", "B-PER E-LOC", 1),
    ("bioes", "B-PER B-PER E-PER", 1),
    ("bios", "B-PER I-PER S-PER I-PER", 3),
    ("bios", "B-PER I-PER I-PER S-LOC", None),
    ("bios", "B-PER", 0),
    ("bios", "B-PER S-PER", 1),
    ("bios", "B-PER I-PER I-LOC", 2),
    ("bios", "O E-PER", 1),
    ("none", "NN VB O B-PER", None),
    ("none", "NN V\tB", 1),
    ("iobes", "", None),
]


@pytest.mark.parametrize(("scheme", "tags", "index"), VIOLATIONS)
def test_first_violation(scheme, tags, index):
    assert first_violation(tags.split(" ") if tags else [], scheme) == index


DETECTIONS = [
    ("iob1", [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"], ["O"]], ("iob1", None)),
    ("iob1 by a type change", [["I-PER", "I-LOC"]], ("iob1", None)),
    ("iob2", [["B-PER", "I-PER", "O"], ["B-LOC", "B-LOC", "I-LOC"]], ("iob2", None)),
    ("no entities", [["O", "O"], []], ("iob2", None)),
    ("nothing", [], ("iob2", None)),
    ("B- after its type only", [["B-PER", "B-PER"]], ("iob2", None)),
    ("mixed", [["B-PER", "I-PER", "O"], ["O", "I-LOC", "B-LOC"], ["I-PER"]], ("iob2", (1, 1))),
    ("mixed, IOB2 evidence last", [["O", "I-LOC"], ["B-PER"]], ("iob2", (0, 1))),
    ("bioes", [["B-PER", "E-PER", "S-LOC"], ["O"]], ("bioes", None)),
    ("bioes broken", [["S-PER"], ["O", "B-PER", "E-PER", "B-LOC", "O"]], ("bioes", (1, 4))),
    ("bios", [["B-PER", "I-PER", "S-LOC"]], ("bios", None)),
    ("bios broken", [["S-PER"], ["B-PER"]], ("bios", (1, 0))),
    ("pos tags", [["NN", "VB"], ["O"]], ("none", None)),
    ("odd prefix", [["B-PER"], ["X-PER"]], ("none", None)),
    ("bare prefix", [["B-"]], ("none", None)),
]


@pytest.mark.parametrize(("case", "sequences", "expected"), DETECTIONS, ids=[d[0] for d in DETECTIONS])
def test_detect_scheme(case, sequences, expected):
    assert detect_scheme(sequences) == expected
    assert detect_scheme(tuple(tags) for tags in sequences) == expected  # any iterable, read once


def test_detected_mixed_file_still_reads_as_conlleval():
    sequences = [["B-PER", "I-PER", "O"], ["O", "I-LOC", "B-LOC"]]
    scheme, where = detect_scheme(sequences)
    assert (scheme, where) == ("iob2", (1, 1))
    assert first_violation(sequences[1], scheme) == 1
    assert span_chunks(sequences, sequences, scheme) == conlleval_chunks(sequences, sequences)


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_detect_scheme_recognises_well_formed_files(scheme):
    rng = random.Random(f"detect-{scheme}")
    sequences = [from_spans(spans, n, scheme) for n in range(1, 40) for spans in [random_spans(rng, n)]]
    detected, where = detect_scheme(sequences)
    assert where is None
    assert detected == scheme


# --- labels, transitions -------------------------------------------------------------------------------------------


def test_label_list():
    assert label_list(["PER", "LOC", "PER"], "iob2") == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert label_list({"PER", "LOC"}, "iob1") == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert label_list(["PER"], "iobes") == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert label_list(["PER", "ORG-X"], "bios") == ["O", "B-ORG-X", "I-ORG-X", "S-ORG-X", "B-PER", "I-PER", "S-PER"]
    assert label_list([], "bio") == ["O"]
    assert label_list(["VB", "NN", "O"], "none") == ["NN", "O", "VB"]
    raises_one_line(label_list, ["A B"], "iob2")
    raises_one_line(label_list, [""], "bioes")


def test_allowed_transitions_hand_examples():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, allowed, end = allowed_transitions(labels, "iob2")
    assert start == [True, True, False, True, False]
    assert end == [True] * 5
    assert allowed[0] == [True, True, False, True, False]
    assert allowed[1] == [True, True, True, True, False]
    assert allowed[4] == [True, True, False, True, True]
    start, allowed, end = allowed_transitions(labels, "iob1")
    assert start == [True, False, True, False, True]
    assert allowed[2] == [True, True, True, False, True]
    start, allowed, end = allowed_transitions(["O", "B-PER", "I-PER", "E-PER", "S-PER"], "bioes")
    assert (start, end) == ([True, True, False, False, True], [True, False, False, True, True])
    assert allowed[1] == allowed[2] == [False, False, True, True, False]
    start, allowed, end = allowed_transitions(["O", "B-PER", "I-PER", "S-PER"], "bios")
    assert (start, end) == ([True, True, False, True], [True, False, True, True])
    assert allowed[1] == [False, False, True, False]
    assert allowed[2] == [True, True, True, True]
    start, allowed, end = allowed_transitions(["NN", "VB"], "none")
    assert (start, allowed, end) == ([True, True], [[True, True], [True, True]], [True, True])


def test_allowed_transitions_rejects_labels_outside_the_scheme():
    assert "label 1" in raises_one_line(allowed_transitions, ["O", "E-PER"], "iob2")
    raises_one_line(allowed_transitions, ["O", "NN"], "bioes")
    raises_one_line(allowed_transitions, ["O", "N N"], "none")


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_allowed_transitions_follow_the_label_order(scheme):
    labels = label_list(["LOC", "PER"], scheme)
    order = random.Random(scheme).sample(range(len(labels)), len(labels))
    start, allowed, end = allowed_transitions(labels, scheme)
    s2, a2, e2 = allowed_transitions([labels[i] for i in order], scheme)
    assert s2 == [start[i] for i in order] and e2 == [end[i] for i in order]
    assert a2 == [[allowed[i][j] for j in order] for i in order]


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_well_formed_sequences_use_only_allowed_transitions(scheme):
    labels = label_list(["PER", "ORG-X"], scheme)
    start, allowed, end = allowed_transitions(labels, scheme)
    index = {label: i for i, label in enumerate(labels)}
    rng = random.Random(f"transitions-{scheme}")
    for _ in range(200):
        length = rng.randint(1, 12)
        ids = [index[tag] for tag in from_spans(random_spans(rng, length), length, scheme)]
        assert start[ids[0]] and end[ids[-1]]
        assert all(allowed[i][j] for i, j in zip(ids, ids[1:]))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_transition_table_accepts_exactly_the_well_formed_sequences(scheme):
    """Brute force over every sequence of up to 4 labels of two types: accepted by the table <=> no violation <=>
    (for chunk schemes) the sequence is the rendering of its own spans."""
    labels = label_list(["A", "B"], scheme) if scheme != "none" else ["NN", "O", "VB"]
    start, allowed, end = allowed_transitions(labels, scheme)
    accepted_count = 0
    for length in range(5):
        for ids in itertools.product(range(len(labels)), repeat=length):
            tags = [labels[i] for i in ids]
            accepted = not ids or (start[ids[0]] and end[ids[-1]] and all(allowed[i][j] for i, j in zip(ids, ids[1:])))
            assert accepted == (first_violation(tags, scheme) is None), tags
            if scheme != "none":
                assert accepted == (from_spans(get_spans(tags, scheme), length, scheme) == tags), tags
            accepted_count += accepted
    assert 0 < accepted_count < sum(len(labels) ** n for n in range(5)) or scheme == "none"
