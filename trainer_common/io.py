"""Writes that never leave a half-written file behind: write to a temp file beside the target, then rename."""

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; on success rename it to `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, default_file_mode())  # mkstemp makes the file private (0600)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def default_file_mode() -> int:
    """The mode a plain `open()` gives a new file: 0666 less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def give_default_modes(folder: str | os.PathLike) -> None:
    """Files in `folder` written private (0600, as safetensors' temp-and-rename leaves `model.safetensors`) get
    the mode a plain write would have given them, so that a shared run folder is readable as any other file."""
    mode = default_file_mode()
    for entry in Path(folder).iterdir():
        if entry.is_file() and not entry.is_symlink() and entry.stat().st_mode & 0o777 == 0o600 and mode != 0o600:
            os.chmod(entry, mode)


def decode_utf8(raw: bytes, name: str) -> str:
    """UTF-8 bytes as text with `\n` line ends (CRLF and CR-only too) and no byte-order mark, at the start or at a
    line start (files concatenated with theirs); an error naming `name` and the line for anything not UTF-8."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"{name}:{line}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n\ufeff", "\n")


def read_utf8(path: str | os.PathLike, what: str = "data file") -> str:
    """The text of the file at `path` (see `decode_utf8`). A missing file, a folder or a pipe is an error naming
    `path` (a pipe is refused, not read: with no writer, opening it would block for ever)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: a folder, not {'an' if what[0] in 'aeiou' else 'a'} {what}")
    if path.exists() and not path.is_file():
        raise InputError(f"{path}: not a regular file (a pipe or device?); give a file")
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    return decode_utf8(path.read_bytes(), str(path))


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def jsonl_text(records) -> str:
    """One JSON object per line, non-ASCII text kept as it is."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def write_jsonl(path: str | os.PathLike, records) -> None:
    write_text(path, jsonl_text(records))
