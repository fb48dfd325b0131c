"""The model card each run writes (metadata read back with huggingface_hub's parser: licence, base model, test and
dev results in the model-index), its body (the encoder a local folder came from, the labels, the per-epoch table,
framework versions, a usage example in the data's language), the export's card keeping the scores, the files a
push uploads, and that exact folder loading in a fresh process from another folder: with the package and no
trust_remote_code, and without it through the card's own usage snippet."""

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import make_encoder_dir, run_without_project, tiny_bert_config, write_mnist
from test_ner_train import base_args, make_sentences, write_conll

from trainer_common.hub_push import uploaded_files
from trainer_common.model_card import (
    Source,
    card_section,
    describe_source,
    evaluations,
    hub_id,
    hyperparameters,
    model_reference,
)

ROOT = Path(__file__).resolve().parents[1]


def upload_copy(out: Path, dest: Path) -> Path:
    """The folder as `--push_to_hub` would upload it."""
    for name in uploaded_files(out):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / name, dest / name)
    return dest


def usage_snippet(card: str) -> str:
    return card.split("## Usage\n\n```python\n", 1)[1].split("```", 1)[0]


def snippet_path(snippet: str) -> str:
    return snippet.split('from_pretrained("' if "from_pretrained(" in snippet else 'model="', 1)[1].split('"', 1)[0]


def table_rows(section: str) -> list[list[str]]:
    """The body rows of a markdown table, as cells."""
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


MINILM_CARD = """---
language: en
license: apache-2.0
library_name: sentence-transformers
---


# all-MiniLM-L6-v2
This is a sentence-transformers model.

```python
# Load model from HuggingFace Hub
```
"""


def encoder_copy(tmp: Path, name_or_path: str, card: str | None) -> Path:
    """An encoder folder as transformers 4 saved it (`_name_or_path` in config.json), with `card` as its README."""
    encoder = make_encoder_dir(tmp)
    config = json.loads((encoder / "config.json").read_text())
    (encoder / "config.json").write_text(json.dumps({**config, "_name_or_path": name_or_path}))
    if card is not None:
        (encoder / "README.md").write_text(card)
    return encoder


def minilm_like_encoder(tmp: Path) -> Path:
    """A folder like the one of sentence-transformers/all-MiniLM-L6-v2: its own card (licence, language, title), and
    a config that records the model it was trained from, nreimers/MiniLM-L6-H384-uncased, as `_name_or_path`."""
    return encoder_copy(tmp, "nreimers/MiniLM-L6-H384-uncased", MINILM_CARD)


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    from ner_trainer.train import main

    tmp = tmp_path_factory.mktemp("card")
    files = [write_conll(tmp / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 24, 0), ("dev", 8, 1), ("test", 8, 2))]  # fmt: skip
    out = tmp / "tagger"
    encoder = minilm_like_encoder(tmp)
    results = main(base_args(out, *files, model=encoder, num_train_epochs=2, learning_rate=5e-3, logging_steps=2))
    return out, results


@pytest.fixture(scope="module")
def exported(ner_run, tmp_path_factory):
    from run_ner import COMMANDS
    from trainer_common.cli import run_cli

    out = tmp_path_factory.mktemp("export") / "stock"
    assert run_cli(COMMANDS, default="train", argv=["export", "--model", str(ner_run[0]), "--output", str(out)]) == 0
    return out


def test_hub_ids_and_local_paths(tmp_path):
    assert hub_id("google-bert/bert-base-cased") == "google-bert/bert-base-cased" and hub_id("gpt2") == "gpt2"
    assert hub_id(str(tmp_path)) is None and hub_id("./runs/ner") is None and hub_id("a b") is None
    assert hub_id(None) is None and hub_id("/abs/not/there") is None


