"""A finished run is never overwritten unasked; Ctrl-C saves a complete checkpoint; resuming gives the same model."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import SignalAtStep, write_mnist
from safetensors.torch import load_file

from trainer_common.args import parse_args
from trainer_common.cli import run_cli
from trainer_common.errors import InputError, Interrupted
from trainer_common.output_dir import resolve_resume
from vae_trainer.train import VAEArguments, VAETrainingArguments, train

ROOT = Path(__file__).resolve().parents[1]
STEPS_PER_EPOCH = 4  # 64 images in batches of 16


def vae_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--data_dir", str(data), "--output_dir", str(out), "--num_train_epochs", "2",
        "--per_device_train_batch_size", "16", "--max_train_samples", "64", "--max_eval_samples", "16",
        "--hidden_dim", "16", "--latent_dim", "2", "--logging_steps", "1", "--learning_rate", "0.01",
        "--disable_tqdm", "true", "--report_to", "none", "--num_samples", "2", *extra,
    ]  # fmt: skip


def run(argv: list[str], callbacks=None) -> dict:
    args, training_args = parse_args((VAEArguments, VAETrainingArguments), argv)
    return train(args, training_args, callbacks=callbacks)


def weights(out: Path) -> dict:
    return load_file(str(out / "model.safetensors"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=16)


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    run(vae_args(data, out))
    return weights(out)


def test_a_finished_run_is_refused_then_replaced_only_when_asked(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    model = (out / "model.safetensors").read_bytes()
    (out / ".run_manifest.json").unlink()  # as an older version left it: no manifest, and a file of its own
    (out / "eval_results.json").write_text("{}\n")
    with pytest.raises(InputError, match="holds a previous run .*--overwrite_output_dir to replace it$"):
        run(vae_args(data, out, "--learning_rate", "0.02"))
    assert (out / "model.safetensors").read_bytes() == model and (out / "eval_results.json").exists()

    run(vae_args(data, out, "--learning_rate", "0.02", "--overwrite_output_dir", "true"))
    assert not (out / "eval_results.json").exists()  # nothing of the old run stays beside the new model
    assert (out / "model.safetensors").read_bytes() != model
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("model.safetensors", "config.json", "all_results.json"):  # not left private (0600)
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_a_finished_run_keeps_only_checkpoints_with_other_weights(data, tmp_path):
    """The last checkpoint holds the final model's weights (and twice as much optimizer state): it goes once the run
    has finished, unless --keep_checkpoints; a checkpoint of other weights (the best one, before the last) stays."""
    out = tmp_path / "run"
    run(vae_args(data, out, "--save_total_limit", "2"))
    assert [p.name for p in out.iterdir() if p.name.startswith("checkpoint-")] == ["checkpoint-4"]
    assert "checkpoint-4" in json.loads((out / ".run_manifest.json").read_text())["entries"]
    assert "checkpoint-8" not in json.loads((out / ".run_manifest.json").read_text())["entries"]
    kept = tmp_path / "kept"
    run(vae_args(data, kept, "--save_total_limit", "2", "--keep_checkpoints", "true"))
    assert sorted(p.name for p in kept.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-4",
                                                                                          "checkpoint-8"]  # fmt: skip
    final, last = weights(kept), weights(kept / "checkpoint-8")
    assert all(torch.equal(final[name], last[name]) for name in final) and not (kept / ".staging").exists()


def test_overwrite_never_deletes_the_checkpoint_it_resumes(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out, "--keep_checkpoints", "true"))
    with pytest.raises(InputError, match="would delete the checkpoint"):
        run(vae_args(data, out, "--overwrite_output_dir", "true", "--resume_from_checkpoint", "true"))
    assert (out / "checkpoint-8" / "trainer_state.json").is_file()


@pytest.mark.parametrize("step", [1, STEPS_PER_EPOCH - 1, STEPS_PER_EPOCH, STEPS_PER_EPOCH + 2])
def test_a_signal_saves_a_checkpoint_and_resuming_gives_the_uninterrupted_model(data, tmp_path, uninterrupted, step):
    out = tmp_path / "run"
    signum = signal.SIGTERM if step == 1 else signal.SIGINT
    handler = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a job started with `&`
    with pytest.raises(Interrupted, match=f"at step {step}: .*--resume_from_checkpoint true"):
        run(vae_args(data, out), callbacks=[SignalAtStep(step, signum)])
    assert (out / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert not (out / "model.safetensors").exists()  # an unfinished run does not look like a finished one
    assert signal.getsignal(signal.SIGINT) is handler  # handlers restored

    with pytest.raises(InputError, match="holds a previous run"):
        run(vae_args(data, out))
    run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    resumed = weights(out)
    assert resumed.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        torch.testing.assert_close(resumed[name], value, rtol=0, atol=1e-6)


def test_resume_true_skips_a_checkpoint_cut_off_while_saving(data, tmp_path, uninterrupted, caplog):
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run(vae_args(data, out), callbacks=[SignalAtStep(3)])
    (out / ".run_manifest.json").unlink()  # an older version, which wrote checkpoints in place and no manifest:
    half = out / "checkpoint-5"  # as a kill during the save of step 5 left it: weights, no trainer state
    half.mkdir()
    (half / "model.safetensors").write_bytes((out / "checkpoint-3" / "model.safetensors").read_bytes())
    assert resolve_resume(str(out), "true") == str(out / "checkpoint-3")
    assert "skipping" in caplog.text and "checkpoint-5" in caplog.text
    with pytest.raises(InputError, match="incomplete checkpoint"):
        resolve_resume(str(out), str(half))
    with pytest.raises(InputError, match="no complete checkpoint"):
        resolve_resume(str(tmp_path / "empty"), "true")
    run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    torch.testing.assert_close(weights(out), uninterrupted, rtol=0, atol=1e-6)


def test_cli_reports_an_interruption_in_one_line(capsys):
    def stops(argv):
        raise Interrupted("SIGINT at step 7: checkpoint saved in runs/x; continue with --resume_from_checkpoint true")

    def aborts(argv):
        raise KeyboardInterrupt

    for function, expected in ((stops, "stopped: SIGINT at step 7"), (aborts, "stopped: interrupted")):
        sys.modules[__name__].command = function
        assert run_cli({"go": f"{__name__}:command"}, default="go", argv=[]) == 130
        err = capsys.readouterr().err
        assert err.startswith(expected) and err.count("\n") == 1


def test_refusal_is_one_error_line_from_the_script(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    proc = subprocess.run(
        [sys.executable, "run_vae.py", *vae_args(data, out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --output_dir") and "--overwrite_output_dir" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_diverging_run_stops_with_the_step_number(data, tmp_path):
    with pytest.raises(InputError, match=r"training diverged: the loss became nan or inf at step \d+ "):
        run(vae_args(data, tmp_path / "run", "--learning_rate", "1e6"))
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_checkpoint_cut_off_mid_save_never_appears(data, tmp_path, uninterrupted, monkeypatch):
    """A crash while step 6's checkpoint is written (after the weights, before the RNG states) leaves no
    `checkpoint-6`: it was being written under `.staging/`. Resuming continues from `checkpoint-4`."""
    from trainer_common.trainer import MultiLossTrainer

    out = tmp_path / "run"
    save_rng_state = MultiLossTrainer._save_rng_state

    def crash_at_step_6(self, output_dir):
        if self.state.global_step == 6:
            raise OSError("disk full")
        save_rng_state(self, output_dir)

    monkeypatch.setattr(MultiLossTrainer, "_save_rng_state", crash_at_step_6)
    with pytest.raises(OSError, match="disk full"):
        run(vae_args(data, out), callbacks=[SignalAtStep(6)])
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]
    assert (out / ".staging" / "checkpoint-6" / "model.safetensors").is_file()  # the half-written one, hidden
    monkeypatch.setattr(MultiLossTrainer, "_save_rng_state", save_rng_state)
    run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    torch.testing.assert_close(weights(out), uninterrupted, rtol=0, atol=1e-6)
    assert not (out / ".staging" / "checkpoint-8").exists()


def test_evaluating_the_saved_model_in_place_keeps_the_training_results(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    trained = json.loads((out / "all_results.json").read_text())
    kept = {name: (out / name).read_bytes() for name in ("model.safetensors", "loss_curves.png", "README.md")}

    results = run(
        vae_args(data, out, "--do_train", "false", "--model_name_or_path", str(out), "--max_eval_samples", "8")
    )
    saved = json.loads((out / "all_results.json").read_text())
    assert "train_loss" not in results and results["test_loss"] != trained["test_loss"]  # 8 test images, not 16
    assert saved == {**trained, **results, "epoch": trained["epoch"]}  # the new test metrics beside the training ones
    assert saved["train_loss"] == trained["train_loss"] and saved["train_runtime"] == trained["train_runtime"]
    for name, content in kept.items():  # not redrawn from an evaluation's log, which has no training curve
        assert (out / name).read_bytes() == content, name

    (out / "all_results.json").write_text('{"train_loss": ')
    with pytest.raises(InputError, match=r"all_results.json:1: not JSON"):
        run(vae_args(tmp_path / "missing", out, "--do_train", "false", "--model_name_or_path", str(out)))


def test_evaluating_another_model_into_a_finished_run_is_refused(data, tmp_path):
    out, other = tmp_path / "run", tmp_path / "other"
    run(vae_args(data, out, "--keep_checkpoints", "true"))
    run(vae_args(data, other, "--learning_rate", "0.02"))
    before = (out / "all_results.json").read_bytes()
    # refused before any data is read: the missing --data_dir is never reached
    for model in (["--model_name_or_path", str(other)], []):
        with pytest.raises(InputError, match="run or evaluation .*, not the model evaluated .*--overwrite_output"):
            run(vae_args(tmp_path / "missing", out, "--do_train", "false", *model))
    assert (out / "all_results.json").read_bytes() == before and (out / "checkpoint-8").is_dir()

    evaluate_other = vae_args(data, out, "--do_train", "false", "--model_name_or_path", str(other))
    results = run([*evaluate_other, "--overwrite_output_dir", "true"])
    assert {k: v for k, v in json.loads((out / "all_results.json").read_text()).items() if k != "run"} == results
    assert "train_loss" not in results  # nothing of the first run left to mix with
    assert not (out / "model.safetensors").exists() and not list(out.glob("checkpoint-*"))
    in_place = vae_args(data, other, "--do_train", "false", "--model_name_or_path", str(other))
    with pytest.raises(InputError, match="would delete --model_name_or_path"):
        run([*in_place, "--overwrite_output_dir", "true"])
