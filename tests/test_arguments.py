"""Bad argument values, config files and sizes refused as the arguments are parsed: one `InputError` naming the flag
(or the file and key) and the value, before any data is read, folder touched or step trained."""

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_bytes, write_mnist

from ner_trainer.arguments import NERArguments, NERTrainingArguments
from trainer_common.args import parse_args
from trainer_common.errors import InputError
from trainer_common.output_dir import resolve_resume
from vae_trainer.train import VAEArguments, VAETrainingArguments

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"ner": (NERArguments, NERTrainingArguments), "vae": (VAEArguments, VAETrainingArguments)}


def parse(task: str, argv: list[str]):
    """`parse_args` of the task; a config file stays first."""
    config_file = argv[:1] if argv and argv[0].endswith((".json", ".yaml")) else []
    return parse_args(TASKS[task], [*config_file, "--output_dir", "unused", *argv[len(config_file) :]])


def refused(task: str, argv: list[str], message: str) -> str:
    with pytest.raises(InputError) as info:
        parse(task, argv)
    assert message in str(info.value), str(info.value)
    return str(info.value)


TRAINING_VALUES = [
    (["--learning_rate", "nan"], "--learning_rate must be a finite number at least 0, got nan"),
    (["--learning_rate", "-1"], "--learning_rate must be at least 0, got -1.0"),
    (["--adam_epsilon", "nan"], "--adam_epsilon must be a finite number above 0"),
    (["--adam_epsilon", "0"], "--adam_epsilon must be above 0"),
    (["--adam_beta1", "nan"], "--adam_beta1 must be a finite number in [0, 1), got nan"),
    (["--adam_beta1", "2"], "--adam_beta1 must be below 1, got 2.0 (valid: [0, 1))"),
    (["--adam_beta2", "-1"], "--adam_beta2 must be at least 0, got -1.0 (valid: [0, 1))"),
    (["--warmup_steps", "nan"], "--warmup_steps must be a finite number, got nan"),
    (["--warmup_steps", "inf"], "--warmup_steps must be a finite number, got inf"),
    (["--warmup_steps", "-1"], "warmup_steps >= 0"),  # transformers' own check
    (["--gradient_accumulation_steps", "0"], "--gradient_accumulation_steps must be at least 1, got 0"),
    (["--gradient_accumulation_steps", "-1"], "--gradient_accumulation_steps must be at least 1, got -1"),
    (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be at least 1, got 0"),
    (["--per_device_train_batch_size", "-1"], "--per_device_train_batch_size must be at least 1, got -1"),
    (["--per_device_eval_batch_size", "0"], "--per_device_eval_batch_size must be at least 1, got 0"),
    (["--seed", "-1"], "--seed must be at least 0, got -1 (valid: [0, 4294967295])"),
    (["--seed", "99999999999"], "--seed must be at most 4294967295, got 99999999999"),
    (["--data_seed", "-1"], "--data_seed must be at least 0, got -1"),
    (["--dataloader_num_workers", "-1"], "--dataloader_num_workers must be at least 0, got -1"),
    (["--neftune_noise_alpha", "nan"], "--neftune_noise_alpha must be a finite number above 0"),
    (["--neftune_noise_alpha", "-1"], "--neftune_noise_alpha must be above 0, got -1.0"),
    (["--max_steps", "0"], "--max_steps must be -1 (train --num_train_epochs) or at least 1, got 0"),
    (["--max_steps", "-5"], "--max_steps must be -1 (train --num_train_epochs) or at least 1, got -5"),
    (["--weight_decay", "-1"], "--weight_decay must be at least 0, got -1.0"),
    (["--label_smoothing_factor", "1.5"], "--label_smoothing_factor must be below 1, got 1.5"),
    (["--label_smoothing_factor", "-0.5"], "--label_smoothing_factor must be at least 0, got -0.5"),
    (["--max_grad_norm", "nan"], "--max_grad_norm must be a finite number at least 0, got nan"),
    (["--max_grad_norm", "-1"], "--max_grad_norm must be at least 0, got -1.0"),
    (["--logging_steps", "nan"], "--logging_steps must be a finite number above 0, got nan"),
    (["--logging_steps", "0"], "--logging_steps must be above 0, got 0"),
    (["--eval_steps", "0"], "--eval_steps must be above 0, got 0"),
    (["--eval_steps", "nan"], "--eval_steps must be a finite number above 0, got nan"),
    (["--save_steps", "0"], "--save_steps must be above 0, got 0"),
    (["--save_steps", "nan"], "--save_steps must be a finite number above 0, got nan"),
    (["--eval_delay", "nan"], "--eval_delay must be a finite number at least 0, got nan"),
    (["--save_total_limit", "0"], "--save_total_limit must be at least 1, got 0"),
    (["--save_total_limit", "-1"], "--save_total_limit must be at least 1, got -1"),
    (["--num_train_epochs", "nan"], "--num_train_epochs must be a finite number at least 0, got nan"),
    (["--num_train_epochs", "inf"], "--num_train_epochs must be a finite number at least 0, got inf"),
    (["--num_train_epochs", "-1"], "--num_train_epochs must be at least 0, got -1.0"),
    (["--num_train_epochs", "0"], "--num_train_epochs 0 trains nothing"),
    (["--lr_scheduler_kwargs", "notjson"], "--lr_scheduler_kwargs is not valid JSON"),
    (["--lr_scheduler_kwargs", "{bad"], "--lr_scheduler_kwargs is not valid JSON"),
    (["--lr_scheduler_kwargs", "[1]"], "--lr_scheduler_kwargs must be a JSON object such as"),
    (["--optim_args", "x"], "--optim_args must be key=value pairs separated by commas, got 'x'"),
    (["--optim_args", "a=1,b"], "--optim_args must be key=value pairs"),
    (["--report_to", "bogus"], "--report_to bogus: not an integration transformers knows"),
]


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("argv, message", TRAINING_VALUES)
def test_training_values_are_refused_with_their_range(task, argv, message):
    refused(task, argv, message)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_an_optimizer_or_deepspeed_without_its_package_is_refused(task):
    refused(task, ["--optim", "adamw_bnb_8bit"], "--optim adamw_bnb_8bit: You need to install `bitsandbytes`")
    refused(task, ["--optim", "schedule_free_adamw"], "You need to install `schedulefree`")
    refused(task, ["--deepspeed", "ds.json"], "bad arguments: ")  # no deepspeed here
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

    assert not is_deepspeed_zero3_enabled()  # its half-made config is not left registered for later loads
    assert parse(task, ["--optim", "adafactor"])[1].optim == "adafactor"


def test_an_empty_output_dir_is_refused():
    for task in TASKS:
        with pytest.raises(InputError, match="--output_dir is empty"):
            parse_args(TASKS[task], ["--output_dir", ""])


@pytest.mark.parametrize("task", sorted(TASKS))
def test_valid_edge_values_are_kept(task):
    _, args = parse(task, ["--max_steps", "-1", "--seed", "4294967295", "--data_seed", "0", "--adam_beta1", "0",
                           "--lr_scheduler_kwargs", '{"num_cycles": 2}', "--optim_args", "a=1, b=2"])  # fmt: skip
    assert (args.max_steps, args.seed, args.data_seed, args.adam_beta1) == (-1, 4294967295, 0, 0.0)
    assert args.lr_scheduler_kwargs == {"num_cycles": 2} and args.report_to == []
    # epochs do not matter when --max_steps is given, or when nothing trains
    assert parse(task, ["--num_train_epochs", "0", "--max_steps", "3"])[1].max_steps == 3
    assert parse(task, ["--num_train_epochs", "0", "--no_do_train"])[1].num_train_epochs == 0


def test_a_known_integration_that_is_not_installed_is_refused():
    from transformers.integrations import get_available_reporting_integrations

    installed = get_available_reporting_integrations()
    missing = next(name for name in ("tensorboard", "mlflow", "neptune") if name not in installed)
    refused("vae", ["--report_to", missing], f"--report_to {missing}: not installed")


# --- config files ----------------------------------------------------------------------------------------------
def config(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("dup.json", '{"max_steps": 2, "max_steps": 3}', "dup.json: key 'max_steps' is given twice"),
        ("dup.yaml", "max_steps: 2\nseed: 1\nmax_steps: 3\n", "dup.yaml:3: key 'max_steps' is given twice"),
        ("dash.yaml", "learning-rate: 1e-4\nlearning_rate: 2e-4\n", "learning-rate and learning_rate are the same"),
        ("intkey.yaml", "1: 2\n", "intkey.yaml: key 1 is not an argument name"),
        ("nullkey.yaml", "null: 3\nseed: 1\n", "nullkey.yaml: key None is not an argument name"),
        ("nulllr.yaml", "learning_rate: null\n", "nulllr.yaml: learning_rate: null is not a value of --learning_rate"),
        ("seed.json", '{"seed": -1}', "--seed must be at least 0, got -1"),
    ],
)
def test_config_file_errors(tmp_path, name, text, message):
    for task in TASKS:
        refused(task, [config(tmp_path, name, text)], message)


