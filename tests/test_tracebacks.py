"""Bad input that used to end in a traceback: closed stdin/stdout, output paths that are folders or files, an
unreachable --dataset_name, YAML alias bombs and oversized config files. Each is one `error:` line, exit status 2."""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import one_thread, save_stock_tagger, write_mnist  # noqa: F401 (one_thread: a fixture)

import run_ner
import run_vae
from trainer_common.args import load_config_file
from trainer_common.cli import run_cli
from trainer_common.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
# no WANDB_MODE=offline: transformers then prints a notice on stderr, and stderr must be the one error line
ENV = {**{k: v for k, v in os.environ.items() if k != "WANDB_MODE"}, "HF_HUB_OFFLINE": "1"}


def script(*argv: str, shell_suffix: str = "", stdin=None, memory_limit: int | None = None, timeout: int = 120):
    """Run `python run_x.py argv...` (after `shell_suffix`'s redirections, through bash when given)."""
    command = [sys.executable, *argv]
    if shell_suffix:
        command = ["bash", "-c", " ".join(f"'{part}'" for part in command) + " " + shell_suffix]

    def limit():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run(
        command, cwd=ROOT, env=ENV, stdin=stdin, capture_output=True, text=True, timeout=timeout, preexec_fn=limit
    )


def assert_one_error(proc, *expected: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in proc.stderr, proc.stderr


def in_process(commands: dict, argv: list[str], capsys) -> str:
    """The one error line of `run_cli` (the scripts' dispatch) on `argv`, checked to be the last line (after any
    of transformers' loading messages), the only one, and exit 2."""
    assert run_cli(commands, default="train", argv=argv) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.splitlines()[-1].startswith("error: ") and err.count("error:") == 1, err
    return err.splitlines()[-1]


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    """A saved BertForTokenClassification over the tiny random encoder (as tests/test_ner_predict.py makes one)."""
    return save_stock_tagger(tmp_path_factory.mktemp("tagger"), ["O", "B-LOC", "I-LOC"])


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    from vae_trainer import VAEConfig, VAEModel

    out = tmp_path_factory.mktemp("vae") / "vae"
    VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)).save_pretrained(out)
    return out


# ---- run_ner.py predict: standard input and output, --input_file, --output_file ---------------------------------