def test_ner_card_metadata_and_body(ner_run):
    from huggingface_hub import ModelCard

    out, results = ner_run
    card = ModelCard.load(out / "README.md")
    data = card.data
    assert data.pipeline_tag == "token-classification" and data.library_name == "transformers"
    # the folder is the model its own card describes, not the one its config records: no Hub id of it is known
    assert data.base_model is None
    assert data.license == "apache-2.0", "no --license: the encoder's own card's licence"
    assert {"ner", "token-classification"} <= set(data.tags)
    assert all(r.task_type == "token-classification" for r in data.eval_results)
    for split, prefix in (("test", "test"), ("validation", "eval")):
        scores = {r.metric_type: r.metric_value for r in data.eval_results if r.dataset_split == split}
        assert set(scores) == {"precision", "recall", "f1", "accuracy"}, split
        for kind, value in scores.items():
            assert value == pytest.approx(results[f"{prefix}_{kind}"], abs=1e-6), (split, kind)
    assert table_rows(card_section(card.text, "Results"))[2] == [
        "F1", f"{results['eval_f1']:.4f}", f"{results['test_f1']:.4f}"
    ]  # fmt: skip
    for prefix, split in (("test", "test"), ("eval", "dev")):
        table = card_section(card.text, f"Per entity type ({split})")
        for kind in ("LOC", "PER", "ORG", "MISC"):
            assert f"| {kind} | {results[f'{prefix}_{kind}_precision']:.4f} |" in table
    assert "| learning_rate | 0.005 |" in card.text and "| classifier_learning_rate | 0.001 |" in card.text
    assert "| epochs trained | 2 |" in card.text


ENCODER_LINE = (
    "- **Encoder**: `all-MiniLM-L6-v2` (a local folder; its config records `nreimers/MiniLM-L6-H384-uncased` as its "
    "origin; bert, 2 layers, hidden size 32; licence apache-2.0; language en)"
)


def test_ner_card_names_the_encoder_labels_use_history_and_versions(ner_run):
    import datasets
    import torch
    import transformers
    from huggingface_hub import ModelCard

    out, _ = ner_run
    text = ModelCard.load(out / "README.md").text
    model = card_section(text, "Model")
    assert ENCODER_LINE in model
    assert "- **Entity types** (4): `LOC`, `MISC`, `ORG`, `PER`" in model
    tags = json.loads((out / "config.json").read_text())["id2label"]
    assert f"- **Tags** (IOB2, 9): {', '.join(f'`{tags[str(i)]}`' for i in range(9))}" in model
    use = card_section(text, "Intended use and limitations")
    assert use.count(". ") == 1 and use.strip().endswith(".") and "LOC, MISC, ORG, PER" in use
    assert "`train.txt`" in use and "dev and test splits" in use

    log = [entry for entry in json.loads((out / "trainer_state.json").read_text())["log_history"]]
    evaluated = [entry for entry in log if "eval_loss" in entry]
    rows = table_rows(card_section(text, "Training results"))
    assert len(rows) == len(evaluated) == 2
    for row, entry in zip(rows, evaluated):
        assert row[:2] == [f"{entry['epoch']:g}", str(entry["step"])]
        assert row[3:] == [f"{entry[key]:.4f}" for key in ("eval_loss", "eval_precision", "eval_recall", "eval_f1")]
        trained = [e["loss"] for e in log if "loss" in e and e["step"] <= entry["step"]]
        assert row[2] == f"{trained[-1]:.4f}"  # logging_steps 2: a training loss before each evaluation

    versions = card_section(text, "Framework versions")
    for name, version in (("transformers", transformers.__version__), ("torch", torch.__version__),
                          ("datasets", datasets.__version__), ("Python", platform.python_version())):  # fmt: skip
        assert f"- {name} {version}\n" in versions
    assert "- hf-trainer-toolkit " in versions and "not installed" not in versions


