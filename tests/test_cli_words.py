"""What the scripts make of their command words and subcommand options: an unknown command is one error line, the
subcommands take `--foo-bar` for `--foo_bar` and no abbreviations, and output to a pipe whose reader went away
(`--help | head`) ends quietly."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import save_stock_tagger

import run_ner
import run_vae
from ner_trainer import explain, predict
from trainer_common.cli import BROKEN_PIPE_STATUS, run_cli, snake_case_options
from trainer_common.errors import InputError
from vae_trainer import generate

ROOT = Path(__file__).resolve().parents[1]
NER_COMMANDS = "choose from train, predict, export, evaluate, explain"


@pytest.mark.parametrize(
    "script, argv, expected",
    [
        (run_ner, ["predcit", "--model", "x"], f"unknown command 'predcit' (did you mean 'predict'?): {NER_COMMANDS}"),
        (run_ner, ["bogus", "--help"], f"unknown command 'bogus': {NER_COMMANDS}"),
        (run_ner, ["config.txt"], f"unknown command 'config.txt' (a config file ends in .json, .yaml, .yml): "
                                  f"{NER_COMMANDS}"),
        (run_vae, ["gen", "--model", "x"], "unknown command 'gen' (did you mean 'generate'?): choose from train, "
                                           "generate, evaluate"),
    ],
)  # fmt: skip
def test_an_unknown_command_is_one_error_line(script, argv, expected, capsys):
    assert run_cli(script.COMMANDS, default="train", argv=argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"error: {expected}\n")


def test_dashed_spellings_of_known_options_only_become_snake_case():
    parser = predict.build_parser()
    argv = ["--word-scores", "--batch-size=3", "--max_seq_length", "8", "a-text", "--not-an-option", "--", "--word-x"]
    assert snake_case_options(parser, argv) == [
        "--word_scores", "--batch_size=3", "--max_seq_length", "8", "a-text", "--not-an-option", "--", "--word-x"
    ]  # fmt: skip
    assert snake_case_options(parser, ["--", "--word-scores"]) == ["--", "--word-scores"]  # a text after --
    assert snake_case_options(parser, ["--model=--word-scores"]) == ["--model=--word-scores"]  # a value


class Closed(io.StringIO):
    """Standard output whose reader went away: found when a write reaches the pipe (argparse ignores it on write)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_subcommands_take_dashed_spellings_and_no_abbreviations(tmp_path, capsys):
    tagger = save_stock_tagger(tmp_path, ["O", "B-LOC", "I-LOC"])
    argv = ["predict", "--model", str(tagger), "--word-scores", "--batch-size=2", "--device", "cpu", "Paris"]
    assert run_cli(run_ner.COMMANDS, default="train", argv=argv) == 0
    assert '"word_scores": [{"word": "Paris"' in capsys.readouterr().out
    # an abbreviation of --output_file: refused, not taken for it, in one error line
    assert run_cli(run_ner.COMMANDS, default="train", argv=["predict", "--model", str(tagger), "--out", "x", "P"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unrecognized arguments: --out (see run_ner.py predict --help)"]
    assert not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="--max_tokens must be at least 1"):  # parsed: the check after parsing
        explain.main(["Paris", "--model", str(tagger), "--png", str(tmp_path / "a.png"), "--max-tokens", "0"])
    with pytest.raises(InputError, match="num_samples"):
        generate.main(["--model", "m", "--num-samples", "0", "--output", str(tmp_path / "o")])
    with pytest.raises(InputError, match="unrecognized arguments: --num 3"):
        generate.main(["--model", "m", "--num", "3", "--output", str(tmp_path / "o")])


def test_help_to_a_pipe_whose_reader_went_away_ends_quietly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", Closed())
    assert run_cli(run_ner.COMMANDS, default="train", argv=["predict", "--help"]) == BROKEN_PIPE_STATUS
    assert run_cli(run_vae.COMMANDS, default="train", argv=["--help"]) == BROKEN_PIPE_STATUS
    assert capsys.readouterr().err == ""


def test_head_of_the_help_ends_without_a_traceback():
    """`run_vae.py --help | head -1`, where the traceback came from the interpreter's own flush at exit."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails
    proc = subprocess.run([sys.executable, "run_vae.py", "--help"], cwd=ROOT, stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)  # fmt: skip
    os.close(write)
    assert (proc.returncode, proc.stderr) == (BROKEN_PIPE_STATUS, "")
