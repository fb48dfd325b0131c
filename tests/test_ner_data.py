"""ner_trainer.data: readers, IOB1 -> IOB2, label lists, alignment, windowing and reassembly."""

import json
import os
import random
import re

import numpy as np
import pytest

from ner_trainer.data import (
    PaddingFreeCollator,
    Sentence,
    build_label_list,
    check_labels,
    encode_sentences,
    hub_label_list,
    pack_rows,
    read_conll,
    read_file,
    read_json,
    scatter_to_words,
    sentences_from_hf,
    to_dataset,
    word_windows,
    words_from_predictions,
)
from ner_trainer.tagging import convert
from trainer_common.errors import InputError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------
# CoNLL


def test_read_conll_sentences_lines_and_docstart(tmp_path):
    path = write(tmp_path, "train.txt", CONLL)
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert [s.line for s in sentences] == [3, 8, 11]
    assert sentences[0].source == str(path)
    assert sentences[1].word_line(1) == 9


def test_read_conll_label_column_and_untagged(tmp_path):
    path = write(tmp_path, "train.txt", CONLL)
    chunks = read_conll(path, label_column=2)
    assert chunks[0].tags == ["B-NP", "B-VP", "B-NP"]
    untagged = write(tmp_path, "raw.txt", "EU\nrejects\n\nPeter\n")
    sentences = read_conll(untagged)
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert all(s.tags is None for s in sentences)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("EU B-ORG\nrejects\n", {}, "bad.txt:2: expected 2 columns"),
        ("EU NNP B-ORG\n\nPeter NNP B-PER extra\n", {}, "bad.txt:3: expected 3 columns"),
        ("EU NNP B-ORG\n", {"label_column": 5}, "bad.txt:1: label_column=5"),
        ("EU NNP B-ORG\n", {"label_column": 0}, "bad.txt:1: label_column=0"),
        ("EU B-ORG\nrejects E-PER\n", {"tag_scheme": "iob2"}, "bad.txt:2: tag 'E-PER' cannot stand there in iob2"),
        ("EU NNP B-ORG\n", {"label_column": 1}, "bad.txt: tags in scheme 'none' cannot be learnt as 'iob2'"),
        ("EU B-ORG\n", {"tag_scheme": "bioes"}, "bad.txt:1: tag 'B-ORG' cannot stand there in bioes"),
        ("Peter I-PER\n", {"tag_scheme": "iob2"}, r"bad.txt:1: .* \(an IOB1 file\? use --tag_scheme iob1 or auto\)"),
    ],
)
def test_read_conll_errors_name_file_and_line(tmp_path, text, kwargs, message):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(ValueError, match=message):
        read_conll(path, **kwargs)


def test_read_conll_missing_and_non_utf8(tmp_path):
    with pytest.raises(InputError, match="nope.txt"):
        read_conll(tmp_path / "nope.txt")
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"EU B-ORG\nM\xfcnchen B-LOC\n")
    with pytest.raises(ValueError, match=r"latin1.txt:2: not valid UTF-8"):
        read_conll(path)


