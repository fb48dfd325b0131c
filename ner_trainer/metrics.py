"""Entity-level NER metrics with seqeval, and a Trainer `compute_metrics` that scores whole words of whole sentences.

seqeval is called directly: `evaluate.load("seqeval")` would need the Hub.
"""

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from seqeval.metrics import accuracy_score, classification_report
from seqeval.scheme import IOB2, IOBES
from transformers import EvalPrediction

from trainer_common.errors import InputError

from .data import WordAlignment
from .tagging import check_tag, convert, normalize_scheme

OVERALL = ("precision", "recall", "f1", "accuracy")


def _check_tags(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> None:
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted ones")
    for i, (true, pred) in enumerate(zip(true_tags, pred_tags)):
        if len(true) != len(pred):
            raise ValueError(f"sentence {i} has {len(true)} gold tags but {len(pred)} predicted ones")
    if not any(true_tags):
        raise InputError("no tags to score: every sentence is empty")


# seqeval's IOB1 class is not used: in strict mode it reads `O B-X I-X` as the entity I-X.
_SEQEVAL_STRICT = {"iob2": IOB2, "bioes": IOBES}


def _for_seqeval(true_tags, pred_tags, scheme: str, strict: bool) -> tuple[list, list, dict]:
    """The gold and predicted tags to give seqeval, and its reading mode, to score the entities of `scheme` (see
    `compute_ner_metrics`)."""
    if not strict:
        return _in_iob2(true_tags, scheme), _in_iob2(pred_tags, scheme), {}
    if scheme in _SEQEVAL_STRICT:
        read, seqeval_scheme = _checked, _SEQEVAL_STRICT[scheme]
    else:  # only the well-formed entities, rewritten in IOB2 (where they stay well formed)
        read, seqeval_scheme = _well_formed_iob2, IOB2
    return read(true_tags, scheme), read(pred_tags, scheme), {"mode": "strict", "scheme": seqeval_scheme}


def _report(true_tags, pred_tags, mode: dict, **kwargs):
    with warnings.catch_warnings():
        # With no entity at all seqeval's macro average takes the mean of an empty array ("Mean of empty slice").
        warnings.simplefilter("ignore", RuntimeWarning)
        return classification_report(true_tags, pred_tags, zero_division=0, **mode, **kwargs)


def _checked(tag_lists, scheme: str) -> list[list[str]]:
    """The tags as lists, after checking each distinct tag against `scheme` (seqeval checks only the prefixes)."""
    if scheme != "iob2":  # IOB2 tags go to seqeval as they are, as they always have
        for tag in {tag for tags in tag_lists for tag in tags}:
            check_tag(tag, scheme)
    return [list(tags) for tags in tag_lists]


def _in_iob2(tag_lists, scheme: str) -> list[list[str]]:
    """Tags of any chunk scheme rewritten in IOB2 through their spans (read as conlleval reads them)."""
    return [list(tags) for tags in tag_lists] if scheme == "iob2" else [convert(t, scheme, "iob2") for t in tag_lists]


def _word_accuracy(true_tags, pred_tags, scheme: str, strict: bool) -> float:
    """The share of words whose tag is right: strict, the tags as given in `scheme` (S-X is not B-X in BIOS); else
    as conlleval reads them, after rewriting both in IOB2."""
    if strict:
        return float(accuracy_score([list(t) for t in true_tags], [list(t) for t in pred_tags]))
    return float(accuracy_score(_in_iob2(true_tags, scheme), _in_iob2(pred_tags, scheme)))


def _well_formed_iob2(tag_lists, scheme: str) -> list[list[str]]:
    """IOB2 tags of only the entities that are well formed in `scheme` (`tagging.well_formed_spans`)."""
    return [convert(tags, scheme, "iob2", strict=True) for tags in tag_lists]


def compute_label_metrics(true_tags, pred_tags) -> dict[str, float]:
    """For tags without chunks (scheme "none"): word accuracy, macro precision/recall/F1 over the labels (`f1` is
    the macro F1), and each label's `LABEL_precision`, `LABEL_recall`, `LABEL_f1`, `LABEL_number`."""
    true = [tag for tags in true_tags for tag in tags]
    pred = [tag for tags in pred_tags for tag in tags]
    metrics = {"accuracy": sum(t == p for t, p in zip(true, pred)) / len(true)}
    per_label = []
    for label in sorted(set(true) | set(pred)):
        hits = sum(t == p == label for t, p in zip(true, pred))
        gold, found = true.count(label), pred.count(label)
        precision, recall = hits / found if found else 0.0, hits / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics.update({f"{label}_precision": precision, f"{label}_recall": recall, f"{label}_f1": f1})
        metrics[f"{label}_number"] = float(gold)
        per_label.append((precision, recall, f1))
    for name, values in zip(("precision", "recall", "f1"), zip(*per_label)):
        metrics[name] = sum(values) / len(values)
    return metrics


def compute_ner_metrics(
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    strict: bool = False,
    scheme: str = "iob2",
) -> dict[str, float]:
    """Entity-level micro precision/recall/F1, word accuracy, and the same per entity type.

    Args:
        true_tags, pred_tags: one list of tags per sentence (`"O"`, `"B-PER"`, `"I-PER"`, ...) in `scheme`.
        strict: `False` scores entities as conlleval does (a stray `I-PER` starts an entity); `True` only counts
            entities that are well formed in `scheme`, in the gold tags as in the predicted ones (gold tags that the
            toolkit read are always well formed: it rewrites them in the label scheme through their spans):
            - iob2: seqeval `mode="strict", scheme=IOB2`: an entity starts with B-X.
            - bioes: seqeval `mode="strict", scheme=IOBES`: S-X, or B-X I-X... E-X (`I-X E-X` and a `B-X I-X`
              with no E-X are no entity).
            - bios: S-X, or B-X I-X... (seqeval has no BIOS; a lone B-X is no entity).
            - iob1: as conlleval reads it, but an entity that starts with a B-X not right after an X tag (the one
              thing IOB1 forbids) is no entity. seqeval's IOB1 class is not used: it would count the I-X of
              `O B-X I-X` as an entity.
            See `tagging.well_formed_spans`. `accuracy` compares the tags as given in `scheme` (leniently: rewritten
            in IOB2 first), and there is no strict "none".
        scheme: the tags' scheme. Entities are compared as spans, so the scores of any chunk scheme compare with
            IOB2's; "none" gives `compute_label_metrics` instead.

    Returns:
        Flat floats, so the Trainer can log them: `precision`, `recall`, `f1`, `accuracy`, and for every entity
        type TYPE found in the gold or the predicted tags `TYPE_precision`, `TYPE_recall`, `TYPE_f1`, and
        `TYPE_number` (its number of gold entities). A score whose denominator is 0 is 0.
    """
    _check_tags(true_tags, pred_tags)
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        return compute_label_metrics(true_tags, pred_tags)
    report = _report(*_for_seqeval(true_tags, pred_tags, scheme, strict), output_dict=True)
    micro = report.get("micro avg", {})
    metrics = {
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)),
        "accuracy": _word_accuracy(true_tags, pred_tags, scheme, strict),
    }
    for entity_type, scores in report.items():
        if entity_type.endswith(" avg"):
            continue
        metrics[f"{entity_type}_precision"] = float(scores["precision"])
        metrics[f"{entity_type}_recall"] = float(scores["recall"])
        metrics[f"{entity_type}_f1"] = float(scores["f1-score"])
        metrics[f"{entity_type}_number"] = float(scores["support"])
    return metrics


