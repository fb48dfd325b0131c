"""The Python API (`ner_trainer.load_tagger`, `vae_trainer.load_vae`), the CLI that runs through it, and the README
snippet that shows it, run as written."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_tokenizer, save_stock_tagger, tiny_bert_config
from PIL import Image

import ner_trainer
import run_ner
import run_vae
import vae_trainer
from ner_trainer import predict, tagging
from ner_trainer.predict import split_words
from trainer_common.cli import run_cli
from trainer_common.errors import InputError
from vae_trainer import VAEConfig, VAEModel

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXTS = [
    "Peter Blackburn visited Brussels.",
    "",
    "John Smith works for the European Commission in Paris, London and New York City.",
    " ".join(["Mary Lee said on Monday that EU rejects German call ."] * 8),  # longer than a 16-token window
]


@pytest.fixture(scope="module")
def taggers(tmp_path_factory) -> dict[str, Path]:
    """A stock BertForTokenClassification (linear head) and a BertTagger with a CRF head over BIOES tags, whose
    transition scores look trained, so that Viterbi differs from the argmax."""
    from ner_trainer import BertTagger, BertTaggerConfig

    tmp = tmp_path_factory.mktemp("taggers")
    tokenizer = make_tokenizer(tmp)
    torch.manual_seed(0)
    config = BertTaggerConfig(
        encoder=tiny_bert_config(vocab_size=len(tokenizer)),
        id2label=dict(enumerate(tagging.label_list(["LOC", "PER"], "bioes"))),
        head="crf",
        label_scheme="bioes",
        classifier_dropout=0.0,
    )
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    crf = BertTagger(config)
    with torch.no_grad():
        crf.crf.transitions.normal_(0, 2.0)
        crf.classifier.weight.normal_(0, 1.0)
    crf.save_pretrained(tmp / "crf")
    tokenizer.save_pretrained(tmp / "crf")
    return {"linear": save_stock_tagger(tmp, LABELS), "crf": tmp / "crf"}


def run_predict(argv: list[str]) -> int:
    """`python run_ner.py predict ...`, in process."""
    return run_cli(run_ner.COMMANDS, default="train", argv=["predict", *argv])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- NER ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["linear", "crf"])
@pytest.mark.parametrize("word_scores", [False, True])
def test_load_tagger_predict_gives_the_lines_of_run_ner_predict(taggers, head, word_scores, tmp_path, capsys):
    source, out = tmp_path / "texts.txt", tmp_path / "tags.jsonl"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    argv = ["--model", str(taggers[head]), "--input_file", str(source), "--output_file", str(out)]
    argv += ["--device", "cpu", "--batch_size", "2", "--max_seq_length", "16"] + ["--word_scores"] * word_scores
    assert run_predict(argv) == 0
    # stderr is not a terminal here: no progress bar, only the closing line
    assert capsys.readouterr().err == f"wrote {len(TEXTS)} lines to {out}\n"

    tagger = ner_trainer.load_tagger(str(taggers[head]), device="cpu", batch_size=2, max_seq_length=16)
    records = tagger.predict(TEXTS, word_scores=word_scores)
    assert records == read_jsonl(out)
    assert [r["text"] for r in records] == TEXTS
    assert all(("word_scores" in r) == word_scores for r in records)
    assert tagger.predict(TEXTS[0], batch_size=1, word_scores=word_scores) == records[0]  # one text: one record


def test_word_scores_give_every_word_its_tag_and_score(taggers):
    tagger = ner_trainer.load_tagger(taggers["crf"], device="cpu")
    for text, record in zip(TEXTS, tagger.predict(TEXTS, word_scores=True)):
        words = record["word_scores"]
        assert [w["word"] for w in words] == record["words"] == [w for w, _, _ in split_words(text)]
        assert [w["tag"] for w in words] == record["tags"]
        assert all(text[w["start"] : w["end"]] == w["word"] and 0 < w["score"] <= 1 for w in words)
        for entity in record["entities"]:  # an entity's score is the mean of its words'
            inside = [w["score"] for w in words if entity["start"] <= w["start"] and w["end"] <= entity["end"]]
            assert entity["score"] == pytest.approx(sum(inside) / len(inside), abs=2e-4)
    assert sum(len(r["entities"]) for r in tagger.predict(TEXTS)) > 0  # the check above ran on some entity


def first_subtokens(tokenizer, words):
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    ids = encoding.word_ids()
    return encoding, [k for k, w in enumerate(ids) if w is not None and (k == 0 or ids[k - 1] != w)]


def test_score_of_a_linear_head_is_the_softmax_probability_of_the_tag(taggers):
    tagger = ner_trainer.load_tagger(taggers["linear"], device="cpu")
    record = tagger.predict(TEXTS[2], word_scores=True)
    encoding, first = first_subtokens(tagger.tokenizer, record["words"])
    with torch.no_grad():
        probs = tagger.model(**encoding).logits[0, first].softmax(-1)
    assert [w["tag"] for w in record["word_scores"]] == [LABELS[i] for i in probs.argmax(-1).tolist()]
    assert [w["score"] for w in record["word_scores"]] == pytest.approx(probs.max(-1).values.tolist(), abs=1e-4)


def test_score_of_a_crf_head_is_its_max_marginal_confidence(taggers):
    """1 / sum_y exp(m(y) - m*), with m(y) the best path's score through tag y at the word, m* the Viterbi score."""
    from ner_trainer import BertTagger

    tagger = ner_trainer.load_tagger(taggers["crf"], device="cpu")
    record = tagger.predict(TEXTS[2], word_scores=True)
    model = BertTagger.from_pretrained(taggers["crf"]).train()  # dropout is 0; in training, logits are emissions
    encoding, first = first_subtokens(tagger.tokenizer, record["words"])
    with torch.no_grad():
        emissions = model(**encoding).logits[:, first]
        marginals = model.crf.max_marginals(emissions, torch.ones(emissions.shape[:2], dtype=torch.bool))[0]
    best = marginals.max(-1).values
    expected = 1 / (marginals - best[:, None]).exp().sum(-1)
    viterbi = [model.config.id2label[i] for i in marginals.argmax(-1).tolist()]
    assert [w["tag"] for w in record["word_scores"]] == viterbi
    assert [w["score"] for w in record["word_scores"]] == pytest.approx(expected.tolist(), abs=2e-4)
    assert min(w["score"] for w in record["word_scores"]) < 0.9  # not a test of all-ones


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(taggers, tmp_path, monkeypatch):
    monkeypatch.setattr(predict, "PROGRESS_DELAY", 0)
    out = tmp_path / "tags.jsonl"
    argv = ["--model", str(taggers["linear"]), "--output_file", str(out), "--device", "cpu", *TEXTS]
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_predict(argv) == 0
    shown = terminal.getvalue()
    assert re.search(rf"tagging: 100%.*\b{len(TEXTS)}/{len(TEXTS)}\b", shown), shown
    assert shown.endswith(f"wrote {len(TEXTS)} lines to {out}\n")

    redirected = io.StringIO()  # a file or pipe: no bar, whatever the delay
    monkeypatch.setattr(sys, "stderr", redirected)
    assert run_predict(argv + ["--batch_size", "1"]) == 0
    assert redirected.getvalue() == f"wrote {len(TEXTS)} lines to {out}\n"
    # and on stdout, no closing line
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert run_predict(argv[:1] + argv[1:2] + argv[4:]) == 0
    assert redirected.getvalue().count("wrote") == 1