@pytest.mark.parametrize(
    ("iob1", "iob2"),
    [
        (["I-PER", "I-PER", "O", "I-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),  # I- at start and after O
        (["I-ORG", "I-LOC", "I-LOC"], ["B-ORG", "B-LOC", "I-LOC"]),  # I-X after I-Y
        (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),  # IOB1 B- splits two adjacent entities
        (["O", "O"], ["O", "O"]),
        ([], []),
    ],
)
def test_iob1_to_iob2(iob1, iob2):
    assert convert(iob1, "iob1", "iob2") == iob2
    assert convert(iob2, "iob1", "iob2") == iob2  # IOB2 input is left alone


def test_read_conll_iob1(tmp_path):
    path = write(tmp_path, "eng.train", "EU I-ORG\nrejects O\nGerman I-MISC\nBritish B-MISC\n")
    assert read_conll(path, tag_scheme="iob1")[0].tags == ["B-ORG", "O", "B-MISC", "B-MISC"]


# ---------------------------------------------------------------------------------------------------------
# JSON


def test_read_jsonl_tokens_and_untagged(tmp_path):
    lines = [
        {"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]},
        {"tokens": ["Peter"]},
    ]
    path = write(tmp_path, "data.jsonl", "\n".join(json.dumps(r) for r in lines[:1]) + "\n\n" + json.dumps(lines[1]))
    sentences = read_file(path)
    assert [(s.tokens, s.tags, s.line) for s in sentences] == [
        (["EU", "rejects"], ["B-ORG", "O"], 1),
        (["Peter"], None, 3),
    ]


def test_read_json_list_keeps_record_lines(tmp_path):
    records = [
        {"tokens": ["EU"], "ner_tags": ["I-ORG"]},
        {"tokens": ["Peter", "Blackburn"], "ner_tags": ["I-PER"] * 2},
    ]
    path = write(tmp_path, "data.json", json.dumps(records, indent=2))
    sentences = read_json(path, tag_scheme="iob1")
    assert [s.tags for s in sentences] == [["B-ORG"], ["B-PER", "I-PER"]]
    assert [s.line for s in sentences] == [2, 10]
    assert read_json(write(tmp_path, "empty.json", " [ ] ")) == []


def test_read_cluener_spans(tmp_path):
    records = [
        {"text": "叶老桂在浙商银行", "label": {"name": {"叶老桂": [[0, 2]]}, "company": {"浙商银行": [[4, 7]]}}},
        {"id": 0, "text": "四川"},
    ]
    path = write(tmp_path, "train.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in records))
    tagged, untagged = read_json(path)
    assert tagged.tokens == list("叶老桂在浙商银行")
    assert tagged.tags == ["B-name", "I-name", "I-name", "O", "B-company", "I-company", "I-company", "I-company"]
    assert untagged.tokens == ["四", "川"] and untagged.tags is None


def test_read_cluener_nested_span_is_an_error_or_keeps_outer(tmp_path, caplog):
    record = {"text": "《招商银行》", "label": {"book": {"《招商银行》": [[0, 5]]}, "company": {"招商银行": [[1, 4]]}}}
    path = write(tmp_path, "nested.json", json.dumps(record, ensure_ascii=False))
    with pytest.raises(ValueError, match=r"nested.json:1: company '招商银行' at \[1, 4\] overlaps book"):
        read_json(path)
    assert read_json(path, overlapping_spans="keep_longest")[0].tags == ["B-book"] + ["I-book"] * 5
    assert "nested.json:1: company '招商银行' at [1, 4] overlaps" in caplog.text


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "叶老桂在浙商银行", "label": {"name": {"叶老桂": [[1, 3]]}}}, r"bad.jsonl:2: span \[1, 3\] of name"),
        ({"text": "叶老桂", "label": {"name": {"叶老桂": [[0, 9]]}}}, r"bad.jsonl:2: span \[0, 9\] .* outside"),
        ({"text": "叶老桂", "label": {"name": ["叶老桂"]}}, "bad.jsonl:2: 'label' must look like"),
        ({"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG"]}, "bad.jsonl:2: 2 tokens but 1 ner_tags"),
        ({"tokens": ["EU"], "ner_tags": [3]}, "bad.jsonl:2: 'ner_tags' holds label ids: give their names"),
        ({"tokens": ["EU"], "ner_tags": "B-ORG"}, "bad.jsonl:2: 'ner_tags' must be a list of tags"),
        ({"tokens": ["EU"], "ner_tags": [1.0]}, r"bad.jsonl:2: bad tag 1.0"),
        ({"tokens": "EU"}, "bad.jsonl:2: 'tokens' must be a list of strings"),
        ({"tokens": ["EU"], "ner_tags": ["B ORG"]}, "bad.jsonl:2: bad tag 'B ORG'"),
        ({"words": ["EU"]}, "bad.jsonl:2: expected an object with a 'tokens' list"),
        ([1, 2], "bad.jsonl:2: expected an object"),
    ],
)
def test_read_json_errors_name_file_and_line(tmp_path, record, message):
    good = json.dumps({"tokens": ["EU"], "ner_tags": ["B-ORG"]})
    path = write(tmp_path, "bad.jsonl", good + "\n" + json.dumps(record, ensure_ascii=False) + "\n")
    with pytest.raises(ValueError, match=message):
        read_json(path)


