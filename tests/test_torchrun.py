"""Two real processes (`torchrun` or the CPU accelerate config, gloo): checkpoints are staged and renamed once,
rotated, and the output folder is cleared once or refused by both processes, with no hang at a barrier; NER
metrics and test predictions, and VAE test losses, equal one process's, every example once."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_encoder_dir, write_mnist
from test_ner_train import base_args, make_sentences, write_conll

from trainer_common.output_dir import is_complete
from trainer_common.run_files import MANIFEST

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds per launch: a process waiting at a barrier for one that left fails the test, not CI
# 256 images in global batches of 2 x 16: 8 steps an epoch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
              str(ROOT / "configs" / "accelerate" / "cpu_two_processes.yaml")]  # fmt: skip


def torchrun(data: Path, out: Path, *extra: str, launcher=TORCHRUN, script="run_vae.py"):
    """run_vae.py (or `script`, which runs it) in two processes on a tiny model: 256 images in global batches of
    2 x 16. Returns the `subprocess.CompletedProcess`."""
    return launch(launcher, [
        script, "--use_cpu", "--data_dir", str(data), "--output_dir", str(out), "--max_train_samples", "256",
        "--max_eval_samples", "64", "--per_device_train_batch_size", "16", "--hidden_dim", "16", "--latent_dim", "2",
        "--num_samples", "2", "--save_strategy", "steps", "--save_steps", "4", "--save_total_limit", "2",
        "--report_to", "none", "--disable_tqdm", "true", *extra,
    ])  # fmt: skip


def launch(launcher: list[str], script_argv: list) -> subprocess.CompletedProcess:
    port = "--master_port" if launcher is TORCHRUN else "--main_process_port"
    argv = [*launcher, port, str(free_port()), *map(str, script_argv)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    env.pop("TOOLKIT_DEBUG", None)
    # A session of its own, so that a hang kills the workers too, not only the launcher.
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{argv[2]} hung for {TIMEOUT} s: {' '.join(argv)}")
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def check_checkpoints(out: Path, steps: list[int]) -> None:
    """Exactly these checkpoints, each complete with both processes' RNG states; no staging folder left."""
    assert sorted(p.name for p in out.glob("checkpoint-*")) == sorted(f"checkpoint-{s}" for s in steps)
    for step in steps:
        checkpoint = out / f"checkpoint-{step}"
        assert is_complete(checkpoint), checkpoint
        assert (checkpoint / "rng_state_0.pth").is_file() and (checkpoint / "rng_state_1.pth").is_file()
        assert f'"global_step": {step},' in (checkpoint / "trainer_state.json").read_text()
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST]
    assert not hidden, "staging or temporary files left"


def test_two_processes_save_rotate_overwrite_and_refuse(tmp_path):
    data, out = write_mnist(tmp_path / "mnist", n_train=256, n_test=64), tmp_path / "run"

    first = torchrun(data, out, "--num_train_epochs", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "world size 2, per-device train batch size 16, total train batch size 32" in first.stdout
    assert "16 optimisation steps" in first.stdout and first.stdout.count("training: world size") == 1
    check_checkpoints(out, [12])  # saved every 4 steps; 4 and 8 rotated away, 16 (the final model's weights) removed
    outputs = {p.name for p in out.iterdir() if not p.name.startswith("checkpoint-")}
    assert {"model.safetensors", "all_results.json", "trainer_state.json", "samples.png"} <= outputs
    model = (out / "model.safetensors").read_bytes()

    # launched as the README documents configs/accelerate/cpu_two_processes.yaml: two processes, not one
    second = torchrun(data, out, "--num_train_epochs", "1", "--overwrite_output_dir", launcher=ACCELERATE)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "training: world size 2, per-device train batch size 16, total train batch size 32" in second.stdout
    log = second.stdout + second.stderr
    assert log.count("is set aside in") == 1, log[-3000:]  # one process clears, the other waits for it
    check_checkpoints(out, [4])  # nothing left of the first run's 12; 8 holds the final model's weights
    assert {p.name for p in out.iterdir() if not p.name.startswith("checkpoint-")} == outputs
    assert (out / "model.safetensors").read_bytes() != model

    refused = torchrun(data, out, "--num_train_epochs", "1")
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert 1 <= len(errors) <= 2 and len(set(errors)) == 1, refused.stderr[-3000:]
    assert "holds a previous run" in errors[0] and "--overwrite_output_dir" in errors[0]
    check_checkpoints(out, [4])  # untouched


def test_two_process_ner_scores_every_sentence_once_as_one_process_does(tmp_path):
    """Odd-sized eval and test sets shard unevenly over two processes (accelerate pads the last batch with repeated
    rows): the metrics and the test predictions must still be those of one process evaluating the same model, every
    sentence once, in input order."""
    from ner_trainer.train import main

    files = [write_conll(tmp_path / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 20, 0), ("dev", 9, 1), ("test", 11, 2))]  # fmt: skip
    out = tmp_path / "two"
    two = launch(TORCHRUN, [
        "run_ner.py", "--use_cpu", "--model_name_or_path", make_encoder_dir(tmp_path), "--train_file", files[0],
        "--validation_file", files[1], "--test_file", files[2], "--output_dir", out, "--num_train_epochs", "2",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "1", "--max_seq_length", "16",
        "--learning_rate", "5e-3", "--report_to", "none", "--disable_tqdm", "true",
    ])  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training: world size 2" in two.stdout
    two_results = json.loads((out / "all_results.json").read_text())
    # batches of one window, here and there: no padding, so no near-tie can flip with a batch's padded length
    one = main(base_args(tmp_path / "one", None, files[1], files[2], model=out, do_train=False,
                         per_device_eval_batch_size=1))  # fmt: skip
    for key, value in one.items():
        if key.startswith(("eval_", "test_")) and not key.endswith(("loss", "runtime", "per_second", "_time")):
            assert two_results[key] == value, key
    assert two_results["test_f1"] > 0.2  # a model that tags something
    predictions = (out / "test_predictions.txt").read_text()
    assert predictions == (tmp_path / "one" / "test_predictions.txt").read_text()
    assert predictions.count("\n\n") + 1 >= 11  # every test sentence, once


