"""`--push_to_hub` against a fake Hub client that records every call and what each upload would send (its folder's
files filtered by its own patterns, as the real client filters them, read when the upload runs): for each
`--hub_strategy`, no upload holds the token, a checkpoint's or the Trainer's state, the staging folder or a
prediction file; every_save sends the model of each save; and no file the run writes holds the token."""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import huggingface_hub
import pytest
import torch
import transformers.trainer
from helpers import SignalAtStep, make_encoder_dir, write_mnist
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS
from safetensors.torch import load_file
from test_ner_train import base_args, make_sentences, write_conll
from test_run_safety import run, vae_args
from test_wandb import run_script
from transformers import TrainerCallback, TrainingArguments

from trainer_common.args import parse_args
from trainer_common.errors import InputError, Interrupted
from trainer_common.trainer import MultiLossTrainer
from vae_trainer.train import VAEArguments, VAETrainingArguments

SECRET = "hf_SECRETtest123"
PUSH = ["--push_to_hub", "true", "--hub_model_id", "me/model", "--hub_token", SECRET]
VAE_MODEL = {"config.json", "model.safetensors", "configuration_vae.py", "modeling_vae.py"}
FORBIDDEN = ("optimizer.pt", "scheduler.pt", "training_args.bin", "trainer_state.json")  # in a model push