def test_predict_with_stdin_closed_or_empty(tagger_dir):
    proc = script("run_ner.py", "predict", "--model", str(tagger_dir), shell_suffix="<&-")
    assert_one_error(proc, "standard input is closed", "--input_file")
    proc = script("run_ner.py", "predict", "--model", str(tagger_dir), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr[-3000:]  # no texts, no results


def test_predict_output_file_that_is_a_folder(tagger_dir, tmp_path):
    proc = script("run_ner.py", "predict", "--model", str(tagger_dir), "--output_file", str(tmp_path), "Paris")
    assert_one_error(proc, f"--output_file {tmp_path} is a folder")


def test_predict_with_stdout_closed_or_its_reader_gone(tagger_dir):
    proc = script("run_ner.py", "predict", "--model", str(tagger_dir), "Paris", shell_suffix=">&-")
    assert_one_error(proc, "standard output is closed")
    reader_gone = "| true; exit $PIPESTATUS"
    proc = script("run_ner.py", "predict", "--model", str(tagger_dir), "Paris", shell_suffix=reader_gone)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    # found only as the results are written, after the model's loading messages
    assert proc.stderr.splitlines()[-1] == "error: could not write standard output (Broken pipe)", proc.stderr


def test_predict_bad_input_and_output_paths(tagger_dir, tmp_path, capsys):
    def error(*argv):
        return in_process(run_ner.COMMANDS, ["predict", "--model", str(tagger_dir), *argv], capsys)

    assert f"{tmp_path}: a folder, not an input file" in error("--input_file", str(tmp_path))
    assert f"input file not found: {tmp_path / 'missing.txt'}" in error("--input_file", str(tmp_path / "missing.txt"))
    os.mkfifo(tmp_path / "fifo")  # refused, not opened: with no writer, that would block for ever
    assert "not a regular file (a pipe or device?)" in error("--input_file", str(tmp_path / "fifo"))

    missing = tmp_path / "no-such-folder" / "out.jsonl"
    assert f"folder {missing.parent} does not exist" in error("--output_file", str(missing), "Paris")
    assert not missing.parent.exists()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    assert f"{a_file} is a file, not a folder" in error("--output_file", str(a_file / "out.jsonl"), "Paris")

    source = tmp_path / "in.txt"
    source.write_text("Paris\n")
    assert "would write over --input_file" in error("--input_file", str(source), "--output_file", str(source))
    assert source.read_text() == "Paris\n"
    config = tagger_dir / "config.json"
    before = config.read_bytes()
    assert "would write over --model" in error("--output_file", str(config), "Paris")
    assert config.read_bytes() == before

    theirs = tmp_path / "results.jsonl"  # a file of the user's: never replaced by predictions
    for text in ('{"id": 1, "score": 0.5}\n', '{"text": "a", "words": ["a"], "tags": ["O"], "entities": []}\nmine\n'):
        theirs.write_text(text)
        assert "holds other data than predictions" in error("--output_file", str(theirs), "Paris")
        assert theirs.read_text() == text
    ours = tmp_path / "tags.jsonl"  # an earlier prediction is replaced
    argv = ["predict", "--model", str(tagger_dir), "--device", "cpu", "--output_file", str(ours)]
    for text in ("Paris", "London"):
        assert run_cli(run_ner.COMMANDS, default="train", argv=[*argv, text]) == 0
    assert json.loads(ours.read_text())["words"] == ["London"]


def test_predict_text_argument_that_is_not_utf8(tagger_dir, capsys):
    # `python run_ner.py predict ... $'\\xff'`: Python hands the byte over as a lone surrogate
    err = in_process(run_ner.COMMANDS, ["predict", "--model", str(tagger_dir), "Paris", "ab\udcff"], capsys)
    assert "text argument 2: not valid UTF-8 (at character 2)" in err


def test_models_whose_weights_are_not_finite(tagger_dir, vae_dir, tmp_path, capsys):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from vae_trainer import VAEModel

    broken = tmp_path / "tagger"
    model = AutoModelForTokenClassification.from_pretrained(tagger_dir)
    with torch.no_grad():
        model.classifier.bias[0] = float("nan")
    model.save_pretrained(broken)
    AutoTokenizer.from_pretrained(tagger_dir).save_pretrained(broken)
    assert "weights hold NaN or inf" in in_process(run_ner.COMMANDS, ["predict", "--model", str(broken), "x"], capsys)

    vae = VAEModel.from_pretrained(vae_dir)
    with torch.no_grad():
        next(vae.parameters()).fill_(float("inf"))
    vae.save_pretrained(tmp_path / "vae")
    argv = ["generate", "--model", str(tmp_path / "vae"), "--output", str(tmp_path / "out")]
    assert "weights hold NaN or inf" in in_process(run_vae.COMMANDS, argv, capsys)
    assert not (tmp_path / "out").exists()


def test_export_output_paths(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    argv = ["export", "--model", str(tmp_path / "any"), "--output"]
    err = in_process(run_ner.COMMANDS, [*argv, str(a_file / "x")], capsys)
    assert err == f"error: --output {a_file / 'x'} lies in a file, not a folder"
    assert "--output is empty" in in_process(run_ner.COMMANDS, [*argv, ""], capsys)


def test_predict_output_file_through_a_symlink_and_to_a_device(tagger_dir, tmp_path, capsys):
    target = tmp_path / "real.jsonl"
    target.write_text("")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    argv = ["predict", "--model", str(tagger_dir), "--device", "cpu", "--output_file", str(link), "Paris"]
    assert run_cli(run_ner.COMMANDS, default="train", argv=argv) == 0
    assert link.is_symlink() and json.loads(target.read_text())["words"] == ["Paris"]
    argv[-2] = os.devnull
    assert run_cli(run_ner.COMMANDS, default="train", argv=argv) == 0
    assert Path(os.devnull).is_char_device()


# ---- run_vae.py generate: --output ------------------------------------------------------------------------------


def test_generate_output_that_is_a_file(vae_dir, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    proc = script("run_vae.py", "generate", "--model", str(vae_dir), "--output", str(a_file))
    assert_one_error(proc, f"--output {a_file} is a file, not a folder")
    assert a_file.read_text() == "mine\n"


def test_generate_never_writes_over_files_it_did_not_write(vae_dir, tmp_path, capsys):
    def generate(out, *extra):
        return run_cli(run_vae.COMMANDS, "train", ["generate", "--model", str(vae_dir), "--output", str(out), *extra])

    out = tmp_path / "out"
    (out / "samples").mkdir(parents=True)
    (out / "samples.png").write_bytes(b"my own figure")
    (out / "samples" / "sample_12.png").write_bytes(b"my own digit")  # generate would remove it as stale
    assert generate(out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would write over but this toolkit did not write" in err
    assert "samples.png, samples/sample_12.png" in err
    assert (out / "samples.png").read_bytes() == b"my own figure"
    assert (out / "samples" / "sample_12.png").read_bytes() == b"my own digit"

    assert "lies in" in in_process(run_vae.COMMANDS, ["generate", "--model", str(vae_dir), "--output",
                                                      str(out / "samples.png" / "x")], capsys)  # fmt: skip
    assert "--output is empty" in in_process(run_vae.COMMANDS, ["generate", "--model", "m", "--output", ""], capsys)
    seed = str(2**64)
    assert "--seed must be at most" in in_process(
        run_vae.COMMANDS, ["generate", "--model", str(vae_dir), "--output", str(out), "--seed", seed], capsys
    )

    # its own files, and only those, it replaces: a second, smaller set leaves no stale digits; other files stay
    fresh = tmp_path / "fresh"
    (fresh / "samples").mkdir(parents=True)
    (fresh / "notes.txt").write_text("mine\n")
    (fresh / "samples" / "notes.txt").write_text("mine too\n")
    assert generate(fresh, "--num_samples", "5") == 0
    assert generate(fresh, "--num_samples", "3", "--seed", "1") == 0
    digits = [f"sample_{i}.png" for i in range(3)]
    assert sorted(p.name for p in (fresh / "samples").iterdir()) == ["notes.txt", *digits]
    assert (fresh / "notes.txt").read_text() == "mine\n"
    assert (fresh / "samples" / "notes.txt").read_text() == "mine too\n"
    assert sorted(p.name for p in fresh.iterdir()) == [".generated.json", "notes.txt", "samples", "samples.png"]

    (fresh / ".generated.json").write_text("not generate's\n")
    assert generate(fresh) == 2
    assert ".generated.json that generate did not write" in capsys.readouterr().err


def test_generate_into_a_training_run_replaces_the_run_samples(tmp_path):
    """A run's manifest records samples.png and samples/: generate may replace them there."""
    from trainer_common.args import parse_args
    from vae_trainer.train import VAEArguments, VAETrainingArguments, train

    data = write_mnist(tmp_path / "mnist", n_train=32, n_test=8)
    out = tmp_path / "run"
    args = parse_args((VAEArguments, VAETrainingArguments), [
        "--data_dir", str(data), "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "16",
        "--hidden_dim", "8", "--latent_dim", "2", "--report_to", "none", "--num_samples", "4",
        "--disable_tqdm", "true",
    ])  # fmt: skip
    train(*args)
    before = (out / "samples.png").read_bytes()
    argv = ["generate", "--model", str(out), "--output", str(out), "--num_samples", "2", "--seed", "7"]
    assert run_cli(run_vae.COMMANDS, "train", argv) == 0
    assert (out / "samples.png").read_bytes() != before
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["sample_0.png", "sample_1.png"]


# ---- --dataset_name that is neither a local folder nor reachable ------------------------------------------------


def test_unreachable_dataset_name_is_one_error(tagger_dir, tmp_path):
    encoder = tagger_dir.parent / "tiny-bert"
    proc = script("run_ner.py", "--dataset_name", "someone/no-such-dataset", "--model_name_or_path", str(encoder),
                  "--output_dir", str(tmp_path / "ner"), "--report_to", "none")  # fmt: skip
    assert_one_error(proc, "could not reach the Hugging Face Hub for dataset someone/no-such-dataset (HF_HUB_OFFLINE "
                     "is set), and it is not in the cache: give local files with --train_file")  # fmt: skip
    proc = script("run_vae.py", "--dataset_name", "someone/no-such-dataset", "--output_dir", str(tmp_path / "vae"),
                  "--report_to", "none")  # fmt: skip
    assert_one_error(proc, "Hub for dataset someone/no-such-dataset (HF_HUB_OFFLINE is set)", "--data_dir")


def test_dataset_name_messages_say_what_the_name_is(tmp_path):
    from ner_trainer.data import load_hub_dataset
    from vae_trainer.data import load_mnist

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="a local folder, but no dataset loads from it .*EmptyDatasetError"):
        load_hub_dataset(str(tmp_path / "empty"))
    with pytest.raises(InputError, match=f"--dataset_name {tmp_path / 'missing'}: no such folder$"):
        load_mnist(dataset_name=str(tmp_path / "missing"))
    with pytest.raises(InputError, match=r"^could not reach the Hugging Face Hub for dataset eriktks/conll2003 \(the"):
        load_hub_dataset(option="the default")


def write_image_dataset(folder: Path, splits: dict[str, list]) -> Path:
    """A local dataset folder (one parquet file per split) with an `image` column, loadable offline."""
    from datasets import Dataset, Features, Image

    folder.mkdir(parents=True)
    for split, images in splits.items():
        dataset = Dataset.from_dict({"image": images}, features=Features({"image": Image()}))
        dataset.to_parquet(folder / f"{split}.parquet")
    return folder


def test_hub_images_are_checked_by_split_and_row(tmp_path):
    from PIL import Image

    from vae_trainer.data import load_mnist

    digit = Image.fromarray(np.full((28, 28), 255, dtype=np.uint8))
    good = write_image_dataset(tmp_path / "good", {"train": [digit, digit], "test": [digit]})
    train, test = load_mnist(dataset_name=str(good))
    assert train.pixels.shape == (2, 784) and test.pixels.shape == (1, 784) and float(train.pixels.min()) == 1.0

    rgb = Image.new("RGB", (28, 28))
    bad = write_image_dataset(tmp_path / "rgb", {"train": [digit, rgb], "test": [digit]})
    with pytest.raises(InputError, match=r"\[train\]:2: expected a 28x28 grayscale image, got one of shape \(28, 28"):
        load_mnist(dataset_name=str(bad))
    no_test = write_image_dataset(tmp_path / "no-test", {"train": [digit]})
    with pytest.raises(InputError, match="no 'test' split"):
        load_mnist(dataset_name=str(no_test))


# ---- config files -----------------------------------------------------------------------------------------------

BOMB = "output_dir: out\nlabel_names:\n  - &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    config = tmp_path / "bomb.yaml"
    config.write_text(BOMB)
    assert len(BOMB) < 500
    start = time.perf_counter()
    with pytest.raises(InputError, match=f"^{config}:4: YAML alias \\*a: config files take no aliases"):
        load_config_file(str(config))
    assert time.perf_counter() - start < 1
    # the real script, its memory capped far below what expanding it took (2-3 GB)
    proc = script("run_ner.py", str(config), memory_limit=3 << 30, timeout=60)
    assert_one_error(proc, f"{config}:4: YAML alias *a")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000, r"deep.yaml:1: nested more than 100 levels deep"),
        ("block.yaml", "".join("  " * i + "a:\n" for i in range(500)), r"block.yaml:\d+: nested more than 100"),
        ("merge.yaml", "base: &b {x: 1}\nrun:\n  <<: *b\n", r"merge.yaml:3: YAML alias \*b"),
        ("bigint.yaml", "seed: " + "1" * 5000, "bigint.yaml: not valid YAML: Exceeds the limit"),
        ("bigint.json", '{"seed": ' + "1" * 5000 + "}", "bigint.json: not valid JSON: Exceeds the limit"),
        ("deep.json", "[" * 100000 + "]" * 100000, "deep.json: JSON nested too deeply"),
    ],
)
def test_config_files_that_would_exhaust_python(tmp_path, name, text, message):
    config = tmp_path / name
    config.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config_file(str(config))


def test_an_anchor_without_alias_and_a_large_flat_config_still_load(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text("learning_rate: &lr 1.0e-4\nlabel_names: [" + ", ".join(f"L{i}" for i in range(20000)) + "]\n")
    assert len(load_config_file(str(config))["label_names"]) == 20000


def test_an_oversized_config_file_is_refused_unread(tmp_path):
    config = tmp_path / "huge.json"
    with open(config, "wb") as file:
        file.truncate((10 << 20) + 1)
    with pytest.raises(InputError, match=f"{config}: 10485761 bytes, over the 10485760-byte limit"):
        load_config_file(str(config))
