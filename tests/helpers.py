"""Helpers shared by the test files: tiny tokenizers and BERT encoders, a process without this project, MNIST files,
a signal at a training step."""

import gzip
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from transformers import TrainerCallback

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Whole words, plus "##" pieces so that some words split into several sub-tokens
# ("Washington" -> "Wash", "##ing", "##ton").
WORDS = (
    "EU rejects German call to boycott British lamb . Peter Blackburn BRUSSELS "
    "Germany France Paris London John Smith lives in works for the a of and , "
    "Wash Mary Lee visited New York City said on Monday European Commission"
).split()
PIECES = ["##ing", "##ton", "##s", "##ed", "##er"]


def write_vocab(path, extra=()):
    tokens = SPECIAL_TOKENS + sorted(set(WORDS) | set(extra)) + PIECES
    path.write_text("\n".join(tokens) + "\n")
    return path


def make_tokenizer(tmp_dir):
    """A cased WordPiece tokenizer over the tiny vocab (`vocab=` works, `vocab_file=` is ignored in v5)."""
    from transformers import BertTokenizer

    vocab = write_vocab(tmp_dir / "vocab.txt")
    return BertTokenizer(vocab=str(vocab), do_lower_case=False)


def tiny_bert_config(vocab_size=50, hidden_size=32, num_hidden_layers=2, max_position_embeddings=64):
    """The one tiny BERT encoder config of the tests: a few layers, two heads, random weights wherever used."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=max_position_embeddings,
    )


def make_encoder_dir(tmp_dir, num_hidden_layers=2, hidden_size=32, seed=0):
    """Save a random few-layer BertModel plus its tokenizer, standing in for a pretrained encoder folder."""
    import torch
    from transformers import BertModel

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(tmp_dir)
    config = tiny_bert_config(len(tokenizer), hidden_size, num_hidden_layers)
    out = tmp_dir / "tiny-bert"
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def save_stock_tagger(tmp_dir, labels) -> Path:
    """A saved `BertForTokenClassification` over the tiny random encoder, with `labels`, and its tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertForTokenClassification

    encoder_dir = make_encoder_dir(tmp_dir)
    torch.manual_seed(0)
    model = BertForTokenClassification.from_pretrained(
        encoder_dir, id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)}
    )
    out = tmp_dir / "tagger"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(encoder_dir).save_pretrained(out)
    return out


PROJECT_PACKAGES = ("trainer_common", "vae_trainer", "ner_trainer")


def run_without_project(script: str, tmp_dir):
    """Run `script` in a fresh Python where this project's packages cannot be imported, installed or not.

    That is where a user loads a checkpoint with `trust_remote_code=True`: only the code saved beside the weights
    is there. Returns the completed process.
    """
    import subprocess
    import sys

    prelude = (
        "import sys\n"
        f"for name in {PROJECT_PACKAGES!r}:\n"
        "    sys.modules[name] = None  # as if not installed: any import of it raises ImportError\n"
        "    try:\n"
        "        __import__(name)\n"
        "        raise SystemExit(name + ' is importable')\n"
        "    except ImportError:\n"
        "        pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_dir / "modules")
    return subprocess.run(
        [sys.executable, "-c", prelude + script], cwd=tmp_dir, env=env, capture_output=True, text=True
    )


def assert_same_loss_and_gradients(model, padded: dict, packed: dict, **tolerance):
    """The packed batch gives the padded batch's loss and every parameter's gradient; returns both outputs and the
    padded batch's gradients."""
    import torch

    model.zero_grad()
    out = model(**padded)
    out.loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    packed_out = model(**packed)
    packed_out.loss.backward()
    torch.testing.assert_close(packed_out.loss, out.loss)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], msg=name, **tolerance)
    return out, packed_out, expected


class SignalAtStep(TrainerCallback):
    """Sends this process `signum` at the end of step `step`, as a user pressing Ctrl-C then would."""

    def __init__(self, step: int, signum=signal.SIGINT):
        self.step, self.signum = step, signum

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x00000803 if array.ndim == 3 else 0x00000801
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, n_train=256, n_test=64, gz=True, dot_spelling=False, seed=0) -> Path:
    """Synthetic 28x28 'digits': bright horizontal or vertical bars, learnable in a few steps."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 2, n)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for image, label, pos in zip(images, labels, rng.integers(4, 24, n)):
            if label:
                image[:, pos - 2 : pos + 2] = 255
            else:
                image[pos - 2 : pos + 2, :] = 255
        for kind, array, ndim in (("images", images, 3), ("labels", labels, 1)):
            sep = "." if dot_spelling else "-"
            name = f"{prefix}-{kind}{sep}idx{ndim}-ubyte" + (".gz" if gz else "")
            data = idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(data) if gz else data)
    return directory


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Import into a test module to run its tiny models on one thread: as fast, and far faster when other work
    shares the two cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def readme_outputs(section: str) -> set[str]:
    """The top-level names of the "Outputs in `output_dir`" table in README.md's `section` (a `## ` heading): the
    first column's file names, a folder's as `name/`."""
    import re

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    table = body.split("Outputs in `output_dir`:", 1)[1].split("\n\n", 2)[1]
    names = set()
    for row in table.splitlines()[2:]:
        for name in re.findall(r"`([^`]+)`", row.split(" | ")[0]):
            names.add(name.split("/")[0] + "/" if "/" in name else name)
    return names


def written_outputs(folder: Path) -> set[str]:
    """The top-level entries of a run's folder, as `readme_outputs` names them."""
    return {p.name + "/" if p.is_dir() else p.name for p in folder.iterdir()}
