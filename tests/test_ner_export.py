"""`run_ner.py export`: a linear tagger as the stock BertForTokenClassification with identical logits, loadable
without this package; CRF, scalar-mix and other-layer taggers, non-empty outputs and non-taggers refused."""

import json
import logging
import shutil

import pytest
import torch
from helpers import make_encoder_dir, make_tokenizer, one_thread, run_without_project  # noqa: F401 (autouse)
from transformers import AutoModelForTokenClassification, AutoTokenizer, BertForTokenClassification

from ner_trainer import BertTagger
from ner_trainer.export import stock_model, verify
from ner_trainer.predict import predict_texts
from run_ner import COMMANDS
from trainer_common.cli import run_cli
from trainer_common.errors import InputError

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
TEXT = "John Smith lives in Washington , Mary Lee visited New York City ."
KINDS = {
    "linear": {},
    "crf": {"head": "crf"},
    "scalar_mix": {"layer_pooling": "scalar_mix"},
    "layer1": {"layer_pooling": "1"},
    "bioes": {"label_scheme": "bioes"},
}


def export(*argv) -> int:
    """`python run_ner.py export ...`, in process: the exit status."""
    return run_cli(COMMANDS, default="train", argv=["export", *map(str, argv)])


@pytest.fixture(scope="module")
def taggers(tmp_path_factory):
    """Saved taggers of each kind over one tiny encoder, with random (not zero) classifiers so that tags vary."""
    tmp = tmp_path_factory.mktemp("taggers")
    encoder, tokenizer = make_encoder_dir(tmp), make_tokenizer(tmp)
    saved = {}
    for seed, (kind, options) in enumerate(KINDS.items()):
        labels = BIOES if kind == "bioes" else LABELS
        model = BertTagger.from_encoder(encoder, labels, **options).eval()
        torch.manual_seed(seed)
        with torch.no_grad():
            model.classifier.weight.normal_(0.0, 1.0)
            model.classifier.bias.normal_(0.0, 1.0)
        model.save_pretrained(tmp / kind)
        tokenizer.save_pretrained(tmp / kind)
        saved[kind] = tmp / kind
    return saved


@pytest.fixture(scope="module")
def exported(taggers, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "nested" / "stock"
    assert export("--model", taggers["linear"], "--output", out) == 0
    return out


def test_export_is_the_stock_class_with_identical_logits(taggers, exported):
    assert sorted(p.name for p in exported.parent.iterdir()) == ["stock"]  # no staging folder left
    assert {p.name for p in exported.iterdir()} == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
    }  # fmt: skip  (no model code)
    config = json.loads((exported / "config.json").read_text())
    assert config["model_type"] == "bert" and "auto_map" not in config
    assert config["architectures"] == ["BertForTokenClassification"]
    assert config["id2label"] == {str(i): tag for i, tag in enumerate(LABELS)}
    card = (exported / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and "BertTagger" in card

    model = AutoModelForTokenClassification.from_pretrained(exported).eval()
    assert type(model) is BertForTokenClassification
    tagger = BertTagger.from_pretrained(taggers["linear"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(exported)
    batch = tokenizer([TEXT, "EU rejects German lamb .", "Paris"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, tagger(**batch).logits)


def test_pipeline_without_this_package_tags_as_predict(taggers, exported, tmp_path):
    script = f"""
import json
from transformers import pipeline
tagger = pipeline("token-classification", model={str(exported)!r}, ignore_labels=[])
print(json.dumps([(token["word"], token["entity"]) for token in tagger({TEXT!r})]))
"""
    proc = run_without_project(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tokens = json.loads(proc.stdout.strip().splitlines()[-1])
    first_pieces = [tag for word, tag in tokens if not word.startswith("##")]
    tagger = BertTagger.from_pretrained(taggers["linear"]).eval()
    expected = predict_texts(tagger, AutoTokenizer.from_pretrained(taggers["linear"]), [TEXT])[0]
    assert len(set(expected["tags"])) > 1  # a test that could tell tags apart
    assert first_pieces == expected["tags"]
    stock = AutoModelForTokenClassification.from_pretrained(exported).eval()
    assert predict_texts(stock, AutoTokenizer.from_pretrained(exported), [TEXT])[0] == expected


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("crf", "a CRF head"), ("scalar_mix", "'scalar_mix'"), ("layer1", "hidden state 1 of 2"), ("stock", " bert)")],
)
def test_taggers_without_a_stock_equivalent_are_refused(taggers, exported, tmp_path, capsys, kind, reason):
    model = exported if kind == "stock" else taggers[kind]
    assert export("--model", model, "--output", tmp_path / "out") == 2
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert str(model) in error and reason in error, error
    assert list(tmp_path.iterdir()) == []  # nothing written, no staging folder


def test_a_non_empty_output_is_refused(taggers, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert export("--model", taggers["linear"], "--output", tmp_path / "out") == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_a_tagger_without_its_vocabulary_is_refused(taggers, tmp_path, capsys):
    shutil.copytree(taggers["linear"], tmp_path / "tagger", ignore=shutil.ignore_patterns("tokenizer.json"))
    assert export("--model", tmp_path / "tagger", "--output", tmp_path / "out") == 2
    assert "no vocabulary" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_bioes_exports_into_an_empty_folder_with_a_warning(taggers, tmp_path, caplog, capsys):
    (tmp_path / "out").mkdir()
    with caplog.at_level(logging.WARNING, logger="ner_trainer.export"):
        assert export("--model", taggers["bioes"], "--output", tmp_path / "out") == 0
    assert "B-/I- tags only" in caplog.text and "BIOES" in caplog.text
    assert "BertForTokenClassification" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "config.json").read_text())["label_scheme"] == "bioes"
    assert 'aggregation_strategy="none"' in (tmp_path / "out" / "README.md").read_text()


def test_verify_refuses_the_smallest_difference(taggers):
    tagger = BertTagger.from_pretrained(taggers["linear"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(taggers["linear"])
    stock = stock_model(tagger, "tagger")
    verify(tagger, stock, tokenizer, "tagger")
    with torch.no_grad():
        stock.classifier.bias[0] = torch.nextafter(stock.classifier.bias[0], torch.tensor(float("inf")))
    with pytest.raises(InputError, match="gives other logits"):
        verify(tagger, stock, tokenizer, "tagger")


def test_evaluating_an_export_names_what_it_is(exported, tmp_path, capsys):
    """`evaluate` scores the BertTagger a run saved; its stock export is named as such, not as an encoder."""
    test_file = tmp_path / "test.txt"
    test_file.write_text("Paris O\n\n")
    argv = ["evaluate", "--model", str(exported), "--test_file", str(test_file), "--output_dir", str(tmp_path / "ev")]
    assert run_cli(COMMANDS, default="train", argv=argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is a stock BertForTokenClassification, not a tagger of run_ner.py's" in error and "--model" not in error
    assert not (tmp_path / "ev").exists()
