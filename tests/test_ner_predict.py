"""ner_trainer.predict: word splitting, entity decoding, batched windowed prediction and the CLI."""

import io
import json
import sys
import unicodedata

import pytest
from helpers import save_stock_tagger

from ner_trainer.predict import entity_scheme, predict_texts, split_words, tags_to_entities
from run_ner import COMMANDS
from trainer_common.cli import run_cli
from trainer_common.predict_io import read_texts, write_jsonl


def main(argv):
    """`python run_ner.py predict ...`, in process: returns the exit status."""
    return run_cli(COMMANDS, default="train", argv=["predict", *argv])


LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    """A saved BertForTokenClassification over the tiny random encoder, with real IOB2 labels."""
    return save_stock_tagger(tmp_path_factory.mktemp("tagger"), LABELS)


@pytest.fixture(scope="module")
def tagger(tagger_dir):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    return AutoModelForTokenClassification.from_pretrained(tagger_dir).eval(), AutoTokenizer.from_pretrained(
        tagger_dir
    )


NFD_VIETNAMESE = unicodedata.normalize("NFD", "Tiếng Việt rất đẹp.")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("नमस्ते दुनिया, मैं दिल्ली गया।", ["नमस्ते", "दुनिया", ",", "मैं", "दिल्ली", "गया", "।"]),  # Hindi: vowel signs are marks
        ("ฉันไปกรุงเทพ แล้ว", ["ฉันไปกรุงเทพ", "แล้ว"]),  # Thai: no spaces between words; marks stay in
        (NFD_VIETNAMESE, [unicodedata.normalize("NFD", w) for w in ("Tiếng", "Việt", "rất", "đẹp")] + ["."]),
        ("ذَهَبَ مُحَمَّدٌ إِلَى القَاهِرَةِ.", ["ذَهَبَ", "مُحَمَّدٌ", "إِلَى", "القَاهِرَةِ", "."]),  # Arabic harakat
        ("I ❤️ NY 👩\u200d💻 👍🏽 🇫🇷!", ["I", "❤️", "NY", "👩\u200d💻", "👍🏽", "🇫🇷", "!"]),  # emoji: one grapheme each
        ("می\u200cخواهم بروم", ["می\u200cخواهم", "بروم"]),  # Persian: a zero-width non-joiner inside a word
        (
            "Nguyễn visited 北京 and दिल्ली (e.g. U.S.)",
            ["Nguyễn", "visited", "北", "京", "and", "दिल्ली", "(", "e.g.", "U.S.", ")"],
        ),
    ],
)
def test_split_words_keeps_marks_joiners_and_emoji_in_their_words(text, words):
    split = split_words(text)
    assert [w for w, _, _ in split] == words
    assert all(text[start:end] == word for word, start, end in split)
    assert "".join(text[end:start] for (_, _, end), (_, start, _) in zip([(None, 0, 0)] + split, split)).strip() == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("EU rejects Germany.", ["EU", "rejects", "Germany", "."]),
        ("(Jean-Paul's, 1996-08-22)", ["(", "Jean-Paul's", ",", "1996-08-22", ")"]),
        ("U.S. $1,000.50 at 10:30!", ["U.S.", "$", "1,000.50", "at", "10:30", "!"]),
        ("  don’t\tstop\n", ["don’t", "stop"]),
        ("叶老桂在浙商银行，CSOL。", ["叶", "老", "桂", "在", "浙", "商", "银", "行", "，", "CSOL", "。"]),
        ("", []),
    ],
)
def test_split_words_offsets(text, words):
    split = split_words(text)
    assert [w for w, _, _ in split] == words
    assert all(text[start:end] == word for word, start, end in split)


def test_tags_to_entities():
    text = "Peter Blackburn visited New York and Paris London"
    offsets = [(start, end) for _, start, end in split_words(text)]
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "O", "B-LOC", "B-LOC"]  # a stray I- starts an entity
    scores = [0.9, 0.7, 0.99, 0.6, 0.8, 0.99, 0.5, 0.4]
    entities = tags_to_entities(text, offsets, tags, scores)
    assert [(e["text"], e["type"], e["start"], e["end"]) for e in entities] == [
        ("Peter Blackburn", "PER", 0, 15),
        ("New York", "LOC", 24, 32),
        ("Paris", "LOC", 37, 42),
        ("London", "LOC", 43, 49),
    ]
    assert [e["score"] for e in entities] == [0.8, 0.7, 0.5, 0.4]
    # I-X after another type starts a new entity; tags without a B-/I- prefix are outside
    mixed = tags_to_entities("a b c", [(0, 1), (2, 3), (4, 5)], ["B-PER", "I-LOC", "LABEL_3"], [1.0, 1.0, 1.0])
    assert [(e["text"], e["type"]) for e in mixed] == [("a", "PER"), ("b", "LOC")]


