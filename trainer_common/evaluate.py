"""`run_*.py evaluate`: score a saved model on data, writing results, report and predictions, never a model or card.

It is the training command with `--do_train false`, under a short interface of its own: `--model`, the data and
`--output_dir` (a folder of its own: the model's folder would get its run's results replaced), and any option of the
training command that evaluation reads, passed on as it is.
"""

import argparse
from pathlib import Path

from .args import flag_name
from .cli import parse_command_args
from .errors import InputError

# options of the training command that an evaluation must not take: it trains, saves and pushes nothing, and the
# data options decide which splits it scores
TRAINING_ONLY = ("do_train", "do_eval", "do_predict", "train_file", "resume_from_checkpoint", "num_train_epochs",
                 "max_steps", "learning_rate", "push_to_hub", "hub_model_id", "hub_strategy", "hub_token",
                 "model_name_or_path")  # fmt: skip


def evaluation_argv(argv: list[str], prog: str, data_options: dict[str, str], splits, example: str) -> list[str]:
    """The training command's arguments for `prog evaluate argv`.

    Args:
        data_options: the task's data flags and their help (`--test_file`: "...").
        splits: `splits(given) -> list of flags` (e.g. `["--do_eval", "false", "--do_predict", "true"]`) from the
            data options given, by name without dashes; raises `InputError` when none is.
        example: an option of the training command to show as passed on (`--max_seq_length 256`).
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Score a saved model on data: writes the result files and what the task reports and predicts "
        "(no model, no model card) into a folder of their own.",
        epilog=f"Any other option of the training command that evaluation reads (see its --help), e.g. {example}, "
        "is passed on.",
    )  # fmt: skip
    parser.add_argument("--model", required=True, help="saved model folder or Hub id")
    parser.add_argument("--output_dir", required=True, help="where the results go (not the model's folder)")
    parser.add_argument("--batch_size", type=int, help="evaluation batch size per device")
    for flag, text in data_options.items():
        parser.add_argument(flag, help=text)
    known, rest = parse_command_args(parser, argv, known=True)
    for name in filter(None, map(flag_name, rest)):
        if name in TRAINING_ONLY or name.startswith("no_do_"):
            raise InputError(f"evaluate trains, saves and pushes nothing: --{name} is an option of training")
    if Path(known.output_dir).resolve() == Path(known.model).resolve():
        raise InputError(
            f"--output_dir {known.output_dir} is the model's folder, whose run's results the evaluation would "
            "replace: give a folder of its own"
        )
    given = {name: value for name, value in vars(known).items() if value is not None}
    out = ["--model_name_or_path", known.model, "--output_dir", known.output_dir, "--do_train", "false"]
    if known.batch_size is not None:
        out += ["--per_device_eval_batch_size", str(known.batch_size)]
    for flag in data_options:
        name = flag.lstrip("-")
        if name in given:
            out += [flag, given[name]]
    return out + splits(given) + rest


def run_evaluation(train_main, argv: list[str], *args) -> dict:
    """`train_main(evaluation_argv(argv, *args))`, its errors speaking of `--model`, the option the user gave."""
    try:
        return train_main(evaluation_argv(argv, *args))
    except InputError as err:
        raise InputError(str(err).replace("--model_name_or_path", "--model")) from err
