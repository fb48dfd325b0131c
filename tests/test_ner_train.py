"""NER training end to end through `run_ner.py`: outputs, file formats, options, config files, errors, reloading."""

import json
import math
import os
import random
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import make_encoder_dir, one_thread, readme_outputs, written_outputs  # noqa: F401 (an autouse fixture)
from PIL import Image

from ner_trainer import tagging
from ner_trainer.train import main
from trainer_common.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

# Tags are a function of the word (every phrase is always the same entity), so a tiny encoder learns them fast.
# "Washington" splits into three word pieces (Wash ##ing ##ton), which exercises first-sub-token alignment.
ENTITIES = {
    "Peter Blackburn": "PER",
    "John Smith": "PER",
    "Mary Lee": "PER",
    "Paris": "LOC",
    "London": "LOC",
    "Germany": "LOC",
    "France": "LOC",
    "BRUSSELS": "LOC",
    "New York City": "LOC",
    "Washington": "LOC",
    "EU": "ORG",
    "European Commission": "ORG",
    "German": "MISC",
    "British": "MISC",
}
PHRASES = ["visited", "said on Monday", "lives in", "works for", "rejects", "and"]
TYPES = ["LOC", "MISC", "ORG", "PER"]
LABELS = ["O"] + [f"{prefix}-{t}" for t in TYPES for prefix in "BI"]


def phrase(text: str) -> list[tuple[str, str]]:
    words, entity_type = text.split(), ENTITIES.get(text)
    return [(w, "O" if entity_type is None else ("B-" if i == 0 else "I-") + entity_type) for i, w in enumerate(words)]


def make_sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    """`n` sentences "ENTITY phrase ENTITY ." as (word, IOB2 tag) pairs."""
    rng = random.Random(seed)
    names = list(ENTITIES)
    return [
        phrase(rng.choice(names)) + phrase(rng.choice(PHRASES)) + phrase(rng.choice(names)) + [(".", "O")]
        for _ in range(n)
    ]


def write_conll(path: Path, sentences, tagged: bool = True, docstart: bool = True) -> Path:
    """CoNLL-2003 layout (word POS chunk tag), or only the word column when untagged."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for k, sentence in enumerate(sentences):
        lines += [f"{w} NNP B-NP {t}" if tagged else w for w, t in sentence] + [""]
        if docstart and k == len(sentences) // 2:
            lines += ["-DOCSTART- -X- -X- O", ""]  # a second document in the middle
    path.write_text("\n".join(lines))
    return path


def write_jsonl(path: Path, sentences, as_list: bool = False) -> Path:
    records = [{"tokens": [w for w, _ in s], "ner_tags": [t for _, t in s]} for s in sentences]
    if as_list:
        path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_blocks(path: Path) -> list[list[list[str]]]:
    """A predictions file as sentences of rows of columns; checks the blank-line layout on the way."""
    text = path.read_text()
    assert text.endswith("\n\n"), "every sentence, the last included, ends with a blank line"
    blocks = text[:-2].split("\n\n")
    return [[line.split(" ") for line in block.split("\n")] for block in blocks]


def entity_count(sentences, entity_type: str) -> int:
    return sum(tag == f"B-{entity_type}" for s in sentences for _, tag in s)


def base_args(out: Path, *files, model=None, **overrides) -> list[str]:
    """Flags for a quick run: single-file options plus small batches, no tracking, no progress bars."""
    args = {
        "output_dir": out,
        "max_seq_length": 16,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "report_to": "none",
        "disable_tqdm": "true",
        "log_level": "warning",
        "seed": 0,
    }
    if model is not None:
        args["model_name_or_path"] = model
    for name, path in zip(("train_file", "validation_file", "test_file"), files):
        if path is not None:
            args[name] = path
    args.update(overrides)
    argv = []
    for key, value in args.items():
        argv += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return argv


def history(out: Path) -> list[dict]:
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


def start_run_ner(*args) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("TOOLKIT_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "run_ner.py", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny random encoder and CoNLL train/validation/test files; the last test sentence needs 3+ windows."""
    tmp = tmp_path_factory.mktemp("ner_data")
    train, dev, test = make_sentences(40, seed=0), make_sentences(8, seed=1), make_sentences(6, seed=2)
    test.append([pair for sentence in make_sentences(6, seed=3) for pair in sentence])  # ~35 words
    return {
        "dir": tmp,
        "encoder": make_encoder_dir(tmp),
        "train": train,
        "dev": dev,
        "test": test,
        "train_file": write_conll(tmp / "train.txt", train),
        "dev_file": write_conll(tmp / "dev.txt", dev),
        "test_file": write_conll(tmp / "test.txt", test),
    }


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """30 optimizer steps (40 sentences, batches of 4, 3 epochs) through `main`, evaluated after each epoch."""
    out = tmp_path_factory.mktemp("ner_run") / "out"
    argv = base_args(
        out,
        data["train_file"],
        data["dev_file"],
        data["test_file"],
        model=data["encoder"],
        num_train_epochs=3,
        learning_rate=5e-3,
        logging_steps=5,
    )
    return out, main(argv)


