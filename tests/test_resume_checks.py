"""`--resume_from_checkpoint` refuses a checkpoint another run wrote (other labels, head, scheme, pooling, LoRA
settings, VAE sizes, or weights that are not this model's), and one with a broken config, in one `error:` line
naming the checkpoint and what differs, before anything in the output folder changes. The same command resumes."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import make_encoder_dir, one_thread, write_mnist  # noqa: F401 (an autouse fixture)
from test_ner_train import base_args, make_sentences, write_conll

from ner_trainer.arguments import NERArguments, NERTrainingArguments
from ner_trainer.train import train as train_ner
from trainer_common.args import parse_args
from trainer_common.cli import run_cli
from trainer_common.errors import InputError
from vae_trainer.train import VAEArguments, VAETrainingArguments
from vae_trainer.train import train as train_vae

PER_LOC = {"PER": "PER", "LOC": "LOC", "ORG": "PER", "MISC": "LOC"}  # run A's 5 labels
ORG_MISC = {"PER": "ORG", "LOC": "MISC", "ORG": "ORG", "MISC": "MISC"}  # another 5, as many as A's
ALL_TYPES = {t: t for t in PER_LOC}  # 9 labels


def retyped(sentences, types: dict[str, str]):
    return [[(w, t if t == "O" else f"{t[:2]}{types[t[2:]]}") for w, t in s] for s in sentences]


def ner_argv(data, out, train="per_loc", **options) -> list[str]:
    options = {"max_steps": 2, "save_strategy": "steps", "save_steps": 2, "learning_rate": 1e-2,
               "keep_checkpoints": "true", **options}  # fmt: skip
    return base_args(out, data[train], model=options.pop("model", data["encoder"]), **options)


def run_ner(data, out, **options) -> dict:
    return train_ner(*parse_args((NERArguments, NERTrainingArguments), ner_argv(data, out, **options)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume_checks")
    sentences = make_sentences(24, seed=0)  # every entity type
    files = {name: write_conll(tmp / f"{name}.txt", retyped(sentences, types))
             for name, types in (("per_loc", PER_LOC), ("org_misc", ORG_MISC), ("all", ALL_TYPES))}  # fmt: skip
    data = {"encoder": make_encoder_dir(tmp), **files}
    run_ner(data, tmp / "plain")  # one checkpoint-writing run per kind of checkpoint, shared by the cases
    run_ner(data, tmp / "lora", lora_r=2)
    return {**data, "plain": tmp / "plain", "lora": tmp / "lora"}


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def resume_folder(tmp_path, run_dir: Path, checkpoint: str = "checkpoint-2") -> Path:
    """A new output folder holding a copy of `run_dir`'s checkpoint, as a stopped run leaves it."""
    out = tmp_path / "out"
    shutil.copytree(run_dir / checkpoint, out / checkpoint)
    return out


def assert_refused(out: Path, resume, match: str) -> None:
    """`resume()` raises an `InputError` naming `out`'s checkpoint and matching `match`; `out` is left as it was."""
    before = files_in(out)
    with pytest.raises(InputError, match=match) as refused:
        resume()
    message = str(refused.value)
    assert f"--resume_from_checkpoint {out / 'checkpoint-2'}" in message and "\n" not in message
    assert files_in(out) == before, "the output folder changed"


NER_CASES = {
    "same number of other labels": (
        {"train": "org_misc"},
        r"another run: id2label\[1\] 'B-LOC' here 'B-MISC' \(4 of 5 labels differ\)$",
    ),
    "another number of labels": (
        {"train": "all"},
        r"another run: id2label \(5 labels\) \{0: 'O', .*\.\.\.\} here \(9\) \{0: 'O', ",
    ),
    "crf head on a linear checkpoint": ({"head": "crf"}, "another run: head 'linear' here 'crf'$"),
    "another label scheme": ({"label_scheme": "bioes"}, "label_scheme 'iob2' here 'bioes'"),
    "another layer pooling": ({"layer_pooling": "scalar_mix"}, "another run: layer_pooling 'last' here 'scalar_mix'$"),
    "LoRA on a plain checkpoint": ({"lora_r": 2}, "another run: lora_r 0 here 2; lora_alpha None here 4"),
}