def test_read_json_syntax_errors(tmp_path):
    with pytest.raises(ValueError, match="bad.jsonl:2: not valid JSON"):
        read_json(write(tmp_path, "bad.jsonl", '{"tokens": []}\n{"tokens": [}\n'))
    with pytest.raises(ValueError, match="bad.json:3: not valid JSON"):
        read_json(write(tmp_path, "bad.json", '[\n {"tokens": []},\n {"tokens": ]\n]'))


# ---------------------------------------------------------------------------------------------------------
# Labels


def test_build_label_list_is_deterministic_and_has_both_prefixes():
    a = Sentence(["EU", "Peter"], ["B-ORG", "B-PER"], "a", 1)
    b = Sentence(["Paris"], ["B-LOC"], "b", 1)
    untagged = Sentence(["x"], None, "c", 1)
    expected = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert build_label_list([a, b, untagged]) == expected
    assert build_label_list([b, untagged, a]) == expected
    with pytest.raises(ValueError, match="no sentence has tags"):
        build_label_list([untagged])


def test_check_labels_names_file_line_and_tag(tmp_path):
    train = read_conll(write(tmp_path, "train.txt", "EU B-ORG\nrejects O\n"))
    label2id = {label: i for i, label in enumerate(build_label_list(train))}
    dev = read_conll(write(tmp_path, "dev.txt", "EU B-ORG\n\nPeter B-PER\nBlackburn I-PER\n"))
    with pytest.raises(ValueError, match=r"dev.txt:3: tag 'B-PER' \(word 'Peter'\) is not one of the training labels"):
        check_labels(dev, label2id)


def test_sentences_from_hf_maps_class_label_ids():
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
    train = Dataset.from_dict(
        {"tokens": [["Peter", "Blackburn"], ["in", "Paris"]], "ner_tags": [[1, 2], [0, 3]]}, features=features
    )
    test = Dataset.from_dict({"tokens": [["Paris"]], "ner_tags": [[-1]]}, features=features)
    dataset = DatasetDict({"train": train, "test": test})
    assert hub_label_list(dataset) == names
    sentences = sentences_from_hf(dataset["train"], "hub[train]")
    assert [(s.tokens, s.tags, s.source, s.line) for s in sentences] == [
        (["Peter", "Blackburn"], ["B-PER", "I-PER"], "hub[train]", 1),
        (["in", "Paris"], ["O", "B-LOC"], "hub[train]", 2),
    ]
    assert sentences_from_hf(dataset["test"], "hub[test]")[0].tags is None
    strings = Dataset.from_dict({"tokens": [["Paris"]], "ner_tags": [["B-LOC"]]})
    assert sentences_from_hf(strings, "s")[0].tags == ["B-LOC"]
    with pytest.raises(ValueError, match="no 'tokens' column"):
        sentences_from_hf(Dataset.from_dict({"words": [["x"]]}), "hub[x]")


# ---------------------------------------------------------------------------------------------------------
# Windows, alignment, reassembly


@pytest.mark.parametrize(
    ("counts", "max_tokens", "windows"),
    [
        ([], 6, []),
        ([1, 2, 3], 6, [(0, 3)]),
        ([3, 3, 1], 6, [(0, 2), (2, 3)]),
        ([2, 9, 1, 1], 6, [(0, 1), (1, 2), (2, 4)]),  # the 9-piece word gets a window of its own
        ([9], 6, [(0, 1)]),
        ([1, 1, 1], 1, [(0, 1), (1, 2), (2, 3)]),
    ],
)
def test_word_windows(counts, max_tokens, windows):
    assert word_windows(counts, max_tokens) == windows


