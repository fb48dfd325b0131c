"""Sentence-level classification metrics (accuracy, macro F1, MCC, per-class scores), the confusion matrix, their text
tables, and a Trainer `compute_metrics`. numpy only: scikit-learn is the tests' oracle, not a dependency."""

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
from transformers import EvalPrediction

from trainer_common.errors import InputError

PER_CLASS = ("precision", "recall", "f1", "support")
OVERALL = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "mcc")


def check_label_names(label_names: Sequence[str]) -> None:
    """Label names must be distinct, and no class's keys (`NAME_f1`, ...) may be an overall key: a label named
    "macro" would write its F1 over `macro_f1`."""
    seen = set()
    for name in label_names:
        if name in seen:
            raise InputError(f"label name {name!r} is given twice; every class needs a name of its own")
        seen.add(name)
    clashes = sorted({name for name in label_names for score in PER_CLASS if f"{name}_{score}" in OVERALL})
    if clashes:
        raise InputError(f"label name {clashes[0]!r} would give metric keys that are the macro average's "
                         f"({clashes[0]}_f1 is macro_f1); rename that label")  # fmt: skip


def _ids(values, name: str, num_labels: int) -> np.ndarray:
    ids = np.asarray(values)
    if ids.ndim != 1:
        raise ValueError(f"{name} ids must be one per example, not an array of shape {ids.shape}")
    if ids.size and not np.array_equal(ids, np.round(ids)):
        raise ValueError(f"{name} ids must be integers")
    ids = ids.astype(np.int64)
    outside = np.unique(ids[(ids < 0) | (ids >= num_labels)])
    if outside.size:
        raise ValueError(f"{name} ids {outside[:10].tolist()} are not class ids (0 to {num_labels - 1})")
    return ids