def test_the_export_card_keeps_the_scores_and_its_snippet_names_the_export(ner_run, exported):
    from huggingface_hub import ModelCard

    source, export = ModelCard.load(ner_run[0] / "README.md"), ModelCard.load(exported / "README.md")
    assert export.data.eval_results == source.data.eval_results and len(export.data.eval_results) == 8
    assert export.data.to_dict()["model-index"][0]["name"] == "stock"
    assert (export.data.license, export.data.base_model, export.data.language) == ("apache-2.0", None, ["en"])
    assert ENCODER_LINE in card_section(export.text, "Model")
    assert export.data.pipeline_tag == "token-classification" and "BertForTokenClassification" in export.text
    for section in ("Results", "Per entity type (test)", "Intended use and limitations", "Training results"):
        assert card_section(export.text, section) == card_section(source.text, section), section
    snippet = usage_snippet(export.content)
    assert snippet_path(snippet) == exported.absolute().as_posix() and "trust_remote_code" not in snippet


def test_a_push_leaves_out_checkpoints_optimizer_state_and_predictions(ner_run):
    out, _ = ner_run
    assert list(out.glob("checkpoint-*")) and (out / "test_predictions.txt").is_file()
    uploaded = uploaded_files(out)
    assert {"README.md", "config.json", "model.safetensors", "modeling_bert_tagger.py", "tokenizer.json"} <= set(
        uploaded
    )
    assert not [name for name in uploaded if "checkpoint-" in name or name.startswith(".")]
    assert not {"test_predictions.txt", "training_args.bin", "optimizer.pt"} & set(uploaded)