def test_ner_config_file_choices_and_nulls(tmp_path):
    refused("ner", [config(tmp_path, "a.yaml", "word_split: bogus\n")], "word_split: invalid choice 'bogus'")
    refused("ner", [config(tmp_path, "b.json", '{"overlapping_spans": "bogus"}')], "(choose from error, keep_longest)")
    refused("ner", [config(tmp_path, "c.yaml", "model_name_or_path: null\n")], "model_name_or_path: null is not a")
    args, _ = parse("ner", [config(tmp_path, "d.yaml", "max_seq_length: null\nword_split: words\n")])
    assert args.max_seq_length is None and args.word_split == "words"  # None: the model's own limit


def test_dashed_config_keys_mean_what_the_dashed_flags_mean(tmp_path):
    path = config(tmp_path, "dash.yaml", "learning-rate: 1e-4\nmax-steps: 7\n")
    for task in TASKS:
        _, args = parse(task, [path, "--max_steps", "9"])  # the flag after the file still wins
        assert (args.learning_rate, args.max_steps) == (1e-4, 9)


# --- VAE sizes and data -------------------------------------------------------------------------------------------
def test_vae_widths_have_an_upper_bound():
    refused("vae", ["--hidden_dim", "1000000000000"], "--hidden_dim must be at most 65536, got 1000000000000")
    refused("vae", ["--latent_dim", "100000000000"], "--latent_dim must be at most 65536")
    refused("vae", ["--data_dir", ""], "--data_dir is empty")


