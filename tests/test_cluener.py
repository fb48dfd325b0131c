"""CLUENER2020 end to end: span JSON reading and validation, the 9:1 split, span JSON predictions and the CLUE
submission, span F1 against seqeval, every odd character predicted once, and character-level `predict`."""

import json
import random
from pathlib import Path

import pytest
import torch
from helpers import SPECIAL_TOKENS, tiny_bert_config

from ner_trainer import tagging
from ner_trainer.data import WordAlignment, encode_sentences, read_json
from ner_trainer.data.cluener import label_spans, span_scores, tags_to_label
from ner_trainer.metrics import compute_ner_metrics
from ner_trainer.sources import split_off_validation
from ner_trainer.train import main
from trainer_common.errors import InputError

# Texts with the characters a Chinese vocabulary maps to nothing or to [UNK]: a space, an ideographic space, a rare
# symbol, curly quotes, an emoji, and Latin letters that lower-casing changes (É -> e, İ -> i̇, the Kelvin sign K -> k).
ODD = " \u3000☃“”😀ÉİK"
NAMES = ["叶老桂", "张三", "李四", "王五"]
COMPANIES = ["浙商银行", "招商银行", "华为"]
PLACES = ["北京", "四川", "台湾"]
FILLER = "在的了是和工作去年说"


def record(rng: random.Random, with_odd: bool) -> dict:
    """A text with a name, a company and maybe a place, and its CLUE label."""
    parts = [("name", rng.choice(NAMES)), (None, rng.choice(FILLER)), ("company", rng.choice(COMPANIES))]
    if rng.random() < 0.5:
        parts += [(None, "去"), ("address", rng.choice(PLACES))]
    if with_odd:
        parts.insert(1, (None, "".join(rng.sample(ODD, 3))))
    text, label = "", {}
    for kind, piece in parts:
        if kind:
            label.setdefault(kind, {}).setdefault(piece, []).append([len(text), len(text) + len(piece) - 1])
        text += piece
    return {"text": text, "label": label}


def write_records(path, records) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def chinese_tokenizer(tmp_path):
    """A lower-casing WordPiece tokenizer over the fixture's characters, as bert-base-chinese splits CJK text:
    ODD's symbols, the emoji and the upper-case letters are not in it."""
    from transformers import BertTokenizer

    chars = sorted(set("".join(NAMES + COMPANIES + PLACES) + FILLER + "去") | set("abcdefghijklmnopqrstuvwxyz"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL_TOKENS + chars) + "\n", encoding="utf-8")
    return BertTokenizer(vocab=str(vocab), do_lower_case=True)


# ---- reading --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ({"name": {"叶老桂": [[0, 9]]}}, r"span \[0, 9\] of name '叶老桂' is outside the text"),
        ({"name": {"叶老桂": [[-1, 1]]}}, r"span \[-1, 1\] of name '叶老桂' is outside the text"),
        ({"name": {"叶老": [[1, 2]]}}, r"span \[1, 2\] of name is '老桂', not the entity '叶老'"),
        ({"name": {"叶老桂": [[0.0, 2]]}}, r"bad span \[0.0, 2\]"),
        ({"name": {"叶老桂": [["0", 2]]}}, r"bad span \['0', 2\]"),
        ({"name": {"叶老桂": [[False, 2]]}}, r"bad span \[false, 2\]|bad span \[False, 2\]"),
        ({"name": {"叶老桂": [[0, 2, 3]]}}, "bad span"),
        ({"name": {"叶老桂": [0, 2]}}, "bad span 0"),
        (
            {"name": {"叶老桂": [[0, 2]]}, "company": {"桂在": [[2, 3]]}},
            r"company '桂在' at \[2, 3\] overlaps name '叶老桂' at \[0, 2\]",
        ),
        ({"name": {"叶老桂": [[0, 2]]}, "person": {"叶老桂": [[0, 2]]}}, r"person '叶老桂' at \[0, 2\] overlaps name"),
        ({"name": ["叶老桂"]}, "'label' must look like"),
    ],
)
def test_every_span_is_validated_with_file_and_line(tmp_path, label, message):
    good = {"text": "叶老桂在浙商银行", "label": {"company": {"浙商银行": [[4, 7]]}}}
    path = write_records(tmp_path / "bad.json", [good, {"text": "叶老桂在浙商银行", "label": label}])
    with pytest.raises(InputError, match="bad.json:2: " + message):
        read_json(path)


def test_a_misspelt_label_key_is_an_error(tmp_path):
    path = write_records(tmp_path / "typo.json", [{"text": "叶老桂", "lable": {"name": {"叶老桂": [[0, 2]]}}}])
    with pytest.raises(InputError, match="typo.json:1: unknown key 'lable'; did you mean 'label'"):
        read_json(path)


