"""run_classification.py end to end on a tiny random encoder: training, evaluation, test predictions, figures, the
card, the result files; the saved model is stock; predict, the Python API and evaluate agree with the run."""

import csv
import json
import random
import re
from pathlib import Path

import pytest
from helpers import WORDS, make_encoder_dir, readme_outputs, written_outputs
from test_ner_train import base_args

from cls_trainer.train import main as train_main

LABELS = ("negative", "positive")
POSITIVE = {"Paris", "London", "Mary"}  # a text is positive when it names one of these: learnable in a few steps


def make_rows(n: int, seed: int, pairs: bool = False) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(2, 9))
        label = int(bool(POSITIVE & set(words)))
        if pairs:
            rows.append((" ".join(words), " ".join(rng.choices(WORDS, k=rng.randint(1, 5))), label))
        else:
            rows.append((" ".join(words), label))
    return rows


def write_tsv(path: Path, rows, header=("sentence", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cls_args(out: Path, *files, model=None, **overrides) -> list[str]:
    return base_args(out, *files, model=model, max_seq_length=32, label_names=",".join(LABELS), **overrides)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One training run: 64 train, 16 dev, 12 test sentences; 2 epochs."""
    tmp = tmp_path_factory.mktemp("cls_run")
    encoder = make_encoder_dir(tmp)
    files = [write_tsv(tmp / f"{name}.tsv", make_rows(n, seed)) for name, n, seed in
             (("train", 64, 0), ("dev", 16, 1), ("test", 12, 2))]  # fmt: skip
    out = tmp / "run"
    results = train_main(cls_args(out, *files, model=encoder, num_train_epochs=2, learning_rate=1e-3))
    return {"out": out, "files": files, "results": results, "encoder": encoder, "tmp": tmp}


def test_run_writes_scores_predictions_and_the_files_the_readme_lists(run):
    out, results = run["out"], run["results"]
    for key in ("eval_accuracy", "eval_macro_f1", "eval_mcc", "test_accuracy", "test_loss", "test_negative_f1"):
        assert key in results, key
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(results["test_accuracy"])
    rows = (out / "test_predictions.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t")[:3] == ["text", "gold", "predicted"]
    assert len(rows) == 1 + 12, "one row per test example"
    predicted = [row.split("\t")[2] for row in rows[1:]]
    gold = [row.split("\t")[1] for row in rows[1:]]
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    assert accuracy == pytest.approx(results["test_accuracy"])
    assert "confusion matrix" in (out / "test_report.txt").read_text()
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert hidden == [".run_manifest.json"], "temporary files left behind"
    written = {re.sub(r"^checkpoint-\d+/$", "checkpoint-N/", name) for name in written_outputs(out)} - set(hidden)
    assert written - {"checkpoint-N/"} == readme_outputs("Text classification") - {"checkpoint-N/"}


def test_saved_model_is_a_stock_sequence_classifier(run):
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(run["out"], output_loading_info=True)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert model.config.id2label == dict(enumerate(LABELS))
    assert not list(run["out"].glob("*.py")), "no remote code"
    card = (run["out"] / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and "model-index" in card


def test_predict_cli_and_api_agree_with_the_runs_test_predictions(run, capsys):
    from cls_trainer import load_classifier
    from cls_trainer.predict import main as predict_main

    test_rows = run["files"][2].read_text().splitlines()[1:]
    texts = [row.split("\t")[0] for row in test_rows]
    predict_main(["--model", str(run["out"]), *texts])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    saved = [row.split("\t") for row in (run["out"] / "test_predictions.tsv").read_text().splitlines()[1:]]
    assert [r["label"] for r in records] == [row[2] for row in saved]
    assert [r["score"] for r in records] == pytest.approx([float(row[3]) for row in saved], abs=1e-3)
    for record in records:
        assert set(record) == {"text", "label", "score", "probabilities"}
        assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert load_classifier(run["out"]).predict(texts) == records


def test_evaluate_scores_the_saved_model_as_the_run_did(run):
    from cls_trainer.evaluate import main as evaluate_main

    out = run["tmp"] / "evaluated"
    results = evaluate_main(["--model", str(run["out"]), "--test_file", str(run["files"][2]), "--output_dir", str(out),
                             "--max_seq_length", "32", "--report_to", "none", "--disable_tqdm", "true"])  # fmt: skip
    assert results["test_accuracy"] == pytest.approx(run["results"]["test_accuracy"])
    assert (out / "test_predictions.tsv").read_text() == (run["out"] / "test_predictions.tsv").read_text()
    assert not (out / "model.safetensors").exists()


def test_sentence_pairs_train_with_token_type_ids(tmp_path):
    encoder = make_encoder_dir(tmp_path)
    header = ("sentence1", "sentence2", "label")
    train = write_tsv(tmp_path / "train.tsv", make_rows(24, 3, pairs=True), header)
    dev = write_tsv(tmp_path / "dev.tsv", make_rows(8, 4, pairs=True), header)
    results = train_main(cls_args(tmp_path / "pairs", train, dev, dev, model=encoder, max_steps=3))
    assert 0 <= results["eval_accuracy"] <= 1
    rows = [row.split("\t") for row in (tmp_path / "pairs" / "test_predictions.tsv").read_text().splitlines()]
    assert rows[0][:4] == ["text", "text_pair", "gold", "predicted"]
    given = [row.split("\t") for row in dev.read_text().splitlines()[1:]]
    assert [row[:3] for row in rows[1:]] == [[a, b, LABELS[int(label)]] for a, b, label in given]


def test_two_processes_train_and_score_every_example_once_as_one_process_does(tmp_path):
    """Two processes (torchrun, gloo) train with packed batches and score odd-sized dev and test sets, which shard
    unevenly (accelerate pads the last batch with repeated rows): the metrics and test predictions must be those of
    one process evaluating the same model, every example once, in input order."""
    from test_torchrun import TORCHRUN, launch

    files = [write_tsv(tmp_path / f"{name}.tsv", make_rows(n, seed)) for name, n, seed in
             (("train", 24, 0), ("dev", 9, 1), ("test", 11, 2))]  # fmt: skip
    out = tmp_path / "two"
    two = launch(TORCHRUN, [
        "run_classification.py", "--use_cpu", "--model_name_or_path", make_encoder_dir(tmp_path), "--train_file",
        files[0], "--validation_file", files[1], "--test_file", files[2], "--output_dir", out, "--num_train_epochs",
        "2", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "1", "--max_seq_length", "32",
        "--learning_rate", "1e-3", "--label_names", ",".join(LABELS), "--report_to", "none", "--disable_tqdm", "true",
    ])  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training: world size 2" in two.stdout
    two_results = json.loads((out / "all_results.json").read_text())
    one = train_main(cls_args(tmp_path / "one", None, files[1], files[2], model=out, do_train=False,
                              per_device_eval_batch_size=1))  # fmt: skip
    for key, value in one.items():
        if key.startswith(("eval_", "test_")) and not key.endswith(("loss", "runtime", "per_second", "_time")):
            assert two_results[key] == pytest.approx(value), key
    predictions = (out / "test_predictions.tsv").read_text()
    assert predictions == (tmp_path / "one" / "test_predictions.tsv").read_text()
    assert len(predictions.splitlines()) == 1 + 11  # every test example, once


def test_the_api_takes_one_pair_no_texts_and_refuses_mixed_or_bad_arguments(run):
    from cls_trainer import load_classifier
    from trainer_common.errors import InputError

    classifier = load_classifier(run["out"])
    record = classifier.predict("Paris London", pairs="Mary")
    assert record["text_pair"] == "Mary" and record["label"] in LABELS
    assert classifier.predict([]) == []
    with pytest.raises(TypeError, match="must both be strings or both lists"):
        classifier.predict(["Paris"], pairs="Mary")
    with pytest.raises(TypeError, match="a string or a list of strings"):
        classifier.predict({"text": "Paris"})
    with pytest.raises(InputError, match="batch_size must be an integer"):
        classifier.predict(["Paris"], batch_size=1.5)
    classifier.max_seq_length = 6  # [CLS] + 4 words + [SEP]: the long text is cut, and says so
    long, short = classifier.predict(["Paris London Mary John Smith lives", "Paris"])
    assert long["truncated"] is True and "truncated" not in short
    classifier.max_seq_length = 0
    with pytest.raises(InputError, match="max_seq_length must be an integer of at least 2"):
        classifier.predict(["Paris"])


@pytest.mark.parametrize("case", ["one_label", "label_as_pair", "token_classifier"])
def test_training_data_or_models_a_classifier_cannot_learn_from_are_refused(run, tmp_path, case):
    from transformers import BertForTokenClassification

    from trainer_common.errors import InputError

    train, model = run["files"][0], run["encoder"]
    extra = {}
    if case == "one_label":
        train = write_tsv(tmp_path / "one.tsv", [(text, 1) for text, _ in make_rows(8, 5)])
        expected = "the training data has only the label 'positive'"
    elif case == "label_as_pair":
        extra, expected = {"text_pair_column_name": "label"}, "column 'label' is both the label and the second text"
    else:
        model = tmp_path / "tagger"
        BertForTokenClassification.from_pretrained(run["encoder"], num_labels=3).save_pretrained(model)
        expected = "a token classifier (BertForTokenClassification, model_type bert), not an encoder"
    with pytest.raises(InputError, match=re.escape(expected)):
        train_main(cls_args(tmp_path / "out", train, model=model, **extra))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_label_names_other_than_a_saved_classifiers_are_refused(run, tmp_path):
    from trainer_common.errors import InputError

    with pytest.raises(InputError, match="--label_names positive,negative: .* is a classifier of the labels "
                                         "negative,positive, in that order"):  # fmt: skip
        train_main(base_args(tmp_path / "out", *run["files"], model=run["out"], max_seq_length=32,
                             label_names="positive,negative"))  # fmt: skip
