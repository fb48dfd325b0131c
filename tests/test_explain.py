"""run_ner.py explain: the attention page drawn offline in real headless Chromium, the PNG heatmap, its errors."""

import sys

import pytest
from chromium import Chromium
from helpers import make_encoder_dir, save_stock_tagger
from PIL import Image

from ner_trainer.explain import Explanation
from ner_trainer.explain_page import GENERATOR, page_html, write_page
from run_ner import COMMANDS
from trainer_common.cli import run_cli

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXT = "Peter Blackburn visited Washington and Paris ."
SUB_TOKENS = ["[CLS]", "Peter", "Blackburn", "visited", "Wash", "##ing", "##ton", "and", "Paris", ".", "[SEP]"]
LAYERS, HEADS = 2, 2  # helpers.tiny_bert_config
CATEGORY10_ORANGE = (255, 127, 14)  # the head view's colour of head 1, drawn by its script


def explain(*argv: str) -> int:
    """`python run_ner.py explain ...`, in process: returns the exit status."""
    return run_cli(COMMANDS, default="train", argv=["explain", *argv])


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    """A saved BertTagger with a CRF head over the tiny random encoder, whose attention is sdpa by default."""
    import torch
    from transformers import AutoTokenizer

    from ner_trainer import BertTagger

    tmp = tmp_path_factory.mktemp("explain")
    encoder = make_encoder_dir(tmp)
    torch.manual_seed(0)
    tagger = BertTagger.from_encoder(str(encoder), LABELS, head="crf")
    assert tagger.config._attn_implementation == "sdpa"
    out = tmp / "tagger"
    tagger.save_pretrained(out)
    AutoTokenizer.from_pretrained(encoder).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def explained(tagger_dir, tmp_path_factory):
    """One explain run writing both the page (opened on layer 1, head 1) and the heatmap of that head."""
    out = tmp_path_factory.mktemp("views")
    config_before = (tagger_dir / "config.json").read_bytes()
    status = explain(
        "--model", str(tagger_dir), TEXT, "--output", str(out / "view.html"), "--png", str(out / "heatmap.png"),
        "--layer", "1", "--head", "1", "--device", "cpu",
    )  # fmt: skip
    assert status == 0
    assert (tagger_dir / "config.json").read_bytes() == config_before  # eager attention for this run only
    return out


@pytest.fixture(scope="module")
def predicted_tags(tagger_dir):
    import ner_trainer

    return ner_trainer.load_tagger(str(tagger_dir), device="cpu").predict(TEXT)["tags"]


# What each bertviz view drew: its texts, its lines, the layer it shows.
VIEWS = """[...document.querySelectorAll("div[id^='bertviz-']")].map(view => ({
    texts: [...view.querySelectorAll("svg text")].map(text => text.textContent),
    lines: view.querySelectorAll("svg line").length,
    layer: view.querySelector("select") && view.querySelector("select").value,
}))"""


def expected_labels(tags: list[str]) -> list[str]:
    """The sub-tokens as the views label them: a word's first sub-token carries its predicted tag."""
    words = iter(tags)
    return [token if token.startswith(("[", "##")) else f"{token} [{next(words)}]" for token in SUB_TOKENS]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Chromium(tmp_path_factory.mktemp("chromium"), width=1200, height=1600) as browser:
        yield browser


def test_page_draws_offline_in_chromium(explained, predicted_tags, browser, tmp_path):
    page_file = explained / "view.html"
    source = page_file.read_text(encoding="utf-8")
    assert f'<meta name="generator" content="{GENERATOR}">' in source
    assert "<script src" not in source and "cdnjs" not in source  # everything it runs is inlined

    page = browser.open(page_file)
    assert page.errors() == []
    assert page.requested_urls() == [page_file.resolve().as_uri()]  # no script, style or font fetched
    views = page.evaluate(VIEWS)
    table = page.evaluate("[...document.querySelectorAll('table.tags td')].map(cell => cell.textContent)")
    screenshot = page.screenshot(tmp_path / "page.png")

    labels = expected_labels(predicted_tags)
    head_view, model_view = views
    assert head_view["texts"] == labels + labels  # the left and the right column, tags beside the sub-tokens
    assert head_view["layer"] == "1"
    assert head_view["lines"] == HEADS * len(labels) ** 2  # a line from every sub-token to every other, each head
    assert model_view["lines"] == LAYERS * HEADS * len(labels) ** 2  # a thumbnail per head of each layer
    assert table[:3] == ["Peter", "Peter", predicted_tags[0]]
    assert table[9:12] == ["Washington", "Wash ##ing ##ton", predicted_tags[3]]

    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1200, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 100  # text, table, lines in many shades: not a blank or error page
    assert CATEGORY10_ORANGE in {colour for _, colour in colours}  # head 1's swatch, drawn by the head view's d3