def classification_report_text(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], strict: bool = False, scheme: str = "iob2"
) -> str:
    """seqeval's per-type precision/recall/F1/support table with 4 digits, to save next to the metrics (for scheme
    "none", one line per label). `strict` and `scheme` as in `compute_ner_metrics`."""
    _check_tags(true_tags, pred_tags)
    scheme = normalize_scheme(scheme)
    if scheme == "none":
        metrics = compute_label_metrics(true_tags, pred_tags)
        labels = sorted(key[: -len("_number")] for key in metrics if key.endswith("_number"))
        rows = [f"{'label':>12} precision    recall  f1-score   support"]
        for label in labels + ["macro avg"]:
            key = "" if label == "macro avg" else f"{label}_"
            number = metrics.get(f"{key}number", sum(metrics[f"{lab}_number"] for lab in labels))
            p, r, f = (metrics[f"{key}{name}"] for name in ("precision", "recall", "f1"))
            rows.append(f"{label:>12} {p:9.4f} {r:9.4f} {f:9.4f} {int(number):9d}")
        return "\n".join(rows) + f"\n\naccuracy {metrics['accuracy']:.4f}\n"
    true_tags, pred_tags, mode = _for_seqeval(true_tags, pred_tags, scheme, strict)
    if all(name.endswith(" avg") for name in _report(true_tags, pred_tags, mode, output_dict=True)):
        return "No entities in the gold or the predicted tags.\n"  # seqeval's table fails without rows
    return _report(true_tags, pred_tags, mode, digits=4)