def confusion_matrix(gold, predicted, num_labels: int) -> np.ndarray:
    """Counts of shape (num_labels, num_labels): rows are the gold classes, columns the predicted ones (as
    `sklearn.metrics.confusion_matrix(gold, predicted, labels=range(num_labels))`)."""
    gold, predicted = _ids(gold, "gold", num_labels), _ids(predicted, "predicted", num_labels)
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predicted ones")
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (gold, predicted), 1)
    return matrix


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where the denominator is 0 (scikit-learn's `zero_division=0`)."""
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def matthews_corrcoef(matrix: np.ndarray) -> float:
    """The multi-class Matthews correlation of a confusion matrix (Gorodkin's R_K, scikit-learn's
    `matthews_corrcoef`); 0 when gold or predicted holds a single class (the formula's 0/0)."""
    matrix = np.asarray(matrix, dtype=np.float64)  # float: the products below overflow int64 from ~55k examples
    gold_counts, predicted_counts = matrix.sum(axis=1), matrix.sum(axis=0)
    correct, total = np.trace(matrix), matrix.sum()
    covariance = correct * total - gold_counts @ predicted_counts
    gold_spread = total**2 - gold_counts @ gold_counts
    predicted_spread = total**2 - predicted_counts @ predicted_counts
    if gold_spread == 0 or predicted_spread == 0:
        return 0.0
    return float(covariance / np.sqrt(gold_spread) / np.sqrt(predicted_spread))


def _scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    hits = np.diag(matrix)
    support, found = matrix.sum(axis=1), matrix.sum(axis=0)
    precision, recall = _ratio(hits, found), _ratio(hits, support)
    f1 = _ratio(2 * hits, support + found)  # = 2PR / (P + R), and 0 where both are 0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support, "seen": (support + found) > 0}


def classification_metrics(gold, predicted, label_names: Sequence[str]) -> dict[str, float]:
    """Scores of predicted class ids against gold ones.

    Args:
        gold, predicted: one integer class id per example (0 to `len(label_names) - 1`).
        label_names: each class id's name.

    Returns:
        Flat floats, so the Trainer can log them:
        - `accuracy`; `mcc`, the multi-class Matthews correlation (`sklearn.metrics.matthews_corrcoef`);
        - `macro_precision`, `macro_recall`, `macro_f1`: the unweighted means over the classes found in the gold
          or the predicted ids (scikit-learn's `average="macro"`); a class in neither has nothing to score;
        - for every class NAME, seen or not (so each evaluation logs the same keys): `NAME_precision`,
          `NAME_recall`, `NAME_f1` and `NAME_support` (its number of gold examples).
        A score whose denominator is 0 (precision of a class never predicted, recall of a class never in gold) is
        0, as scikit-learn's `zero_division=0` gives. A label name whose keys would clash is an error
        (`check_label_names`).
    """
    check_label_names(label_names)
    matrix = confusion_matrix(gold, predicted, len(label_names))
    total = int(matrix.sum())
    if total == 0:
        raise InputError("no examples to score: the evaluation set is empty")
    scores = _scores(matrix)
    metrics = {"accuracy": float(np.trace(matrix) / total)}
    for score in ("precision", "recall", "f1"):
        metrics[f"macro_{score}"] = float(scores[score][scores["seen"]].mean())
    metrics["mcc"] = matthews_corrcoef(matrix)
    for i, name in enumerate(label_names):
        metrics.update({f"{name}_{score}": float(scores[score][i]) for score in PER_CLASS})
    return metrics


def predicted_ids(predictions) -> np.ndarray:
    """Class ids from a model's output: logits of shape (n, num_labels) give their argmax; ids pass as they are. A
    tuple (logits, hidden states, ...) gives its first array."""
    if isinstance(predictions, tuple | list):
        predictions = predictions[0]
    predictions = np.asarray(predictions)
    return predictions.argmax(-1) if predictions.ndim == 2 else predictions


def build_compute_metrics(
    label_names: Sequence[str], per_class: bool = True
) -> Callable[[EvalPrediction], dict[str, float]]:
    """A Trainer `compute_metrics`: `classification_metrics` of the predictions (logits or class ids, see
    `predicted_ids`) against `label_ids`. Without `per_class`, only the overall scores (`OVERALL`).

    The label names are checked here (`check_label_names`), so a bad one stops the run before training. The last
    call's predicted ids stay in `compute_metrics.predicted_ids`: the final evaluation's, with no second pass.
    """
    label_names = list(label_names)
    check_label_names(label_names)

    def compute_metrics(eval_pred: EvalPrediction) -> dict[str, float]:
        predicted = predicted_ids(eval_pred.predictions)
        gold = eval_pred.label_ids[0] if isinstance(eval_pred.label_ids, tuple) else eval_pred.label_ids
        metrics = classification_metrics(gold, predicted, label_names)
        compute_metrics.predicted_ids = predicted
        return metrics if per_class else {key: metrics[key] for key in OVERALL}

    compute_metrics.predicted_ids = None
    return compute_metrics


def _width(text: str) -> int:
    """Terminal columns of `text`: wide (CJK) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _right(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def report_text(gold, predicted, label_names: Sequence[str], digits: int = 4) -> str:
    """A per-class precision/recall/F1/support table with the accuracy, macro average and MCC lines below it, laid
    out as `sklearn.metrics.classification_report`. A class in neither the gold nor the predicted ids shows `-`:
    it is left out of the macro average (see `classification_metrics`)."""
    label_names = list(label_names)
    metrics = classification_metrics(gold, predicted, label_names)
    seen = _scores(confusion_matrix(gold, predicted, len(label_names)))["seen"]
    name_width = max([_width(name) for name in label_names] + [len("macro avg"), digits])
    column = max(10, digits + 4)
    header = _right("", name_width) + "".join(f"{title:>{column}}" for title in ("precision", "recall", "f1-score"))
    lines = [header + f"{'support':>{column}}", ""]

    def cell(value) -> str:
        if value is None:
            return " " * column
        return f"{value:>{column}}" if isinstance(value, str) else f"{value:{column}.{digits}f}"

    def row(name, values, support=""):
        return _right(name, name_width) + "".join(cell(value) for value in values) + f"{support:>{column}}"

    for i, name in enumerate(label_names):
        values = [metrics[f"{name}_{s}"] if seen[i] else "-" for s in ("precision", "recall", "f1")]
        lines.append(row(name, values, int(metrics[f"{name}_support"])))
    total = int(sum(metrics[f"{name}_support"] for name in label_names))
    lines += ["", row("accuracy", [None, None, metrics["accuracy"]], total)]
    lines.append(row("macro avg", [metrics[f"macro_{s}"] for s in ("precision", "recall", "f1")], total))
    lines.append(row("MCC", [None, None, metrics["mcc"]]))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def confusion_table_text(matrix, label_names: Sequence[str]) -> str:
    """The confusion matrix as an aligned text table: a row per gold class, a column per predicted class. Columns
    are headed by the class names when all are short, else by the class numbers that start the rows."""
    matrix = np.asarray(matrix)
    label_names = list(label_names)
    if matrix.shape != (len(label_names), len(label_names)):
        raise ValueError(f"a confusion matrix of shape {matrix.shape} for {len(label_names)} labels")
    numbered = any(_width(name) > 12 for name in label_names)
    heads = [str(i) for i in range(len(label_names))] if numbered else label_names
    rows = [f"{i} {name}" if numbered else name for i, name in enumerate(label_names)]
    column = max([_width(head) for head in heads] + [len(str(matrix.max(initial=0)))]) + 2
    corner = "gold \\ predicted"
    first = max([_width(corner)] + [_width(name) for name in rows])
    lines = [_left(corner, first) + "".join(_right(head, column) for head in heads)]
    for name, counts in zip(rows, matrix):
        lines.append(_left(name, first) + "".join(_right(str(int(count)), column) for count in counts))
    return "\n".join(lines) + "\n"


__all__ = [
    "check_label_names",
    "classification_metrics",
    "confusion_matrix",
    "matthews_corrcoef",
    "predicted_ids",
    "build_compute_metrics",
    "report_text",
    "confusion_table_text",
]
