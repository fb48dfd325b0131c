"""Text-classification data: each file format, the column rules, labels, every bad input, the Hub, and encoding."""

import json
import logging
from types import SimpleNamespace

import pytest

from cls_trainer.data import (
    ColumnOptions,
    Example,
    build_label_list,
    check_labels,
    encode_examples,
    load_examples,
    read_examples,
    to_dataset,
)
from trainer_common.errors import InputError
from trainer_common.hub_data import HubUnreachable
from trainer_common.splits import split_off_validation


def read(path, labels_optional=False, names=None, **options):
    return read_examples(str(path), ColumnOptions(**options), names, labels_optional)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def run_args(tmp_path, **given):
    """The `ClassificationArguments` fields that `load_examples` reads."""
    fields = dict.fromkeys(
        "task_name dataset_name dataset_config_name train_file validation_file test_file text_column_name "
        "text_pair_column_name label_column_name validation_split max_train_samples max_eval_samples "
        "max_predict_samples".split()
    )
    fields.update(no_header=False, hub_kwargs={"cache_dir": str(tmp_path / "cache"), "token": None})
    fields.update({key: str(value) if key.endswith(("_file", "_name")) else value for key, value in given.items()})
    return SimpleNamespace(**fields)


# ---- formats -----------------------------------------------------------------------------------------------------


def test_tsv_keeps_bare_quotes_strips_a_bom_and_names_lines(tmp_path):
    path = write(tmp_path, "train.tsv", '\ufefftext\tlabel\nhe said "no\t0\n\n"quoted" film \t1\n')
    examples = read(path)
    assert examples == [
        Example('he said "no', None, "0", f"{path}:2"),
        Example('"quoted" film', None, "1", f"{path}:4"),
    ]


def test_csv_quoted_commas_and_a_multi_line_field_keep_record_start_lines(tmp_path):
    path = write(tmp_path, "train.csv", 'label,review\npos,"good, very ""good"""\nneg,"two\nlines"\npos,third\n')
    examples = read(path, text="review", label="label")
    assert [(e.text, e.label, e.source) for e in examples] == [
        ('good, very "good"', "pos", f"{path}:2"),
        ("two\nlines", "neg", f"{path}:3"),
        ("third", "pos", f"{path}:5"),
    ]


