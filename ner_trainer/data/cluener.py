"""CLUENER2020 span JSON, `{"id", "text", "label": {type: {entity: [[start, end], ...]}}}`, end inclusive, character
offsets: read as one word per character, written back from predicted tags, and scored span by span.

A CLUE submission (`cluener_predict.json`) is the same format, one line per test line, keyed by `id`, without text.
"""

import logging

from trainer_common.errors import InputError

from .. import tagging
from .sentence import Sentence, check_keys, check_tag

logger = logging.getLogger(__name__)

RECORD_KEYS = ("id", "text", "label")
SUBMISSION_FILE = "cluener_predict.json"  # the CLUE benchmark's name: <task>_predict.json


def _offset(value) -> bool:
    return type(value) is int  # not bool, not 3.0


def _spans(record: dict, where: str) -> list[tuple[str, str, int, int]]:
    """(type, entity, start, end_inclusive) of every span in `label`, each checked against the text."""
    text, label = record["text"], record["label"]
    if not isinstance(label, dict) or not all(isinstance(entities, dict) for entities in label.values()):
        raise InputError(f"{where}: 'label' must look like {{type: {{entity: [[start, end], ...]}}}}")
    spans = set()
    for entity_type, entities in label.items():
        check_tag(f"B-{entity_type}", where)
        for entity, positions in entities.items():
            if not isinstance(positions, list):
                raise InputError(f"{where}: the spans of {entity_type} {entity!r} must be a list of [start, end]")
            for span in positions:
                if not (isinstance(span, list) and len(span) == 2 and all(_offset(i) for i in span)):
                    raise InputError(f"{where}: bad span {span!r} of {entity_type} {entity!r}: expected [start, end]")
                start, end = span
                if not 0 <= start <= end < len(text):
                    raise InputError(
                        f"{where}: span [{start}, {end}] of {entity_type} {entity!r} is outside the text "
                        f"({len(text)} characters)"
                    )
                if text[start : end + 1] != entity:
                    raise InputError(
                        f"{where}: span [{start}, {end}] of {entity_type} is {text[start : end + 1]!r}, "
                        f"not the entity {entity!r}"
                    )
                spans.add((entity_type, entity, start, end))  # a span listed twice is one span
    return sorted(spans, key=lambda s: (s[2] - s[3], s[2], s[0]))  # longest first, so that it is the one kept


def cluener_record(record: dict, where: str, path: str, line: int, overlapping_spans: str = "error") -> Sentence:
    """One sentence, a word per character, with IOB2 tags. Overlapping or nested spans cannot both be tagged: an
    error naming both, or with `overlapping_spans="keep_longest"` the longer one is kept and the other reported."""
    text = record["text"]
    check_keys(record, RECORD_KEYS, where)
    if record.get("label") is None:
        return Sentence(list(text), None, path, line, text=text, record_id=record.get("id"))
    tags = ["O"] * len(text)
    owner = [None] * len(text)
    for entity_type, entity, start, end in _spans(record, where):
        taken = next((owner[i] for i in range(start, end + 1) if owner[i] is not None), None)
        if taken is not None:
            message = (
                f"{where}: {entity_type} {entity!r} at [{start}, {end}] overlaps {taken[0]} {taken[1]!r} at "
                f"[{taken[2]}, {taken[3]}]"
            )
            if overlapping_spans == "error":
                hint = "one tag per character cannot hold both (--overlapping_spans keep_longest)"
                raise InputError(f"{message}; {hint}")
            logger.warning("%s; the longer one is kept", message)
            continue
        tags[start : end + 1] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (end - start)
        owner[start : end + 1] = [(entity_type, entity, start, end)] * (end - start + 1)
    return Sentence(list(text), tags, path, line, text=text, record_id=record.get("id"))


def is_span_json(sentences: list[Sentence]) -> bool:
    """Read from span JSON (CLUENER), one word per character: predictions go back to that format too."""
    return all(sentence.text is not None for sentence in sentences)


