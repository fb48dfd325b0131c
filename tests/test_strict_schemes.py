"""`--strict` judges the tags in their own scheme: against seqeval's strict IOBES mode for BIOES, and against a
brute-force reading of well-formed spans, written here, for every chunk scheme."""

import random

import numpy as np
import pytest
from seqeval.metrics import accuracy_score, classification_report
from seqeval.scheme import IOB2, IOBES, Tokens
from transformers import EvalPrediction

from ner_trainer.data import WordAlignment
from ner_trainer.metrics import build_compute_metrics, classification_report_text, compute_ner_metrics
from ner_trainer.tagging import CHUNK_SCHEMES, TagSchemeError, convert, from_spans, get_spans, well_formed_spans

PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES", "bios": "BIS"}
TYPES = ("PER", "LOC-X")


def random_sentences(scheme: str, seed: int = 0, count: int = 400) -> tuple[list[list[str]], list[list[str]]]:
    """Gold tags (mostly well formed, some not) and predictions that are the gold ones with tags swapped at random
    (often ill formed), so that many predicted entities match a gold one and many are broken."""
    rng = random.Random(seed)
    any_tag = lambda: "O" if rng.random() < 0.3 else f"{rng.choice(PREFIXES[scheme])}-{rng.choice(TYPES)}"  # noqa: E731
    golds, preds = [], []
    for _ in range(count):
        length = rng.randint(1, 8)
        if rng.random() < 0.8:
            spans, i = [], 0
            while i < length:
                n = rng.randint(1, min(3, length - i))
                if rng.random() < 0.6:
                    spans.append((rng.choice(TYPES), i, i + n))
                i += n
            gold = from_spans(spans, length, scheme)
        else:
            gold = [any_tag() for _ in range(length)]
        golds.append(gold)
        preds.append([any_tag() if rng.random() < 0.25 else tag for tag in gold])
    return golds, preds


def brute_force_entities(tags: list[str], scheme: str) -> set[tuple[str, int, int]]:
    """Every `(type, start, end)` whose tags are exactly a well-formed entity of `scheme` that does not go on."""
    found = set()
    for start in range(len(tags)):
        for end in range(start + 1, len(tags) + 1):
            for x in {tag.partition("-")[2] for tag in tags[start:end]}:
                n, before = end - start, tags[start - 1] if start else "O"
                goes_on = end < len(tags) and tags[end] == f"I-{x}"
                inside = [f"I-{x}"] * (n - 1)
                if scheme == "iob2":
                    ok = tags[start:end] == [f"B-{x}"] + inside and not goes_on
                elif scheme == "bioes":
                    ok = tags[start:end] == ([f"S-{x}"] if n == 1 else [f"B-{x}"] + inside[1:] + [f"E-{x}"])
                elif scheme == "bios":  # S-X is whole, whatever follows; B-X needs I-X
                    ok = tags[start:end] == [f"S-{x}"] if n == 1 else tags[start:end] == [f"B-{x}"] + inside
                    ok = ok and not (n > 1 and goes_on)
                else:  # iob1: I-X starts an entity unless it follows an X tag; B-X only right after an X tag
                    after_x = before in (f"B-{x}", f"I-{x}")
                    first = f"B-{x}" if after_x else f"I-{x}"
                    ok = tags[start:end] == [first] + inside and not goes_on
                if ok:
                    found.add((x, start, end))
    return found


def scores(gold: set, pred: set) -> dict[str, float]:
    """Micro and per-type precision/recall/F1 and gold counts of entity sets `(sentence, type, start, end)`."""

    def prf(of_type):
        g, p = ({e for e in entities if of_type in ("", e[1])} for entities in (gold, pred))
        precision, recall = (len(g & p) / len(p) if p else 0.0), (len(g & p) / len(g) if g else 0.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "number": float(len(g))}

    result = prf("")
    del result["number"]
    for entity_type in {e[1] for e in gold | pred}:
        result.update({f"{entity_type}_{key}": value for key, value in prf(entity_type).items()})
    return result


def entity_scores(metrics: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in metrics.items() if key != "accuracy"}


def seqeval_scores(report: dict) -> dict[str, float]:
    """`scores`' keys from a seqeval `classification_report(output_dict=True)`."""
    names = {"precision": "precision", "recall": "recall", "f1": "f1-score", "number": "support"}
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    result = {key: float(micro[name]) for key, name in names.items() if key != "number"}
    for entity_type, row in report.items():
        if not entity_type.endswith(" avg"):
            result.update({f"{entity_type}_{key}": float(row[name]) for key, name in names.items()})
    return result