# Run as run_vae.py, with z = mean(x) wherever gradients are off (evaluation, figures): a per-image loss that draws no
# random numbers, so that two processes and one score the same images alike. Training still samples z.
EVAL_AT_THE_MEAN = """
import runpy, sys, torch
from vae_trainer.modeling_vae import VAEModel

sample = VAEModel.reparameterize
VAEModel.reparameterize = staticmethod(lambda mean, logvar, generator=None:
                                       sample(mean, logvar, generator) if torch.is_grad_enabled() else mean)
sys.argv[0] = {script!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def test_two_process_vae_scores_every_test_image_once_as_one_process_does(tmp_path, monkeypatch):
    """37 test images in per-device batches of 8 over two processes: accelerate pads rank 0's last batch (5 images)
    with 3 repeated ones and gives rank 1 a batch of 8 repeated ones. The test loss and its parts must be those of
    one process evaluating the same saved model: every image once."""
    import torch
    import torch.nn.functional as F

    from vae_trainer.data import load_mnist
    from vae_trainer.modeling_vae import VAEModel
    from vae_trainer.train import main

    data, out = write_mnist(tmp_path / "mnist", n_train=256, n_test=37), tmp_path / "two"
    wrapper = tmp_path / "run_vae_mean_z.py"
    wrapper.write_text(EVAL_AT_THE_MEAN.format(script=str(ROOT / "run_vae.py")))
    two = torchrun(data, out, "--max_eval_samples", "37", "--per_device_eval_batch_size", "8", "--num_train_epochs",
                   "3", "--learning_rate", "0.01", "--save_strategy", "no", script=wrapper)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training: world size 2" in two.stdout
    assert two.stdout.count("\ntest · ") == 1  # one process writes, one set of outputs
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".json", ".safetensors", ".png")) == [
        MANIFEST, "all_results.json", "config.json", "loss_curves.png", "model.safetensors", "reconstructions.png",
        "samples.png", "test_results.json", "train_results.json", "trainer_state.json",
    ]  # fmt: skip
    two_results = json.loads((out / "all_results.json").read_text())

    monkeypatch.setattr(VAEModel, "reparameterize", staticmethod(lambda mean, logvar, generator=None: mean))
    one = main([
        "--use_cpu", "--data_dir", str(data), "--output_dir", str(tmp_path / "one"), "--model_name_or_path", str(out),
        "--do_train", "false", "--per_device_eval_batch_size", "8", "--report_to", "none",
    ])  # fmt: skip

    # Equal but for the order of float32 sums (per process, then across processes) and the 4-decimal rounding of
    # the loss parts: one unit of the last decimal each, two for the ELBO (from the rounded parts). Counting any one
    # image twice moves each metric at least 18 times as far (checked here from every image's own loss).
    tolerance = {"test_loss": 1e-4, "test_recon_loss": 1e-4, "test_kl_loss": 1e-4, "test_elbo_per_image": 2e-4}
    model, pixels = VAEModel.from_pretrained(out), load_mnist(str(data))[1].pixels
    with torch.no_grad():
        mean, logvar = model.encode(pixels)
        recon = F.binary_cross_entropy_with_logits(model.decode_logits(mean), pixels, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(1)
    per_image = {"test_loss": recon + kl, "test_recon_loss": recon, "test_kl_loss": kl,
                 "test_elbo_per_image": -(recon + kl)}  # fmt: skip
    for key, values in per_image.items():
        # one process: every image once (float32 sums over pixels in another order: a few 1e-7 relative)
        assert one[key] == pytest.approx(values.mean().item(), rel=2e-6, abs=tolerance[key]), key
        one_twice = (values - values.mean()).abs().min().item() / (len(values) + 1)
        assert one_twice > 18 * tolerance[key], (key, one_twice)
        assert two_results[key] == pytest.approx(one[key], rel=0, abs=tolerance[key] + 1e-9), key