def test_the_uploaded_folder_loads_with_the_package_and_without_it(ner_run, exported, tmp_path):
    out, _ = ner_run
    upload = upload_copy(out, tmp_path / out.name)
    with_package = subprocess.run(
        [sys.executable, "-c", "import sys, ner_trainer\nfrom transformers import AutoModelForTokenClassification\n"
         f"m = AutoModelForTokenClassification.from_pretrained({str(upload)!r})\nprint(type(m).__name__)"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert with_package.returncode == 0 and with_package.stdout.strip() == "BertTagger", with_package.stderr[-2000:]
    # the cards' snippets (the run's and its export's), as written, run from another folder in a Python that
    # cannot import this project: they name the folders by their absolute paths; then the uploaded copy loads too
    snippet = usage_snippet((upload / "README.md").read_text())
    assert snippet_path(snippet) == out.absolute().as_posix()
    check = (
        "\nfrom transformers import AutoModelForTokenClassification\n"
        f"print(type(AutoModelForTokenClassification.from_pretrained({str(upload)!r}, trust_remote_code=True)))"
    )
    export_snippet = usage_snippet((exported / "README.md").read_text())
    proc = run_without_project(snippet + export_snippet + check, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("'entity_group'") >= 2 and "BertTagger" in proc.stdout


def test_vae_card_has_the_samples_image_and_a_working_snippet(tmp_path):
    from huggingface_hub import ModelCard

    from vae_trainer.train import main

    data = write_mnist(tmp_path / "data", n_train=64, n_test=32)
    out = tmp_path / "vae"
    argv = ["--data_dir", data, "--output_dir", out, "--num_train_epochs", "2", "--hidden_dim", "32",
            "--latent_dim", "4", "--report_to", "none", "--disable_tqdm", "true", "--license", "mit"]  # fmt: skip
    results = main([str(a) for a in argv])
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "unconditional-image-generation" and card.data.license == "mit"
    assert card.data.datasets is None, "IDX files from --data_dir are not the Hub's MNIST"
    scores = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert scores["elbo_per_image"] == pytest.approx(results["test_elbo_per_image"], abs=1e-5)
    assert "![digits decoded from z ~ N(0, I)](samples.png)" in card.text
    evaluated = [e for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "eval_loss" in e]
    rows = table_rows(card_section(card.text, "Training results"))
    assert len(rows) == len(evaluated) == 2
    for row, entry in zip(rows, evaluated):
        elbo = -(entry["eval_recon_loss"] + entry["eval_kl_loss"])
        assert row[3:] == [f"{value:.4f}" for value in (entry["eval_loss"], entry["eval_recon_loss"],
                                                        entry["eval_kl_loss"], elbo)]  # fmt: skip
    use = card_section(card.text, "Intended use and limitations")
    assert use.count(". ") == 1 and "`--data_dir`" in use
    assert "- torch " in card_section(card.text, "Framework versions")
    upload = upload_copy(out, tmp_path / "upload" / "vae")
    assert "samples.png" in uploaded_files(out) and (upload / "samples.png").is_file()
    snippet = usage_snippet(card.content)
    assert snippet_path(snippet) == out.absolute().as_posix()
    snippet = snippet.replace(snippet_path(snippet), upload.as_posix())  # what the Hub's copy holds loads too
    proc = run_without_project(snippet + "\nprint(tuple(digits.shape))", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("(10, 28, 28)")


def test_a_character_level_tagger_gets_a_chinese_example_and_its_dev_scores(tmp_path):
    """CLUENER: an untagged test file (no test scores), dev scores from the held-out split, characters as words."""
    from huggingface_hub import ModelCard

    from ner_trainer import BertTaggerConfig
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.card import card_info
    from trainer_common.args import parse_args
    from trainer_common.model_card import card_text

    encoder = make_encoder_dir(tmp_path)  # saved by transformers 5: no _name_or_path, no card
    train = tmp_path / "train.json"
    train.write_text('{"text": "叶老桂", "label": {"name": {"叶老桂": [[0, 2]]}}}\n', encoding="utf-8")
    args, training_args = parse_args((NERArguments, NERTrainingArguments), [
        "--model_name_or_path", str(encoder), "--train_file", str(train), "--output_dir", str(tmp_path / "clue"),
        "--report_to", "none",
    ])  # fmt: skip
    tags = ["O", "B-name", "I-name", "S-name", "B-company", "I-company", "S-company"]
    config = BertTaggerConfig(encoder=tiny_bert_config(), id2label=dict(enumerate(tags)), label_scheme="bios",
                              word_split="characters")  # fmt: skip
    results = {"eval_precision": 0.5, "eval_recall": 0.25, "eval_f1": 1 / 3, "eval_accuracy": 0.9}
    card = ModelCard(card_text(card_info(args, training_args, config, results), "clue"))  # parsed as the Hub does
    assert card.data.license is None and card.data.base_model is None and card.data.language is None
    assert [(r.dataset_split, r.metric_type) for r in card.data.eval_results] == [
        ("validation", "precision"), ("validation", "recall"), ("validation", "f1"), ("validation", "accuracy")
    ]  # fmt: skip
    assert table_rows(card_section(card.text, "Results"))[2] == ["F1", "0.3333"]
    snippet = usage_snippet(card.content)
    assert 'tagger("浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。")' in snippet
    assert 'aggregation_strategy="none"' in snippet and snippet_path(snippet) == (tmp_path / "clue").as_posix()
    model = card_section(card.text, "Model")
    assert "- **Encoder**: `tiny-bert` (a local folder; bert, 2 layers, hidden size 32)" in model
    assert "- **Entity types** (2): `name`, `company`" in model and "one per character" in model
    use = card_section(card.text, "Intended use and limitations")
    assert "name, company" in use and "`train.json`, read one character per word" in use
    assert "only on the dev split" in use
    assert "## Training results" not in card.text, "no training log, no per-epoch table"


def test_the_table_holds_the_evaluations_during_training_and_the_epochs_that_ran(tmp_path):
    """A run stopped early at epoch 2 of 5, whose best model is evaluated again after training."""
    log = [
        {"loss": 2.0, "epoch": 0.5, "step": 5},
        {"eval_loss": 1.5, "eval_f1": 0.2, "epoch": 1.0, "step": 10},
        {"eval_loss": 1.2, "eval_f1": 0.4, "epoch": 2.0, "step": 20},
        {"train_runtime": 3.0, "train_loss": 1.8, "epoch": 2.0, "step": 20},
        {"eval_loss": 1.2, "eval_f1": 0.4, "epoch": 2.0, "step": 20},
    ]
    rows = evaluations(log)
    assert [(row["step"], row["loss"]) for row in rows] == [(10, 2.0), (20, None)]
    training_args = SimpleNamespace(num_train_epochs=5.0, max_steps=-1, total_train_batch_size=8, learning_rate=1e-3)
    table = dict(hyperparameters(training_args, log))
    assert table["num_train_epochs"] == 5.0 and table["epochs trained"] == "2" and table["steps trained"] == 20


def test_snippets_name_the_hub_repository_when_pushed_and_an_absolute_path_otherwise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = SimpleNamespace(push_to_hub=False, hub_model_id=None, output_dir="runs/ner")
    assert model_reference(local) == (tmp_path / "runs" / "ner").as_posix()
    pushed = SimpleNamespace(push_to_hub=True, hub_model_id=None, output_dir="runs/ner")
    assert model_reference(pushed, SimpleNamespace(hub_model_id="me/ner")) == "me/ner"  # the repo push made
    named = SimpleNamespace(push_to_hub=True, hub_model_id="org/tagger", output_dir="x")
    assert model_reference(named) == "org/tagger"


def test_sources_are_named_by_their_hub_id_and_cards_read_when_readable(tmp_path):
    encoder = minilm_like_encoder(tmp_path)  # its own card: that card's model, whatever its config records
    source = describe_source(str(encoder))
    assert (source.name, source.hub_id) == ("all-MiniLM-L6-v2", None)
    assert source.recorded == "nreimers/MiniLM-L6-H384-uncased"
    assert (source.model_type, source.license, source.language, source.local) == ("bert", "apache-2.0", ["en"], True)
    (encoder / "README.md").unlink()  # a plain save_pretrained of a Hub model: its config names it
    source = describe_source(str(encoder))
    assert (source.name, source.hub_id, source.recorded) == ("nreimers/MiniLM-L6-H384-uncased",) * 2 + (None,)
    (encoder / "README.md").write_text("---\nmodel_name: my-minilm\nbase_model: org/base\n---\n# Title\n")
    assert (describe_source(str(encoder)).name, describe_source(str(encoder)).base_model) == ("my-minilm", "org/base")
    snapshot = tmp_path / "hub" / "models--dslim--bert-base-NER" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text(MINILM_CARD)  # the Hub cache's copy of a repository: that repository
    assert describe_source(str(snapshot)).hub_id == "dslim/bert-base-NER"
    (encoder / "README.md").write_text("---\nlicense: [unclosed\n---\n")
    (encoder / "config.json").write_text("{}")
    assert describe_source(str(encoder)) == Source(name="tiny-bert", local=True)  # nothing to read, no error


@pytest.mark.parametrize(
    "card, base_model, encoder",
    [
        (None, "google-bert/bert-base-cased", "`google-bert/bert-base-cased` (a local folder; bert"),
        (MINILM_CARD, None, "`all-MiniLM-L6-v2` (a local folder; its config records `google-bert/bert-base-cased`"),
        ("---\nbase_model: org/base\n---\n# mine\n", "org/base", "`mine` (a local folder; its config records "
         "`google-bert/bert-base-cased` as its origin; its card names `org/base` as its base model; bert"),
    ],
)  # fmt: skip
def test_base_model_is_a_config_origin_only_for_a_folder_without_a_card(tmp_path, card, base_model, encoder):
    from huggingface_hub import ModelCard

    from ner_trainer import BertTaggerConfig
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.card import card_info
    from trainer_common.args import parse_args
    from trainer_common.model_card import card_text

    folder = encoder_copy(tmp_path, "google-bert/bert-base-cased", card)
    train = write_conll(tmp_path / "train.txt", make_sentences(2, 0))
    args, training_args = parse_args((NERArguments, NERTrainingArguments), [
        "--model_name_or_path", str(folder), "--train_file", str(train), "--output_dir", str(tmp_path / "out"),
        "--report_to", "none",
    ])  # fmt: skip
    config = BertTaggerConfig(encoder=tiny_bert_config(), id2label={0: "O", 1: "B-LOC", 2: "I-LOC"})
    card = ModelCard(card_text(card_info(args, training_args, config, {}), "out"))
    assert card.data.base_model == base_model
    assert f"- **Encoder**: {encoder}" in card_section(card.text, "Model")