@pytest.mark.parametrize("options, match", NER_CASES.values(), ids=NER_CASES.keys())
def test_a_checkpoint_of_another_ner_run_is_refused(data, tmp_path, options, match):
    out = resume_folder(tmp_path, data["plain"])
    assert_refused(out, lambda: run_ner(data, out, resume_from_checkpoint="true", max_steps=3, **options), match)


@pytest.mark.parametrize(
    "options, match",
    [({}, "lora_r 2 here 0; lora_alpha 4 here None; lora_target_modules"), ({"lora_r": 4}, "lora_r 2 here 4")],
    ids=["without --lora_r", "another rank"],
)
def test_a_lora_checkpoint_needs_the_same_adapters(data, tmp_path, options, match):
    out = resume_folder(tmp_path, data["lora"])
    assert_refused(out, lambda: run_ner(data, out, resume_from_checkpoint="true", max_steps=3, **options), match)
    targets = {"lora_r": 2, "lora_target_modules": "query,value,key"}
    match = r"another run: lora_target_modules \['query', 'value'\] here \['key', 'query', 'value'\]$"
    assert_refused(out, lambda: run_ner(data, out, resume_from_checkpoint="true", max_steps=3, **targets), match)


def test_merged_weights_are_not_a_checkpoint_with_adapters(data, tmp_path):
    # a finished LoRA run's folder: its config records lora_r 2, its weights are merged (no adapters to load)
    out = tmp_path / "out"
    shutil.copytree(data["lora"], out / "checkpoint-2", ignore=shutil.ignore_patterns("checkpoint-*"))
    assert_refused(out, lambda: run_ner(data, out, resume_from_checkpoint="true", max_steps=3, lora_r=2),
                   r"weight encoder\..*\.query\.weight not in this model")  # fmt: skip


@pytest.mark.parametrize(
    "breakage, match",
    [("{not json", r"checkpoint-2/config.json:1: not JSON"), ('["a", "list"]', "config.json: not a JSON object"),
     ('{"model_type": "bert_tagger", "head": "tree"}', "config.json is not a valid bert_tagger config .*tree"),
     (None, "no config.json")],
    ids=["not JSON", "not an object", "a bad value", "missing"],
)  # fmt: skip
def test_a_checkpoint_with_a_broken_config_is_refused(data, tmp_path, breakage, match):
    out = resume_folder(tmp_path, data["plain"])
    config = out / "checkpoint-2" / "config.json"
    config.unlink()
    if breakage is not None:
        config.write_text(breakage)
    before = files_in(out)
    with pytest.raises(InputError, match=match):
        run_ner(data, out, resume_from_checkpoint="true", max_steps=3)
    assert files_in(out) == before


def damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how is None:
        path.unlink()
    elif how == "cut":
        path.write_bytes(raw[:100])
    elif how == "flip":  # one byte of the stored tensors: only the zip checksum tells
        middle = len(raw) // 2
        path.write_bytes(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :])
    else:
        path.write_text(how)


@pytest.mark.parametrize(
    "name, how, match",
    [("trainer_state.json", '{"global_step": ', r"trainer_state.json:1: not JSON"),
     ("trainer_state.json", "[1, 2]", "trainer_state.json: not a JSON object"),
     ("trainer_state.json", '{"global_step": "x"}', "global_step 'x' is not a step number"),
     ("optimizer.pt", "cut", "optimizer.pt is not a complete torch file"),
     ("scheduler.pt", "garbage", "scheduler.pt is not a complete torch file"),
     ("rng_state.pth", "flip", "rng_state.pth is damaged"),
     ("trainer_state.json", '{"global_step": 2, "log_history": "x"}', "log_history is not a list"),
     ("trainer_state.json", '{"global_step": 2, "best_metric": "high"}', "best_metric not a number"),
     ("trainer_state.json", '{"global_step": 5}', "is at step 5: --max_steps 3 leaves nothing to train"),
     ("optimizer.pt", None, "no optimizer.pt: resuming would restart the optimizer"),
     ("scheduler.pt", None, "no scheduler.pt: resuming would restart the optimizer")],
)  # fmt: skip
def test_a_checkpoint_with_a_damaged_trainer_state_is_refused(data, tmp_path, name, how, match):
    out = resume_folder(tmp_path, data["plain"])
    damage(out / "checkpoint-2" / name, how)
    before = files_in(out)
    with pytest.raises(InputError, match=match):
        run_ner(data, out, resume_from_checkpoint="true", max_steps=3)
    assert files_in(out) == before