def test_a_saved_vae_refuses_other_sizes(tmp_path):
    from vae_trainer.configuration_vae import VAEConfig
    from vae_trainer.modeling_vae import VAEModel
    from vae_trainer.train import build_model

    VAEModel(VAEConfig(hidden_dim=16, latent_dim=4)).save_pretrained(tmp_path / "vae")
    saved = str(tmp_path / "vae")
    message = f"--hidden_dim 32 differs from the 16 of --model_name_or_path {saved}"
    with pytest.raises(InputError, match=re.escape(message)):
        build_model(VAEArguments(model_name_or_path=saved, hidden_dim=32))
    with pytest.raises(InputError, match="--kl_weight 0.5 differs from the 1.0"):
        build_model(VAEArguments(model_name_or_path=saved, kl_weight=0.5))
    for args in (VAEArguments(model_name_or_path=saved), VAEArguments(model_name_or_path=saved, hidden_dim=16)):
        assert build_model(args).config.hidden_dim == 16


def test_mnist_files_with_no_images_or_two_copies(tmp_path):
    from vae_trainer.data import load_idx_split

    empty = tmp_path / "empty"
    write_mnist(empty, n_train=4, n_test=4)
    for kind, array in (("images", np.zeros((0, 28, 28), np.uint8)), ("labels", np.zeros(0, np.uint8))):
        ndim = array.ndim
        (empty / f"train-{kind}-idx{ndim}-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))
    with pytest.raises(InputError, match=re.escape(f"{empty}/train-images-idx3-ubyte.gz: its header says it holds 0")):
        load_idx_split(empty, "train")

    both = write_mnist(tmp_path / "both", n_train=4, n_test=4)
    write_mnist(both, n_train=4, n_test=4, gz=False, dot_spelling=True)
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz and train-images.idx3-ubyte both hold"):
        load_idx_split(both, "train")


def test_resume_from_a_file_says_it_is_a_file(tmp_path):
    file = tmp_path / "optimizer.pt"
    file.write_bytes(b"")
    with pytest.raises(InputError, match=re.escape(f"--resume_from_checkpoint {file}: a file, not a checkpoint")):
        resolve_resume(str(tmp_path), str(file))


@pytest.mark.parametrize(
    "main, argv",
    [
        ("ner_trainer.predict", ["--model", "", "Paris"]),
        ("ner_trainer.export", ["--model", "", "--output", "unused"]),
        ("vae_trainer.generate", ["--model", "", "--output", "unused"]),
    ],
)
def test_an_empty_model_is_named(main, argv):
    import importlib

    with pytest.raises(InputError, match="^--model is empty"):
        importlib.import_module(main).main(argv)


# --- through the scripts: one line, exit 2, nothing written ------------------------------------------------------
def run_script(*argv: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "WANDB_MODE"}, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_scripts_refuse_bad_values_before_writing(tmp_path):
    out = tmp_path / "run"
    proc = run_script("run_vae.py", "--per_device_eval_batch_size", "0", "--output_dir", str(out))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    assert proc.stderr == "error: --per_device_eval_batch_size must be at least 1, got 0\n"
    assert not out.exists()

    path = config(tmp_path, "dup.json", json.dumps({"seed": 1})[:-1] + ', "seed": 2}')
    proc = run_script("run_ner.py", path, "--output_dir", str(out))
    assert proc.returncode == 2 and proc.stderr == f"error: {path}: key 'seed' is given twice\n", proc.stderr[-3000:]
    assert not out.exists()


def test_ner_refuses_split_evaluation_batches_and_empty_label_names():
    refused("ner", ["--eval_do_concat_batches", "false"], "--eval_do_concat_batches false is not supported")
    refused("ner", ["--label_names", "O", "", "B-PER"], "--label_names must name each label once")
    assert parse("ner", ["--label_names", "O,B-PER", "I-PER"])[1].label_names == ["O", "B-PER", "I-PER"]