def test_markup_in_the_text_stays_text(browser, tmp_path):
    """Sub-tokens and words such as "</script>" (a character-level or byte-level tokenizer keeps them) are shown as
    text: they neither end the page's scripts early nor become markup."""
    import torch

    tokens = ["[CLS]", "</script>", "<!--", "<b>x</b>", "&amp;", "[SEP]"]
    words = tokens[1:-1]
    attentions = [torch.full((1, 2, 6, 6), 1 / 6, dtype=torch.float64)]
    explanation = Explanation(
        " ".join(words), words, ["B-PER", "O", "O", "O"], tokens, [None, 0, 1, 2, 3, None], attentions
    )
    page_file = tmp_path / "markup.html"
    write_page(page_file, page_html(explanation, "<model>"))

    page = browser.open(page_file)
    assert page.errors() == []
    head_view, model_view = page.evaluate(VIEWS)
    assert head_view["texts"][:6] == ["[CLS]", "</script> [B-PER]", "<!-- [O]", "<b>x</b> [O]", "&amp; [O]", "[SEP]"]
    assert model_view["lines"] == 2 * 6 * 6
    assert page.evaluate("document.querySelectorAll('table.tags b').length") == 0
    assert page.evaluate("document.querySelector('h1').textContent") == "Attention of <model>"


def test_heatmap_png(explained):
    image = Image.open(explained / "heatmap.png")
    assert image.format == "PNG"
    assert image.text["Software"] == GENERATOR
    width, height = image.size
    assert 500 <= height <= width <= 1000  # room for 11 tick labels a side, a colour bar beside
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--layer", "2"], "--layer 2 is out of range: the model has 2 layers (0 to 1)"),
        (["--head", "-1"], "--head -1 is out of range: the model has 2 heads per layer (0 to 1)"),
        (["--max_tokens", "5"], "the text is 11 sub-tokens long, more than 5 (--max_tokens): give a shorter text"),
    ],
)
def test_bad_values_are_one_error_line(tagger_dir, tmp_path, capsys, argv, message):
    status = explain("--model", str(tagger_dir), TEXT, "--png", str(tmp_path / "h.png"), *argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1] == f"error: {message}"
    assert not (tmp_path / "h.png").exists()


def test_replaces_its_own_files_only(tagger_dir, explained, tmp_path, capsys):
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    assert explain("--model", str(tagger_dir), TEXT, "--output", str(notes)) == 2
    assert "error: --output" in capsys.readouterr().err
    assert notes.read_text() == "<p>my notes</p>"

    page = tmp_path / "view.html"
    page.write_bytes((explained / "view.html").read_bytes())
    assert explain("--model", str(tagger_dir), "Paris", "--output", str(page)) == 0
    assert "Peter" not in page.read_text(encoding="utf-8")
    assert "error" not in capsys.readouterr().err


def test_stock_token_classifier_heatmap_defaults_to_the_last_layer(tmp_path, capsys):
    """A plain BertForTokenClassification (sdpa, no nested encoder config) is switched to eager attention too."""
    stock = save_stock_tagger(tmp_path, LABELS)
    assert explain("--model", str(stock), "John Smith lives in London", "--png", str(tmp_path / "h.png")) == 0
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == f"wrote {tmp_path / 'h.png'}: layer 1, head 0 of 7 sub-tokens"
    )
    assert Image.open(tmp_path / "h.png").text["Software"] == GENERATOR


def test_the_page_without_bertviz_is_one_error_line(tagger_dir, tmp_path, capsys, monkeypatch):
    """bertviz is an optional dependency (the `explain` extra): without it, --output says how to get it."""
    monkeypatch.setitem(sys.modules, "bertviz", None)  # what an import of a package that is not installed finds
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bertviz" else real(name, *a))
    assert explain("--model", str(tagger_dir), TEXT, "--output", str(tmp_path / "v.html")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --output needs bertviz: pip install")
    assert not (tmp_path / "v.html").exists()