# ---- one training run and everything it writes ----------------------------------------------------------------


def test_training_writes_model_tokenizer_and_code(trained):
    out, _ = trained
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert_tagger"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_bert_tagger.BertTaggerConfig",
        "AutoModelForTokenClassification": "modeling_bert_tagger.BertTagger",
    }
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == LABELS
    for name in (
        "model.safetensors",
        "modeling_bert_tagger.py",
        "configuration_bert_tagger.py",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "class BertTagger(" in (out / "modeling_bert_tagger.py").read_text()

    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "BertTagger" and model.config.num_labels == len(LABELS)
    assert tokenizer.tokenize("Washington") == ["Wash", "##ing", "##ton"]  # the encoder's vocabulary, not another


def trained_args_seed(out) -> int:
    import torch

    return torch.load(out / "training_args.bin", weights_only=False).seed


def test_training_writes_results_state_and_curves(data, trained):
    out, results = trained
    saved = json.loads((out / "all_results.json").read_text())
    provenance = saved.pop("run")
    assert saved == pytest.approx(results)
    import torch
    import transformers

    assert provenance["seed"] == trained_args_seed(out) and torch.__version__.startswith(provenance["torch_version"])
    assert provenance["transformers_version"] == transformers.__version__ and provenance["hf_trainer_toolkit_version"]
    for split in ("train", "eval", "test"):  # the transformers examples' files, a split each, with the same provenance
        split_file = json.loads((out / f"{split}_results.json").read_text())
        assert split_file.pop("run") == provenance and split_file.pop("epoch") == saved["epoch"]
        assert split_file == {key: value for key, value in saved.items() if key.startswith(f"{split}_")}
    for key in ("train_runtime", "train_loss", "eval_loss", "eval_f1", "test_f1", "test_precision", "test_recall"):
        assert isinstance(saved[key], float), key
    assert saved["train_windows"] == 40 and saved["validation_windows"] == 8
    assert saved["test_windows"] >= 7 + 2, "the long test sentence is split into windows of 16 tokens"
    for entity_type in TYPES:  # test scores are per gold entity of the whole sentences, windows put back together
        assert saved.get(f"test_{entity_type}_number", 0.0) == entity_count(data["test"], entity_type)

    log = history(out)
    assert any("loss" in entry for entry in log)
    assert any("eval_loss" in entry for entry in log)
    assert any("eval_f1" in entry for entry in log)

    report = (out / "test_report.txt").read_text()
    assert "precision" in report and "micro avg" in report
    assert all(entity_type in report for entity_type in ("LOC", "ORG", "PER"))

    with Image.open(out / "training_curves.png") as png:
        assert png.format == "PNG" and png.size[0] > 500
        png.load()

    # Our own writes get the same permissions as the files transformers writes (not mkstemp's private 0600).
    expected = stat.S_IMODE((out / "config.json").stat().st_mode)
    for name in ("all_results.json", "test_predictions.txt", "test_report.txt", "training_curves.png"):
        assert stat.S_IMODE((out / name).stat().st_mode) == expected, name
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert hidden == [".run_manifest.json"], "temporary files left behind"
    written = {re.sub(r"^checkpoint-\d+/$", "checkpoint-N/", name) for name in written_outputs(out)}
    assert written == readme_outputs("NER with a BERT tagger"), "the README's table is what a run writes"


def test_test_predictions_have_every_word_in_order(data, trained):
    from seqeval.metrics import f1_score

    out, results = trained
    blocks = read_blocks(out / "test_predictions.txt")
    assert len(blocks) == len(data["test"])
    for block, sentence in zip(blocks, data["test"]):
        assert [row[0] for row in block] == [w for w, _ in sentence]
        assert [row[1] for row in block] == [t for _, t in sentence]
        assert all(len(row) == 3 and row[2] in LABELS for row in block)
    assert len(blocks[-1]) > 30  # the windowed sentence came back whole
    # the reported score is the score of the written predictions
    gold, pred = [[row[1] for row in b] for b in blocks], [[row[2] for row in b] for b in blocks]
    assert results["test_f1"] == pytest.approx(f1_score(gold, pred))


def test_training_learns(trained):
    out, results = trained
    log = history(out)
    losses = [entry["loss"] for entry in log if "loss" in entry]
    evals = [entry for entry in log if "eval_loss" in entry]
    assert len(losses) >= 5 and len(evals) == 3  # logging_steps 5 over 30 steps; one evaluation per epoch
    assert losses[-1] < 0.75 * losses[0]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    assert results["eval_f1"] > 0


# ---- using the saved tagger -----------------------------------------------------------------------------------


def test_predict_command_on_the_saved_model(data, trained, capsys):
    import run_ner
    from trainer_common.cli import run_cli

    out, _ = trained
    sentences = data["test"][:2]
    texts = [" ".join(w for w, _ in s) for s in sentences]
    # `run_ner.py predict` in process: the script exits with run_cli's status
    status = run_cli(run_ner.COMMANDS, default="train", argv=["predict", "--model", str(out), *texts])
    stdout, stderr = capsys.readouterr()
    assert status == 0, stderr[-2000:]
    records = [json.loads(line) for line in stdout.splitlines()]
    assert len(records) == 2
    blocks = read_blocks(out / "test_predictions.txt")
    for record, sentence, block, text in zip(records, sentences, blocks, texts):
        assert record["text"] == text
        assert record["words"] == [w for w, _ in sentence]
        assert len(record["tags"]) == len(record["words"]) and set(record["tags"]) <= set(LABELS)
        # the same model on the same words tags them as the test predictions written after training did
        assert record["tags"] == [row[2] for row in block]


def test_untagged_test_file_is_predicted_not_scored(data, trained, tmp_path):
    model, _ = trained
    untagged = write_conll(tmp_path / "raw.txt", data["test"], tagged=False)
    out = tmp_path / "out"
    results = main(base_args(out, None, None, untagged, model=model, do_train=False))
    assert not any(key.startswith("test_") and key != "test_windows" for key in results)
    assert "test_f1" not in json.loads((out / "all_results.json").read_text())
    assert not (out / "test_report.txt").exists()
    blocks = read_blocks(out / "test_predictions.txt")
    scored = read_blocks(model / "test_predictions.txt")
    assert len(blocks) == len(data["test"])
    for block, sentence, scored_block in zip(blocks, data["test"], scored):
        assert all(len(row) == 2 for row in block)  # `token pred`
        assert [row[0] for row in block] == [w for w, _ in sentence]
        assert [row[1] for row in block] == [row[2] for row in scored_block]


def test_evaluation_only_from_a_saved_tagger(data, trained, tmp_path):
    model, trained_results = trained
    out = tmp_path / "eval"
    results = main(base_args(out, None, data["dev_file"], data["test_file"], model=model, do_train=False))
    assert results["eval_f1"] == pytest.approx(trained_results["eval_f1"])
    assert results["eval_loss"] == pytest.approx(trained_results["eval_loss"], rel=1e-4)
    assert results["test_f1"] == pytest.approx(trained_results["test_f1"])
    assert "train_runtime" not in results
    assert (out / "test_predictions.txt").read_text() == (model / "test_predictions.txt").read_text()
    assert not (out / "model.safetensors").exists() and not (out / "trainer_state.json").exists()
    assert not (out / "README.md").exists(), "no model card where no model was trained or saved"

    # Trainer's evaluation (compute_metrics on length-sorted windows) scores the test file as the test step does
    results = main(base_args(tmp_path / "eval2", None, data["test_file"], None, model=model, do_train=False))
    for key in ("f1", "precision", "recall", "accuracy", "PER_number", "LOC_number"):
        assert results[f"eval_{key}"] == pytest.approx(trained_results[f"test_{key}"]), key


def test_evaluate_command_scores_a_saved_tagger(data, trained, tmp_path, capsys):
    """`run_ner.py evaluate`: the results, the report and the predictions of the test file; no model, no card."""
    from ner_trainer.evaluate import main as evaluate

    model, trained_results = trained
    out = tmp_path / "scored"
    results = evaluate(["--model", str(model), "--test_file", str(data["test_file"]), "--output_dir", str(out),
                        "--batch_size", "3", "--report_to", "none", "--max_seq_length", "16"])  # fmt: skip
    assert results["test_f1"] == pytest.approx(trained_results["test_f1"])
    written = sorted(path.name for path in out.iterdir())
    assert written == [".run_manifest.json", "all_results.json", "test_predictions.txt", "test_report.txt",
                       "test_results.json"]  # fmt: skip
    shown = capsys.readouterr().out
    assert f"F1 {trained_results['test_f1']:.4f}" in shown and "micro avg" in shown  # its line and the table

    before = (model / "test_results.json").read_bytes()
    for argv, refused in (
        (["--output_dir", str(model)], "is the model's folder"),  # its run's results would be replaced
        (["--output_dir", str(tmp_path / "x"), "--push_to_hub"], "--push_to_hub is an option of training"),
        (["--output_dir", str(tmp_path / "x"), "--do_predict", "false"], "--do_predict is an option of training"),
        ([], "the following arguments are required: --output_dir"),
    ):
        with pytest.raises(InputError, match=refused):
            evaluate(["--model", str(model), "--test_file", str(data["test_file"]), *argv])
    assert (model / "test_results.json").read_bytes() == before
    dashed = ["--model", str(model), "--test-file", str(data["test_file"]), "--output-dir", str(tmp_path / "dashed"),
              "--max-seq-length", "16", "--report_to", "none"]  # fmt: skip
    assert evaluate(dashed)["test_f1"] == pytest.approx(trained_results["test_f1"])

    with pytest.raises(InputError, match="evaluate needs data"):
        evaluate(["--model", str(model), "--output_dir", str(tmp_path / "nothing")])


def test_continue_training_a_saved_tagger(data, trained, tmp_path):
    model, trained_results = trained
    out = tmp_path / "more"
    results = main(
        base_args(
            out,
            data["train_file"],
            data["dev_file"],
            None,
            model=model,
            max_steps=2,
            logging_steps=1,
            learning_rate=1e-5,
            eval_strategy="no",
            save_strategy="no",
            do_predict=False,
        )
    )
    # It starts from the fine-tuned weights (the checkpoint with the best validation F1; a new classifier would
    # start near ln(9) = 2.2), keeps the labels, and a tiny learning rate barely moves it.
    first_loss = next(entry["loss"] for entry in history(out) if "loss" in entry)
    assert first_loss < 0.8 * math.log(9)
    assert results["eval_loss"] == pytest.approx(trained_results["eval_loss"], abs=0.05)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == json.loads((model / "config.json").read_text())["id2label"]
    assert (out / "model.safetensors").is_file() and (out / "modeling_bert_tagger.py").is_file()


def test_continue_training_adds_the_labels_the_tagger_lacks(data, trained, tmp_path):
    model, _ = trained
    extra = write_conll(tmp_path / "train.txt", data["train"][:4] + [[("Monday", "B-DATE"), (".", "O")]])
    out = tmp_path / "out"
    main(base_args(out, extra, None, None, model=model, max_steps=1, save_strategy="no", do_predict=False))
    id2label = json.loads((out / "config.json").read_text())["id2label"]
    saved = json.loads((model / "config.json").read_text())["id2label"]
    # the saved tagger's labels in their order, then the new ones (tests/test_ner_strategies.py checks the weights)
    assert [id2label[str(i)] for i in range(len(LABELS) + 2)] == [saved[str(i)] for i in range(len(LABELS))] + [
        "B-DATE",
        "I-DATE",
    ]


def test_evaluating_a_saved_tagger_never_adds_untrained_labels(data, trained, tmp_path):
    model, _ = trained
    extra = write_conll(tmp_path / "train.txt", data["train"][:4] + [[("Monday", "B-DATE"), (".", "O")]])
    with pytest.raises(ValueError, match=r"train.txt:\d+: tag 'B-DATE' \(word 'Monday'\) is not one of the training"):
        main(base_args(tmp_path / "out", extra, data["dev_file"], None, model=model, do_train=False))


def test_windows_longer_than_the_encoder_takes_are_refused(data, tmp_path):
    # the tiny encoder has 64 positions: a 128-token window would crash mid-training on a long sentence
    with pytest.raises(ValueError, match=r"--max_seq_length 128 is longer than the model takes \(64 tokens\)"):
        main(base_args(tmp_path / "out", data["train_file"], None, None, model=data["encoder"], max_seq_length=128))


# ---- other inputs and options ---------------------------------------------------------------------------------


def test_jsonl_and_json_files(data, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", data["train"][:12])
    dev = write_jsonl(tmp_path / "dev.json", data["dev"], as_list=True)
    test = write_jsonl(tmp_path / "test.jsonl", data["test"])
    out = tmp_path / "out"
    results = main(base_args(out, train, dev, test, model=data["encoder"], max_steps=2, eval_strategy="no"))
    assert {"eval_f1", "test_f1"} <= results.keys()
    assert results["train_windows"] == 12 and results["validation_windows"] == len(data["dev"])
    id2label = json.loads((out / "config.json").read_text())["id2label"]
    assert sorted(id2label.values()) == sorted(LABELS)
    blocks = read_blocks(out / "test_predictions.txt")
    assert [[row[:2] for row in block] for block in blocks] == [[[w, t] for w, t in s] for s in data["test"]]


def test_iob1_files_are_trained_as_iob2(data, tmp_path):
    # IOB1: entities start with I-; B- only where an entity directly follows one of the same type.
    iob1 = [
        [("Peter", "I-PER"), ("Blackburn", "I-PER"), ("visited", "O"), ("Paris", "I-LOC"), ("London", "B-LOC")],
        [("European", "I-ORG"), ("Commission", "I-ORG"), ("rejects", "O"), ("German", "I-MISC"), ("lamb", "O")],
        [("John", "I-PER"), ("Smith", "I-PER"), ("Mary", "B-PER"), ("Lee", "I-PER"), ("said", "O")],
    ]
    iob2 = [
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"],
        ["B-ORG", "I-ORG", "O", "B-MISC", "O"],
        ["B-PER", "I-PER", "B-PER", "I-PER", "O"],
    ]
    train = write_conll(tmp_path / "train.txt", iob1 * 3)
    test = write_conll(tmp_path / "test.txt", iob1)
    out = tmp_path / "out"
    results = main(
        base_args(out, train, train, test, model=data["encoder"], tag_scheme="iob1", max_steps=1, eval_strategy="no")
    )
    id2label = json.loads((out / "config.json").read_text())["id2label"]
    assert sorted(id2label.values()) == sorted(LABELS)  # B- tags for every type, though ORG/MISC had only I- tags
    blocks = read_blocks(out / "test_predictions.txt")
    # written back in the file's own scheme, so that conlleval reads it as it reads the gold file
    assert [[row[1] for row in block] for block in blocks] == [[tag for _, tag in s] for s in iob1]
    assert all(tagging.first_violation([row[2] for row in block], "iob1") is None for block in blocks)
    assert tagging.convert([row[1] for row in blocks[2]], "iob1", "iob2") == iob2[2]
    import conlleval  # the F1 of the IOB1 file must be ours

    lines = (out / "test_predictions.txt").read_text().split("\n")
    conlleval_f1 = conlleval.evaluate(lines)["overall"]["chunks"]["evals"]["f1"]
    assert conlleval_f1 == pytest.approx(results["test_f1"], abs=1e-12)
    assert results["test_PER_number"] == 3.0 and results["test_LOC_number"] == 2.0


def test_label_all_tokens_keeps_word_level_metrics(data, tmp_path):
    dev = make_sentences(8, seed=5) + [phrase("Washington") + phrase("and") + phrase("New York City")]
    dev_file = write_conll(tmp_path / "dev.txt", dev)
    out = tmp_path / "out"
    results = main(
        base_args(
            out, data["train_file"], dev_file, data["test_file"], model=data["encoder"], label_all_tokens=True,
            max_steps=3, eval_strategy="no",
        )
    )  # fmt: skip
    blocks = read_blocks(out / "test_predictions.txt")
    assert sum(len(block) for block in blocks) == sum(len(s) for s in data["test"])
    for entity_type in TYPES:  # gold entities counted on words, not on (more numerous) sub-tokens
        assert results.get(f"eval_{entity_type}_number", 0.0) == entity_count(dev, entity_type)
        assert results.get(f"test_{entity_type}_number", 0.0) == entity_count(data["test"], entity_type)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_config_file_with_a_flag_overriding_it(data, tmp_path, suffix):
    out = tmp_path / "out"
    config = {
        "model_name_or_path": str(data["encoder"]),
        "train_file": str(data["train_file"]),
        "validation_file": str(data["dev_file"]),
        "output_dir": str(out),
        "max_seq_length": 16,
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-3,
        "max_steps": 5,
        "logging_steps": 1,
        "eval_strategy": "no",
        "save_strategy": "no",
        "do_predict": False,
        "report_to": "none",
        "disable_tqdm": True,
        "log_level": "warning",
    }
    path = tmp_path / f"config{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(config))
    else:
        # As people write YAML: PyYAML reads `1e-3` (no dot) as a string and, by YAML 1.1, `no` as False;
        # both must still mean what `--learning_rate 1e-3 --eval_strategy no --do_predict no` mean.
        spelled = {"learning_rate": "1e-3", "eval_strategy": "no", "save_strategy": "no", "do_predict": "no"}
        path.write_text("".join(f"{key}: {spelled.get(key, value)}\n" for key, value in config.items()))
    results = main([str(path), "--max_steps", "2"])
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2  # the flag won
    assert "eval_f1" in results and not (out / "test_predictions.txt").exists()  # the file's values held
    training_args = torch.load(out / "training_args.bin", weights_only=False)
    assert training_args.learning_rate == 1e-3 and training_args.max_steps == 2
    assert training_args.per_device_train_batch_size == 4


# ---- errors: one `error:` line and exit status 2 --------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_errors(data):
    """Each failing command's files, model and expected fragments of its error line, keyed by case."""
    tmp = data["dir"] / "errors"
    tmp.mkdir()
    unseen = [list(s) for s in data["dev"]]
    unseen[2][1] = (unseen[2][1][0], "B-DATE")
    bad_dev = write_conll(tmp / "bad_dev.txt", unseen)
    bad_line = bad_dev.read_text().split("\n").index(f"{unseen[2][1][0]} NNP B-NP B-DATE") + 1
    malformed = write_conll(tmp / "malformed.txt", data["train"][:3], docstart=False)
    rows = malformed.read_text().split("\n")
    rows[2] += " extra"  # line 3, inside the first sentence
    malformed.write_text("\n".join(rows))
    return {
        "unseen_tag": (
            [data["train_file"], bad_dev],
            data["encoder"],
            [str(bad_dev), f":{bad_line}:", "'B-DATE'"],
        ),
        "malformed_row": ([malformed], data["encoder"], [f"{malformed}:3:", "expected 4 columns", "found 5"]),
        "missing_train_file": ([tmp / "nowhere.txt"], data["encoder"], [str(tmp / "nowhere.txt"), "not found"]),
        "missing_model_folder": ([data["train_file"]], tmp / "nothing", [str(tmp / "nothing"), "not a folder"]),
        # offline, transformers' message has several lines: still one `error:` line
        "unreachable_hub_model": ([data["train_file"]], "no-such-org/no-such-model", ["no-such-org/no-such-model"]),
    }


@pytest.mark.parametrize(
    "case", ["unseen_tag", "malformed_row", "missing_train_file", "missing_model_folder", "unreachable_hub_model"]
)
def test_cli_errors(cli_errors, case, tmp_path, capsys):
    import run_ner
    from trainer_common.cli import run_cli

    files, model, expected = cli_errors[case]
    out = tmp_path / case
    argv = base_args(out, *files, model=model, max_steps=1)
    if case == "unreachable_hub_model":  # through the script: transformers' own messages land on its stderr too
        proc = start_run_ner(*argv)
        (_, stderr), returncode = proc.communicate(timeout=120), proc.returncode
    else:  # in process (the script exits with run_cli's status): no interpreter start-up per case
        returncode = run_cli(run_ner.COMMANDS, default="train", argv=argv)
        stderr = capsys.readouterr().err
    assert returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr[-3000:]
    for fragment in expected:
        assert fragment in errors[0], errors[0]
    assert not (out / "model.safetensors").exists()


@pytest.mark.parametrize("padding_free", [True, False])
def test_training_batches_are_packed_and_evaluation_batches_are_not(data, tmp_path, padding_free):
    from transformers import TrainerCallback

    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.train import train

    seen = {}

    class Inspect(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
            seen["train"] = next(iter(train_dataloader))

        def on_evaluate(self, args, state, control, eval_dataloader=None, **kwargs):
            seen["eval"] = next(iter(eval_dataloader))

    args = NERArguments(
        model_name_or_path=str(data["encoder"]), train_file=str(data["train_file"]),
        validation_file=str(data["dev_file"]), max_seq_length=16,
    )  # fmt: skip
    training_args = NERTrainingArguments(
        output_dir=str(tmp_path / "out"), do_predict=False, per_device_train_batch_size=8,
        per_device_eval_batch_size=4, max_steps=1, eval_strategy="no", save_strategy="no", report_to="none",
        disable_tqdm=True, padding_free=padding_free,
    )  # fmt: skip
    results = train(args, training_args, callbacks=[Inspect()])
    batch = seen["train"]
    assert int((batch["input_ids"] == 2).sum()) == 8  # 8 sentences, each with its [CLS]
    if padding_free:
        assert "attention_mask" not in batch
        starts = batch["position_ids"] == 0
        assert torch.equal(starts & (batch["input_ids"] != 0), batch["input_ids"] == 2)  # sentences start at 0
    else:
        assert "position_ids" not in batch and batch["input_ids"].shape[0] == 8
    assert seen["eval"]["input_ids"].shape[0] == 4 and "attention_mask" in seen["eval"]
    assert 0 <= results["eval_f1"] <= 1


def test_shuffled_length_grouped_indices():
    from ner_trainer.data import shuffled_length_grouped_indices

    rng = random.Random(0)
    lengths = [rng.randint(3, 60) for _ in range(1000)]
    generator = torch.Generator().manual_seed(0)
    order = shuffled_length_grouped_indices(lengths, 8, generator)
    assert sorted(order) == list(range(1000))  # every example once
    batches = [order[i : i + 8] for i in range(0, 1000, 8)]
    assert max(lengths[i] for i in batches[0]) == max(lengths)  # the longest batch first
    padded = sum(8 * max(lengths[i] for i in b) for b in batches[:-1])
    assert padded / sum(sum(lengths[i] for i in b) for b in batches[:-1]) < 1.1  # little padding
    # no long-to-short sweeps: consecutive batches' lengths are not ordered like transformers' mega-batches
    maxima = [max(lengths[i] for i in b) for b in batches[1:-1]]
    descents = sum(a > b for a, b in zip(maxima, maxima[1:]))
    assert 0.3 < descents / (len(maxima) - 1) < 0.7
    assert shuffled_length_grouped_indices(lengths, 8, torch.Generator().manual_seed(0)) == order  # seeded