def test_keep_longest_keeps_the_longer_of_two_crossing_spans(tmp_path, caplog):
    label = {"name": {"叶老": [[0, 1]]}, "company": {"老桂在浙商": [[1, 5]]}}
    path = write_records(tmp_path / "cross.json", [{"text": "叶老桂在浙商银行", "label": label}])
    (sentence,) = read_json(path, overlapping_spans="keep_longest")
    assert sentence.tags == ["O", "B-company"] + ["I-company"] * 4 + ["O", "O"]
    assert "cross.json:1: name '叶老' at [0, 1] overlaps company '老桂在浙商' at [1, 5]" in caplog.text


def test_a_span_listed_twice_is_one_span(tmp_path):
    label = {"name": {"叶老桂": [[0, 2], [0, 2]]}}
    (sentence,) = read_json(write_records(tmp_path / "twice.json", [{"text": "叶老桂在", "label": label}]))
    assert sentence.tags == ["B-name", "I-name", "I-name", "O"]


@pytest.mark.parametrize("scheme", ["iob2", "bios", "bioes"])
def test_labels_come_out_in_the_label_scheme_and_go_back_to_the_same_json(tmp_path, scheme):
    records = [record(random.Random(seed), with_odd=seed % 2 == 0) for seed in range(20)]
    sentences = read_json(write_records(tmp_path / "train.json", records), label_scheme=scheme)
    for source, sentence in zip(records, sentences):
        assert sentence.tokens == list(source["text"]) and sentence.text == source["text"]
        assert tagging.first_violation(sentence.tags, scheme) is None
        assert tags_to_label(sentence.text, sentence.tags, scheme) == source["label"]
    one = write_records(tmp_path / "one.json", [{"text": "张三和华为", "label": {"name": {"张": [[0, 0]]}}}])
    bios = read_json(one, label_scheme=scheme)
    assert bios[0].tags[0] == {"iob2": "B-name", "bios": "S-name", "bioes": "S-name"}[scheme]


# ---- scoring --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["iob2", "bios", "bioes"])
def test_span_scores_from_the_json_equal_seqeval(scheme):
    """Random gold and predicted tag sequences, ill-formed ones included: the span scores of their CLUE labels
    equal seqeval's entity scores on the tags, overall and per type."""
    rng = random.Random(0)
    labels = tagging.label_list(["name", "company", "address"], scheme)
    gold, predicted = [], []
    for _ in range(300):
        n = rng.randint(1, 12)
        gold.append([rng.choice(labels) for _ in range(n)])
        predicted.append([t if rng.random() < 0.6 else rng.choice(labels) for t in gold[-1]])
    gold = [tagging.convert(tags, scheme, scheme) for tags in gold]  # well-formed gold, as a reader gives it
    texts = ["".join(chr(0x4E00 + i) for i in range(len(tags))) for tags in gold]
    ours = span_scores(
        [tags_to_label(t, g, scheme) for t, g in zip(texts, gold)],
        [tags_to_label(t, p, scheme) for t, p in zip(texts, predicted)],
    )
    theirs = compute_ner_metrics(gold, predicted, scheme=scheme)
    assert ours["f1"] > 0.2
    for key, value in ours.items():
        assert theirs[key] == pytest.approx(value, abs=1e-12), key


def test_span_scores_count_by_type_start_and_end():
    gold = [{"name": {"张三": [[0, 1]]}, "address": {"北京": [[3, 4]]}}, None]
    predicted = [{"name": {"张三": [[0, 1]]}, "company": {"北京": [[3, 4]]}}, {"name": {"李": [[0, 0]]}}]
    scores = span_scores(gold, predicted)
    assert (scores["precision"], scores["recall"]) == (1 / 3, 1 / 2)
    assert scores["name_precision"] == 1 / 2 and scores["address_recall"] == 0.0 and scores["company_number"] == 0


# ---- the validation split -------------------------------------------------------------------------------------


def test_validation_split_is_a_seeded_partition_in_file_order():
    train = list(range(100))
    first, dev = split_off_validation({"train": train}, 0.1, seed=42)
    again = split_off_validation({"train": train}, 0.1, seed=42)
    other = split_off_validation({"train": train}, 0.1, seed=43)
    assert len(dev) == 10 and sorted(first + dev) == train
    assert first == sorted(first) and dev == sorted(dev)
    assert (first, dev) == again and other[1] != dev
    with pytest.raises(InputError, match="validation data was given"):
        split_off_validation({"train": train, "validation": [1]}, 0.1, seed=42)
    with pytest.raises(InputError, match="leaves a split empty"):
        split_off_validation({"train": [1, 2]}, 0.1, seed=42)


# ---- characters the tokenizer drops or does not know ---------------------------------------------------------


@pytest.mark.parametrize("char", list(ODD), ids=["space", "ideographic-space", "snowman", "left-quote",
                                                 "right-quote", "emoji", "E-acute", "I-dot", "kelvin"])  # fmt: skip