def test_bioes_strict_is_seqeval_strict_iobes():
    gold, pred = random_sentences("bioes")
    # seqeval's strict IOBES entities are exactly the well-formed spans, in ill-formed sequences too.
    broken = 0
    for tags in gold + pred:
        theirs = {(e.tag, e.start, e.end) for e in Tokens(tags, IOBES).entities}
        assert set(well_formed_spans(tags, "bioes")) == theirs, tags
        broken += theirs != set(get_spans(tags, "bioes"))
    assert broken > 150  # the comparison is not between well-formed sequences only

    report = classification_report(gold, pred, mode="strict", scheme=IOBES, output_dict=True, zero_division=0)
    strict = compute_ner_metrics(gold, pred, strict=True, scheme="bioes")
    assert entity_scores(strict) == pytest.approx(seqeval_scores(report))
    assert set(strict) == set(seqeval_scores(report)) | {"accuracy"}
    text = classification_report_text(gold, pred, strict=True, scheme="bioes")
    assert text == classification_report(gold, pred, mode="strict", scheme=IOBES, digits=4, zero_division=0)

    lenient = compute_ner_metrics(gold, pred, scheme="bioes")
    assert abs(strict["f1"] - lenient["f1"]) > 0.05  # ill-formed entities, dropped, matter
    assert strict["accuracy"] == accuracy_score(gold, pred) != lenient["accuracy"]  # tags as the scheme has them


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_strict_counts_the_brute_force_well_formed_entities(scheme):
    gold, pred = random_sentences(scheme, seed=1)
    entities = lambda seqs: {(n, *e) for n, tags in enumerate(seqs) for e in brute_force_entities(tags, scheme)}  # noqa: E731
    expected = scores(entities(gold), entities(pred))
    assert entity_scores(compute_ner_metrics(gold, pred, strict=True, scheme=scheme)) == pytest.approx(expected)
    lenient = {(n, *e) for n, tags in enumerate(pred) for e in get_spans(tags, scheme)}
    assert len(lenient - entities(pred)) > 100  # many predicted entities are ill formed
    for tags in gold + pred:
        assert set(well_formed_spans(tags, scheme)) == brute_force_entities(tags, scheme), tags


@pytest.mark.parametrize("scheme", CHUNK_SCHEMES)
def test_lenient_scores_and_strict_iob2_are_unchanged(scheme):
    """Lenient: seqeval's default reading of the tags rewritten in IOB2 through their spans; strict IOB2: seqeval's
    strict IOB2 mode on the tags as given. Accuracy: the words of the IOB2 rewrite; strict, the tags as given."""
    gold, pred = random_sentences(scheme, seed=2)
    in_iob2 = [[convert(tags, scheme, "iob2") if scheme != "iob2" else tags for tags in seqs] for seqs in (gold, pred)]
    accuracy = accuracy_score(*in_iob2)
    lenient = compute_ner_metrics(gold, pred, scheme=scheme)
    assert entity_scores(lenient) == pytest.approx(seqeval_scores(classification_report(*in_iob2, output_dict=True)))
    assert lenient["accuracy"] == accuracy
    assert compute_ner_metrics(gold, pred, strict=True, scheme=scheme)["accuracy"] == accuracy_score(gold, pred)
    assert classification_report_text(gold, pred, scheme=scheme) == classification_report(*in_iob2, digits=4)
    if scheme == "iob2":
        strict = compute_ner_metrics(gold, pred, strict=True)
        report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
        assert entity_scores(strict) == pytest.approx(seqeval_scores(report))
        assert abs(strict["f1"] - lenient["f1"]) > 0.01


@pytest.mark.parametrize("pred", [["I-X", "E-X", "O"], ["B-X", "I-X", "O"]])
def test_issue_examples_ill_formed_bioes_entities_count_only_leniently(pred):
    gold = [["B-X", "E-X", "O"]]
    lenient = compute_ner_metrics(gold, [pred], scheme="bioes")
    assert lenient["f1"] == lenient["X_f1"] == 1.0
    for scheme in ("bioes", "iobes"):
        strict = compute_ner_metrics(gold, [pred], strict=True, scheme=scheme)
        # one tag of three differs, as the scheme has them
        assert strict == {**lenient, "precision": 0.0, "recall": 0.0, "f1": 0.0, "X_precision": 0.0,
                          "X_recall": 0.0, "X_f1": 0.0, "accuracy": 2 / 3}  # fmt: skip
    row = lambda text: next(line.split()[1:] for line in text.splitlines() if line.split()[:1] == ["X"])  # noqa: E731
    assert row(classification_report_text(gold, [pred], scheme="bioes")) == ["1.0000", "1.0000", "1.0000", "1"]
    strict_text = classification_report_text(gold, [pred], strict=True, scheme="bioes")
    assert row(strict_text) == ["0.0000", "0.0000", "0.0000", "1"]


