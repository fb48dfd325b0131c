"""Classification metrics against scikit-learn, their text tables, the figures, and test_predictions.tsv."""

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sklearn import metrics as sk
from transformers import EvalPrediction

from cls_trainer.metrics import (
    build_compute_metrics,
    check_label_names,
    classification_metrics,
    confusion_matrix,
    confusion_table_text,
    report_text,
)
from cls_trainer.outputs import (
    escape_field,
    prediction_table,
    read_test_predictions,
    unescape_field,
    write_test_predictions,
)
from cls_trainer.plots import write_confusion_matrix, write_training_curves
from trainer_common.errors import InputError

NAMES = ["negative", "very positive", "neutral", "mixed", "other"]


def sklearn_oracle(gold, predicted, num_labels):
    labels = list(range(num_labels))
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    macro = sk.precision_recall_fscore_support(gold, predicted, average="macro", zero_division=0)
    return {
        "accuracy": sk.accuracy_score(gold, predicted),
        "macro_precision": macro[0],
        "macro_recall": macro[1],
        "macro_f1": sk.f1_score(gold, predicted, average="macro", zero_division=0),
        "mcc": sk.matthews_corrcoef(gold, predicted),
        "per_class": (precision, recall, f1, support),
        "matrix": sk.confusion_matrix(gold, predicted, labels=labels),
    }


def assert_matches_sklearn(gold, predicted, names):
    ours, oracle = classification_metrics(gold, predicted, names), sklearn_oracle(gold, predicted, len(names))
    for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "mcc"):
        assert ours[key] == pytest.approx(oracle[key], abs=1e-12), key
    for i, name in enumerate(names):
        for score, values in zip(("precision", "recall", "f1", "support"), oracle["per_class"]):
            assert ours[f"{name}_{score}"] == pytest.approx(values[i], abs=1e-12), (name, score)
    np.testing.assert_array_equal(confusion_matrix(gold, predicted, len(names)), oracle["matrix"])
    assert all(type(value) is float for value in ours.values())
    assert len(ours) == 5 + 4 * len(names)
    return ours


@pytest.mark.parametrize("seed", range(6))
def test_random_multiclass_matches_sklearn_with_a_class_never_predicted_and_one_absent_from_gold(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 4, size=200)  # class 4 ("other") is never gold
    predicted = np.where(rng.random(200) < 0.6, gold, rng.integers(0, 5, size=200))
    predicted[predicted == 2] = 3  # class 2 ("neutral") is never predicted
    assert 4 in predicted and 2 in gold
    ours = assert_matches_sklearn(gold, predicted, NAMES)
    assert ours["neutral_precision"] == 0.0 and ours["other_recall"] == 0.0 and ours["other_support"] == 0.0


def test_a_class_in_neither_gold_nor_predicted_is_left_out_of_the_macro_average():
    gold, predicted = [0, 0, 1, 1, 3], [0, 1, 1, 1, 0]  # class 2 and 4 appear nowhere
    ours = assert_matches_sklearn(gold, predicted, NAMES)
    seen_f1 = [ours[f"{name}_f1"] for name in ("negative", "very positive", "mixed")]
    assert ours["macro_f1"] == pytest.approx(np.mean(seen_f1))
    assert ours["neutral_f1"] == ours["neutral_support"] == 0.0


def test_binary_all_correct_and_one_class_predicted():
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 2, size=101)
    assert_matches_sklearn(gold, np.where(rng.random(101) < 0.8, gold, 1 - gold), ["neg", "pos"])
    perfect = assert_matches_sklearn(gold, gold, ["neg", "pos"])
    assert perfect["accuracy"] == perfect["macro_f1"] == perfect["mcc"] == 1.0
    constant = assert_matches_sklearn(gold, np.zeros_like(gold), ["neg", "pos"])
    assert constant["mcc"] == 0.0 and constant["pos_precision"] == 0.0


def test_mcc_of_many_examples_does_not_overflow():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, size=300_000)
    predicted = np.where(rng.random(gold.size) < 0.7, gold, rng.integers(0, 3, size=gold.size))
    ours = classification_metrics(gold, predicted, ["a", "b", "c"])["mcc"]
    assert ours == pytest.approx(sk.matthews_corrcoef(gold, predicted), abs=1e-12)
    assert 0.65 < ours < 0.75  # (an int64 product of the spreads would overflow here: 300000**4 > 2**63)


