"""Errors that point the right way: a folder of another kind of model says what it is and which command takes it,
and a Hub that cannot be reached (offline, or no network) names the dataset or model and how to use local files,
in one `error:` line, at once, without a retry loop."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import make_encoder_dir, save_stock_tagger

import run_ner
import run_vae
from ner_trainer import BertTagger
from trainer_common import hub_data
from trainer_common.cli import run_cli
from vae_trainer import VAEConfig, VAEModel

ROOT = Path(__file__).resolve().parents[1]
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, so a connection is refused at once
README_COMMAND = ["run_ner.py", "--model_name_or_path", "bert-base-cased"]  # the README's first NER command
LOCAL_FILES = "give local files with --train_file/--validation_file/--test_file, or run once online to fill the cache"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny encoder, a BertTagger and a stock tagger over it (each with its tokenizer), a VAE, a CoNLL file."""
    tmp = tmp_path_factory.mktemp("kinds")
    (tmp / "enc").mkdir()
    encoder = make_encoder_dir(tmp / "enc")
    tagger = tmp / "tagger"
    BertTagger.from_encoder(str(encoder), ["O", "B-PER", "I-PER"]).save_pretrained(tagger)
    for name in os.listdir(encoder):
        if not name.startswith(("config", "model")):
            shutil.copy(encoder / name, tagger / name)
    (tmp / "stock").mkdir()
    VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)).save_pretrained(tmp / "vae")
    conll = tmp / "train.txt"
    conll.write_text("John B-PER\nSmith I-PER\nlives O\n\nMary B-PER\nLee I-PER\n")
    return {
        "encoder": encoder, "tagger": tagger, "stock": save_stock_tagger(tmp / "stock", ["O", "B-LOC", "I-LOC"]),
        "vae": tmp / "vae", "conll": conll,
    }  # fmt: skip


def one_error(commands: dict, argv: list[str], capsys) -> str:
    """The message of the one `error:` line `run_cli` ends with on `argv` (exit status 2)."""
    assert run_cli(commands, default="train", argv=argv) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("error:") == 1 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: "), err
    return last.removeprefix("error: ")


# ---- a folder of another kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "commands, argv, case, expected",
    [
        (run_ner.COMMANDS, ["predict", "--model", "{}", "Paris"], "vae",
         "{}: a VAE (VAEModel, model_type mnist_vae), not a token classifier: train one with run_ner.py, or use "
         "run_vae.py generate"),
        (run_ner.COMMANDS, ["predict", "--model", "{}", "Paris"], "encoder",
         "{0}: an encoder (BertModel, model_type bert), not a token classifier: train one on it with run_ner.py "
         "--model_name_or_path {0} --train_file FILE"),
        (run_vae.COMMANDS, ["generate", "--output", "{out}", "--model", "{}"], "tagger",
         "{}: a token classifier (BertTagger, model_type bert_tagger), not a VAE: train one with run_vae.py, or use "
         "run_ner.py predict"),
        (run_vae.COMMANDS, ["generate", "--output", "{out}", "--model", "{}"], "stock",
         "{}: a token classifier (BertForTokenClassification, model_type bert), not a VAE: train one with "
         "run_vae.py, or use run_ner.py predict"),
        (run_ner.COMMANDS, ["export", "--output", "{out}", "--model", "{}"], "vae",
         "{}: a VAE (VAEModel, model_type mnist_vae), not a tagger of run_ner.py's (model_type bert_tagger): train "
         "one with run_ner.py, or use run_vae.py generate"),
        (run_ner.COMMANDS, ["export", "--output", "{out}", "--model", "{}"], "stock",
         "{}: a token classifier (BertForTokenClassification, model_type bert), not a tagger of run_ner.py's "
         "(model_type bert_tagger): train one with run_ner.py, or use run_ner.py predict"),
        (run_ner.COMMANDS, ["--model_name_or_path", "{}", "--train_file", "{conll}", "--output_dir", "{out}"], "vae",
         "--model_name_or_path {}: a VAE (VAEModel, model_type mnist_vae), not an encoder or a tagger of "
         "run_ner.py's: give a pretrained encoder (a folder or Hub id such as bert-base-cased), or use run_vae.py "
         "generate"),
    ],
)  # fmt: skip
def test_a_model_of_another_kind_is_named_with_the_command_that_takes_it(
    folders, tmp_path, capsys, commands, argv, case, expected
):
    out = tmp_path / "out"
    argv = [part.format(folders[case], out=out, conll=folders["conll"]) for part in argv]
    assert one_error(commands, argv, capsys) == expected.format(folders[case])
    assert not out.exists()  # refused before anything is written