def test_json_lines_and_a_json_array_give_the_same_examples_with_their_lines(tmp_path):
    records = [{"sentence": "a b", "label": 1, "idx": 0}, {"sentence": "c", "label": "1", "idx": 1}]
    lines = write(tmp_path, "train.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    array = write(tmp_path, "train.json", "[\n" + ",\n\n".join(json.dumps(r) for r in records) + "\n]\n")
    assert [(e.text, e.label, e.source) for e in read(lines)] == [("a b", "1", f"{lines}:1"), ("c", "1", f"{lines}:2")]
    assert [(e.text, e.label, e.source) for e in read(array)] == [("a b", "1", f"{array}:2"), ("c", "1", f"{array}:4")]
    assert read(array, no_header=True) == read(array)  # JSON records name their values: --no_header is for TSV/CSV


def test_no_header_reads_positions_label_0_text_1_by_default(tmp_path):
    path = write(tmp_path, "reviews.csv", '1,"距离较近,但是"\n0,差\n')
    assert [(e.text, e.label, e.text_pair) for e in read(path, no_header=True)] == [("距离较近,但是", "1", None),
                                                                                    ("差", "0", None)]  # fmt: skip
    three = write(tmp_path, "pairs.tsv", "0\tfirst\tsecond\n")
    assert read(three, no_header=True)[0] == Example("first", "second", "0", f"{three}:1")
    # a text named by position takes no pair unless one is named; the label still defaults to column 0
    assert read(three, no_header=True, text="2")[0] == Example("second", None, "0", f"{three}:1")
    assert read(three, no_header=True, text="1", pair="2", label="0")[0].text_pair == "second"
    assert read(three, no_header=True, text="2", label="1")[0] == Example("second", None, "first", f"{three}:1")
    one = write(tmp_path, "texts.tsv", "only text\nmore text\n")
    examples = read(one, labels_optional=True, no_header=True)
    assert [(e.text, e.label) for e in examples] == [("only text", None), ("more text", None)]


def test_no_header_position_errors_name_the_file(tmp_path):
    path = write(tmp_path, "two.csv", "1,good\n")
    with pytest.raises(InputError, match=r"two\.csv: --text_column_name 5, but the file has 2 columns"):
        read(path, no_header=True, text="5")
    with pytest.raises(InputError, match=r"two\.csv: column 1 is the text by default, but another option names it"):
        read(path, no_header=True, label="1")


# ---- columns -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("sentence1\tsentence2\tlabel\tidx", ("sentence1", "sentence2", "label")),
        ("question\tsentence\tlabel", ("question", "sentence", "label")),
        ("question1\tquestion2\tis_duplicate\tlabels", ("question1", "question2", "labels")),
        ("premise\thypothesis\tgold_label", ("premise", "hypothesis", "gold_label")),
        ("id\tsentence\tclass", ("sentence", None, "class")),
        ("review\tcontent\tlabel", ("review", None, "label")),
    ],
)
def test_columns_found_from_the_usual_names_pairs_first(tmp_path, header, expected):
    names = header.split("\t")
    row = "\t".join({"idx": "7", "id": "7"}.get(name, "1" if "label" in name or name == "class" else name + " x")
                    for name in names)  # fmt: skip
    path = write(tmp_path, "data.tsv", f"{header}\n{row}\n")
    example = read(path)[0]
    text, pair, label = expected
    assert (example.text, example.text_pair, example.label) == (f"{text} x", pair and f"{pair} x", "1")


def test_explicit_columns_and_their_errors(tmp_path):
    path = write(tmp_path, "train.tsv", "sentence1\tsentence2\tverdict\na\tb\tyes\n")
    assert read(path, text="sentence1", label="verdict")[0] == Example("a", None, "yes", f"{path}:2")
    assert read(path, text="sentence2", pair="sentence1", label="verdict")[0].text_pair == "a"
    with pytest.raises(InputError, match=r"train\.tsv: no 'body' column for --text_column_name \(columns: "
                                         r"\['sentence1', 'sentence2', 'verdict'\]\)$"):  # fmt: skip
        read(path, text="body")
    with pytest.raises(InputError, match=r"no 'gold' column for --label_column_name"):
        read(path, label="gold")
    with pytest.raises(InputError, match=r"no '1' column .*--no_header reads them by position"):
        read(path, text="1")
    # without a usual label name the file is unlabelled (training refuses it later); a test file may lack labels
    assert read(path)[0].label is None
    assert read(path, labels_optional=True, label="gold")[0].label is None


def test_a_file_without_a_text_column_is_an_error_naming_the_option(tmp_path):
    headless = write(tmp_path, "reviews.csv", "1,good\n0,bad\n")
    with pytest.raises(InputError, match=r"reviews\.csv: no text column among \['1', 'good'\].* needs --no_header$"):
        read(headless)
    twice = write(tmp_path, "twice.tsv", "text\ttext\tlabel\na\tb\t1\n")
    with pytest.raises(InputError, match=r"twice\.tsv:1: the header names column 'text' 2 times"):
        read(twice)
    path = write(tmp_path, "train.csv", "body,label\nx,1\n")
    with pytest.raises(InputError, match=r"train\.csv: no text column among \['body', 'label'\]: name it with "
                                         r"--text_column_name"):  # fmt: skip
        read(path)


# ---- labels ------------------------------------------------------------------------------------------------------