def test_bad_ids_lengths_and_an_empty_set_are_errors():
    with pytest.raises(ValueError, match=r"predicted ids \[5\] are not class ids"):
        classification_metrics([0, 1], [0, 5], NAMES)
    with pytest.raises(ValueError, match="gold ids .*-100"):
        classification_metrics([0, -100], [0, 1], NAMES)
    with pytest.raises(ValueError, match="3 gold labels but 2 predicted"):
        classification_metrics([0, 1, 1], [0, 1], NAMES)
    with pytest.raises(InputError, match="no examples to score"):
        classification_metrics([], [], NAMES)


def test_label_names_that_clash_with_the_overall_keys_or_repeat_are_refused():
    check_label_names(NAMES + ["macro avg", "f1", "accuracy"])  # none of their keys is an overall one
    with pytest.raises(InputError, match="'macro'.*rename"):
        build_compute_metrics(["micro", "macro"])
    with pytest.raises(InputError, match="'pos' is given twice"):
        check_label_names(["pos", "neg", "pos"])


def test_compute_metrics_from_logits_and_from_ids():
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(64, 5)).astype(np.float32)
    gold = rng.integers(0, 5, size=64)
    compute = build_compute_metrics(NAMES)
    from_logits = compute(EvalPrediction(predictions=logits, label_ids=gold))
    expected = sklearn_oracle(gold, logits.argmax(-1), 5)
    assert from_logits["accuracy"] == pytest.approx(expected["accuracy"])
    assert from_logits["macro_f1"] == pytest.approx(expected["macro_f1"])
    assert from_logits["mcc"] == pytest.approx(expected["mcc"])
    np.testing.assert_array_equal(compute.predicted_ids, logits.argmax(-1))
    # (logits, hidden states) as a model with more outputs returns them, and class ids as they are
    assert compute(EvalPrediction(predictions=(logits, np.zeros((64, 3))), label_ids=gold)) == from_logits
    assert compute(EvalPrediction(predictions=logits.argmax(-1), label_ids=gold)) == from_logits
    overall = build_compute_metrics(NAMES, per_class=False)(EvalPrediction(predictions=logits, label_ids=gold))
    assert overall == {
        key: from_logits[key] for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "mcc")
    }


def test_report_text_has_each_class_and_the_overall_lines():
    gold, predicted = [0, 0, 1, 1, 1, 3, 3], [0, 1, 1, 1, 0, 3, 0]  # "neutral" and "other" appear nowhere
    text = report_text(gold, predicted, NAMES)
    lines = {line.strip().rsplit(None, 4)[0]: line.split()[-4:] for line in text.splitlines()[2:7]}
    oracle = sk.classification_report(gold, predicted, labels=[0, 1, 3], target_names=["negative",
                                      "very positive", "mixed"], output_dict=True, zero_division=0)  # fmt: skip
    for name in ("negative", "very positive", "mixed"):
        want = [f"{oracle[name][key]:.4f}" for key in ("precision", "recall", "f1-score")]
        assert lines[name] == want + [str(int(oracle[name]["support"]))]
    assert lines["neutral"] == ["-", "-", "-", "0"] and lines["other"] == ["-", "-", "-", "0"]
    tail = text.splitlines()[-3:]
    assert tail[0].split() == ["accuracy", f"{sk.accuracy_score(gold, predicted):.4f}", "7"]
    assert tail[1].split()[:2] == ["macro", "avg"]
    assert tail[1].split()[-2:] == [f"{sk.f1_score(gold, predicted, average='macro'):.4f}", "7"]
    assert tail[2].split() == ["MCC", f"{sk.matthews_corrcoef(gold, predicted):.4f}"]
    assert len({len(line) for line in text.splitlines()[2:7]}) == 1  # aligned
    assert not any(line != line.rstrip() for line in text.splitlines())


def test_confusion_table_text_reads_back_as_the_matrix():
    rng = np.random.default_rng(5)
    gold, predicted = rng.integers(0, 3, size=500), rng.integers(0, 3, size=500)
    matrix = confusion_matrix(gold, predicted, 3)
    short = confusion_table_text(matrix, ["neg", "pos", "neutral"]).splitlines()
    assert short[0].split() == ["gold", "\\", "predicted", "neg", "pos", "neutral"]
    assert [[int(x) for x in line.split()[1:]] for line in short[1:]] == matrix.tolist()
    assert len({len(line) for line in short}) == 1
    long_names = ["a label with a long name", "b", "c"]
    numbered = confusion_table_text(matrix, long_names).splitlines()
    assert numbered[0].split()[-3:] == ["0", "1", "2"]
    assert numbered[1].startswith("0 a label with a long name")
    assert [[int(x) for x in line.split()[-3:]] for line in numbered[1:]] == matrix.tolist()