def test_tags_to_entities_reads_the_models_scheme():
    text = "Peter Blackburn visited New York and Paris"
    offsets = [(start, end) for _, start, end in split_words(text)]
    expected = [("Peter Blackburn", "PER"), ("New York", "LOC"), ("Paris", "LOC")]
    for scheme, tags in (
        ("bioes", ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O", "S-LOC"]),
        ("bios", ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "S-LOC"]),
        ("iob1", ["I-PER", "I-PER", "O", "I-LOC", "I-LOC", "O", "I-LOC"]),
    ):
        entities = tags_to_entities(text, offsets, tags, [1.0] * len(tags), scheme)
        assert [(e["text"], e["type"]) for e in entities] == expected, scheme
    # without chunk prefixes, each run of one tag is one span
    runs = tags_to_entities("a b c d", [(0, 1), (2, 3), (4, 5), (6, 7)], ["NN", "NN", "O", "VB"], [1.0] * 4, "none")
    assert [(e["text"], e["type"]) for e in runs] == [("a b", "NN"), ("d", "VB")]


@pytest.mark.parametrize(
    "labels, scheme",
    [
        (["O", "B-X", "I-X"], "iob2"),
        (["O", "B-X", "I-X", "E-X", "S-X"], "bioes"),
        (["O", "B-X", "I-X", "S-X"], "bios"),
    ],
)
def test_entity_scheme_of_a_plain_token_classifier(labels, scheme):
    from transformers import BertConfig

    config = BertConfig(id2label=dict(enumerate(labels)))
    assert entity_scheme(config) == scheme