def test_load_tagger_refuses_bad_input(taggers, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="model is empty"):
        ner_trainer.load_tagger(" ")
    with pytest.raises(InputError, match=f"{tmp_path / 'missing'}: no such folder"):
        ner_trainer.load_tagger(tmp_path / "missing", device="cpu")
    with pytest.raises(InputError, match="batch_size must be an integer of at least 1"):
        ner_trainer.load_tagger(taggers["linear"], batch_size=0)
    with pytest.raises(InputError, match="'tpu9' is not a torch device"):
        ner_trainer.load_tagger(taggers["linear"], device="tpu9")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="'cuda:1' was asked for, but no CUDA device is available"):
        ner_trainer.load_tagger(taggers["linear"], device="cuda:1")
    vae = tmp_path / "vae"
    VAEModel(VAEConfig(hidden_dim=8, latent_dim=2)).save_pretrained(vae)
    with pytest.raises(InputError, match=re.escape(str(vae))):
        ner_trainer.load_tagger(vae)
    tagger = ner_trainer.load_tagger(taggers["linear"])  # no CUDA: the CPU
    assert tagger.model.device.type == "cpu" and tagger.labels == LABELS
    with pytest.raises(TypeError, match=r"a string or a list of strings; texts\[1\] is int"):
        tagger.predict(["Paris", 3])
    for bad in (None, 5, b"Paris"):
        with pytest.raises(TypeError, match=f"a string or a list of strings, got {type(bad).__name__}"):
            tagger.predict(bad)
    assert [record["words"] for record in tagger.predict(("Paris", "Rome"))] == [["Paris"], ["Rome"]]
    for bad in (None, 3):
        with pytest.raises(TypeError, match=f"a folder or a Hub id .* got {type(bad).__name__}"):
            ner_trainer.load_tagger(bad)
        with pytest.raises(TypeError, match=f"a folder or a Hub id .* got {type(bad).__name__}"):
            vae_trainer.load_vae(bad)


