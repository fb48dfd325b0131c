"""What a run prints and when it looks finished: one line per log and evaluation, a logging interval fitted to the
run's length, and a folder that is marked finished (all_results.json) only once everything is written."""

import os
import re
import signal
from types import SimpleNamespace

import pytest
from helpers import one_thread, readme_outputs, write_mnist, written_outputs  # noqa: F401 (an autouse fixture)
from test_run_safety import run, vae_args
from transformers import TrainerCallback

from ner_trainer.arguments import NERTrainingArguments
from trainer_common.console import fit_logging_steps, log_line, number
from trainer_common.errors import Interrupted


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=16)


def fitted(samples: int, **arguments) -> float:
    args = NERTrainingArguments(output_dir="unused", report_to="none", **arguments)
    trainer = SimpleNamespace(args=args, train_dataset=range(samples))
    fit_logging_steps(trainer)
    return args.logging_steps


def test_logging_interval_fits_the_run():
    # 1500 sentences, batch 32, one epoch: 47 steps, below the old fixed 50: every step now
    assert fitted(1500, num_train_epochs=1) == 1
    # MNIST's 60000 images in batches of 128 for 10 epochs: 4690 steps, about 50 points
    assert fitted(60000, per_device_train_batch_size=128, num_train_epochs=10) == 94
    # at least one point by the first evaluation
    assert fitted(320000, num_train_epochs=1, eval_strategy="steps", eval_steps=20, save_strategy="steps",
                  save_steps=20) == 20  # fmt: skip
    assert fitted(1500, num_train_epochs=1, logging_steps=7) == 7  # the user's own is kept


def test_lines_are_numbers_not_dicts():
    state = SimpleNamespace(global_step=12, max_steps=47, epoch=0.51)
    train = log_line({"loss": 1.23456, "learning_rate": 4.2e-05, "grad_norm": 3.0, "epoch": 0.51}, state, ())
    assert train == "train step 12/47 · epoch 0.51 · loss 1.235 · lr 4.20e-05 · grad norm 3"
    columns = (("loss", "loss"), ("f1", "F1"))
    evaluation = log_line({"eval_loss": 0.5, "eval_f1": 0.81234, "eval_LOC_f1": 0.9, "epoch": 1.0}, state, columns)
    assert evaluation == "eval  step 12/47 · epoch 1.00 · loss 0.5000 · F1 0.8123"
    assert number(523.04) == "523.0" and number(2.2) == "2.200" and number(0.0) == "0" and number(12) == "12"
    assert number(16410.6) == "16411"  # samples/s: whole, not 1.641e+04
    assert number(0.5, scientific=True) == "5.00e-01"


def test_a_run_prints_one_line_per_log_and_evaluation(data, tmp_path, capsys):
    run(vae_args(data, tmp_path / "run"))
    documented = readme_outputs("VAE on MNIST")  # the README's table is what a run writes
    assert written_outputs(tmp_path / "run") == documented - {"checkpoint-N/", "sample_9.png"}
    shown = capsys.readouterr().out
    lines = shown.splitlines()
    assert sum(line.startswith("train step ") for line in lines) == 8  # --logging_steps 1, 8 steps
    assert sum(line.startswith("eval  step ") for line in lines) == 2  # one per epoch
    assert re.search(r"^train step 1/8 · epoch 0\.25 · loss [\d.]+ · recon [\d.]+ · KL [\d.]+ · lr ", shown, re.M)
    assert re.search(r"^test · loss [\d.]+ · recon [\d.]+ · KL [\d.]+$", shown, re.M)  # after training: no step
    assert re.search(r"^test \(16 images\): ELBO -[\d.]+ nats per image", shown, re.M)
    assert "{'" not in shown and "*****" not in shown  # no dicts of strings, no metrics blocks


class SignalWhileTesting(TrainerCallback):
    """Ctrl-C during the final evaluation, once training is over."""

    def __init__(self):
        self.trained = False

    def on_train_end(self, args, state, control, **kwargs):
        self.trained = True

    def on_prediction_step(self, args, state, control, **kwargs):
        if self.trained:
            self.trained = False
            os.kill(os.getpid(), signal.SIGINT)


