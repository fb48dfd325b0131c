"""An output folder is the run's own: `--overwrite_output_dir` removes exactly the previous run's entries, nothing
the run reads is ever deleted or written over, and a folder of the user's own files is never written over."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SignalAtStep, make_encoder_dir, one_thread, write_mnist  # noqa: F401 (an autouse fixture)
from test_ner_train import base_args, make_sentences, write_conll, write_jsonl
from test_run_safety import ROOT, run
from test_run_safety import vae_args as finished_run_args

from ner_trainer.train import main as run_ner
from trainer_common.errors import InputError, Interrupted
from trainer_common.run_files import MANIFEST, read_manifest


def vae_args(data: Path, out: Path, *extra: str) -> list[str]:
    """A run that keeps its checkpoints when it finishes: these tests need a previous run's checkpoints."""
    return finished_run_args(data, out, "--keep_checkpoints", "true", *extra)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def user_files(folder: Path) -> dict[str, bytes]:
    """A user's own files beside a run: a thesis, a notes folder, a config file of another tool."""
    (folder / "notes").mkdir(parents=True, exist_ok=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}\n")
    (folder / "notes" / "todo.md").write_text("- read the results\n")
    (folder / "exp.yaml").write_text("learning_rate: 0.01\n")
    return {name: (folder / name).read_bytes() for name in ("thesis.tex", "notes/todo.md", "exp.yaml")}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=16)


@pytest.fixture(scope="module")
def ner_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ner")
    files = [write_conll(tmp / f"{name}.txt", make_sentences(n, seed)) for name, n, seed in
             (("train", 16, 0), ("dev", 4, 1), ("test", 4, 2))]  # fmt: skip
    return make_encoder_dir(tmp), files


def test_overwrite_removes_the_previous_run_and_keeps_everything_else(data, tmp_path, caplog):
    out = tmp_path / "run"
    run(vae_args(data, out, "--num_train_epochs", "3"))
    assert (out / "checkpoint-12").is_dir()
    mine = user_files(out)
    with caplog.at_level(logging.WARNING, logger="trainer_common"):
        run(vae_args(data, out, "--overwrite_output_dir", "true", "--learning_rate", "0.02"))
    assert {name: (out / name).read_bytes() for name in mine} == mine
    assert not (out / "checkpoint-12").exists() and (out / "checkpoint-8").is_dir()  # the old run's, gone
    kept = [record.message for record in caplog.records if "previous run (" in record.message]
    assert len(kept) == 1 and kept[0].endswith("kept, not written by a run: exp.yaml, notes/, thesis.tex")


