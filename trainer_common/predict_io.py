"""`run_*.py predict`'s input and output: texts from arguments, a file or stdin; JSON lines to a file or stdout; and
the inference batches (`length_batches`) and precision (`inference_dtype`) that every task's `predict` uses.

Each input or output check fails with one `InputError` line before the model runs where it can: a closed stdin or
stdout, an output file that is a folder, in a missing folder, or the input file or a file of the model.
"""

import json
import os
import sys
from pathlib import Path

from .errors import InputError
from .io import decode_utf8, jsonl_text, read_utf8, write_text


def _lines(text: str) -> list[str]:
    """One text per line; empty lines are kept, so output line i answers input line i."""
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def read_texts(texts_args: list[str] | None, input_file: str | None, stdin=None) -> list[str]:
    """Texts from the command line, else one per line from `input_file` ("-" for stdin), else from stdin."""
    if texts_args and input_file:
        raise InputError("give texts as arguments or --input_file, not both")
    if texts_args:
        for number, text in enumerate(texts_args, 1):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:  # bytes that are not UTF-8 reach Python as lone surrogates
                raise InputError(f"text argument {number}: not valid UTF-8 (at character {err.start})") from err
        return list(texts_args)
    if input_file and input_file != "-":
        return _lines(read_utf8(input_file, "input file"))
    stdin = sys.stdin if stdin is None else stdin
    if stdin is None:  # Python's sys.stdin when file descriptor 0 is closed (`<&-`)
        raise InputError("standard input is closed: give texts as arguments or --input_file")
    if getattr(stdin, "isatty", lambda: False)():
        print("reading texts from stdin, one per line (end with Ctrl-D)", file=sys.stderr)
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is not None:
            return _lines(decode_utf8(buffer.read(), "<stdin>"))
        return _lines(stdin.read())
    except UnicodeDecodeError as err:
        raise InputError(f"<stdin>: not valid UTF-8 ({err.reason})") from err
    except (OSError, ValueError) as err:  # a folder or a closed stream as standard input
        raise InputError(f"could not read standard input: {getattr(err, 'strerror', None) or err}") from err


def check_output_file(
    path: str | None,
    inputs: dict[str, str | None],
    replaceable,
    option: str = "--output_file",
    what: str = "predictions",
) -> None:
    """Refuse an `--output_file` (or another `option`) that cannot be written, before the model runs: a folder, a
    file whose folder is missing or is a file, one of the `inputs` (`{option: path}`: the input file, a file in the
    model folder), or an existing file that `replaceable(path)` (e.g. `holds_predictions(keys)`) says the toolkit
    did not write, `what` naming what it would. "-" (or none) is stdout, which must be open."""
    if path is None or path == "-":
        if sys.stdout is None:  # file descriptor 1 closed (`>&-`)
            raise InputError("standard output is closed: give --output_file")
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{option} {path} is a folder: give a file name")
    folder = target.resolve().parent
    if not folder.exists():
        raise InputError(f"{option} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: {folder} is a file, not a folder")
    if not target.is_file():
        return
    for name, source in inputs.items():
        source = Path(source).resolve() if source and source != "-" else None
        if source is not None and (source == target.resolve() or source in target.resolve().parents):
            raise InputError(f"{option} {path} would write over {name} {inputs[name]}")
    if not replaceable(target):
        raise InputError(f"{option} {path} holds other data than {what}: move it, or give a new file name")


def holds_predictions(keys: set[str]):
    """`replaceable(path)` of `check_output_file`: whether a file is empty or predict's output (every line a record
    with the `keys` predict writes on every line), which a new prediction may replace: any other file is the user's."""

    def replaceable(path: Path) -> bool:
        with open(path, "rb") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except ValueError:  # not JSON, or not UTF-8
                    return False
                if not (isinstance(record, dict) and keys <= record.keys()):
                    return False
        return True

    return replaceable