def tags_to_label(text: str, tags: list[str], scheme: str) -> dict:
    """CLUE's `label` of one text from its per-character tags: `{type: {entity: [[start, end_inclusive], ...]}}`,
    types and entities in order of first appearance."""
    label = {}
    for entity_type, start, end in tagging.get_spans(tags, scheme):
        label.setdefault(entity_type, {}).setdefault(text[start:end], []).append([start, end - 1])
    return label


def label_spans(label: dict | None) -> set[tuple[str, int, int]]:
    """The `(type, start, end_inclusive)` spans of a CLUE `label`."""
    return {
        (entity_type, start, end)
        for entity_type, entities in (label or {}).items()
        for positions in entities.values()
        for start, end in positions
    }


def span_scores(gold: list[dict | None], predicted: list[dict | None]) -> dict[str, float]:
    """CLUE's span-level scores of predicted `label`s against gold ones, text by text: a span counts when its type,
    start and end all match. Micro `precision`/`recall`/`f1` and each type's `TYPE_precision`, `TYPE_recall`,
    `TYPE_f1`, `TYPE_number` (gold spans); a score with a zero denominator is 0."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold texts but {len(predicted)} predicted ones")
    counts = {}  # type -> [hits, predicted, gold]
    for gold_label, predicted_label in zip(gold, predicted):
        gold_spans, predicted_spans = label_spans(gold_label), label_spans(predicted_label)
        for spans, column in ((gold_spans & predicted_spans, 0), (predicted_spans, 1), (gold_spans, 2)):
            for entity_type, _, _ in spans:
                counts.setdefault(entity_type, [0, 0, 0])[column] += 1
    metrics = {}
    for entity_type in sorted(counts):
        metrics.update(_prf(entity_type + "_", *counts[entity_type]))
        metrics[f"{entity_type}_number"] = float(counts[entity_type][2])
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {**_prf("", *totals), **metrics}


def _prf(prefix: str, hits: int, found: int, gold: int) -> dict[str, float]:
    precision = hits / found if found else 0.0
    recall = hits / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"{prefix}precision": precision, f"{prefix}recall": recall, f"{prefix}f1": f1}


def prediction_records(sentences: list[Sentence], predicted: list[list[str]], scheme: str) -> list[dict]:
    """One CLUE record per sentence: `{"id"?, "text", "label"}` with the predicted spans."""
    records = []
    for sentence, tags in zip(sentences, predicted):
        text = sentence.text if sentence.text is not None else "".join(sentence.tokens)
        record = {} if sentence.record_id is None else {"id": sentence.record_id}
        records.append({**record, "text": text, "label": tags_to_label(text, tags, scheme)})
    return records


def submission_records(sentences: list[Sentence], predicted: list[list[str]], scheme: str) -> list[dict]:
    """The CLUE benchmark's submission: `{"id", "label"}` per test line, in input order. Every line needs its id."""
    missing = next((s for s in sentences if s.record_id is None), None)
    if missing is not None:
        raise InputError(f"{missing.source}:{missing.line}: no 'id', which the CLUE submission is keyed by")
    return [{"id": r["id"], "label": r["label"]} for r in prediction_records(sentences, predicted, scheme)]


def write_span_outputs(out_dir: str, split: str, sentences: list[Sentence], predicted: list[list[str]], scheme: str):
    """Predictions of span JSON sentences back in CLUE's format, and their span scores. Tagged sentences:
    `{split}_predictions.json` and `{split}_span_metrics.json` beside it; returns the metrics as `{split}_span_*`.
    Untagged ones: the CLUE submission (`cluener_predict.json`); returns {}."""
    from trainer_common.io import write_json, write_jsonl

    if any(sentence.tags is None for sentence in sentences):
        write_jsonl(f"{out_dir}/{SUBMISSION_FILE}", submission_records(sentences, predicted, scheme))
        return {}
    records = prediction_records(sentences, predicted, scheme)
    write_jsonl(f"{out_dir}/{split}_predictions.json", records)
    gold = [tags_to_label(record["text"], sentence.tags, scheme) for record, sentence in zip(records, sentences)]
    metrics = span_scores(gold, [record["label"] for record in records])
    write_json(f"{out_dir}/{split}_span_metrics.json", metrics)
    return {f"{split}_span_{name}": value for name, value in metrics.items()}