def test_bad_input_found_while_loading_leaves_the_previous_run_whole(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    before = snapshot(out)
    with pytest.raises(InputError, match="missing"):  # found once loading starts, after the folder checks
        run(vae_args(tmp_path / "missing", out, "--overwrite_output_dir", "true"))
    assert snapshot(out) == before


def test_overwrite_removes_only_what_the_manifest_records(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    manifest = json.loads((out / MANIFEST).read_text())
    (out / "notes.txt").write_text("mine\n")  # listed in the manifest by hand: not an output name, so kept
    manifest["entries"] += ["notes.txt", "../outside.txt", "/etc/passwd"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    (tmp_path / "outside.txt").write_text("mine too\n")
    (out / "checkpoint-99").mkdir()  # a checkpoint (with its trainer state) is only ever a run's
    (out / "checkpoint-99" / "trainer_state.json").write_text("{}")
    run(vae_args(data, out, "--overwrite_output_dir", "true"))
    assert (out / "notes.txt").read_text() == "mine\n" and (tmp_path / "outside.txt").read_text() == "mine too\n"
    assert not (out / "checkpoint-99").exists()

    (out / "checkpoint-7").mkdir()  # a folder of the user's that happens to have a checkpoint's name
    (out / "checkpoint-7" / "thesis.tex").write_text("mine\n")
    with pytest.raises(InputError, match=r"would write over but no run wrote \(checkpoint-7\)"):
        run(vae_args(data, out, "--overwrite_output_dir", "true"))
    (out / "checkpoint-7" / "thesis.tex").unlink()
    (out / "checkpoint-7").rmdir()

    (out / "vocab.txt").write_text("my words\n")  # an output name the run did not write: the next run would
    before = snapshot(out)  # write over it (a NER run saves its tokenizer there), so it is refused by name
    with pytest.raises(InputError, match=r"would write over but no run wrote \(vocab.txt\)"):
        run(vae_args(data, out, "--overwrite_output_dir", "true"))
    with pytest.raises(InputError, match=r"holds a finished run"):  # and a finished run is never resumed
        run(vae_args(data, out, "--resume_from_checkpoint", "true"))
    assert snapshot(out) == before


@pytest.mark.parametrize("damage", ["not json", "", "[1, 2]", '{"entries": "README.md"}'])
def test_a_damaged_manifest_is_refused_not_guessed(data, tmp_path, damage):
    out = tmp_path / "run"
    run(vae_args(data, out))
    (out / MANIFEST).write_text(damage)
    (out / "vocab.txt").write_text("my words\n")
    before = snapshot(out)
    with pytest.raises(InputError, match=r"\.run_manifest\.json: damaged run manifest .* move it away"):
        run(vae_args(data, out, "--overwrite_output_dir", "true"))
    assert snapshot(out) == before


def test_a_run_that_fails_late_puts_the_previous_run_back(data, tmp_path, monkeypatch):
    """A bad input found only once training runs (a failing first evaluation here) leaves the replaced run whole."""
    from trainer_common.trainer import MultiLossTrainer

    out = tmp_path / "run"
    run(vae_args(data, out))
    mine = user_files(out)
    before = snapshot(out)

    def fails(self, *args, **kwargs):
        raise ValueError("a metric this run cannot compute")

    with monkeypatch.context() as patch:
        patch.setattr(MultiLossTrainer, "evaluate", fails)
        with pytest.raises(ValueError, match="cannot compute"):
            run(vae_args(data, out, "--overwrite_output_dir", "true", "--learning_rate", "0.02"))
    assert snapshot(out) == before and {name: (out / name).read_bytes() for name in mine} == mine
    run(vae_args(data, out, "--overwrite_output_dir", "true", "--learning_rate", "0.02"))  # then it is replaced
    assert snapshot(out)["model.safetensors"] != before["model.safetensors"] and not (out / ".previous_run").exists()


def test_an_interrupted_replacement_keeps_the_previous_run_until_it_finishes(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    model = (out / "model.safetensors").read_bytes()
    with pytest.raises(Interrupted):
        run(vae_args(data, out, "--overwrite_output_dir", "true", "--learning_rate", "0.02"),
            callbacks=[SignalAtStep(3)])  # fmt: skip
    assert (out / ".previous_run" / "model.safetensors").read_bytes() == model
    assert not (out / "model.safetensors").exists() and (out / "checkpoint-3").is_dir()
    run(vae_args(data, out, "--learning_rate", "0.02", "--resume_from_checkpoint", "true"))
    assert not (out / ".previous_run").exists() and (out / "model.safetensors").read_bytes() != model


def test_every_entry_a_run_writes_is_in_its_manifest(data, ner_files, tmp_path):
    out = tmp_path / "vae"
    run(vae_args(data, out))
    assert sorted(p.name for p in out.iterdir()) == read_manifest(out)
    encoder, files = ner_files
    out = tmp_path / "ner"
    run_ner(base_args(out, *files, model=encoder, num_train_epochs=1, do_predict=True))
    assert (out / "test_predictions.txt").is_file() and (out / "encoder_layers.py").is_file()
    assert sorted(p.name for p in out.iterdir()) == read_manifest(out)


def test_an_older_run_without_manifest_is_cleared_by_its_output_names(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    (out / MANIFEST).unlink()
    mine = user_files(out)
    run(vae_args(data, out, "--overwrite_output_dir", "true"))
    assert {name: (out / name).read_bytes() for name in mine} == mine
    assert sorted(p.name for p in out.iterdir()) == sorted(read_manifest(out) + ["exp.yaml", "notes", "thesis.tex"])


@pytest.mark.parametrize("overwrite", [[], ["--overwrite_output_dir", "true"]])
def test_a_folder_of_the_users_own_files_is_never_written_over(data, tmp_path, overwrite):
    out = tmp_path / "repo"
    out.mkdir()
    (out / ".git").mkdir()
    (out / "README.md").write_text("# my data\n")
    (out / "config.json").write_text('{"mine": true}\n')
    before = snapshot(out)
    with pytest.raises(InputError, match=r"holds files that a run would write over but no run wrote \(README.md, "
                       r"config.json\)"):  # fmt: skip
        run(vae_args(data, out, *overwrite))
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == [".git", "README.md", "config.json"]
    evaluate = vae_args(data, out, "--do_train", "false", *overwrite)
    with pytest.raises(InputError, match="holds files that a run would write over"):
        run(evaluate)
    assert snapshot(out) == before


def test_a_folder_with_other_files_is_trained_into_and_they_are_left_alone(data, tmp_path):
    out = tmp_path / "repo"
    mine = user_files(out)
    run(vae_args(data, out))
    assert {name: (out / name).read_bytes() for name in mine} == mine
    assert (out / "model.safetensors").is_file()


def test_the_config_file_being_read_is_never_written_over(data, tmp_path):
    out = tmp_path / "exp"
    run(vae_args(data, out))
    config = out / "config.json"  # the model's config of the first run, now the user's argument file
    args = vae_args(data, out, "--overwrite_output_dir", "true")
    config.write_text(json.dumps(dict(zip([a[2:] for a in args[::2]], args[1::2]))))
    before = snapshot(out)
    with pytest.raises(InputError, match=rf"--overwrite_output_dir would delete --config file {config}"):
        run([str(config)])
    assert snapshot(out) == before

    kept = out / "exp.json"  # a name no run writes: the run goes on, and the file stays as it was
    kept.write_bytes(config.read_bytes())
    run([str(kept)])
    assert kept.read_bytes() == before["config.json"] and (out / "model.safetensors").is_file()


def test_inputs_inside_the_output_folder(data, tmp_path):
    out = tmp_path / "run"
    run(vae_args(data, out))
    inside = out / "mnist"  # data the user keeps in the run's folder: not the run's, so never deleted
    inside.mkdir()
    for file in data.iterdir():
        (inside / file.name).write_bytes(file.read_bytes())
    mnist = snapshot(inside)
    run(vae_args(inside, out, "--overwrite_output_dir", "true"))
    assert snapshot(inside) == mnist

    before = snapshot(out)
    continued = vae_args(
        data, out, "--overwrite_output_dir", "true", "--model_name_or_path", str(out / "checkpoint-8")
    )
    with pytest.raises(InputError, match="would delete --model_name_or_path .*checkpoint-8 in .* is the previous run"):
        run(continued)
    with pytest.raises(InputError, match="would delete --model_name_or_path .*: it is the --output_dir"):
        run(vae_args(data, out, "--overwrite_output_dir", "true", "--model_name_or_path", str(out)))
    assert snapshot(out) == before


def test_ner_inputs_inside_the_output_folder(ner_files, tmp_path):
    encoder, files = ner_files
    out = tmp_path / "run"
    out.mkdir()
    (out / "tokenizer.json").write_text("{}")  # a user's file with an output's name: refused before anything
    with pytest.raises(InputError, match=r"holds files that a run would write over but no run wrote \(tokenizer.json"):
        run_ner(base_args(out, *files, model=encoder, max_steps=1))
    (out / "tokenizer.json").unlink()
    run_ner(base_args(out, *files, model=encoder, max_steps=1))
    train = out / "data" / "train.txt"
    train.parent.mkdir()
    train.write_bytes(files[0].read_bytes())
    kept = {"overwrite_output_dir": "true", "keep_checkpoints": "true"}
    run_ner(base_args(out, train, *files[1:], model=encoder, max_steps=1, **kept))
    assert train.read_bytes() == files[0].read_bytes()
    tokenizer = out / "checkpoint-1"
    before = snapshot(out)
    argv = base_args(out, *files, model=encoder, max_steps=1, overwrite_output_dir="true", tokenizer_name=tokenizer)
    with pytest.raises(InputError, match="would delete --tokenizer_name"):
        run_ner(argv)
    assert snapshot(out) == before


def test_a_local_dataset_folder_inside_the_output_folder_survives_overwrite(ner_files, tmp_path):
    encoder, _ = ner_files
    out = tmp_path / "run"
    dataset = out / "conll_local"  # a --dataset_name folder the user keeps in the run's folder
    dataset.mkdir(parents=True)
    for split, n, seed in (("train", 12, 0), ("validation", 4, 1)):
        write_jsonl(dataset / f"{split}.jsonl", make_sentences(n, seed))
    kept = snapshot(dataset)
    argv = base_args(out, model=encoder, max_steps=1, dataset_name=dataset)
    run_ner(argv)
    run_ner([*argv, "--overwrite_output_dir", "true"])
    assert snapshot(dataset) == kept and (out / "model.safetensors").is_file()


def test_refusal_is_one_error_line_from_the_script(data, tmp_path):
    out = tmp_path / "repo"
    out.mkdir()
    (out / "README.md").write_text("# mine\n")
    proc = subprocess.run(
        [sys.executable, "run_vae.py", *vae_args(data, out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: --output_dir") and proc.stderr.count("\n") == 1
    assert (out / "README.md").read_text() == "# mine\n" and sorted(p.name for p in out.iterdir()) == ["README.md"]