def write_jsonl(results: list[dict], path_or_stdout=None) -> None:
    """Write one JSON object per line to a path, a stream, or stdout. A regular file (or a new one) is written
    atomically (temp file, then rename; through a symlink, its target); a device or pipe (/dev/null) as it is."""
    lines = jsonl_text(results)
    if path_or_stdout is None or path_or_stdout == "-":
        if sys.stdout is None:  # file descriptor 1 closed (`>&-`)
            raise InputError("standard output is closed: give --output_file")
        try:
            sys.stdout.write(lines)
            sys.stdout.flush()
        except OSError as err:  # a pipe whose reader stopped (`| head`), a full disk
            _silence_stdout()
            raise InputError(f"could not write standard output ({err.strerror or err})") from err
        return
    if hasattr(path_or_stdout, "write"):
        path_or_stdout.write(lines)
        return
    target = Path(path_or_stdout)
    try:
        if target.exists() and not target.is_file():  # /dev/null, /dev/stdout, a named pipe
            with open(target, "w", encoding="utf-8") as stream:
                stream.write(lines)
        else:
            write_text(target.resolve(), lines)  # through a symlink to its target, not replacing the link
    except OSError as err:  # no permission, a full disk
        raise InputError(f"--output_file {path_or_stdout}: could not write it ({err.strerror or err})") from err


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no file descriptor (a test's capture)
        pass


DTYPES = ("float32", "bfloat16")
BATCH_TOKENS = 2048  # tokens per forward pass: bigger batches leave the CPU's caches and run slower, not faster
PAD_SLACK = 0.9  # a batch only takes windows at least this fraction of its longest: under 10% padding


def length_batches(lengths: list[int], max_tokens: int = BATCH_TOKENS, max_rows: int | None = None) -> list[list[int]]:
    """Row indices grouped into inference batches: longest rows first (memory peaks at once), each batch of rows at
    least `PAD_SLACK` times its longest, with at most `max_tokens` tokens once padded (a longer row is a batch on its
    own) and at most `max_rows` rows. Every row is in exactly one batch; rows of one length keep their order."""
    if max_tokens < 1 or (max_rows is not None and max_rows < 1):
        raise InputError(f"batches need at least one token and one row, got {max_tokens} and {max_rows}")
    batches, batch = [], []
    for r in sorted(range(len(lengths)), key=lambda r: -lengths[r]):
        if batch:
            width = lengths[batch[0]]
            full = (len(batch) + 1) * width > max_tokens or len(batch) == max_rows
            if full or lengths[r] < PAD_SLACK * width:
                batches.append(batch)
                batch = []
        batch.append(r)
    return batches + [batch] * bool(batch)


def inference_dtype(model, dtype: str, keep_float32: tuple[str, ...] = ()):
    """`model` with its weights in `dtype` ("float32" or "bfloat16"), for inference; the submodules named in
    `keep_float32` (a CRF, whose recursions need the range) stay float32. bfloat16 runs the matmuls about 2x faster on
    CPUs with bf16 units (and on every recent GPU); its tags can differ from float32's on close calls."""
    import torch

    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    model = model.to(getattr(torch, dtype))
    for name in keep_float32:
        part = getattr(model, name, None)
        if part is not None:
            part.float()
    return model


def predict_parser(prog: str, description: str, verb: str, unit: str, input_note: str = ""):
    """The `predict` command's parser with the options every task's has: texts, `--model`, `--input_file`,
    `--output_file`, `--batch_size` (of `unit`s: "window", "text"), `--max_seq_length`, `--device`,
    `--trust_remote_code`. `verb` says what is done to the texts ("tag"); the task adds its own options."""
    import argparse

    parser = argparse.ArgumentParser(allow_abbrev=False, prog=prog, description=description)
    parser.add_argument("texts", nargs="*", help=f"texts to {verb}; with none and no --input_file, stdin is read")
    parser.add_argument("--model", required=True, help="trained model folder or Hub id")
    parser.add_argument("--input_file", help=f"file with one text per line ('-' for stdin){input_note}")
    parser.add_argument("--output_file", help="write JSON lines here instead of stdout")
    parser.add_argument("--batch_size", type=int, default=32, help=f"{unit}s per forward pass (default: 32)")
    parser.add_argument("--max_seq_length", type=int, help=f"tokens per {unit} (default: the model's limit)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument("--trust_remote_code", action="store_true", help="allow model code shipped with a checkpoint")
    return parser


def predict_inputs(args, keys: set[str]) -> list[str]:
    """The texts of a `predict` command (`args`: its parsed `--model`, `--batch_size`, `--input_file`,
    `--output_file` and texts), after the checks every task's `predict` makes before loading the model: a model
    named, a batch size of at least 1, an output file it may write (`keys`: those of every line it writes)."""
    if not args.model.strip():
        raise InputError("--model is empty: give a trained model folder or Hub id")
    if args.batch_size < 1:
        raise InputError(f"--batch_size must be at least 1, got {args.batch_size}")
    inputs = {"--input_file": args.input_file, "--model": args.model}
    check_output_file(args.output_file, inputs, replaceable=holds_predictions(keys))
    return read_texts(args.texts, args.input_file)


def write_predictions(results: list[dict], output_file: str | None) -> None:
    """`write_jsonl`, then a line on stderr saying how many were written where (a file, not stdout)."""
    write_jsonl(results, output_file)
    if output_file and output_file != "-":
        print(f"wrote {len(results)} line{'s' * (len(results) != 1)} to {output_file}", file=sys.stderr)