class FakeHub:
    """Stands in for `transformers.trainer.hf_api()`. `gate`: background jobs wait for it, as a slow upload would,
    so that they read their files after the checkpoint folder was renamed and rotated away."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls, self.repo, self.gate = [], {}, gate
        self.pool = ThreadPoolExecutor(max_workers=1)  # the real client runs its jobs one after another

    def create_repo(self, repo_id, token=None, private=None, exist_ok=False, **kwargs):
        self.calls.append({"kind": "create_repo", "repo_id": repo_id, "token": token})
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, path_in_repo=None, commit_message=None, token=None,
                      allow_patterns=None, ignore_patterns=None, delete_patterns=None, run_as_future=False,
                      **kwargs):  # fmt: skip
        if run_as_future:
            return self.run_as_future(self.upload_folder, repo_id=repo_id, folder_path=folder_path,
                                      path_in_repo=path_in_repo, commit_message=commit_message, token=token,
                                      allow_patterns=allow_patterns, ignore_patterns=ignore_patterns,
                                      delete_patterns=delete_patterns)  # fmt: skip
        root, prefix = Path(folder_path), f"{path_in_repo.strip('/')}/" if path_in_repo else ""
        local = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        ignored = [*(ignore_patterns or []), *DEFAULT_IGNORE_PATTERNS]
        kept = filter_repo_objects(local, allow_patterns=allow_patterns, ignore_patterns=ignored)
        sent = {prefix + name: (root / name).read_bytes() for name in kept}
        deleted = list(filter_repo_objects(self.repo, allow_patterns=delete_patterns)) if delete_patterns else []
        for name in deleted:
            self.repo.pop(name)
        self.repo.update(sent)
        self.calls.append({"kind": "upload", "repo_id": repo_id, "folder": str(folder_path), "files": sent,
                           "message": commit_message, "token": token, "deleted": deleted})  # fmt: skip

    def upload_file(self, *, path_or_fileobj, path_in_repo, **kwargs):
        data = Path(path_or_fileobj).read_bytes() if isinstance(path_or_fileobj, (str, Path)) else path_or_fileobj
        self.calls.append({"kind": "upload", "files": {path_in_repo: data}, "message": "", "deleted": []})

    def create_commit(self, *, operations, commit_message=None, **kwargs):
        sent = {}
        for op in operations:
            if hasattr(op, "path_or_fileobj"):
                with op.as_file() as file:
                    sent[op.path_in_repo] = file.read()
        self.calls.append({"kind": "upload", "files": sent, "message": commit_message, "deleted": []})

    def run_as_future(self, fn, *args, **kwargs) -> Future:
        if self.gate is None:  # resolved now: what the job sees is what the folder holds at this moment
            future = Future()
            future.set_result(fn(*args, **kwargs))
            return future
        return self.pool.submit(lambda: (self.gate.wait(), fn(*args, **kwargs))[1])

    def uploads(self) -> list[dict]:
        return [call for call in self.calls if call["kind"] == "upload"]


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub()
    monkeypatch.setattr(transformers.trainer, "hf_api", lambda: fake)

    def offline(*args, **kwargs):
        raise AssertionError("a Hub call bypassed transformers.trainer.hf_api")

    for name in ("create_repo", "upload_folder", "upload_file", "create_commit", "run_as_future"):
        monkeypatch.setattr(huggingface_hub.HfApi, name, offline)
    return fake


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=16)


def vae_push_args(data: Path, out: Path, strategy: str, *extra: str) -> list[str]:
    return vae_args(data, out, "--save_strategy", "steps", "--save_steps", "2", *PUSH, "--hub_strategy", strategy,
                    *extra)  # fmt: skip


class ModelAtEachSave(TrainerCallback):
    """The weights of each checkpoint, read once it is in place."""

    def __init__(self):
        self.weights = {}

    def on_save(self, args, state, control, **kwargs):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / "model.safetensors"
        self.weights[state.global_step] = path.read_bytes()


class OpenAtTrainEnd(TrainerCallback):
    def __init__(self, gate: threading.Event):
        self.gate = gate

    def on_train_end(self, args, state, control, **kwargs):
        self.gate.set()


def assert_nothing_forbidden_sent(hub: FakeHub) -> None:
    for call in hub.uploads():
        assert call.get("token") == SECRET, call["kind"]
        for name, data in call["files"].items():
            assert SECRET.encode() not in data, name
            assert not name.startswith((".", "_", "checkpoint-", "last-checkpoint")), name
            assert Path(name).name not in ("optimizer.pt", "scheduler.pt", "scaler.pt", "training_args.bin"), name
            assert not Path(name).name.startswith("rng_state"), name
            assert not name.endswith(("_predictions.txt", "_predictions.json")), name


def assert_no_secret_on_disk(out: Path) -> None:
    written = [p for p in out.rglob("*") if p.is_file()]
    assert [p for p in written if p.name == "training_args.bin"], "the Trainer writes its arguments"
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    for path in written:
        if path.name == "training_args.bin":
            saved = torch.load(path, weights_only=False)
            assert saved.hub_token is None and saved.push_to_hub and saved.hub_model_id == "me/model"


def model_pushes(hub: FakeHub) -> list[dict]:
    return [call for call in hub.uploads() if call["message"].startswith("Training in progress")]


def test_every_save_pushes_the_model_of_each_save_and_nothing_else(data, tmp_path, hub):
    out = tmp_path / "run"
    saves = ModelAtEachSave()
    run(vae_push_args(data, out, "every_save"), callbacks=[saves])
    assert [call["kind"] for call in hub.calls][0] == "create_repo" and hub.calls[0]["repo_id"] == "me/model"
    pushes = model_pushes(hub)
    assert [call["message"] for call in pushes] == [f"Training in progress, step {n}" for n in (2, 4, 6, 8)]
    for step, call in zip((2, 4, 6, 8), pushes):
        assert set(call["files"]) == VAE_MODEL, "the model: weights, config and code, nothing of the Trainer's"
        assert call["files"]["model.safetensors"] == saves.weights[step]
    assert len({call["files"]["model.safetensors"] for call in pushes}) == 4
    final = hub.uploads()[-1]
    assert final["message"] == "End of training" and final["folder"] == str(out)
    assert VAE_MODEL | {"README.md", "all_results.json", "samples.png"} <= set(final["files"])
    assert final["files"]["model.safetensors"] == (out / "model.safetensors").read_bytes()
    assert len(hub.uploads()) == 5
    assert_nothing_forbidden_sent(hub)
    assert_no_secret_on_disk(out)
    assert not (out / ".staging").exists(), "the pushes' snapshots are removed once uploaded"


def test_end_pushes_once_at_the_end(data, tmp_path, hub):
    out = tmp_path / "run"
    run(vae_push_args(data, out, "end"))
    assert [call["kind"] for call in hub.calls] == ["create_repo", "upload"]
    assert hub.uploads()[0]["message"] == "End of training" and VAE_MODEL <= set(hub.uploads()[0]["files"])
    assert_nothing_forbidden_sent(hub)
    assert_no_secret_on_disk(out)


def test_a_slow_push_uploads_the_model_of_its_own_save(data, tmp_path, monkeypatch):
    """Each push's files are read after training went on: the checkpoint was renamed out of `.staging/` and
    rotated away, and later saves wrote new weights. Every push still sends its own save's model."""
    gate = threading.Event()
    hub = FakeHub(gate)
    monkeypatch.setattr(transformers.trainer, "hf_api", lambda: hub)
    out, saves = tmp_path / "run", ModelAtEachSave()
    run(vae_push_args(data, out, "every_save", "--hub_always_push", "true"), callbacks=[saves, OpenAtTrainEnd(gate)])
    pushes = model_pushes(hub)
    assert len(pushes) == 4 and all(set(call["files"]) == VAE_MODEL for call in pushes)
    assert [call["files"]["model.safetensors"] for call in pushes] == [saves.weights[n] for n in (2, 4, 6, 8)]
    assert hub.uploads()[-1]["message"] == "End of training"  # after the checkpoint pushes, as the Trainer waits
    assert_nothing_forbidden_sent(hub)
    assert not (out / ".staging").exists()


