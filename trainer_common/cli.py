"""Entry-point helpers: subcommand dispatch, the list of subcommands in `--help`, and clear, non-zero exits on bad
input."""

import argparse
import difflib
import importlib
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import InputError, Interrupted
from .help import HELP_FLAGS

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")  # as `args.parse_args` reads them; not imported, to keep --help quick
BROKEN_PIPE_STATUS = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away (`| head`)


@dataclass(frozen=True)
class Command:
    """A subcommand: `target` is the `module:function` called with the remaining arguments; `summary` its one line
    in `--help`."""

    target: str
    summary: str = ""


def run_cli(
    commands: dict[str, str | Command], default: str, argv: list[str] | None = None, description: str = ""
) -> int:
    """Dispatch `argv` to `module:function` by its first word (`default` when it is a flag or a config file; any
    other first word is an unknown command, one `error:` line and exit status 2).

    `--help` without a command word lists the commands (with `description` above them) before the default command's
    own help; the list needs no import of any command's module, so it is printed at once.

    Bad input (a missing or malformed file, an unknown label, a broken checkpoint) raises `InputError` where the file
    and line or the value are known; it is reported as one `error:` line and exit status 2. Any other exception is a
    bug and keeps its traceback. Set `TOOLKIT_DEBUG=1` for the traceback of an `InputError` too. Output to a pipe
    whose reader went away (`--help | head`) ends quietly with status 141.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            return _dispatch(commands, default, argv, description)
        finally:
            if sys.stdout is not None:  # None: file descriptor 1 closed (`>&-`)
                sys.stdout.flush()  # here, not at the interpreter's exit: a closed pipe is then caught below
    except BrokenPipeError:  # the reader went away (`--help | head`): stop quietly, as `head` expects
        _silence_stdout()
        return BROKEN_PIPE_STATUS


def _dispatch(commands: dict[str, str | Command], default: str, argv: list[str], description: str) -> int:
    if argv and argv[0] in commands:
        name = argv.pop(0)
    else:
        name = default
        if len(commands) > 1 and argv and _is_command_word(argv[0]):
            print(unknown_command(argv[0], commands), file=sys.stderr)
            return 2
        if len(commands) > 1 and any(arg in HELP_FLAGS for arg in argv):
            print(format_commands(commands, default, description), flush=True)
    target = commands[name].target if isinstance(commands[name], Command) else commands[name]
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        status = function(argv)
    except (Interrupted, KeyboardInterrupt) as err:
        print(f"stopped: {err}" if str(err) else "stopped: interrupted", file=sys.stderr)
        return 130
    except InputError as err:
        if os.environ.get("TOOLKIT_DEBUG"):
            raise
        message = " ".join(line.strip() for line in str(err).splitlines())  # one line, as promised
        print(f"error: {message}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) else 0


def _is_command_word(arg: str) -> bool:
    """Whether the first argument can only be meant as a command: not a flag and not a config file."""
    return not arg.startswith("-") and not arg.lower().endswith(CONFIG_SUFFIXES)


def unknown_command(word: str, commands) -> str:
    """The one error line for a first word that is no command, with the closest command name when one is close."""
    close = [name for name in commands if name.startswith(word)][:1] or difflib.get_close_matches(word, commands, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if not close and ("." in word or "/" in word):
        hint = f" (a config file ends in {', '.join(CONFIG_SUFFIXES)})"
    return f"error: unknown command {word!r}{hint}: choose from {', '.join(commands)}"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not fail again (Python's docs on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's capture), or stdout is None
        pass


@contextmanager
def loading_bars_on_terminal_only():
    """Turn transformers' and the Hub's progress bars (downloading, "Loading weights") off for the block unless stderr
    is a terminal: in a log file or a pipe they are noise. The previous setting is restored after."""
    from transformers.utils import logging as hf_logging

    turn_off = not (sys.stderr is not None and sys.stderr.isatty()) and hf_logging.is_progress_bar_enabled()
    if turn_off:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if turn_off:
            hf_logging.enable_progress_bar()


def format_commands(commands: dict[str, str | Command], default: str, description: str = "") -> str:
    """The top of the script's `--help`: what it does and one line per command; the default command's help follows."""
    prog = os.path.basename(sys.argv[0]) or "run.py"
    width = max(len(name) for name in commands)
    lines = [description, ""] if description else []
    lines.append(f"commands ({prog} COMMAND --help shows one's options; with no command: {default}, as below):")
    for name, command in commands.items():
        summary = command.summary if isinstance(command, Command) else ""
        lines.append(f"  {name:<{width}}  {summary}".rstrip())
    return "\n".join([*lines, ""])


def parse_command_args(parser: argparse.ArgumentParser, argv: list[str] | None, known: bool = False):
    """`parser.parse_args(argv)` for a subcommand, as the training commands parse: no abbreviations (`--out` is not
    `--output_file`), and `--foo-bar` taken for `--foo_bar`, a spelling that `--help` does not show. A bad argument is
    an `InputError`: one `error:` line, as every other bad input, not argparse's usage text. With `known`,
    `parse_known_args`: `(namespace, the arguments left for another parser)`."""
    parser.allow_abbrev = False

    def refuse(message: str):
        raise InputError(f"{message} (see {parser.prog} --help)")

    parser.error = refuse
    argv = snake_case_options(parser, sys.argv[1:] if argv is None else argv)
    return parser.parse_known_args(argv) if known else parser.parse_args(argv)


def snake_case_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """`argv` with each `--foo-bar[=value]` that names an option of `parser` as `--foo_bar[=value]`; anything else
    (texts, values, tokens after `--`) is left as it is."""
    options = parser._option_string_actions
    rewritten = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        name, sep, value = arg.partition("=")
        if name.startswith("--") and name not in options and "-" in name[2:]:
            snake = "--" + name[2:].replace("-", "_")
            if snake in options:
                rewritten[i] = snake + sep + value
    return rewritten