def test_alignment_first_pieces_and_specials(tiny_tokenizer):
    sentence = Sentence(["Washington", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"], "s", 1)
    label2id = {"O": 0, "B-LOC": 1, "I-LOC": 2, "B-PER": 3, "I-PER": 4}
    features, stats = encode_sentences([sentence], tiny_tokenizer, label2id)
    tokens = tiny_tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert tokens == ["[CLS]", "Wash", "##ing", "##ton", "lives", "in", "Paris", "[SEP]"]
    assert features["labels"][0] == [-100, 3, -100, -100, 0, 0, 1, -100]
    assert features["word_index"][0] == [-1, 0, -1, -1, 1, 2, 3, -1]
    assert features["sentence_id"] == [0] and features["word_start"] == [0] and features["length"] == [8]
    assert set(features) >= {"attention_mask", "token_type_ids"}
    assert stats == {"sentences": 1, "windows": 1, "split_sentences": 0, "truncated_words": 0}

    all_tokens, _ = encode_sentences([sentence], tiny_tokenizer, label2id, label_all_tokens=True)
    assert all_tokens["labels"][0] == [-100, 3, 4, 4, 0, 0, 1, -100]  # B-PER pieces become I-PER
    assert all_tokens["word_index"] == features["word_index"]  # metrics still see one token per word

    unlabeled, _ = encode_sentences([sentence], tiny_tokenizer)
    assert "labels" not in unlabeled


def test_windows_cover_every_word_once(tiny_tokenizer):
    long_word = "Washingtoningingingingtoned"
    assert len(tiny_tokenizer.tokenize(long_word)) > 6
    words = "EU rejects German call to boycott British lamb".split() + [long_word] + "Peter Washington lives .".split()
    tags = ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "B-LOC", "B-PER", "B-PER", "O", "O"]
    sentences = [
        Sentence(["Paris"], ["B-LOC"], "s", 1),
        Sentence([], [], "s", 3),  # empty: no windows, still reassembles to []
        Sentence(words, tags, "s", 5),
    ]
    label2id = {label: i for i, label in enumerate(build_label_list(sentences))}
    features, stats = encode_sentences(sentences, tiny_tokenizer, label2id, max_seq_length=8)
    assert max(features["length"]) <= 8
    assert stats["sentences"] == 3 and stats["split_sentences"] == 1 and stats["truncated_words"] == 1
    assert stats["windows"] == len(features["input_ids"]) > 3
    seen = sorted((i, w) for i, row in zip(features["sentence_id"], features["word_index"]) for w in row if w >= 0)
    assert seen == [(0, 0)] + [(2, w) for w in range(len(words))]
    columns = [features[key] for key in ("sentence_id", "word_index", "word_start", "labels")]
    for i, row, start, labels in zip(*columns):
        first = [w for w in row if w >= 0]
        assert first == list(range(start, start + len(first)))  # consecutive words from word_start
        assert [labels[k] for k, w in enumerate(row) if w >= 0] == [label2id[sentences[i].tags[w]] for w in first]
    assert [8] in [[w for w in row if w >= 0] for row in features["word_index"]]  # the long word, alone

    # Trainer-style predictions: rows shuffled, padded with -100 to a width longer than any row
    order = list(range(len(features["input_ids"])))
    random.Random(0).shuffle(order)
    preds = np.full((len(order), 12), -100)
    for k, r in enumerate(order):
        preds[k, : features["length"][r]] = features["labels"][r]
    pick = [features[key] for key in ("word_index", "sentence_id", "word_start")]
    word_index, sentence_id, word_start = ([column[r] for r in order] for column in pick)
    num_words = [len(s.tokens) for s in sentences]
    per_word = words_from_predictions(preds, word_index, sentence_id, word_start, num_words)
    assert per_word == [[label2id[t] for t in s.tags] for s in sentences]

    scores = scatter_to_words(preds.astype(float) / 10, word_index, sentence_id, num_words)
    assert scores[2].tolist() == [label2id[t] / 10 for t in tags]


def test_words_from_predictions_errors():
    word_index, sentence_id = [[-1, 0, 1, -1]], [0]
    with pytest.raises(ValueError, match="word 2 of sentence 0 got 0 predictions"):
        words_from_predictions(np.zeros((1, 4)), word_index, sentence_id, [0], [3])
    with pytest.raises(ValueError, match="word 0 of sentence 0 got 2 predictions"):
        words_from_predictions(np.zeros((2, 4)), word_index * 2, sentence_id * 2, [0, 0], [2])
    with pytest.raises(ValueError, match="feature row 0 has 2 token values, needs 3"):
        words_from_predictions(np.zeros((1, 2)), word_index, sentence_id, [0], [2])


def test_words_the_tokenizer_deletes_still_get_a_token(tiny_tokenizer):
    sentence = Sentence(["Paris", "\u200b", "London"], ["B-LOC", "O", "B-LOC"], "s", 1)
    features, _ = encode_sentences([sentence], tiny_tokenizer, {"O": 0, "B-LOC": 1, "I-LOC": 2})
    tokens = tiny_tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert tokens == ["[CLS]", "Paris", "[UNK]", "London", "[SEP]"]
    assert features["labels"][0] == [-100, 1, 0, 1, -100]


def test_encode_errors(tiny_tokenizer):
    label2id = {"O": 0, "B-LOC": 1, "I-LOC": 2}
    tagged = Sentence(["Paris"], ["B-LOC"], "f.txt", 1)
    with pytest.raises(ValueError, match="f.txt:4: sentence has no tags"):
        encode_sentences([tagged, Sentence(["x"], None, "f.txt", 4)], tiny_tokenizer, label2id)
    with pytest.raises(ValueError, match="f.txt:1: tag 'B-PER'"):
        encode_sentences([Sentence(["Peter"], ["B-PER"], "f.txt", 1)], tiny_tokenizer, label2id)
    with pytest.raises(ValueError, match="max_seq_length=2"):
        encode_sentences([tagged], tiny_tokenizer, label2id, max_seq_length=2)


def test_to_dataset(tiny_tokenizer):
    sentences = [Sentence(["Paris"], ["B-LOC"], "s", 1), Sentence(["EU", "rejects"], ["B-ORG", "O"], "s", 3)]
    features, _ = encode_sentences(sentences, tiny_tokenizer, {"O": 0, "B-LOC": 1, "I-LOC": 2, "B-ORG": 3})
    dataset = to_dataset(features)
    assert len(dataset) == 2
    assert dataset[1]["labels"] == [-100, 3, 0, -100]
    assert dataset[1]["word_index"] == [-1, 0, 1, -1]


# ---------------------------------------------------------------------------------------------------------
# Padding-free batches


def test_pack_rows_first_fit_decreasing():
    assert pack_rows([]) == []
    assert pack_rows([5]) == [[0]]
    # rows as long as the longest (10): 10 | 6+4 | 5+3+2
    assert pack_rows([3, 10, 6, 4, 5, 2]) == [[1], [2, 3], [4, 0, 5]]
    rng = random.Random(0)
    lengths = [rng.randint(3, 60) for _ in range(32)]
    rows = pack_rows(lengths)
    assert sorted(i for row in rows for i in row) == list(range(32))  # every sequence exactly once
    assert all(sum(lengths[i] for i in row) <= max(lengths) for row in rows)
    assert len(rows) * max(lengths) < 1.2 * sum(lengths)  # near-zero padding, where padded rows need ~2x


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_padding_free_collator(tiny_tokenizer, padding_side):
    from transformers import DataCollatorForTokenClassification

    tiny_tokenizer.padding_side = padding_side
    sentences = [Sentence(words.split(), None, "x", 1) for words in ("Paris", "John Smith lives in London", "EU .")]
    features, _ = encode_sentences(sentences, tiny_tokenizer)
    lengths = features["length"]  # 3, 7, 4 with [CLS] and [SEP]
    rows = [{key: features[key][i] for key in ("input_ids", "attention_mask", "token_type_ids")} for i in range(3)]
    for row, length in zip(rows, lengths):
        row["labels"] = list(range(100, 100 + length))  # to see where each token's label lands

    batch = PaddingFreeCollator(DataCollatorForTokenClassification(tiny_tokenizer, pad_to_multiple_of=8))(rows)
    assert "attention_mask" not in batch
    assert batch["input_ids"].shape == (2, 8)  # 7 | 4+3, padded to a multiple of 8
    assert batch["position_ids"].shape == batch["labels"].shape == batch["token_type_ids"].shape == (2, 8)
    first, second = batch["position_ids"].tolist(), batch["input_ids"].tolist()
    if padding_side == "right":
        assert first == [[0, 1, 2, 3, 4, 5, 6, 0], [0, 1, 2, 3, 0, 1, 2, 0]]
        assert second[1][:7] == rows[2]["input_ids"] + rows[0]["input_ids"]
        assert batch["labels"][1].tolist() == [100, 101, 102, 103, 100, 101, 102, -100]
    else:
        assert first == [[0, 0, 1, 2, 3, 4, 5, 6], [0, 0, 1, 2, 3, 0, 1, 2]]
        assert second[0][1:] == rows[1]["input_ids"]
        assert batch["labels"][0].tolist() == [-100] + list(range(100, 107))
    assert (batch["input_ids"] == tiny_tokenizer.pad_token_id).sum() == 2


def test_predictions_file_stays_three_columns_for_any_token(tmp_path):
    """Tokens with spaces (CLUENER's U+3000, a tab, a space), empty tokens and line separators stay one column,
    and the conlleval port reads the file to the same entities."""
    import conlleval

    from ner_trainer.data import Sentence, write_conll_predictions
    from ner_trainer.data.conll import column_token

    tokens = ["New York", "\u3000", "", "a\tb", "x\u2028y", "Paris", "\r"]
    gold = ["B-LOC", "O", "O", "B-PER", "I-PER", "B-LOC", "O"]
    predicted = ["B-LOC", "O", "B-MISC", "B-PER", "I-PER", "O", "O"]
    path = tmp_path / "test_predictions.txt"
    write_conll_predictions(path, [Sentence(tokens, gold, "t.json", 1)], [predicted])
    lines = path.read_text(encoding="utf-8").split("\n")
    rows = [line.split() for line in lines if line]
    assert [len(row) for row in rows] == [3] * len(tokens)
    assert [row[0] for row in rows] == ["New␣York", "␣", "∅", "a␣b", "x␣y", "Paris", "␣"]
    assert [row[1:] for row in rows] == [[g, p] for g, p in zip(gold, predicted)]
    assert column_token("Jean-Paul") == "Jean-Paul"
    counts = conlleval.evaluate(lines)["overall"]["chunks"]
    # gold LOC, PER, LOC; predicted LOC, MISC, PER: two correct
    assert counts["stats"] == {"gold": 3, "pred": 3, "correct": 2}


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("empty.txt", "", "empty.txt: no sentences in the file"),
        ("blank.txt", "\n\n-DOCSTART- -X- O O\n\n", "blank.txt: no sentences in the file"),
        ("empty.jsonl", "", "empty.jsonl: no sentences in the file"),
        ("typo.jsonl", '{"tokens": ["a"], "ner_tag": ["O"]}\n', "typo.jsonl:1: unknown key 'ner_tag'; did you mean"),
        ("typo.json", '[{"token": ["a"], "ner_tags": ["O"]}]', "expected an object with a 'tokens' list"),
    ],
)  # fmt: skip
def test_empty_files_and_misspelt_keys_are_errors(tmp_path, name, text, message):
    from ner_trainer.data import read_file

    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        read_file(tmp_path / name)
    # other keys (ids, POS columns of Hub exports) are fine
    (tmp_path / "ok.jsonl").write_text('{"id": "0", "tokens": ["a"], "pos_tags": [1], "ner_tags": ["O"]}\n')
    assert read_file(tmp_path / "ok.jsonl")[0].tags == ["O"]