def predicted_tag_ids(logits, labels=None):
    """For `Trainer(preprocess_logits_for_metrics=...)`: keep the predicted tag ids, not all the logits, on each
    eval step (`num_labels` times less memory).

    Outside training, `BertTagger.forward` returns logits whose best-scoring tag is `BertTagger.decode`'s: the
    classifier's argmax for the linear head, the Viterbi path for the CRF. So the best-scoring tag here is the
    model's own decoding, as it is in `pipeline("token-classification")`.
    """
    if isinstance(logits, tuple):  # (logits, hidden_states, ...) when the model returns more
        logits = logits[0]
    return logits.argmax(-1)


def build_compute_metrics(
    id2label: Mapping[int, str],
    gold_tags: Sequence[Sequence[str]],
    alignment: WordAlignment,
    strict: bool = False,
    scheme: str = "iob2",
    per_type: bool = True,
) -> Callable[[EvalPrediction], dict[str, float]]:
    """A Trainer `compute_metrics` that scores the eval set's sentences word by word against their gold tags.

    Token predictions are mapped back to words (`WordAlignment.tag_ids`, first sub-tokens only), so the scores are
    those of the original sentences: not inflated by `label_all_tokens`, not skewed by sentences split into several
    windows. Every word must get exactly one prediction. Labels in `eval_pred` are not read.

    Args:
        id2label: tag of each class index (`model.config.id2label`).
        gold_tags: the eval set's word-level tags, one list per sentence.
        alignment: the eval feature rows' `WordAlignment`, in the eval dataset's row order.
        strict, scheme: see `compute_ner_metrics`.
        per_type: keep the per-type scores (`TYPE_f1`, ...); without, only the overall ones.

    Use with `preprocess_logits_for_metrics=predicted_tag_ids`, or let the Trainer pass the full logits. The last
    call's predicted tags stay in `compute_metrics.word_tags`: the final evaluation's, with no second pass.
    """
    id2label = {int(i): tag for i, tag in id2label.items()}  # JSON configs give str keys

    def compute_metrics(eval_pred: EvalPrediction) -> dict[str, float]:
        predictions = eval_pred.predictions
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        predictions = np.asarray(predictions)
        if predictions.ndim == 3:  # logits, padded with -100 across batches
            predictions = predictions.argmax(-1)
        words = alignment.tag_ids(predictions)
        unknown = sorted({i for ids in words for i in ids if i not in id2label})
        if unknown:
            raise ValueError(f"predicted ids {unknown} are not in id2label {dict(id2label)}")
        pred_tags = [[id2label[i] for i in ids] for ids in words]
        compute_metrics.word_tags = pred_tags
        metrics = compute_ner_metrics(gold_tags, pred_tags, strict=strict, scheme=scheme)
        return metrics if per_type else {key: metrics[key] for key in OVERALL}

    compute_metrics.word_tags = None
    return compute_metrics


__all__ = ["compute_ner_metrics", "classification_report_text", "predicted_tag_ids", "build_compute_metrics"]