def test_every_odd_character_gets_exactly_one_prediction(tmp_path, char):
    tokenizer = chinese_tokenizer(tmp_path)
    text = f"张{char}三在{char}{char}华为{char}"
    label = {"name": {f"张{char}三": [[0, 2]]}, "company": {"华为": [[6, 7]]}}
    sentences = read_json(write_records(tmp_path / "odd.json", [{"text": text, "label": label}]))
    label2id = {tag: i for i, tag in enumerate(["O", "B-company", "I-company", "B-name", "I-name"])}
    features, _ = encode_sentences(sentences, tokenizer, label2id, max_seq_length=32)
    tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert len(tokens) == len(text) + 2  # one token per character: a dropped one became [UNK]
    expected = {"É": "e", "İ": "i", "K": "k"}.get(char, "[UNK]")
    assert [tokens[1 + i] for i, c in enumerate(text) if c == char] == [expected] * 4
    predictions = [list(range(len(tokens)))]
    (words,) = WordAlignment.from_features(features, sentences).to_words(predictions)
    assert list(words) == list(range(1, len(text) + 1))  # every character, once, in order
    labels = features["labels"][0][1:-1]
    assert labels == [label2id[tag] for tag in sentences[0].tags]
    assert sentences[0].tags[:3] == ["B-name", "I-name", "I-name"]


# ---- end to end -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clue_run(tmp_path_factory):
    """A CRF/BIOS tagger trained on a CLUENER-style train file with a 25% validation split, and an untagged test
    file with ids: one `main` call, as the README's CLUENER command."""
    from transformers import BertModel

    tmp = tmp_path_factory.mktemp("clue")
    tokenizer = chinese_tokenizer(tmp)
    torch.manual_seed(0)
    encoder = tmp / "encoder"
    BertModel(tiny_bert_config(len(tokenizer))).save_pretrained(encoder)
    tokenizer.save_pretrained(encoder)
    rng = random.Random(1)
    train = write_records(tmp / "train.json", [record(rng, with_odd=i % 3 == 0) for i in range(48)])
    tests = [{"id": i, "text": record(rng, with_odd=True)["text"]} for i in range(7)]
    tests.insert(3, {"id": 99, "text": ""})
    test = write_records(tmp / "test.json", tests)
    out = tmp / "out"
    argv = ["--model_name_or_path", encoder, "--train_file", train, "--test_file", test, "--validation_split", "0.25",
            "--head", "crf", "--label_scheme", "bios", "--output_dir", out, "--num_train_epochs", "8",
            "--learning_rate", "5e-3", "--per_device_train_batch_size", "8", "--max_seq_length", "32",
            "--report_to", "none", "--disable_tqdm", "true", "--log_level", "warning", "--seed", "0"]  # fmt: skip
    results = main([str(a) for a in argv])
    return {"out": out, "results": results, "tests": tests, "train": train}


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_dev_predictions_and_span_scores_come_from_the_held_out_split(clue_run):
    out, results = clue_run["out"], clue_run["results"]
    dev = read_lines(out / "dev_predictions.json")
    assert len(dev) == 12  # 25% of 48
    train_texts = [r["text"] for r in read_lines(Path(clue_run["train"]))]
    _, held_out = split_off_validation({"train": train_texts}, 0.25, seed=0)
    assert [r["text"] for r in dev] == held_out
    for line in dev:  # every predicted span is a valid span of its text
        for entities in line["label"].values():
            for entity, spans in entities.items():
                assert all(line["text"][s : e + 1] == entity for s, e in spans)
    metrics = json.loads((out / "dev_span_metrics.json").read_text())
    assert metrics["f1"] == results["dev_span_f1"]
    assert metrics["f1"] == pytest.approx(results["eval_f1"])  # the JSON's span F1 is seqeval's
    assert metrics["f1"] > 0.5  # it learnt something in 8 epochs of a 4-entity-name world


def test_the_clue_submission_has_one_line_per_test_line_keyed_by_id(clue_run):
    submission = read_lines(clue_run["out"] / "cluener_predict.json")
    assert [line["id"] for line in submission] == [t["id"] for t in clue_run["tests"]]
    for line, source in zip(submission, clue_run["tests"]):
        assert set(line) == {"id", "label"}
        for entities in line["label"].values():
            for entity, spans in entities.items():
                assert all(source["text"][s : e + 1] == entity for s, e in spans)
    assert submission[3]["label"] == {}


def test_the_saved_config_says_how_raw_text_is_split_and_predict_follows_it(clue_run):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ner_trainer.predict import predict_texts

    out = clue_run["out"]
    config = json.loads((out / "config.json").read_text())
    assert (config["word_split"], config["label_scheme"], config["head"]) == ("characters", "bios", "crf")
    model = AutoModelForTokenClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    texts = [t["text"] for t in clue_run["tests"]]
    results = predict_texts(model, tokenizer, texts)
    submission = read_lines(out / "cluener_predict.json")
    for text, result, line in zip(texts, results, submission):
        assert result["words"] == list(text) and len(result["tags"]) == len(text)
        for entity in result["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]
        # raw-text predict gives the submission's spans: the same split, the same model
        spans = {(e["type"], e["start"], e["end"] - 1) for e in result["entities"]}
        assert spans == label_spans(line["label"])