@pytest.mark.parametrize("num_labels", [2, 12])
def test_confusion_matrix_png(tmp_path, num_labels):
    rng = np.random.default_rng(num_labels)
    matrix = rng.integers(0, 300, size=(num_labels, num_labels))
    matrix[1] = 0  # a class with no gold example: a row of zeros, not a division by zero
    names = [f"class {i}" + " with a long name" * (i % 3) for i in range(num_labels)]
    path = write_confusion_matrix(matrix, names, tmp_path / "confusion_matrix.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert 400 < width < 3000 and 400 < height < 3000
    assert [p.name for p in tmp_path.iterdir()] == ["confusion_matrix.png"]  # no temp file left


def test_training_curves_png(tmp_path):
    history = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    history += [{"step": 10, "eval_loss": 0.4, "eval_accuracy": 0.8, "eval_macro_f1": 0.75}]
    with Image.open(write_training_curves(history, tmp_path)) as image:
        assert image.format == "PNG" and image.size[0] > 500


TEXTS = ["plain", "a\ttab", "two\nlines\r\nand CR\r", "back\\slash and \\n literally", "\u2028sep\x0cff", ""]


def test_escape_round_trip():
    for text in TEXTS:
        escaped = escape_field(text)
        assert not {"\t", "\n", "\r"} & set(escaped)
        assert unescape_field(escaped) == text


def example(text, text_pair=None, label=None):
    return SimpleNamespace(text=text, text_pair=text_pair, label=label)


def test_test_predictions_round_trip_with_pairs(tmp_path):
    examples = [example(text, f"pair {i}\t{text}", label=NAMES[i % 5]) for i, text in enumerate(TEXTS)]
    probabilities = np.random.default_rng(0).dirichlet(np.ones(5), size=len(examples))
    predicted = probabilities.argmax(-1)
    path = tmp_path / "test_predictions.tsv"
    write_test_predictions(path, examples, predicted, probabilities, NAMES)
    with open(path, newline="", encoding="utf-8") as f:
        raw = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert raw[0] == ["text", "text_pair", "gold", "predicted", "probability"]
    assert len(raw) == 1 + len(examples) and {len(row) for row in raw} == {5}
    rows = read_test_predictions(path)
    assert [row["text"] for row in rows] == TEXTS
    assert [row["text_pair"] for row in rows] == [e.text_pair for e in examples]
    assert [row["gold"] for row in rows] == [e.label for e in examples]
    assert [row["predicted"] for row in rows] == [NAMES[i] for i in predicted]
    assert [float(row["probability"]) for row in rows] == pytest.approx(probabilities.max(-1), abs=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_predictions.tsv"]


def test_test_predictions_of_unlabelled_single_texts(tmp_path):
    examples = [example(text) for text in TEXTS]
    path = tmp_path / "test_predictions.tsv"
    write_test_predictions(path, examples, [1] * len(TEXTS), [0.75] * len(TEXTS), ["neg", "pos\tx"])
    rows = read_test_predictions(path)
    assert path.read_text().splitlines()[0] == "text\tpredicted\tprobability"
    assert rows == [{"text": text, "predicted": "pos\tx", "probability": "0.750000"} for text in TEXTS]
    with pytest.raises(ValueError, match="6 examples but 5 predictions"):
        write_test_predictions(path, examples, [1] * 5, [0.75] * 5, ["neg", "pos"])


def test_prediction_table_for_wandb():
    examples = [example("good", label="pos"), example("bad", label=None), example("meh", label=0)]
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2], [0.45, 0.55]])
    columns, rows = prediction_table(examples, [1, 0, 1], probabilities, ["neg", "pos"], limit=2)
    assert columns == ["text", "gold", "predicted", "probability"]
    assert rows == [["good", "pos", "pos", 0.9], ["bad", "", "neg", 0.8]]
    columns, rows = prediction_table(examples, [1, 0, 1], probabilities, ["neg", "pos"])
    assert rows[2] == ["meh", "neg", "pos", 0.55]  # an integer gold label is the class id