def test_bios_and_iob1_examples():
    # BIOS: a lone B-X is no entity (so X has no scores, as in seqeval's strict mode); S-X is one.
    bios = compute_ner_metrics([["B-X", "O", "S-Y"]], [["B-X", "O", "S-Y"]], strict=True, scheme="bios")
    assert bios == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0, "Y_precision": 1.0, "Y_recall": 1.0,
                    "Y_f1": 1.0, "Y_number": 1.0}  # fmt: skip
    assert compute_ner_metrics([["S-X", "O"]], [["S-X", "I-X"]], strict=True, scheme="bios")["f1"] == 1.0
    # IOB1: B-X starts an entity only right after an X tag.
    gold = [["I-X", "B-X", "O"]]
    assert compute_ner_metrics(gold, [["I-X", "B-X", "O"]], strict=True, scheme="iob1")["f1"] == 1.0
    strict = compute_ner_metrics(gold, [["B-X", "B-X", "O"]], strict=True, scheme="iob1")
    assert (strict["precision"], strict["recall"]) == (1.0, 0.5)
    assert compute_ner_metrics(gold, [["B-X", "B-X", "O"]], scheme="iob1")["f1"] == 1.0


def test_strict_refuses_tags_the_scheme_lacks():
    with pytest.raises(TagSchemeError, match="'E-X' has prefix 'E', which scheme bios does not use"):
        compute_ner_metrics([["B-X", "E-X"]], [["B-X", "I-X"]], strict=True, scheme="bios")
    with pytest.raises(TagSchemeError, match="bad tag 'B-'"):
        classification_report_text([["B-X", "E-X"]], [["B-", "E-X"]], strict=True, scheme="bioes")


def test_strict_compute_metrics_reads_the_label_scheme():
    """The Trainer's compute_metrics: gold "Peter Lee said" = B-PER E-PER O, predicted I-PER E-PER O."""
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    alignment = WordAlignment([0], [0], [[-1, 0, 1, 2, -1]], [3])
    predictions = np.array([[0, 2, 3, 0, 0]])  # argmaxed ids, one window
    gold = [["B-PER", "E-PER", "O"]]
    for strict, f1, accuracy in ((False, 1.0, 1.0), (True, 0.0, 2 / 3)):
        compute_metrics = build_compute_metrics(dict(enumerate(labels)), gold, alignment, strict, "bioes")
        metrics = compute_metrics(EvalPrediction(predictions=predictions, label_ids=None))
        assert compute_metrics.word_tags == [["I-PER", "E-PER", "O"]]
        assert (metrics["f1"], metrics["PER_f1"], metrics["PER_number"]) == (f1, f1, 1.0)
        assert metrics["accuracy"] == pytest.approx(accuracy)  # strict: I-PER is not B-PER


def test_strict_predictions_file_scores_as_the_run_did(tmp_path):
    """A BIOS run on an IOB2 file: `test_predictions.txt` (in the file's IOB2) holds, with --strict, only the
    entities strict scoring counts, so scoring the file gives the run's F1; leniently, every entity read."""
    from ner_trainer.data import Sentence, write_conll_predictions

    sentence = Sentence(["Peter", "Lee", "in", "Paris"], ["B-PER", "I-PER", "O", "S-LOC"], "t.txt", 1)
    sentence.file_tags, sentence.file_scheme = ["B-PER", "I-PER", "O", "B-LOC"], "iob2"
    predicted = ["B-PER", "I-PER", "O", "B-LOC"]  # in BIOS: PER well formed; a lone B-LOC is none
    for strict, expected in ((True, ["B-PER", "I-PER", "O", "O"]), (False, ["B-PER", "I-PER", "O", "B-LOC"])):
        path = tmp_path / "test_predictions.txt"
        write_conll_predictions(path, [sentence], [predicted], "bios", strict)
        rows = [line.split() for line in path.read_text().splitlines() if line]
        assert [row[2] for row in rows] == expected
        scores = compute_ner_metrics([sentence.tags], [predicted], strict=strict, scheme="bios")
        from_file = compute_ner_metrics([[row[1] for row in rows]], [[row[2] for row in rows]], scheme="iob2")
        assert from_file["f1"] == pytest.approx(scores["f1"])
