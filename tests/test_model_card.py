"""The model card each run writes (metadata read back with huggingface_hub's parser), the files a push uploads, and
that exact folder loading in a fresh process: with the package and no trust_remote_code, and without it through
the card's own usage snippet."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_encoder_dir, run_without_project, write_mnist
from test_ner_train import base_args, make_sentences, write_conll

from trainer_common.hub_push import uploaded_files
from trainer_common.model_card import hub_id

ROOT = Path(__file__).resolve().parents[1]


def upload_copy(out: Path, dest: Path) -> Path:
    """The folder as `--push_to_hub` would upload it."""
    for name in uploaded_files(out):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / name, dest / name)
    return dest


def usage_snippet(card: str) -> str:
    return card.split("## Usage\n\n```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    from ner_trainer.train import main

    tmp = tmp_path_factory.mktemp("card")
    files = [write_conll(tmp / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 24, 0), ("dev", 8, 1), ("test", 8, 2))]  # fmt: skip
    out = tmp / "tagger"
    results = main(base_args(out, *files, model=make_encoder_dir(tmp), num_train_epochs=2, learning_rate=5e-3))
    return out, results


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
    assert data.base_model is None, "a local encoder folder must not be named as base_model"
    assert {"ner", "token-classification"} <= set(data.tags)
    scores = {r.metric_type: r.metric_value for r in data.eval_results}
    assert scores["f1"] == pytest.approx(results["test_f1"], abs=1e-6)
    assert scores["precision"] == pytest.approx(results["test_precision"], abs=1e-6)
    assert all(r.task_type == "token-classification" and r.dataset_split == "test" for r in data.eval_results)
    for kind in ("LOC", "PER", "ORG", "MISC"):
        assert f"| {kind} | {results[f'test_{kind}_precision']:.4f} |" in card.text
    assert "| learning_rate | 0.005 |" in card.text and "| classifier_learning_rate | 0.001 |" in card.text


def test_a_push_leaves_out_checkpoints_optimizer_state_and_predictions(ner_run):
    out, _ = ner_run
    assert list(out.glob("checkpoint-*")) and (out / "test_predictions.txt").is_file()
    uploaded = uploaded_files(out)
    assert {"README.md", "config.json", "model.safetensors", "modeling_bert_tagger.py", "tokenizer.json"} <= set(
        uploaded
    )
    assert not [name for name in uploaded if "checkpoint-" in name or name.startswith(".")]
    assert not {"test_predictions.txt", "training_args.bin", "optimizer.pt"} & set(uploaded)


def test_the_uploaded_folder_loads_with_the_package_and_without_it(ner_run, tmp_path):
    out, _ = ner_run
    upload = upload_copy(out, tmp_path / out.name)
    with_package = subprocess.run(
        [sys.executable, "-c", "import sys, ner_trainer\nfrom transformers import AutoModelForTokenClassification\n"
         f"m = AutoModelForTokenClassification.from_pretrained({str(upload)!r})\nprint(type(m).__name__)"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert with_package.returncode == 0 and with_package.stdout.strip() == "BertTagger", with_package.stderr[-2000:]
    # the card's snippet, as written, run beside the folder in a Python that cannot import this project
    snippet = usage_snippet((upload / "README.md").read_text())
    assert 'model="tagger"' in snippet
    proc = run_without_project(snippet, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'entity_group'" in proc.stdout


def test_vae_card_has_the_samples_image_and_a_working_snippet(tmp_path):
    from huggingface_hub import ModelCard

    from vae_trainer.train import main

    data = write_mnist(tmp_path / "data", n_train=64, n_test=32)
    out = tmp_path / "vae"
    argv = ["--data_dir", data, "--output_dir", out, "--num_train_epochs", "1", "--hidden_dim", "32",
            "--latent_dim", "4", "--report_to", "none", "--disable_tqdm", "true"]  # fmt: skip
    results = main([str(a) for a in argv])
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert card.data.datasets is None, "IDX files from --data_dir are not the Hub's MNIST"
    scores = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert scores["elbo_per_image"] == pytest.approx(results["test_elbo_per_image"], abs=1e-5)
    assert "![digits decoded from z ~ N(0, I)](samples.png)" in card.text
    upload = upload_copy(out, tmp_path / "upload" / "vae")
    assert "samples.png" in uploaded_files(out) and (upload / "samples.png").is_file()
    proc = run_without_project(usage_snippet(card.content) + "\nprint(tuple(digits.shape))", upload.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("(10, 28, 28)")