def test_a_push_removes_what_earlier_pushes_left_in_the_repository(data, tmp_path, hub):
    # as transformers' own every_save push, or this toolkit's before it filtered them, left the repository
    stale = ["training_args.bin", ".staging/checkpoint-2/optimizer.pt", ".staging/checkpoint-2/rng_state.pth",
             "last-checkpoint/scheduler.pt", "last-checkpoint/model.safetensors", "notes.md"]  # fmt: skip
    hub.repo.update({name: b"old" for name in stale})
    run(vae_push_args(data, tmp_path / "run", "end"))
    assert set(hub.repo) & set(stale) == {"last-checkpoint/model.safetensors", "notes.md"}
    assert VAE_MODEL <= set(hub.repo)


@pytest.mark.parametrize("strategy", ["checkpoint", "all_checkpoints"])
def test_checkpoint_strategies_are_refused_before_anything_starts(data, tmp_path, hub, strategy):
    with pytest.raises(InputError, match=f"--hub_strategy {strategy} .*optimizer.*every_save"):
        parse_args((VAEArguments, VAETrainingArguments), vae_push_args(data, tmp_path / "run", strategy))
    assert not hub.calls and not (tmp_path / "run").exists()
    parse_args((VAEArguments, VAETrainingArguments), vae_args(data, tmp_path / "run", "--hub_strategy", strategy))
    # a MultiLossTrainer built from plain TrainingArguments refuses them too
    args = TrainingArguments(str(tmp_path / "plain"), push_to_hub=True, hub_model_id="me/model", hub_strategy=strategy)
    with pytest.raises(InputError, match=f"--hub_strategy {strategy}"):
        MultiLossTrainer(model=torch.nn.Linear(2, 2), args=args)


def test_a_resumed_run_pushes_and_writes_no_token(data, tmp_path, hub):
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run(vae_push_args(data, out, "every_save"), callbacks=[SignalAtStep(3)])
    assert_no_secret_on_disk(out)
    resumed_saves = len(model_pushes(hub))
    run(vae_push_args(data, out, "every_save", "--resume_from_checkpoint", "true"))
    steps = [call["message"].rsplit(" ", 1)[1] for call in model_pushes(hub)[resumed_saves:]]
    assert steps == ["4", "6", "8"]
    assert_nothing_forbidden_sent(hub)
    assert_no_secret_on_disk(out)
    whole = tmp_path / "whole"
    run(vae_args(data, whole, "--save_strategy", "steps", "--save_steps", "2"))
    resumed, uninterrupted = load_file(str(out / "model.safetensors")), load_file(str(whole / "model.safetensors"))
    for name, value in uninterrupted.items():
        torch.testing.assert_close(resumed[name], value, rtol=0, atol=1e-6)


