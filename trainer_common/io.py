"""Writes that never leave a half-written file behind: write to a temp file beside the target, then rename."""

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; on success rename it to `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would (0666 less the umask)
        os.chmod(tmp, 0o666 & ~umask)
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


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
