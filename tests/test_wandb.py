"""`--report_to wandb`, offline, read back from the run's own log: the task arguments and model config, the loss
components, the final test metrics, the NER prediction table and the VAE images; `--run_name` and `WANDB_*`."""

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_encoder_dir, write_mnist
from test_ner_train import make_sentences, write_conll
from wandb_log import read_run

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, argv: list, tmp_path: Path, **env) -> dict:
    """Run a script in its own process (as users do: one W&B run per process) with offline W&B in `tmp_path`."""
    environment = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith("WANDB_")},
        "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1", **env,
    }  # fmt: skip
    proc = subprocess.run([sys.executable, script, *map(str, argv), "--report_to", "wandb", "--disable_tqdm", "true"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_run(tmp_path / "wandb")


def history_keys(run: dict) -> set[str]:
    return {key for row in run["history"] for key in row}


def test_ner_run_logs_arguments_losses_test_metrics_and_a_prediction_table(tmp_path):
    files = [write_conll(tmp_path / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 16, 0), ("dev", 8, 1), ("test", 8, 2))]  # fmt: skip
    argv = ["--model_name_or_path", make_encoder_dir(tmp_path), "--train_file", files[0], "--validation_file",
            files[1], "--test_file", files[2], "--output_dir", tmp_path / "out", "--num_train_epochs", "1",
            "--per_device_train_batch_size", "4", "--logging_steps", "1", "--max_seq_length", "16",
            "--head", "crf", "--run_name", "tiny-crf", "--token", "hf_not_a_real_token"]  # fmt: skip
    run = run_script("run_ner.py", argv, tmp_path, WANDB_PROJECT="ner-tests", WANDB_TAGS="a,b")
    assert run["run"]["name"] == "tiny-crf" and run["run"]["project"] == "ner-tests"
    assert set(run["run"]["tags"]) == {"a", "b"}
    config = run["config"]
    assert config["head"] == "crf" and config["label_scheme"] == "iob2" and config["max_seq_length"] == 16
    assert config["learning_rate"] == 5e-5 and config["model_type"] == "bert_tagger"  # training args, model config
    assert config["token"] == "<TOKEN>"  # a Hub token is never logged
    assert not [p for p in (tmp_path / "wandb").rglob("*") if p.is_file() and b"hf_not_a_real" in p.read_bytes()]
    keys = history_keys(run)
    assert {"train/loss", "eval/loss", "eval/f1", "test/f1", "test/precision", "test/LOC_f1"} <= keys
    import json

    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert run["summary"]["test/f1"] == pytest.approx(results["test_f1"])
    table = next(row["test_predictions"] for row in run["history"] if "test_predictions" in row)
    assert table["_type"] == "table-file" and table["nrows"] == 8 and table["ncols"] == 3


def test_vae_run_logs_loss_components_test_metrics_and_images(tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=64, n_test=32)
    argv = ["--data_dir", data, "--output_dir", tmp_path / "out", "--num_train_epochs", "2", "--hidden_dim", "16",
            "--latent_dim", "2", "--logging_steps", "1", "--kl_weight", "0.5"]  # fmt: skip
    run = run_script("run_vae.py", argv, tmp_path, WANDB_PROJECT="vae-tests", WANDB_RUN_GROUP="sweep-1",
                     WANDB_LOG_MODEL="end")  # fmt: skip
    assert run["run"]["project"] == "vae-tests" and run["config"]["kl_weight"] == 0.5
    assert run["run"]["group"] == "sweep-1"
    # transformers logs the architecture at the start, then the final model as a new version of the same artifact
    model = [artifact for artifact in run["artifacts"] if artifact["type"] == "model"][-1]
    assert {"model.safetensors", "config.json", "modeling_vae.py"} <= set(model["files"])
    assert not [name for name in model["files"] if "checkpoint" in name or "optimizer" in name]
    keys = history_keys(run)
    assert {"train/recon_loss", "train/kl_loss", "eval/recon_loss", "eval/kl_loss"} <= keys
    assert {"test/loss", "test/recon_loss", "test/kl_loss", "test/elbo_per_image"} <= keys
    images = next(row for row in run["history"] if "samples" in row)
    assert images["samples"]["_type"] == "image-file" and images["reconstructions"]["_type"] == "image-file"
    assert images["samples"]["width"] >= 10 * 84


def test_classification_run_logs_test_metrics_the_confusion_matrix_and_a_prediction_table(tmp_path):
    import json

    from test_cls_train import make_rows, write_tsv

    files = [write_tsv(tmp_path / f"{name}.tsv", make_rows(n, seed)) for name, n, seed in
             (("train", 16, 0), ("dev", 8, 1), ("test", 7, 2))]  # fmt: skip
    argv = ["--model_name_or_path", make_encoder_dir(tmp_path), "--train_file", files[0], "--validation_file",
            files[1], "--test_file", files[2], "--output_dir", tmp_path / "out", "--num_train_epochs", "1",
            "--per_device_train_batch_size", "4", "--max_seq_length", "32", "--label_names", "negative,positive",
            "--token", "hf_not_a_real_token"]  # fmt: skip
    run = run_script("run_classification.py", argv, tmp_path)
    assert run["run"]["project"] == "text-classification"
    assert run["config"]["model_type"] == "bert" and run["config"]["token"] == "<TOKEN>"
    keys = history_keys(run)
    assert {"train/loss", "eval/loss", "eval/accuracy", "test/accuracy", "test/macro_f1", "test/positive_f1"} <= keys
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert run["summary"]["test/accuracy"] == pytest.approx(results["test_accuracy"])
    assert any("confusion_matrix" in row for row in run["history"])
    table = next(row["test_predictions"] for row in run["history"] if "test_predictions" in row)
    assert table["_type"] == "table-file" and table["nrows"] == 7