def test_predict_texts_tags_every_word_in_order(tagger):
    import torch

    model, tokenizer = tagger
    texts = ["Peter Blackburn lives in Washington.", "", "   ", "Paris", "Unknownword visited London, Paris"]
    results = predict_texts(model, tokenizer, texts)
    assert [r["text"] for r in results] == texts
    for text, result in zip(texts, results):
        assert result["words"] == [w for w, _, _ in split_words(text)]
        assert len(result["tags"]) == len(result["words"])
        assert set(result["tags"]) <= set(LABELS)
        for entity in result["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]
            assert 0 < entity["score"] <= 1
    assert results[1] == {"text": "", "words": [], "tags": [], "entities": []}
    assert results[2] == {"text": "   ", "words": [], "tags": [], "entities": []}

    # The tags are the model's argmax on each word's first sub-token, as in one plain unbatched forward pass.
    words = results[0]["words"]
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        ids = model(**encoding).logits[0].argmax(-1).tolist()
    word_ids = encoding.word_ids()
    first = [k for k, w in enumerate(word_ids) if w is not None and (k == 0 or word_ids[k - 1] != w)]
    assert results[0]["tags"] == [LABELS[ids[k]] for k in first]


def test_predict_texts_skips_the_model_for_empty_texts(tagger):
    model, tokenizer = tagger
    calls = []
    handle = model.register_forward_hook(lambda *args: calls.append(1))
    try:
        assert predict_texts(model, tokenizer, ["", " \t "]) == [
            {"text": "", "words": [], "tags": [], "entities": []},
            {"text": " \t ", "words": [], "tags": [], "entities": []},
        ]
    finally:
        handle.remove()
    assert calls == []


def test_predict_texts_long_text_is_windowed_not_truncated(tagger):
    model, tokenizer = tagger
    long_text = " ".join(["Peter Blackburn visited Washington and Paris ."] * 20)  # 140 words, ~180 tokens > 64
    results = predict_texts(model, tokenizer, [long_text, "Paris"])
    assert len(results[0]["words"]) == 140 and len(results[0]["tags"]) == 140
    small_windows = predict_texts(model, tokenizer, [long_text], max_seq_length=8)[0]
    assert len(small_windows["tags"]) == 140
    with pytest.raises(ValueError, match="longer than the model takes"):
        predict_texts(model, tokenizer, ["Paris"], max_seq_length=65)


def test_predict_texts_same_result_for_any_batch_size(tagger):
    model, tokenizer = tagger
    texts = ["Peter Blackburn lives in Washington.", "Paris", "", "EU rejects German call to boycott British lamb ."]
    texts += [" ".join(["John Smith works for the European Commission in Paris ."] * 8)]
    one = predict_texts(model, tokenizer, texts, batch_size=1, max_seq_length=16)
    many = predict_texts(model, tokenizer, texts, batch_size=32, max_seq_length=16)
    assert [r["tags"] for r in one] == [r["tags"] for r in many]
    for a, b in zip(one, many):
        assert [e["score"] for e in a["entities"]] == pytest.approx([e["score"] for e in b["entities"]], abs=1e-3)


# ---------------------------------------------------------------------------------------------------------
# I/O and command line


def test_read_texts(tmp_path):
    assert read_texts(["a b", "c"], None) == ["a b", "c"]
    path = tmp_path / "in.txt"
    path.write_text("Paris\n\nLondon\r\n", encoding="utf-8")
    assert read_texts([], str(path)) == ["Paris", "", "London"]
    assert read_texts([], "-", io.StringIO("x\n\n")) == ["x", ""]
    assert read_texts(None, None, io.StringIO("")) == []
    with pytest.raises(ValueError, match="input file not found: .*missing.txt"):
        read_texts([], str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nM\xfcnchen\n")
    with pytest.raises(ValueError, match="bad.txt:2: not valid UTF-8"):
        read_texts([], str(bad))
    with pytest.raises(ValueError, match="not both"):
        read_texts(["x"], str(path))


def test_write_jsonl_is_utf8_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "out" / "pred.jsonl"
    write_jsonl([{"text": "浙商银行"}, {"text": "b"}], out)
    assert out.read_text(encoding="utf-8") == '{"text": "浙商银行"}\n{"text": "b"}\n'
    assert [p.name for p in out.parent.iterdir()] == ["pred.jsonl"]


def read_jsonl(text):
    return [json.loads(line) for line in text.splitlines()]


def test_main_on_args(tagger_dir, capsys):
    assert main(["--model", str(tagger_dir), "--device", "cpu", "Peter lives in Paris.", "London"]) == 0
    results = read_jsonl(capsys.readouterr().out)
    assert [r["text"] for r in results] == ["Peter lives in Paris.", "London"]
    assert [len(r["tags"]) for r in results] == [5, 1]


def test_main_on_file_keeps_line_alignment(tagger_dir, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Peter lives in Paris.\n\n叶老桂在浙商银行\n", encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    args = ["--model", str(tagger_dir), "--input_file", str(source), "--output_file", str(out), "--batch_size", "2"]
    assert main(args) == 0
    results = read_jsonl(out.read_text(encoding="utf-8"))
    assert [r["text"] for r in results] == ["Peter lives in Paris.", "", "叶老桂在浙商银行"]
    assert results[1]["tags"] == [] and len(results[2]["tags"]) == 8
    assert "叶老桂" in out.read_text(encoding="utf-8")  # ensure_ascii=False


def test_main_on_stdin(tagger_dir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Paris\nJohn Smith\n"))
    assert main(["--model", str(tagger_dir)]) == 0
    results = read_jsonl(capsys.readouterr().out)
    assert [r["words"] for r in results] == [["Paris"], ["John", "Smith"]]


def test_main_errors(tagger_dir, tmp_path, capsys):
    missing_model = tmp_path / "no-such-model"
    assert main(["--model", str(missing_model), "Paris"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {missing_model}: no such folder\n"
    assert err.count("\n") == 1

    missing_input = tmp_path / "missing.txt"
    assert main(["--model", str(tagger_dir), "--input_file", str(missing_input)]) == 2
    assert f"input file not found: {missing_input}" in capsys.readouterr().err

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for item in tagger_dir.iterdir():
        (corrupt / item.name).write_bytes(item.read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"not a checkpoint")
    assert main(["--model", str(corrupt), "Paris"]) == 2
    assert f"could not load {corrupt}: SafetensorError" in capsys.readouterr().err

    assert main(["--model", str(tagger_dir), "--batch_size", "0", "Paris"]) == 2
    assert "--batch_size must be at least 1" in capsys.readouterr().err
