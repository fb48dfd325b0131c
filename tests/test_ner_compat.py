"""Command lines and JSON configs written for transformers' `examples/pytorch/token-classification/run_ner.py`:
their columns, integer tags with label names, CSV files, fixed-width padding, and the flags this toolkit does not
take, each refused by name with the reason."""

import csv
import json

import pytest
from helpers import make_encoder_dir, one_thread  # noqa: F401 (an autouse fixture)
from test_ner_train import make_sentences

from ner_trainer.arguments import NERArguments, NERTrainingArguments
from ner_trainer.data import Columns, build_label_list, read_csv, read_file, sentences_from_hf
from ner_trainer.train import NERRecipe, main
from trainer_common.args import RETIRED_FLAGS, parse_args
from trainer_common.cli import run_cli
from trainer_common.errors import InputError

# The example's label order is the dataset's ClassLabel order, not ours: ids must keep it.
NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def write_id_records(path, sentences):
    """JSON lines in a Hub export's shape: other column names, integer tags."""
    with open(path, "w") as file:
        for sentence in sentences:
            record = {"id": "x", "words": [w for w, _ in sentence], "labels": [NAMES.index(t) for _, t in sentence]}
            file.write(json.dumps(record) + "\n")
    return path


def write_csv(path, sentences, styles=("json", "python", "spaces")):
    """One sentence a row; the cells cycle through the three list styles a CSV may hold."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["words", "labels"])
        for k, sentence in enumerate(sentences):
            words, tags = [w for w, _ in sentence], [t for _, t in sentence]
            style = styles[k % len(styles)]
            if style == "json":
                writer.writerow([json.dumps(words), json.dumps([NAMES.index(t) for t in tags])])
            elif style == "python":
                writer.writerow([repr(words), repr(tags)])
            else:
                writer.writerow([" ".join(words), " ".join(tags)])
    return path


def example_config(tmp_path, **overrides):
    """A config as written for the transformers example (model/data/training flags in one JSON mapping)."""
    encoder = make_encoder_dir(tmp_path)
    config = {
        "model_name_or_path": str(encoder), "config_name": str(encoder), "tokenizer_name": str(encoder),
        "cache_dir": str(tmp_path / "cache"), "task_name": "ner",
        "train_file": str(write_id_records(tmp_path / "train.json", make_sentences(16, 0))),
        "validation_file": str(write_id_records(tmp_path / "dev.json", make_sentences(6, 1))),
        "test_file": str(write_csv(tmp_path / "test.csv", make_sentences(6, 2))),
        "text_column_name": "words", "label_column_name": "labels", "label_names": NAMES,
        "max_seq_length": None, "pad_to_max_length": True, "preprocessing_num_workers": 2, "overwrite_cache": True,
        "return_entity_level_metrics": False, "label_all_tokens": False, "ignore_mismatched_sizes": True,
        "output_dir": str(tmp_path / "run"), "overwrite_output_dir": True, "do_train": True, "do_eval": True,
        "do_predict": True, "num_train_epochs": 1, "per_device_train_batch_size": 4, "learning_rate": 5e-3,
        "report_to": "none", "disable_tqdm": True, "seed": 0,
    }  # fmt: skip
    config.update(overrides)
    path = tmp_path / "ner_config.json"
    path.write_text(json.dumps(config))
    return path


def test_an_example_config_runs_unchanged(tmp_path):
    results = main([str(example_config(tmp_path))])
    out = tmp_path / "run"
    config = json.loads((out / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(NAMES))] == NAMES  # the data's ids are the model's
    assert "eval_f1" in results and "eval_PER_f1" not in results  # --return_entity_level_metrics false
    assert "test_PER_f1" in results  # the card's per-type table still has its numbers
    predictions = (out / "test_predictions.txt").read_text().strip().split("\n\n")
    assert len(predictions) == 6 and all(len(block.split("\n")) > 3 for block in predictions)


def test_pad_to_max_length_gives_fixed_width_batches(tmp_path):
    args, training_args = parse_args((NERArguments, NERTrainingArguments), [str(example_config(tmp_path))])
    recipe = NERRecipe(args, training_args)
    recipe.load_data()
    trainer = recipe.build_trainer(recipe.build_model())
    assert args.max_seq_length == 64  # None: the tiny encoder's limit
    for loader in (trainer.get_train_dataloader(), trainer.get_eval_dataloader()):
        batch = next(iter(loader))
        assert batch["input_ids"].shape[1] == 64 and batch["labels"].shape[1] == 64
        assert "position_ids" not in batch  # not packed
    assert recipe.label_list == NAMES


def test_csv_cells_in_every_list_style(tmp_path):
    sentences = make_sentences(6, 3)
    path = write_csv(tmp_path / "data.csv", sentences)
    read = read_csv(path, Columns("words", "labels", tuple(NAMES)))
    assert [(s.tokens, s.tags, s.line) for s in read] == [
        ([w for w, _ in s], [t for _, t in s], k + 2) for k, s in enumerate(sentences)
    ]
    assert read_file(path, columns=Columns("words", "labels", tuple(NAMES)))[0].source == str(path)
    (tmp_path / "words.csv").write_text('words\n"1996 was , [ fine"\n')  # digits stay words; no tags column
    assert read_csv(tmp_path / "words.csv", Columns("words", "labels"))[0].tokens == ["1996", "was", ",", "[", "fine"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "words,labels\na b,O O\n\"['c', 'd'\",O O\n",
            r"bad.csv:3: 'words' cell starts with '\[' but is not a JSON, Python or numpy list",
        ),
        ("words,labels\na b,O\n", "bad.csv:2: 2 words but 1 labels"),
        ("words,labels\na,0\n", "bad.csv:2: 'labels' holds label ids: give their names with --label_names"),
        ("words,labels,x\na,O\n", r"bad.csv:2: 2 cells, but the header has 3"),
        ("tokens,labels\na,O\n", r"bad.csv:1: expected one 'words' column"),
        ('words,labels\n"a\nb",O O\nc,"B PER"\n', "bad.csv:4: 1 words but 2 labels"),  # after a quoted newline
    ],
)
def test_csv_errors_name_file_and_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(InputError, match=message):
        read_file(tmp_path / "bad.csv", columns=Columns("words", "labels"))


def test_hub_columns_class_labels_and_label_names():
    from datasets import ClassLabel, Dataset, Features, List, Value

    features = Features({"words": List(Value("string")), "labels": List(ClassLabel(names=NAMES))})
    split = Dataset.from_dict({"words": [["Peter", "Blackburn"]], "labels": [[1, 2]]}, features=features)
    assert sentences_from_hf(split, "hub", Columns("words", "labels"))[0].tags == ["B-PER", "I-PER"]
    plain = Dataset.from_dict({"words": [["Paris"]], "labels": [[5]]})
    assert sentences_from_hf(plain, "hub", Columns("words", "labels", tuple(NAMES)))[0].tags == ["B-LOC"]
    with pytest.raises(InputError, match="hub:1: 'labels' holds label ids: give their names with --label_names"):
        sentences_from_hf(plain, "hub", Columns("words", "labels"))
    with pytest.raises(InputError, match=r"hub:1: labels value 9 is not a label id \(0..8\)"):
        sentences_from_hf(Dataset.from_dict({"words": [["x"]], "labels": [[9]]}), "hub", Columns("words", "labels",
                          tuple(NAMES)))  # fmt: skip


def parse(argv):
    return parse_args((NERArguments, NERTrainingArguments), argv)


def test_label_names_and_task_name_options():
    args, training_args = parse(["--label_names", "O,B-PER", "I-PER", "--task_name", "pos"])
    assert training_args.label_names == ["O", "B-PER", "I-PER"] and args.label_column_name == "pos_tags"
    with pytest.raises(InputError, match="--label_names must name each label once"):
        parse(["--label_names", "O", "O"])
    with pytest.raises(InputError, match="two different columns"):
        parse(["--text_column_name", "tags", "--label_column_name", "tags"])


def test_label_names_outside_the_scheme_are_refused(tmp_path):
    with pytest.raises(InputError, match="--label_names: .*'E-PER'"):
        main([str(example_config(tmp_path, label_names=[*NAMES, "E-PER"]))])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--evaluation_strategy", "epoch"], "--evaluation_strategy is not supported: renamed --eval_strategy"),
        (["--warmup_ratio=0.1"], "--warmup_ratio is not supported: removed in transformers 5: --warmup_steps"),
        (["--use_auth_token", "x"], "--use_auth_token is not supported: renamed --token"),
        (["--no_cuda"], "--no_cuda is not supported: removed in transformers 5: use --use_cpu"),
        (["--learning_rat", "1e-4"], "--learning_rat"),  # no abbreviation of --learning_rate
    ],
)
def test_unsupported_flags_are_named_with_the_reason(argv, message):
    with pytest.raises(InputError, match=message):
        parse(argv)


def test_an_unsupported_config_key_is_one_error_line(tmp_path, capsys):
    from run_ner import COMMANDS

    config = example_config(tmp_path, warmup_ratio=0.1)
    assert run_cli(COMMANDS, "train", [str(config)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {config}: warmup_ratio is not supported: {RETIRED_FLAGS['warmup_ratio']}"]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_label_order_follows_label_names_only_in_the_label_scheme(tmp_path):
    """BIOES training data with IOB2 label names: the names cannot be the model's labels, which come from the
    data in the label scheme (as for a ClassLabel in another scheme)."""
    train = write_id_records(tmp_path / "t.json", make_sentences(4, 0))
    args, training_args = parse(["--label_names", *NAMES, "--train_file", str(train), "--text_column_name", "words",
                                 "--label_column_name", "labels", "--label_scheme", "bioes"])  # fmt: skip
    recipe = NERRecipe(args, training_args)
    recipe.load_data()
    assert recipe.label_list == build_label_list(recipe.splits["train"], "bioes") and "S-LOC" in recipe.label_list


def test_csv_written_by_datasets_is_read_back(tmp_path):
    """`Dataset.to_csv` writes list cells in numpy's print form (`['EU' 'rejects']`, `[3 0 7]`), where Python's
    literal syntax would join the adjacent strings into one word."""
    from datasets import Dataset

    sentences = make_sentences(5, 4) + [[("it's", "O"), ('"quoted"', "O"), ("a,b", "O")]]
    words = [[w for w, _ in s] for s in sentences]
    ids = [[NAMES.index(t) for _, t in s] for s in sentences]
    Dataset.from_dict({"tokens": words, "ner_tags": ids}).to_csv(tmp_path / "hf.csv", index=False)
    read = read_csv(tmp_path / "hf.csv", Columns(label_names=tuple(NAMES)))
    assert [s.tokens for s in read] == words
    assert [s.tags for s in read] == [[t for _, t in s] for s in sentences]
    (tmp_path / "tuple.csv").write_text("tokens, ner_tags\n\"('EU', 'rejects')\",\"(3, 0)\"\n")  # spaced header too
    assert read_csv(tmp_path / "tuple.csv", Columns(label_names=tuple(NAMES)))[0].tags == ["B-ORG", "O"]


def test_misnamed_or_missing_tag_columns_are_never_silently_unscored(tmp_path, caplog):
    (tmp_path / "near.csv").write_text("tokens,NER_TAG\nEU,B-ORG\n")
    with pytest.raises(InputError, match=r"near.csv:1: unknown key 'NER_TAG'; did you mean 'ner_tags'\?"):
        read_csv(tmp_path / "near.csv", Columns())
    train = write_id_records(tmp_path / "train.json", make_sentences(4, 0))  # tags under "labels"
    with pytest.raises(InputError, match=r"train.json: no tags \(.*no 'ner_tags' column.*: nothing to train on"):
        main(["--train_file", str(train), "--text_column_name", "words", "--label_names", *NAMES,
              "--output_dir", str(tmp_path / "o")])  # fmt: skip
    assert not (tmp_path / "o").exists()
    good = write_csv(tmp_path / "good.csv", make_sentences(4, 1))
    untagged = tmp_path / "dev.json"
    untagged.write_text("".join(json.dumps({"words": [w for w, _ in s]}) + "\n" for s in make_sentences(3, 2)))
    with pytest.raises(InputError, match=r"dev.json: no tags .*'labels'.*: nothing to score the validation split"):
        main(["--train_file", str(good), "--validation_file", str(untagged), "--text_column_name", "words",
              "--label_column_name", "labels", "--label_names", *NAMES,
              "--output_dir", str(tmp_path / "o")])  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_json_tags_all_minus_one_are_untagged_and_digit_strings_are_ids(tmp_path):
    path = tmp_path / "ids.jsonl"
    path.write_text('{"tokens": ["EU", "rejects"], "ner_tags": [-1, -1]}\n{"tokens": ["Paris"], "ner_tags": ["5"]}\n')
    first, second = read_file(path, columns=Columns(label_names=tuple(NAMES)))
    assert first.tags is None and second.tags == ["B-LOC"]


def test_a_tokenizer_larger_than_the_embeddings_is_refused(tmp_path):
    from helpers import write_vocab
    from transformers import BertTokenizer

    big = tmp_path / "big-tokenizer"
    BertTokenizer(vocab=str(write_vocab(tmp_path / "big.txt", [f"w{i}" for i in range(40)]))).save_pretrained(big)
    config = example_config(tmp_path, tokenizer_name=str(big))
    with pytest.raises(InputError, match=r"big-tokenizer: the tokenizer has \d+ tokens, the model embeds only \d+"):
        main([str(config)])


def test_a_config_name_that_does_not_fit_the_weights_is_refused(tmp_path):
    from helpers import tiny_bert_config

    tiny_bert_config(hidden_size=48).save_pretrained(tmp_path / "wide")
    with pytest.raises(InputError, match=r"tiny-bert: its weights do not fit the config of .*wide: "):
        main([str(example_config(tmp_path, config_name=str(tmp_path / "wide")))])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"max_seq_length": 40.5}, "max_seq_length: invalid literal for int"),
        ({"pad_to_max_length": "on"}, "pad_to_max_length: Truthy value expected"),
    ],
)
def test_config_values_go_through_the_flags_type(tmp_path, value, message):
    with pytest.raises(InputError, match=message):
        parse([str(example_config(tmp_path, **value))])


def test_argparse_errors_are_one_line_and_list_values_take_a_string():
    with pytest.raises(InputError, match="argument --max_seq_length/--max-seq-length: invalid int value: 'None'"):
        parse(["--max_seq_length", "None"])
    with pytest.raises(InputError, match="--evaluation-strategy is not supported: renamed --eval_strategy"):
        parse(["--evaluation-strategy", "epoch"])


def test_label_names_as_one_string_in_a_config(tmp_path):
    _, training_args = parse([str(example_config(tmp_path, label_names=",".join(NAMES)))])
    assert training_args.label_names == NAMES


def test_do_eval_false_means_no_evaluation():
    _, training_args = parse(["--do_eval", "false"])
    assert not training_args.do_eval and training_args.eval_strategy == "no"
    assert not training_args.load_best_model_at_end


def test_secrets_are_hidden_from_the_recorded_command_line():
    from trainer_common.tracking import _redacted

    argv = ["run_ner.py", "--token", "a", "--hub-token=b", "--hub_token", "c", "--run_name", "token"]
    assert _redacted(argv) == ["run_ner.py", "--token", "<TOKEN>", "--hub-token=<TOKEN>", "--hub_token", "<TOKEN>",
                               "--run_name", "token"]  # fmt: skip


def test_hub_loading_keeps_the_class_label_order_and_refuses_other_label_names(tmp_path):
    from datasets import ClassLabel, Features, List, Value

    from ner_trainer.data import load_hub_dataset

    sentences = make_sentences(3, 0)
    files = {"train": str(write_id_records(tmp_path / "d.json", sentences))}
    features = Features(
        {"id": Value("string"), "words": List(Value("string")), "labels": List(ClassLabel(names=NAMES))}
    )
    load = {"data_files": files, "features": features, "cache_dir": str(tmp_path / "cache")}
    splits, labels = load_hub_dataset("json", columns=Columns("words", "labels"), **load)
    assert labels == NAMES and [s.tags for s in splits["train"]] == [[t for _, t in s] for s in sentences]
    with pytest.raises(InputError, match="--label_names .* differ from json's ClassLabel"):
        load_hub_dataset("json", columns=Columns("words", "labels", tuple(reversed(NAMES))), **load)