def test_integer_labels_with_and_without_names(tmp_path):
    records = [{"text": "a", "label": 1}, {"text": "b", "label": "0"}, {"text": "c", "label": 1.0},
               {"text": "d", "label": "positive"}]  # fmt: skip
    path = write(tmp_path, "train.jsonl", "".join(json.dumps(record) + "\n" for record in records))
    names = ["negative", "positive"]
    assert [e.label for e in read(path, names=names)] == ["positive", "negative", "positive", "positive"]
    assert [e.label for e in read(path)] == ["1", "0", "1", "positive"]
    with pytest.raises(
        InputError, match=r"train\.jsonl:1: label \(column 'label'\) id 1 is out of range: 1 label names"
    ):
        read(path, names=["only"])
    bad_name = write(tmp_path, "bad.tsv", "text\tlabel\na\tneutral\n")
    with pytest.raises(
        InputError, match=r"bad\.tsv:2: label \(column 'label'\) 'neutral' is not one of the label names"
    ):
        read(bad_name, names=names)


def test_unlabelled_splits_and_minus_one(tmp_path):
    test = write(tmp_path, "test.tsv", "sentence\tlabel\na\t-1\nb\t-1\n")
    assert [e.label for e in read(test, labels_optional=True)] == [None, None]
    no_column = write(tmp_path, "test.csv", "sentence\na\n")
    assert read(no_column, labels_optional=True, label="label")[0].label is None
    mixed = write(tmp_path, "mixed.tsv", "sentence\tlabel\na\t1\nb\t-1\n")
    with pytest.raises(InputError, match=r"mixed\.tsv:3: no label .* but \S+mixed\.tsv:2 has one"):
        read(mixed)
    empty_cell = write(tmp_path, "gap.csv", "sentence,label\na,\nb,pos\n")
    with pytest.raises(InputError, match=r"gap\.csv:2: no label .*in column 'label', but \S+gap\.csv:3 has one"):
        read(empty_cell)


@pytest.mark.parametrize(
    "value, message",
    [("true", "found True"), ("0.5", "found 0.5"), ('["a"]', "found a list"), ('{"a": 1}', "found a dict")],
)
def test_json_labels_that_are_not_names_or_ids(tmp_path, value, message):
    path = write(tmp_path, "train.jsonl", f'{{"text": "a", "label": "x"}}\n{{"text": "b", "label": {value}}}\n')
    with pytest.raises(
        InputError, match=rf"train\.jsonl:2: label \(column 'label'\) must be a name or an integer id, {message}"
    ):
        read(path)


def test_a_fractional_number_label_is_an_error(tmp_path):
    path = write(tmp_path, "train.tsv", "text\tlabel\na\t0.5\n")
    with pytest.raises(InputError, match=r"train\.tsv:2: label \(column 'label'\) '0.5' is not an integer"):
        read(path)


def test_build_label_list_sorts_integers_numerically():
    examples = [Example("t", None, label, "s") for label in ("10", "2", "-1", "2")]
    assert build_label_list(examples) == ["-1", "2", "10"]
    assert build_label_list([Example("t", None, label, "s") for label in ("pos", "neg", None)]) == ["neg", "pos"]


def test_check_labels_names_the_source_and_label():
    examples = [Example("a", None, "pos", "f.tsv:2"), Example("b", None, "postive", "f.tsv:3")]
    with pytest.raises(InputError, match=r"^f\.tsv:3: label 'postive' is not one of the model's labels \['neg', "
                                         r"'pos'\]; did you mean 'pos'\?$"):  # fmt: skip
        check_labels(examples, {"neg": 0, "pos": 1})


