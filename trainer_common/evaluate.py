"""`run_*.py evaluate`: score a saved model on data, writing results, report and predictions, never a model or card.

It is the training command with `--do_train false`, under a short interface of its own: `--model` and the data,
where the results go, and any other option of the training command passed on as it is.
"""

import argparse
import os

from .errors import InputError


def _refuse(message: str):
    raise InputError(message)


def evaluation_argv(argv: list[str], prog: str, data_options: dict[str, str], splits) -> list[str]:
    """The training command's arguments for `prog evaluate argv`.

    Args:
        data_options: the task's data flags and their help (`--test_file`: "...").
        splits: `splits(given) -> list of flags` (e.g. `["--do_eval", "false", "--do_predict", "true"]`) from the
            data options given, by name without dashes; raises `InputError` when none is.
    """
    parser = argparse.ArgumentParser(
        prog=prog, allow_abbrev=False,
        description="Score a saved model on new data: writes the result files, the report and the predictions "
        "(no model, no model card).",
        epilog="Any other option of the training command (see its --help), e.g. --max_seq_length 256, is passed on.",
    )  # fmt: skip
    parser.error = _refuse
    parser.add_argument("--model", required=True, help="saved model folder or Hub id")
    parser.add_argument(
        "--output_dir",
        help="where the results go (default: the model's folder, where they join the training run's results)",
    )
    parser.add_argument("--batch_size", type=int, help="evaluation batch size per device")
    for flag, text in data_options.items():
        parser.add_argument(flag, help=text)
    known, rest = parser.parse_known_args(argv)
    given = {name: value for name, value in vars(known).items() if value is not None}
    output_dir = known.output_dir
    if output_dir is None:
        if not os.path.isdir(known.model):
            raise InputError(f"--model {known.model} is not a local folder: give --output_dir for the results")
        output_dir = known.model
    out = ["--model_name_or_path", known.model, "--output_dir", output_dir, "--do_train", "false"]
    if known.batch_size is not None:
        out += ["--per_device_eval_batch_size", str(known.batch_size)]
    for flag in data_options:
        name = flag.lstrip("-")
        if name in given:
            out += [flag, given[name]]
    return out + splits(given) + rest