def test_line_ends_boms_folders_pipes_and_deep_nesting(tmp_path):
    from ner_trainer.data import read_file

    cr_only = tmp_path / "cr.txt"
    cr_only.write_bytes(b"EU B-ORG\rrejects O\r\rPeter B-PER\r")  # old Mac line ends
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"EU B-ORG\r\nrejects O\r\n\r\nPeter B-PER\r\n")
    concatenated = tmp_path / "bom.txt"  # two files with BOMs joined: the second BOM sits mid-file
    concatenated.write_bytes("\ufeffEU B-ORG\nrejects O\n\n\ufeffPeter B-PER\n".encode())
    for path in (cr_only, crlf, concatenated):
        sentences = read_file(path)
        assert [(s.tokens, s.tags) for s in sentences] == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"])]

    with pytest.raises(InputError, match="a folder, not a data file"):
        read_file(tmp_path)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_file(fifo)  # never blocks: a pipe is refused before it is opened
    for name, text in (("deep.jsonl", '{"tokens": ' + "[" * 100000 + "]" * 100000 + "}\n"),
                       ("deep.json", "[" + "[" * 100000 + "]" * 100000 + "]")):  # fmt: skip
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=f"{name}:1: JSON nested too deeply"):
            read_file(tmp_path / name)
