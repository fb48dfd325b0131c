"""Entry-point helpers: subcommand dispatch and clear, non-zero exits on bad input."""

import importlib
import os
import sys

from .errors import InputError, Interrupted


def run_cli(commands: dict[str, str], default: str, argv: list[str] | None = None) -> int:
    """Dispatch `argv` to `module:function` by its first word (`default` when it is not a command name).

    Bad input (a missing or malformed file, an unknown label, a broken checkpoint) raises `InputError` where the file
    and line or the value are known; it is reported as one `error:` line and exit status 2. Any other exception is a
    bug and keeps its traceback. Set `TOOLKIT_DEBUG=1` for the traceback of an `InputError` too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and argv[0] in commands else default
    module_name, function_name = commands[name].split(":")
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