def test_the_kind_check_lets_every_token_classifier_through(folders, capsys):
    for case in ("tagger", "stock"):
        assert run_cli(run_ner.COMMANDS, "train", ["predict", "--model", str(folders[case]), "John Smith"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[0])["text"] == "John Smith"


# ---- the Hub offline: HF_HUB_OFFLINE=1 -----------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """What HF_HUB_OFFLINE=1 sets at import (conftest sets it too): made explicit, as these tests depend on it."""
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def test_offline_an_uncached_model_or_dataset_is_named_with_the_local_way(offline, folders, tmp_path, capsys):
    advice = "and it is not in the cache: give a local model folder"
    argv = ["predict", "--model", "someone/tagger", "Paris"]
    assert one_error(run_ner.COMMANDS, argv, capsys) == (
        f"could not reach the Hugging Face Hub for model someone/tagger (HF_HUB_OFFLINE is set), {advice} instead, "
        "or run once online to fill the cache"
    )
    argv = ["--model_name_or_path", "someone/encoder", "--train_file", str(folders["conll"]), "--output_dir",
            str(tmp_path / "ner"), "--report_to", "none"]  # fmt: skip
    assert one_error(run_ner.COMMANDS, argv, capsys) == (
        f"could not reach the Hugging Face Hub for model someone/encoder (HF_HUB_OFFLINE is set), {advice} to "
        "--model_name_or_path, or run once online to fill the cache"
    )
    argv = ["--dataset_name", "someone/mnist", "--output_dir", str(tmp_path / "vae"), "--report_to", "none"]
    assert one_error(run_vae.COMMANDS, argv, capsys) == (
        "could not reach the Hugging Face Hub for dataset someone/mnist (HF_HUB_OFFLINE is set), and it is not in "
        "the cache: leave out --dataset_name for the bundled MNIST, or give --data_dir; or run once online to fill "
        "the cache"
    )


def test_the_readme_command_offline_is_one_line(tmp_path):
    proc = script(README_COMMAND + ["--output_dir", str(tmp_path / "ner")], tmp_path, HF_HUB_OFFLINE="1")
    assert_last_line(proc, "error: could not reach the Hugging Face Hub for dataset eriktks/conll2003 (the default: "
                     f"no --train_file or --dataset_name given; HF_HUB_OFFLINE is set), and it is not in the cache: "
                     f"{LOCAL_FILES}")  # fmt: skip


# ---- no network, HF_HUB_OFFLINE not set ----------------------------------------------------------------------------


def test_no_network_is_found_out_at_once_and_named(tmp_path):
    """The Hub's host refuses connections: no half minute of retries per file (huggingface_hub's backoff), one line."""
    started = time.monotonic()
    proc = script(README_COMMAND + ["--output_dir", str(tmp_path / "ner")], tmp_path, HF_ENDPOINT=CLOSED_PORT)
    assert_last_line(proc, "error: could not reach the Hugging Face Hub for dataset eriktks/conll2003 (the default: "
                     f"no --train_file or --dataset_name given; connection failed: {CLOSED_PORT}: ConnectError: "
                     f"[Errno 111] Connection refused), and it is not in the cache: {LOCAL_FILES}")  # fmt: skip
    assert "Retrying" not in proc.stderr and time.monotonic() - started < 60


def test_no_network_a_cached_hub_model_still_loads(folders, tmp_path):
    """The cache answers when the Hub does not, as huggingface_hub's own fallback does, without its retries."""
    snapshot = tmp_path / "hf" / "hub" / "models--someone--tagger" / "snapshots" / ("0" * 40)
    shutil.copytree(folders["stock"], snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    proc = script(["run_ner.py", "predict", "--model", "someone/tagger", "John Smith"], tmp_path,
                  HF_ENDPOINT=CLOSED_PORT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["text"] == "John Smith" and "Retrying" not in proc.stderr


def test_no_network_in_process_names_the_model(folders, tmp_path, monkeypatch, capsys):
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", CLOSED_PORT)
    monkeypatch.setattr(hub_data, "_probe", {})
    message = one_error(run_ner.COMMANDS, ["predict", "--model", "someone/no-such-tagger", "Paris"], capsys)
    assert message.startswith(
        f"could not reach the Hugging Face Hub for model someone/no-such-tagger (connection failed: {CLOSED_PORT}: "
    )
    assert message.endswith("give a local model folder instead, or run once online to fill the cache")
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE  # for the process's later loads too


def test_other_errors_are_not_taken_for_an_unreachable_hub():
    with pytest.raises(ZeroDivisionError):
        with hub_data.from_hub("model", "someone/model"):
            raise ZeroDivisionError


# ---- helpers -------------------------------------------------------------------------------------------------------


def script(argv: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`python argv...` with the Hugging Face cache in `tmp_path` (empty unless the test fills it), and
    HF_HUB_OFFLINE unset unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}
    env = {**base, "HF_HOME": str(tmp_path / "hf"), **env}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def assert_last_line(proc: subprocess.CompletedProcess, line: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.splitlines()[-1] == line and proc.stderr.count("error:") == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
