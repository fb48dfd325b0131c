"""Entry-point helpers: subcommand dispatch, the list of subcommands in `--help`, and clear, non-zero exits on bad
input."""

import importlib
import os
import sys
from dataclasses import dataclass

from .errors import InputError, Interrupted
from .help import HELP_FLAGS


@dataclass(frozen=True)
class Command:
    """A subcommand: `target` is the `module:function` called with the remaining arguments; `summary` its one line
    in `--help`."""

    target: str
    summary: str = ""


def run_cli(
    commands: dict[str, str | Command], default: str, argv: list[str] | None = None, description: str = ""
) -> int:
    """Dispatch `argv` to `module:function` by its first word (`default` when it is not a command name).

    `--help` without a command word lists the commands (with `description` above them) before the default command's
    own help; the list needs no import of any command's module, so it is printed at once.

    Bad input (a missing or malformed file, an unknown label, a broken checkpoint) raises `InputError` where the file
    and line or the value are known; it is reported as one `error:` line and exit status 2. Any other exception is a
    bug and keeps its traceback. Set `TOOLKIT_DEBUG=1` for the traceback of an `InputError` too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in commands:
        name = argv.pop(0)
    else:
        name = default
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