# ---- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.tsv", "text\tlabel\nx\t1\ny\t1\textra\n", r"a\.tsv:3: 3 fields, but the header has 2"),
        ("a.csv", "text,label\nx,1\ny\n", r"a\.csv:3: 1 fields, but the header has 2"),
        ("a.csv", 'text,label\n"x,1\n', r"a\.csv:2: not valid CSV"),
        ("a.jsonl", '{"text": "x", "label": 1}\n{"text": "y",\n', r"a\.jsonl:2: not valid JSON"),
        ("a.json", '[\n{"text": "x", "label": 1},\n{"text": }\n]', r"a\.json:3: not valid JSON"),
        ("a.jsonl", '{"text": "x", "label": 1}\n["y", 1]\n', r"a\.jsonl:2: expected a JSON object .* found list"),
        (
            "a.jsonl",
            '{"text": "x", "label": 1}\n{"text": 5, "label": 1}\n',
            r"a\.jsonl:2: column 'text' must hold a string, "
            "found an int",
        ),
        (
            "a.jsonl",
            '{"text": "x", "label": 1}\n{"body": "y", "label": 1}\n',
            r"a\.jsonl:2: no column 'text' \(keys: ",
        ),
        ("a.tsv", "", r"a\.tsv: no records$"),
        ("a.tsv", "text\tlabel\n\n", r"a\.tsv: no records after the header row"),
        ("a.json", "[]", r"a\.json: no records$"),
        ("a.tsv", b"text\tlabel\nok\t1\ncaf\xe9\t1\n", r"a\.tsv:3: not valid UTF-8"),
        ("a.txt", "text\tlabel\n", r"a\.txt: unknown data format '\.txt'"),
    ],
)
def test_each_bad_input_is_one_error_naming_file_and_line(tmp_path, name, content, message):
    with pytest.raises(InputError, match=message):
        read(write(tmp_path, name, content))


def test_a_missing_file_and_a_folder_are_errors(tmp_path):
    with pytest.raises(InputError, match=r"data file not found: .*nope\.tsv"):
        read(tmp_path / "nope.tsv")
    (tmp_path / "dir.tsv").mkdir()
    with pytest.raises(InputError, match=r"dir\.tsv: a folder, not a data file"):
        read(tmp_path / "dir.tsv")


def test_an_empty_text_is_kept_with_a_warning(tmp_path, caplog):
    path = write(tmp_path, "reviews.csv", "1,good\n0,\n0,  \n")
    with caplog.at_level(logging.WARNING):
        examples = read(path, no_header=True)
    assert [(e.text, e.label) for e in examples] == [("good", "1"), ("", "0"), ("", "0")]
    assert f"{path}:2 (and 1 more): empty text, kept" in caplog.text


# ---- load_examples: files, splits, limits, the Hub -----------------------------------------------------------------


def test_load_examples_from_files_with_task_names_split_and_limits(tmp_path, caplog):
    rows = "".join(f"sentence number {i}\t{i % 2}\n" for i in range(20))
    train = write(tmp_path, "train.tsv", "text\tlabel\n" + rows)
    test = write(tmp_path, "test.tsv", "text\nunlabelled one\nunlabelled two\n")
    args = run_args(tmp_path, train_file=train, test_file=test, task_name="sst2", validation_split=0.25,
                    max_train_samples=10, max_predict_samples=1)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="cls_trainer"):  # an earlier run may have set its level
        splits, label_list = load_examples(args, seed=3, label_names=None)
    assert label_list == ["negative", "positive"]
    counts = {name: sum(e.label == name for e in splits["validation"]) for name in label_list}
    assert f"{train}: 20 examples; text 'text', label 'label'" in caplog.text
    assert (
        f"validation: 5 examples; labels: negative {counts['negative']}, positive {counts['positive']}" in caplog.text
    )
    whole = read(train, names=label_list)
    expected_train, expected_validation = split_off_validation({"train": whole}, 0.25, seed=3)
    assert splits["train"] == expected_train[:10] and splits["validation"] == expected_validation
    assert len(expected_validation) == 5 and splits["test"] == [Example("unlabelled one", None, None, f"{test}:2")]
    # --label_names name the ids instead of the task's
    splits, label_list = load_examples(run_args(tmp_path, train_file=train), 0, ["no", "yes"])
    assert label_list == ["no", "yes"] and splits["train"][1].label == "yes"
    splits, label_list = load_examples(run_args(tmp_path, train_file=train), 0, None)
    assert label_list is None and build_label_list(splits["train"]) == ["0", "1"]


