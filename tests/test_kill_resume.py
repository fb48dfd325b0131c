"""A run killed with SIGKILL (no handler runs: the OOM killer, a preempted machine) resumes from its last complete
checkpoint with `--resume_from_checkpoint true` and ends with the model and test metrics of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import one_thread, write_mnist  # noqa: F401 (one_thread: an autouse fixture)
from safetensors.torch import load_file

from trainer_common.output_dir import CHECKPOINT, checkpoints, is_complete
from vae_trainer.train import main

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds: a run that neither checkpoints nor ends fails the test, not CI
KILL_AFTER = 6  # kill while a later checkpoint than this one is being written
STEPS = 64  # 4 epochs of 64 images in batches of 4, a checkpoint at every step: the kill comes ~57 steps (seconds)
# before the end


def vae_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--data_dir", str(data), "--output_dir", str(out), "--num_train_epochs", "4",
        "--per_device_train_batch_size", "4", "--max_train_samples", "64", "--max_eval_samples", "16",
        "--hidden_dim", "16", "--latent_dim", "2", "--learning_rate", "0.01", "--logging_steps", "1",
        "--save_strategy", "steps", "--save_steps", "1", "--disable_tqdm", "true", "--report_to", "none",
        "--num_samples", "2", *extra,
    ]  # fmt: skip


def last_complete(out: Path) -> Path | None:
    complete = [p for p in checkpoints(out) if is_complete(p)]
    return complete[-1] if complete else None


def step_of(checkpoint: Path) -> int:
    return int(CHECKPOINT.match(checkpoint.name).group(1))


def run_until_killed(argv: list[str], out: Path, log: Path) -> subprocess.CompletedProcess:
    """run_vae.py in a process of its own, SIGKILLed once it has saved checkpoint KILL_AFTER: as soon as it starts
    writing the next one (into `.staging/`), or, should the polls miss that, a few complete checkpoints later.
    Nothing of the run then runs again: no signal handler, no `finally`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    env.pop("TOOLKIT_DEBUG", None)
    killed, deadline = False, time.monotonic() + TIMEOUT
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "run_vae.py", *argv], cwd=ROOT, env=env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            while not killed and proc.poll() is None and time.monotonic() < deadline:
                found, staged = last_complete(out), checkpoints(out / ".staging")
                if (staged and step_of(staged[-1]) > KILL_AFTER) or (found and step_of(found) >= KILL_AFTER + 4):
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed = True
                time.sleep(0.005)
        finally:
            if proc.poll() is None and not killed:  # out of time, or the test itself interrupted: no orphan
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if not killed and proc.returncode == -signal.SIGKILL:
        pytest.fail(f"run_vae.py made no checkpoint {KILL_AFTER + 1} in {TIMEOUT} s:\n{log.read_text()[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, log.read_text())


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_model(tmp_path, caplog):
    data = write_mnist(tmp_path / "mnist", n_train=64, n_test=16)
    out = tmp_path / "run"

    killed = run_until_killed(vae_args(data, out), out, tmp_path / "killed.log")
    assert killed.returncode == -signal.SIGKILL, f"not killed mid-run (rc {killed.returncode}):\n{killed.stdout}"
    assert not (out / "model.safetensors").exists() and not (out / "all_results.json").exists()  # unfinished
    resume_from = last_complete(out)
    step = step_of(resume_from)
    assert KILL_AFTER <= step < STEPS
    # What the kill cut off, if it came mid-save: a checkpoint staged under .staging/, never a checkpoint-N of its
    # own (and, mid-rotation, an older checkpoint half deleted). Neither may be resumed from.
    staged = sorted(p.name for p in (out / ".staging").glob("checkpoint-*"))
    assert all(step_of(Path(name)) > step for name in staged), staged

    with caplog.at_level("INFO"):
        resumed = main(vae_args(data, out, "--resume_from_checkpoint", "true"))
    assert f"resuming from {resume_from}\n" in caplog.text, caplog.text[-3000:]

    # The uninterrupted run saves no checkpoint: saving changes no number, and it is the slow part.
    whole = main(vae_args(data, tmp_path / "whole", "--save_strategy", "no"))

    # Bit for bit: the same single-threaded CPU kernels on the same batches, and the checkpoint restores the
    # weights, Adam's moments, the data order and the RNG state (z's noise, the epoch-end evaluations' draws).
    model, expected = (load_file(str(folder / "model.safetensors")) for folder in (out, tmp_path / "whole"))
    assert model.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(model[name], value), name
    timing = ("runtime", "per_second", "_time")
    for key, value in whole.items():
        if key.startswith("test_") and not key.endswith(timing):
            assert resumed[key] == value, key
    saved = json.loads((out / "all_results.json").read_text())
    assert {k: v for k, v in saved.items() if k.startswith("test_") and not k.endswith(timing)} == {
        k: v for k, v in whole.items() if k.startswith("test_") and not k.endswith(timing)
    }
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    # the half-deleted or staged ones gone, and the last, whose weights the final model holds
    assert [p.name for p in checkpoints(out)] == []
    assert not (out / ".staging").exists()