def test_loading_draws_no_progress_bars_off_a_terminal(taggers, vae_dir, monkeypatch, capsys):
    """transformers' "Loading weights" bars: on a terminal only, through the API and `run_ner.py predict` alike."""
    from transformers.utils import logging as hf_logging

    monkeypatch.setattr(hf_logging, "_tqdm_active", True)  # bars on, as a user's default
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ner_trainer.load_tagger(taggers["linear"], device="cpu")
    assert "Loading weights" in terminal.getvalue()
    monkeypatch.undo()
    monkeypatch.setattr(hf_logging, "_tqdm_active", True)
    ner_trainer.load_tagger(taggers["linear"], device="cpu")
    vae_trainer.load_vae(vae_dir, device="cpu")
    assert "Loading weights" not in capsys.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # the setting is restored after loading
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    argv = [sys.executable, "run_ner.py", "predict", "--model", str(taggers["linear"]), "--device", "cpu", "Paris"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Loading weights" not in proc.stderr, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["words"] == ["Paris"]


# ---- VAE ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("vae") / "vae"
    VAEModel(VAEConfig(hidden_dim=16, latent_dim=4)).save_pretrained(out)
    return out


def test_generate_shape_range_and_seed(vae_dir, tmp_path, capsys):
    vae = vae_trainer.load_vae(vae_dir, device="cpu")
    digits = vae.generate(5, seed=3)
    assert digits.shape == (5, 28, 28) and digits.dtype == torch.float32
    assert 0 <= digits.min() and digits.max() <= 1
    assert torch.equal(vae.generate(5, seed=3), digits)
    assert not torch.allclose(vae.generate(5, seed=4), digits)
    # `run_vae.py generate --seed 3` writes these digits
    argv = ["generate", "--model", str(vae_dir), "--num_samples", "5", "--seed", "3", "--output", str(tmp_path)]
    assert run_cli(run_vae.COMMANDS, default="train", argv=argv) == 0
    for i, digit in enumerate(digits):
        with Image.open(tmp_path / "samples" / f"sample_{i}.png") as png:
            assert np.abs(np.asarray(png, dtype=float) - digit.numpy() * 255).max() <= 1
    for bad in (0, 2.5, True, 10**12):  # 10**12 digits: 3 PB of pixels, refused before any is drawn
        with pytest.raises(InputError, match=rf"num_samples must be an integer from 1 to 100000, got {bad}"):
            vae.generate(bad)
    with pytest.raises(InputError, match="seed must be an integer"):
        vae.generate(2, seed=2**64)


def test_reconstruct_is_the_models_forward_pass(vae_dir):
    vae = vae_trainer.load_vae(vae_dir, device="cpu")
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    state = torch.random.get_rng_state()
    reconstruction = vae.reconstruct(images, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is left as it was
    assert reconstruction.shape == (6, 28, 28) and 0 <= reconstruction.min() and reconstruction.max() <= 1

    model = VAEModel.from_pretrained(vae_dir).eval()
    torch.manual_seed(5)
    with torch.no_grad():
        expected = model(images.reshape(6, 784).float() / 255, return_loss=False).reconstruction
    assert torch.allclose(reconstruction.reshape(6, 784), expected, atol=1e-6)

    flat = vae.reconstruct((images.numpy().reshape(6, 784) / 255).astype(np.float32), seed=5)  # float, (n, 784)
    assert flat.shape == (6, 784) and torch.allclose(flat, expected, atol=1e-6)
    assert not torch.allclose(vae.reconstruct(images, seed=6), reconstruction)  # z is drawn from q(z|x)

    with pytest.raises(InputError, match=r"shape \(n, 28, 28\) or \(n, 784\), got \(6, 27, 27\)"):
        vae.reconstruct(torch.zeros(6, 27, 27))
    with pytest.raises(InputError, match=r"float images take pixels in \[0, 1\]; these run from 0.0 to 255.0"):
        vae.reconstruct(images.float())
    with pytest.raises(InputError, match=r"images is empty \(shape \(0, 784\)\): give at least one image"):
        vae.reconstruct(torch.zeros(0, 784))
    with pytest.raises(TypeError, match="images must be a tensor, numpy array or nested list of pixels, got NoneType"):
        vae.reconstruct(None)
    with pytest.raises(TypeError, match="images must be a tensor, numpy array or nested list of pixels: "):
        vae.reconstruct([[0.5] * 784, [0.5] * 10])  # ragged
    assert repr(vae) == f"VAE({str(vae_dir)!r}, device='cpu', image_size=28, hidden_dim=16, latent_dim=4)"


def test_load_vae_refuses_a_tagger(taggers):
    with pytest.raises(InputError, match=re.escape(str(taggers["linear"]))):
        vae_trainer.load_vae(taggers["linear"])


# ---- the README snippet ---------------------------------------------------------------------------------------

HEADING = "### Python API"


def readme_snippet(markdown: str, heading: str = HEADING) -> str:
    """The first ```python block after `heading` in `markdown`."""
    after = markdown.split(f"\n{heading}\n", 1)
    if len(after) < 2:
        raise AssertionError(f"README.md has no heading {heading!r}")
    match = re.search(r"^```python\n(.*?)^```$", after[1], re.S | re.M)
    if match is None:
        raise AssertionError(f"README.md has no ```python block after {heading!r}")
    return match.group(1)


def run_snippet(code: str, folder: Path, taggers: dict[str, Path], vae_dir: Path) -> str:
    """Run `code` in `folder`, where runs/ner and runs/vae hold tiny models; returns what it printed."""
    shutil.copytree(taggers["linear"], folder / "runs" / "ner")
    shutil.copytree(vae_dir, folder / "runs" / "vae")
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setattr(sys, "stdout", stdout)
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    return stdout.getvalue()


def test_readme_python_api_snippet_runs_as_written(taggers, vae_dir, tmp_path):
    code = readme_snippet((ROOT / "README.md").read_text(encoding="utf-8"))
    printed = run_snippet(code, tmp_path, taggers, vae_dir)
    assert "load_tagger" in code and "load_vae" in code and printed.strip()