def test_load_examples_needs_data(tmp_path):
    with pytest.raises(InputError, match=r"^no data: give --train_file"):
        load_examples(run_args(tmp_path), 0, None)


def test_task_name_offline_says_to_give_local_files(tmp_path):
    with pytest.raises(HubUnreachable, match=r"for dataset nyu-mll/glue .*give local files with --train_file"):
        load_examples(run_args(tmp_path, task_name="rte"), 0, None)


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """A local dataset folder as the Hub serves GLUE: parquet splits with a ClassLabel label, -1 in the test split,
    MNLI's split names."""
    from datasets import ClassLabel, Dataset, Features, Value

    folder = tmp_path_factory.mktemp("hub") / "glue-like"
    label = ClassLabel(names=["entailment", "neutral", "contradiction"])
    features = Features(
        {"premise": Value("string"), "hypothesis": Value("string"), "label": label, "idx": Value("int32")}
    )
    splits = {"train": [0, 2, 1], "validation_matched": [1, 0], "validation_mismatched": [2], "test_matched": [-1, -1]}
    for split, labels in splits.items():
        rows = {"premise": [f"p{i}" for i in range(len(labels))], "hypothesis": [f"h{i}" for i in range(len(labels))],
                "label": labels, "idx": list(range(len(labels)))}  # fmt: skip
        (folder / "data").mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(rows, features=features).to_parquet(folder / "data" / f"{split}-00000.parquet")
    files = "".join(f"  - split: {split}\n    path: data/{split}-*\n" for split in splits)
    (folder / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}---\n")
    return folder


def test_hub_dataset_class_label_names_mnli_splits_and_an_unlabelled_test_split(tmp_path, hub_folder):
    splits, label_list = load_examples(run_args(tmp_path, dataset_name=hub_folder), 0, None)
    assert label_list == ["entailment", "neutral", "contradiction"]
    assert sorted(splits) == ["test", "train", "validation"]  # validation_mismatched left out
    assert splits["train"][1] == Example("p1", "h1", "contradiction", f"{hub_folder} train row 2")
    assert [e.label for e in splits["validation"]] == ["neutral", "entailment"]
    assert [e.label for e in splits["test"]] == [None, None]
    with pytest.raises(InputError, match=r"--label_names \['a', 'b', 'c'\] differ from .*ClassLabel \['entailment'"):
        load_examples(run_args(tmp_path, dataset_name=hub_folder), 0, ["a", "b", "c"])
    with pytest.raises(InputError, match=r"glue-like train: no 'body' column for --text_column_name"):
        load_examples(run_args(tmp_path, dataset_name=hub_folder, text_column_name="body"), 0, None)


# ---- the shared data's layouts (rows like theirs, written here: tests never read ../shared/data) ------------------


def test_rows_like_the_shared_sst2_rte_and_chnsenticorp_files(tmp_path):
    sst2 = write(tmp_path, "sst2.tsv", "text\tlabel\nhide new secretions from the parental units \t0\n"
                                      "contains no wit , only labored gags \t0\n")  # fmt: skip
    rte = write(tmp_path, "rte.tsv", "sentence1\tsentence2\tlabel\tidx\nNo Weapons of Mass Destruction Found in Iraq "
                                    "Yet.\tWeapons of Mass Destruction Found in Iraq.\t1\t0\n")  # fmt: skip
    chn = write(tmp_path, "chn.csv", '1,"距离川沙公路较近,但是公交指示不对,如果是""蔡陆线""的话,会非常麻烦."\n'
                                    "1,商务大床房，房间很大，床有2M宽，整体感觉经济实惠不错!\n")  # fmt: skip
    splits, names = load_examples(run_args(tmp_path, train_file=sst2, task_name="sst2"), 0, None)
    assert splits["train"][0] == Example("hide new secretions from the parental units", None, "negative",
                                         f"{sst2}:2")  # fmt: skip
    splits, names = load_examples(run_args(tmp_path, train_file=rte, task_name="rte"), 0, None)
    assert splits["train"][0].text_pair == "Weapons of Mass Destruction Found in Iraq."
    assert splits["train"][0].label == "not_entailment" and names == ["entailment", "not_entailment"]
    splits, names = load_examples(run_args(tmp_path, train_file=chn, no_header=True), 0, None)
    assert splits["train"][0].text == '距离川沙公路较近,但是公交指示不对,如果是"蔡陆线"的话,会非常麻烦.'
    assert [e.label for e in splits["train"]] == ["1", "1"] and names is None


