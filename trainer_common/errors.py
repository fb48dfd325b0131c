"""The one error type for bad input: a malformed file, an unknown label, a bad value, a broken checkpoint."""


class InputError(ValueError):
    """Bad input from the user, raised where the file and line or the value are known.

    The command-line entry points print it as one `error:` line and exit with status 2. Any other exception is a
    bug and keeps its traceback. A `ValueError` subclass, so library callers that catch `ValueError` still do.
    """


class Interrupted(Exception):
    """Training stopped on SIGINT or SIGTERM after saving a checkpoint; the message says how to continue.

    The command-line entry points print it as one line and exit with status 130, as a shell does for Ctrl-C.
    """
