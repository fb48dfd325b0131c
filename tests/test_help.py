"""`--help` of the scripts: the commands at the top, the project's options grouped and each shown once, transformers'
`TrainingArguments` behind `--help-all`, and a short `--help` per subcommand."""

import dataclasses
import re
import sys

import pytest

import run_classification
import run_ner
import run_vae
from ner_trainer.arguments import NERArguments, NERTrainingArguments
from trainer_common.args import parse_args
from trainer_common.cli import run_cli
from trainer_common.training_args import TaskTrainingArguments
from vae_trainer.train import VAEArguments, VAETrainingArguments

NER_GROUPS = ["model", "data", "head and tags", "encoder fine-tuning", "training", "outputs and run"]
VAE_GROUPS = ["model", "data", "training", "outputs and run"]
CLS_GROUPS = ["model", "data", "encoder fine-tuning", "training", "outputs and run"]
OPTION = re.compile(r"^  (--\S+)", re.MULTILINE)  # an option at the start of its help entry


def help_text(script, argv: list[str], monkeypatch, capsys, columns: int = 120) -> str:
    """What `script.py argv` prints, in-process, on a terminal `columns` wide."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys, "argv", [f"{script.__name__}.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(script.COMMANDS, default="train", argv=argv, description=script.__doc__.splitlines()[0])
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


def entry(text: str, option: str) -> str:
    """The help entry of `option`, its wrapped lines joined."""
    lines = text.split(f"\n  {option} ", 1)[1].split("\n")
    rest = lines[1:]
    end = next((i for i, line in enumerate(rest) if not line.startswith("   ")), len(rest))
    return " ".join(f"{option} {lines[0]} {' '.join(rest[:end])}".split())


def headings(text: str) -> list[str]:
    """The group titles, in order (the command list's title is not one)."""
    return [line[:-1] for line in text.splitlines() if line.endswith(":") and not line.startswith((" ", "commands"))]


def test_run_ner_help_lists_the_commands_then_the_grouped_options(monkeypatch, capsys):
    # `python run_ner.py --help` in process: the script is `sys.exit(main())`, and main reads sys.argv
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setattr(sys, "argv", ["run_ner.py", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        run_ner.main()
    done = capsys.readouterr()
    assert exit_info.value.code in (0, None), done.err
    lines = done.out.splitlines()
    assert len(lines) < 150, len(lines)
    assert lines[0].startswith("Fine-tune a BERT tagger")
    assert lines[2].startswith("commands (run_ner.py COMMAND --help")
    commands = [line.split()[0] for line in lines[3:8]]
    assert commands == ["train", "predict", "export", "evaluate", "explain"]
    assert all(len(line.split()) > 3 for line in lines[3:8])  # each with its summary
    assert lines[9].startswith("usage: run_ner.py")
    assert headings(done.out) == NER_GROUPS
    assert lines[-1].startswith("--help-all also shows the ") and "TrainingArguments" in lines[-1]


@pytest.mark.parametrize(
    "script, groups", [(run_ner, NER_GROUPS), (run_vae, VAE_GROUPS), (run_classification, CLS_GROUPS)]
)
def test_each_option_is_shown_once_in_snake_case_with_its_default(script, groups, monkeypatch, capsys):
    text = help_text(script, ["--help"], monkeypatch, capsys)
    options = OPTION.findall(text)
    assert len(options) == len(set(options))
    negations = [option for option in options if option.startswith("--no_") and option != "--no_header"]
    assert [option for option in options if "-" in option[2:]] + negations == []  # --no_header: a field's own name
    assert headings(text)[:1] == ["model"] and headings(text) == groups
    for shown in (
        "--output_dir",
        "--learning_rate",
        "--num_train_epochs",
        "--do_train",
        "--keep_checkpoints",
        "--license",
        "--overwrite_output_dir",
        "--early_stopping_patience",
        "--seed",
        "--report_to",
    ):
        assert shown in options, shown
    assert "--gradient_checkpointing" not in text and "--adam_beta1" not in text
    assert re.fullmatch(r"--learning_rate FLOAT .*\(default: (5e-05|0\.001)\)", entry(text, "--learning_rate"))
    assert entry(text, "--do_train").endswith("(default: true; --do_train false turns it off)")
    for option in ("--overwrite_output_dir", "--keep_checkpoints", "--push_to_hub"):
        assert re.fullmatch(rf"{option} \[BOOL\] .*\(default: false\)", entry(text, option))


def test_ner_groups_hold_the_options_users_set_most(monkeypatch, capsys):
    text = help_text(run_ner, ["train", "--help"], monkeypatch, capsys)
    assert "commands (" not in text  # the list is the top of the script's help, not of `train --help`

    def group(title: str) -> list[str]:
        return OPTION.findall(text.split(f"\n{title}:\n")[1].split("\n\n")[0])

    assert {"--model_name_or_path", "--tokenizer_name", "--trust_remote_code"} <= set(group("model"))
    assert {"--train_file", "--label_names", "--max_seq_length"} <= set(group("data"))
    assert {"--head", "--label_scheme", "--strict"} <= set(group("head and tags"))
    assert {"--lora_r", "--freeze_layers", "--layer_lr_decay"} <= set(group("encoder fine-tuning"))
    assert {"--do_predict", "--classifier_learning_rate", "--padding_free"} <= set(group("training"))
    assert {"--output_dir", "--keep_checkpoints", "--license", "--wandb_project"} <= set(group("outputs and run"))
    assert "--padding_free false turns it off" in " ".join(text.split())
    assert len(text.splitlines()) < 230  # on 120 columns under 150 (above); an 80-column terminal wraps more
    assert len(help_text(run_ner, ["--help"], monkeypatch, capsys, columns=80).splitlines()) < 230


def test_vae_help_is_shorter_than_ner_help(monkeypatch, capsys):
    ner = help_text(run_ner, ["--help"], monkeypatch, capsys)
    vae = help_text(run_vae, ["--help"], monkeypatch, capsys)
    assert len(vae.splitlines()) < len(ner.splitlines())
    commands = vae.split("commands (")[1].split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in commands] == ["train", "generate", "evaluate"]
    assert {"--latent_dim", "--kl_weight"} <= set(OPTION.findall(vae.split("\nmodel:\n")[1].split("\n\n")[0]))


def test_help_all_adds_the_training_arguments_after_the_project_options(monkeypatch, capsys):
    text = help_text(run_ner, ["--help-all"], monkeypatch, capsys)
    options = OPTION.findall(text)
    assert len(options) == len(set(options))
    negations = [option for option in options if option.startswith("--no_") and option != "--no_header"]
    assert [option for option in options if "-" in option[2:]] + negations == []  # --no_header: a field's own name
    titles = headings(text)
    assert titles[: len(NER_GROUPS)] == NER_GROUPS
    assert titles[-1].startswith("transformers TrainingArguments (")
    assert "no effect" in titles  # the transformers example's no-op flags, kept out of the plain help
    rest = text.split(f"\n{titles[-1]}:\n")[1]
    assert {"--gradient_checkpointing", "--adam_beta1", "--bf16", "--lr_scheduler_type"} <= set(OPTION.findall(rest))
    assert "--learning_rate" not in rest  # once, in its project group
    assert "--help-all also shows" not in text


def test_kebab_case_and_no_prefix_spellings_still_parse(tmp_path):
    argv = ["--output_dir", str(tmp_path), "--learning-rate", "1e-4", "--per-device-train-batch-size", "4"]
    args, training_args = parse_args(
        (NERArguments, NERTrainingArguments), [*argv, "--no-padding-free", "--lora-r", "2"]
    )
    assert (training_args.learning_rate, training_args.per_device_train_batch_size) == (1e-4, 4)
    assert training_args.padding_free is False and args.lora_r == 2
    _, training_args = parse_args((NERArguments, NERTrainingArguments), [*argv, "--padding_free", "false"])
    assert training_args.padding_free is False
    args, _ = parse_args((VAEArguments, VAETrainingArguments), ["--output_dir", str(tmp_path), "--latent-dim", "5"])
    assert args.latent_dim == 5


@pytest.mark.parametrize(
    "script, argv, must_show",
    [
        (run_ner, ["predict", "--help"], ["--model", "--batch_size", "default: 32"]),
        (run_ner, ["export", "--help"], ["--model", "--output"]),
        (run_vae, ["generate", "--help"], ["--model", "--num_samples", "default 10"]),
        (run_ner, ["evaluate", "--help"], ["--model", "--test_file", "--output_dir"]),
        (run_ner, ["explain", "--help"], ["--model", "--layer", "--head"]),
        (run_vae, ["evaluate", "--help"], ["--model", "--output_dir"]),
    ],
)
def test_each_subcommand_has_its_own_short_help(script, argv, must_show, monkeypatch, capsys):
    text = help_text(script, argv, monkeypatch, capsys)
    assert text.startswith(f"usage: {script.__name__}.py {argv[0]}")
    assert len(text.splitlines()) < 45
    for shown in must_show:
        assert shown in text


@pytest.mark.parametrize(
    "arguments, training_arguments", [(NERArguments, NERTrainingArguments), (VAEArguments, VAETrainingArguments)]
)
def test_every_project_option_names_its_help_group(arguments, training_arguments):
    """A new field without a group would land among transformers' options, shown only by --help-all."""
    declared = [field for field in dataclasses.fields(arguments)]
    for cls in (TaskTrainingArguments, training_arguments):
        declared += [
            field for field in dataclasses.fields(cls) if field.name in cls.__dict__.get("__annotations__", {})
        ]
    hidden = {"remove_unused_columns"}  # VAE: an internal setting (its batches hold only model inputs)
    assert [field.name for field in declared if "group" not in field.metadata and field.name not in hidden] == []