# ---- encoding ----------------------------------------------------------------------------------------------------


def test_encode_single_texts_truncated_not_dropped(tiny_tokenizer):
    texts = ["EU rejects German call", "Peter", "EU rejects German call to boycott British lamb ."]
    examples = [Example(text, None, label, f"f:{i}") for i, (text, label) in enumerate(zip(texts, "abb"))]
    features, stats = encode_examples(examples, tiny_tokenizer, {"a": 0, "b": 1}, max_seq_length=6)
    expected = tiny_tokenizer(texts, truncation=True, max_length=6)["input_ids"]
    assert features["input_ids"] == expected and features["labels"] == [0, 1, 1]
    assert features["length"] == [6, 3, 6] and set(features) == {"input_ids", "token_type_ids", "labels", "length"}
    # "EU rejects German call" is exactly 6 tokens with [CLS] and [SEP]: full, not truncated
    assert stats == {"examples": 3, "truncated": 1, "truncated_rows": [2]}
    dataset = to_dataset(features)
    assert len(dataset) == 3 and dataset[2]["input_ids"] == expected[2]


def test_encode_pairs_longest_first_with_token_type_ids(tiny_tokenizer):
    long_text, short = "EU rejects German call to boycott British lamb .", "Peter Blackburn"
    examples = [Example(long_text, short, None, "f:1"), Example("Paris", "London", None, "f:2")]
    features, stats = encode_examples(examples, tiny_tokenizer, None, max_seq_length=8)
    cls, sep = tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id
    first = tiny_tokenizer.encode(long_text, add_special_tokens=False)
    second = tiny_tokenizer.encode(short, add_special_tokens=False)
    # longest_first: the long text loses tokens until the pair fits, the short one stays whole
    assert features["input_ids"][0] == [cls, *first[:3], sep, *second, sep]
    assert features["token_type_ids"][0] == [0] * 5 + [1] * 3
    assert features["token_type_ids"][1] == [0, 0, 0, 1, 1]
    assert "labels" not in features and features["length"] == [8, 5]
    assert stats == {"examples": 2, "truncated": 1, "truncated_rows": [0]}


def test_encode_checks_labels_and_room_for_text(tiny_tokenizer):
    examples = [Example("Paris", None, "pos", "f.tsv:2"), Example("London", None, "neutral", "f.tsv:3")]
    with pytest.raises(InputError, match=r"^f\.tsv:3: label 'neutral' is not one of the model's labels"):
        encode_examples(examples, tiny_tokenizer, {"pos": 0, "neg": 1}, 16)
    with pytest.raises(InputError, match=r"--max_seq_length 3 leaves no room for a text pair"):
        encode_examples([Example("a", "b", None, "s")], tiny_tokenizer, None, 3)
    features, stats = encode_examples([], tiny_tokenizer, {"pos": 0}, 16)
    assert stats == {"examples": 0, "truncated": 0, "truncated_rows": []} and features["input_ids"] == []


def test_no_header_text_in_the_default_label_column_asks_for_the_label_column(tmp_path):
    from cls_trainer.data.columns import ColumnOptions, choose_columns
    from trainer_common.errors import InputError

    options = ColumnOptions(text="0", no_header=True)
    with pytest.raises(InputError, match="train.csv: column 0 is the label by default.*--label_column_name"):
        choose_columns(["0", "1"], options, "train.csv", labels_optional=False)
    assert choose_columns(["0", "1"], options, "test.csv", labels_optional=True).label is None  # texts to predict