def test_a_signal_during_the_final_evaluation_leaves_an_unfinished_run_that_resumes(data, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Interrupted, match="SIGINT: the run did not finish.*--resume_from_checkpoint true"):
        run(vae_args(data, out), callbacks=[SignalWhileTesting()])
    assert (out / "model.safetensors").is_file() and not (out / "all_results.json").exists()
    assert signal.getsignal(signal.SIGINT) is not None  # the handler was put back
    results = run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    assert (out / "all_results.json").is_file() and "test_loss" in results


def test_a_signal_while_writing_the_outputs_resumes_and_trains_nothing_again(data, tmp_path, monkeypatch, capsys):
    """Killed after the figures are written but before the results: the run's own files are known as its own (the
    manifest lists what it was about to write), so the resume the message names finishes it; it trains nothing,
    and reports no training loss or speed of zero steps."""
    import vae_trainer.plots as plots

    write = plots.write_reconstructions

    def write_then_signal(*args, **kwargs):
        write(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "run"
    monkeypatch.setattr(plots, "write_reconstructions", write_then_signal)
    with pytest.raises(Interrupted, match="finish it with --resume_from_checkpoint true"):
        run(vae_args(data, out, "--keep_checkpoints", "true"))
    assert (out / "samples.png").is_file() and not (out / "all_results.json").exists()
    monkeypatch.setattr(plots, "write_reconstructions", write)
    capsys.readouterr()
    results = run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    assert "train_loss" not in results and "test_loss" in results and (out / "all_results.json").is_file()
    assert "nothing left to train: the checkpoint resumed is step 8 of 8" in capsys.readouterr().out


def test_a_finished_run_is_not_resumed_and_a_users_checkpoint_stays(data, tmp_path):
    from trainer_common.errors import InputError

    out = tmp_path / "run"
    run(vae_args(data, out, "--keep_checkpoints", "true"))
    with pytest.raises(InputError, match="holds a finished run .*nothing to resume.*--model_name_or_path"):
        run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    with pytest.raises(InputError, match=r"holds a previous run \(.*\): pass --overwrite_output_dir to replace it$"):
        run(vae_args(data, out))  # no advice to resume what is finished

    import shutil

    copied = tmp_path / "copied"
    run(vae_args(data, copied, "--max_steps", "4", "--save_strategy", "no"))
    shutil.copytree(out / "checkpoint-8", copied / "checkpoint-9")  # the user's, not in the run's manifest
    (copied / "all_results.json").unlink()
    (copied / "checkpoint-9" / "NOTES.txt").write_text("mine\n")
    shutil.copy(out / "model.safetensors", copied / "model.safetensors")  # the same weights as the final model
    from trainer_common.output_dir import remove_redundant_checkpoints

    assert remove_redundant_checkpoints(str(copied)) == [] and (copied / "checkpoint-9" / "NOTES.txt").is_file()


def test_vae_evaluate_reads_only_the_test_split(data, tmp_path):
    from helpers import write_mnist as make

    from trainer_common.errors import InputError
    from vae_trainer.evaluate import main as evaluate

    model = tmp_path / "model"
    run(vae_args(data, model))
    test_only = make(tmp_path / "test_only", n_train=8, n_test=16)
    for name in test_only.iterdir():
        if name.name.startswith("train"):
            name.unlink()
    results = evaluate(["--model", str(model), "--data-dir", str(test_only), "--output_dir", str(tmp_path / "ev"),
                        "--report_to", "none"])  # fmt: skip
    assert results["test_loss"] > 0 and not (tmp_path / "ev" / "loss_curves.png").exists()
    with pytest.raises(InputError, match="without a config.json, not a saved model"):
        evaluate(["--model", str(test_only), "--output_dir", str(tmp_path / "ev2")])


def test_license_must_be_a_licence_id():
    from trainer_common.errors import InputError

    assert NERTrainingArguments(output_dir="x", license="cc-by-4.0").license == "cc-by-4.0"
    with pytest.raises(InputError, match="is not a licence id"):
        NERTrainingArguments(output_dir="x", license="my: weird\nlicence")
