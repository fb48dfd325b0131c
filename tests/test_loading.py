"""Every load checks what it loaded: a broken, partial or foreign checkpoint is one `error:` line, never a model
with random weights."""

import json
import shutil

import pytest
import torch
from helpers import make_encoder_dir
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForTokenClassification

import run_ner
import run_vae
from ner_trainer import BertTagger
from trainer_common.cli import run_cli
from trainer_common.errors import InputError
from trainer_common.loading import load_checked
from vae_trainer import VAEConfig, VAEModel


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A good tagger, its plain encoder, a VAE, and broken copies of the tagger."""
    tmp = tmp_path_factory.mktemp("loads")
    (tmp / "enc").mkdir()
    encoder = make_encoder_dir(tmp / "enc")
    BertTagger.from_encoder(str(encoder), ["O", "B-PER", "I-PER"]).save_pretrained(tmp / "tagger")
    VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)).save_pretrained(tmp / "vae")

    def broken(name, edit_weights=None, edit_config=None):
        folder = tmp / name
        shutil.copytree(tmp / "tagger", folder)
        if edit_weights:
            weights = load_file(folder / "model.safetensors")
            edit_weights(weights)
            save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
        if edit_config:
            config = json.loads((folder / "config.json").read_text())
            edit_config(config)
            (folder / "config.json").write_text(json.dumps(config))
        return folder

    def more_labels(config):
        config["id2label"] = {"0": "O", "1": "B-X", "2": "I-X", "3": "B-Y"}
        config["label2id"] = {tag: int(i) for i, tag in config["id2label"].items()}

    truncated = broken("truncated")
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    return {
        "tagger": tmp / "tagger",
        "encoder": encoder,
        "vae": tmp / "vae",
        "missing": broken("missing", edit_weights=lambda w: w.pop("classifier.weight")),
        "unexpected": broken("unexpected", edit_weights=lambda w: w.update({"extra.weight": torch.zeros(2)})),
        "mis-shaped": broken("mis-shaped", edit_config=more_labels),
        "truncated": truncated,
        "nowhere": tmp / "nowhere",
    }


def test_a_complete_checkpoint_loads(folders):
    model = load_checked(AutoModelForTokenClassification, str(folders["tagger"]))
    assert isinstance(model, BertTagger)
    assert isinstance(load_checked(AutoModel, str(folders["vae"]), ("mnist_vae",)), VAEModel)


@pytest.mark.parametrize(
    "case, model_class, message",
    [
        ("encoder", AutoModelForTokenClassification, r"an encoder \(BertModel, model_type bert\), not a token"),
        ("missing", AutoModelForTokenClassification, r"missing weights classifier\.weight$"),
        ("unexpected", AutoModelForTokenClassification, r"unexpected weights extra\.weight$"),
        ("mis-shaped", AutoModelForTokenClassification, r"classifier\.bias \(checkpoint \[3\], model \[4\]\)"),
        ("truncated", AutoModelForTokenClassification, r"could not load .*truncated: SafetensorError"),
        ("vae", AutoModelForTokenClassification, r"vae: a VAE \(VAEModel, model_type mnist_vae\), not a token"),
        ("nowhere", AutoModelForTokenClassification, r"nowhere: no such folder$"),
    ],
)
def test_a_broken_or_foreign_checkpoint_is_refused_by_name(folders, case, model_class, message):
    with pytest.raises(InputError, match=message) as raised:
        load_checked(model_class, str(folders[case]))
    assert str(folders[case]) in str(raised.value)


def test_the_wrong_model_type_is_refused_before_loading(folders):
    with pytest.raises(InputError, match=r"a token classifier \(BertTagger, model_type bert_tagger\), not a VAE"):
        load_checked(AutoModel, str(folders["tagger"]), ("mnist_vae",))


@pytest.mark.parametrize(
    "script, command, case, message",
    [
        (run_ner, ["predict", "--model"], "encoder", "an encoder (BertModel, model_type bert)"),
        (run_ner, ["predict", "--model"], "missing", "missing weights classifier.weight"),
        (run_vae, ["generate", "--output", "{tmp}", "--model"], "tagger", "not a VAE"),
        (run_vae, ["generate", "--output", "{tmp}", "--model"], "nowhere", "no such folder"),
    ],
)
def test_commands_answer_a_bad_model_with_one_error_line(folders, tmp_path, capsys, script, command, case, message):
    argv = [part.format(tmp=tmp_path) for part in command] + [str(folders[case])]
    # in process: the script exits with run_cli's status
    status = run_cli(script.COMMANDS, default="train", argv=[*argv, *(["some text"] if "predict" in argv else [])])
    stderr = capsys.readouterr().err
    assert status == 2, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in stderr