def test_ner_pushes_the_tagger_and_its_tokenizer_and_writes_no_token(tmp_path, hub):
    from ner_trainer.train import main

    files = [write_conll(tmp_path / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 16, 0), ("dev", 8, 1), ("test", 8, 2))]  # fmt: skip
    out = tmp_path / "tagger"
    argv = base_args(out, *files, model=make_encoder_dir(tmp_path), num_train_epochs=2, token=SECRET)
    main(argv + PUSH)
    pushes = model_pushes(hub)
    assert [call["message"] for call in pushes] == ["Training in progress, epoch 1", "Training in progress, epoch 2"]
    for call in pushes:
        assert {"config.json", "model.safetensors", "modeling_bert_tagger.py", "tokenizer.json"} <= set(call["files"])
        assert not set(call["files"]) & set(FORBIDDEN)
    final = hub.uploads()[-1]
    assert final["message"] == "End of training" and "README.md" in final["files"]
    assert (out / "test_predictions.txt").is_file() and "test_predictions.txt" not in final["files"]
    assert_nothing_forbidden_sent(hub)
    assert_no_secret_on_disk(out)


def test_the_trainers_own_push_to_hub_is_filtered_alike(tmp_path, hub):
    from vae_trainer.configuration_vae import VAEConfig
    from vae_trainer.modeling_vae import VAEModel

    out = tmp_path / "out"
    args = TrainingArguments(str(out), push_to_hub=True, hub_model_id="me/model", hub_token=SECRET, report_to="none")
    trainer = MultiLossTrainer(model=VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)), args=args)
    out.mkdir(exist_ok=True)
    (out / "test_predictions.txt").write_text("gold tags\n")
    trainer.push_to_hub(blocking=False).result()
    trainer.push_to_hub("again")
    assert [call["message"] for call in hub.uploads()] == ["End of training", "again"]
    assert all(set(call["files"]) == VAE_MODEL for call in hub.uploads())  # and not the Trainer's generic card
    assert not (out / "README.md").exists()
    assert_nothing_forbidden_sent(hub)
    assert_no_secret_on_disk(out)


def test_wandb_and_the_output_folder_never_hold_the_hub_token(data, tmp_path):
    """A run in its own process with offline W&B, as users start it: the token stays out of its files too."""
    out = tmp_path / "out"
    run_script("run_vae.py", ["train", *vae_args(data, out, "--hub_token", SECRET)], tmp_path)  # --report_to wandb
    logged = [p for p in (tmp_path / "wandb").rglob("*") if p.is_file()]
    assert logged and not [p for p in logged if SECRET.encode() in p.read_bytes()]
    assert not [p for p in out.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert torch.load(out / "training_args.bin", weights_only=False).hub_token is None


def test_a_hub_that_cannot_be_reached_is_one_error_before_training(data, tmp_path):
    out = tmp_path / "run"  # no fake client: HF_HUB_OFFLINE=1, as a machine without network
    with pytest.raises(InputError, match=r"--push_to_hub: could not create or reach .* on the Hub \(offline"):
        run(vae_push_args(data, out, "end"))
    assert not out.exists() or not any(out.iterdir())


def test_a_failed_final_upload_says_the_run_is_saved(data, tmp_path, hub, monkeypatch):
    def refused(**kwargs):
        raise PermissionError("403 Forbidden: the token cannot write to you/tiny")

    monkeypatch.setattr(hub, "upload_folder", refused)
    out = tmp_path / "run"
    with pytest.raises(InputError, match=rf"the run is saved in {out}, but its upload to .* failed \(PermissionError"):
        run(vae_push_args(data, out, "end"))
    assert (out / "model.safetensors").is_file() and (out / "all_results.json").is_file()
    assert_no_secret_on_disk(out)