def test_the_refusal_is_one_error_line(data, tmp_path, capsys):
    out = resume_folder(tmp_path, data["plain"])
    argv = ner_argv(data, out, train="org_misc", resume_from_checkpoint="true", max_steps=3)
    assert run_cli({"train": "ner_trainer.train:main"}, default="train", argv=argv) == 2
    err = capsys.readouterr().err  # after the encoder's loading progress bar
    assert err.endswith("\n") and "Traceback" not in err and err.count("error:") == 1
    last = err.splitlines()[-1]
    assert last.startswith(f"error: --resume_from_checkpoint {out / 'checkpoint-2'} was written by another run: ")


def test_the_same_run_resumes(data, tmp_path):
    out = resume_folder(tmp_path, data["plain"])
    assert run_ner(data, out, resume_from_checkpoint="true", max_steps=3)["train_loss"] > 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 3


def test_a_continued_tagger_with_new_labels_resumes(data, tmp_path):
    # the model built for the run has the saved tagger's labels extended by the data's: the checkpoint's too
    first = tmp_path / "first"
    continued = {"train": "all", "model": data["plain"], "save_steps": 1, "save_total_limit": 2}
    run_ner(data, first, **continued)
    labels = json.loads((first / "config.json").read_text())["id2label"]
    assert [labels[str(i)] for i in range(5, 9)] == ["B-MISC", "I-MISC", "B-ORG", "I-ORG"]
    out = resume_folder(tmp_path, first, "checkpoint-1")
    run_ner(data, out, **continued, resume_from_checkpoint="true")
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2


# ---- VAE --------------------------------------------------------------------------------------------------------


def run_vae(data: Path, out: Path, *extra: str) -> dict:
    argv = ["--data_dir", str(data), "--output_dir", str(out), "--max_steps", "2", "--save_strategy", "steps",
            "--save_steps", "2",
            "--per_device_train_batch_size", "16", "--max_train_samples", "32", "--max_eval_samples", "16",
            "--hidden_dim", "16", "--latent_dim", "2", "--disable_tqdm", "true", "--report_to", "none",
            "--num_samples", "2", *extra]  # fmt: skip
    return train_vae(*parse_args((VAEArguments, VAETrainingArguments), argv))


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vae_resume_checks")
    mnist = write_mnist(tmp / "mnist", n_train=32, n_test=16)
    run_vae(mnist, tmp / "run", "--keep_checkpoints", "true")
    return mnist, tmp / "run"


@pytest.mark.parametrize(
    "extra, match",
    [(("--hidden_dim", "8"), "another run: hidden_dim 16 here 8$"),
     (("--latent_dim", "3", "--kl_weight", "0.5"), "another run: latent_dim 2 here 3; kl_weight 1.0 here 0.5$")],
    ids=["hidden_dim", "latent_dim and kl_weight"],
)  # fmt: skip
def test_a_vae_checkpoint_of_other_sizes_is_refused(vae_run, tmp_path, extra, match):
    mnist, run_dir = vae_run
    out = resume_folder(tmp_path, run_dir)
    assert_refused(out, lambda: run_vae(mnist, out, "--resume_from_checkpoint", "true", "--max_steps", "3", *extra),
                   match)  # fmt: skip


def test_a_checkpoint_of_the_other_task_is_refused(data, vae_run, tmp_path):
    out = resume_folder(tmp_path, vae_run[1])
    assert_refused(out, lambda: run_ner(data, out, resume_from_checkpoint="true", max_steps=3),
                   "another run: model_type 'mnist_vae' here 'bert_tagger'$")  # fmt: skip
