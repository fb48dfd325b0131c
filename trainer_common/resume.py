"""A checkpoint to resume from must have been written by a run of the model built for this one.

The Trainer loads a checkpoint's weights with `strict=False`: another run's weights of the same shapes load under
this run's label names and settings, and a mismatch either fails with a traceback or leaves weights unloaded with a
warning. Here the checkpoint's `config.json` is compared with the model's config on the fields the task declares
(with `model_type` always), then the names and shapes of its weights with the model's, before anything is loaded;
any difference is an `InputError` naming the checkpoint and the first fields that differ.
"""

import json
import reprlib
from pathlib import Path

from .errors import InputError
from .io import decode_utf8

SHOWN = 3  # differences named in the message
MISSING = object()
_short = reprlib.Repr()  # long values cut: the labels of a big tag set stay one readable line
_short.maxdict, _short.maxlist, _short.maxstring, _short.maxother = 4, 6, 24, 40


def check_checkpoint(model, checkpoint: str, fields: tuple[str, ...] = (), max_steps: int = -1) -> None:
    """Refuse (`InputError`) `checkpoint` unless its config equals `model.config` on `model_type` and `fields`
    (attribute names, dotted for a nested config: `"encoder.hidden_size"`), and its weights have the names and
    shapes of `model`'s. A config missing or unreadable is refused too, and a Trainer state that would not resume
    (`check_trainer_state`, with the run's `max_steps`)."""
    where = f"--resume_from_checkpoint {checkpoint}"
    ours = model.config
    saved = _read_config(Path(checkpoint) / "config.json", where)
    if saved.get("model_type") != ours.model_type:
        found = _difference("model_type", saved.get("model_type", MISSING), ours.model_type)
        raise InputError(f"{where} was written by another run: {found}")
    try:
        saved = type(ours).from_dict(saved)
    except Exception as err:  # noqa: BLE001 (a bad value of any field: the file is not a config of this model)
        raise InputError(f"{where}: config.json is not a valid {ours.model_type} config ({err})") from err
    differences = [
        _difference(name, theirs, mine)
        for name in fields
        if (theirs := _value(saved, name)) != (mine := _value(ours, name))
    ]
    differences = differences or _weight_differences(model, Path(checkpoint), where)
    if differences:
        more = f"; ... ({len(differences)} differences)" if len(differences) > SHOWN else ""
        raise InputError(f"{where} was written by another run: {'; '.join(differences[:SHOWN])}{more}")
    check_trainer_state(Path(checkpoint), where, max_steps)


def check_trainer_state(checkpoint: Path, where: str, max_steps: int = -1) -> None:
    """Refuse a checkpoint whose Trainer state would fail to load mid-start, or resume wrongly without a word: a
    `trainer_state.json` that is not a JSON object with a whole `global_step` (below `max_steps`, when set: else
    there is nothing left to train), a list `log_history` and a number or null `best_metric`; an optimizer or
    scheduler state that is missing (the Trainer would start a new one, silently); or an optimizer, scheduler, scaler
    or RNG state file that is not a complete torch archive (each is a zip file with checksums, read here without
    unpickling anything)."""
    import zipfile

    path = checkpoint / "trainer_state.json"
    state = _read_json(path, where, "a Trainer state")
    step, history, best = state.get("global_step"), state.get("log_history", []), state.get("best_metric")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise InputError(f"{path}: global_step {step!r} is not a step number")
    if 0 < max_steps <= step:
        raise InputError(f"{where} is at step {step}: --max_steps {max_steps} leaves nothing to train")
    if not isinstance(history, list) or not (best is None or isinstance(best, int | float)):
        raise InputError(f"{path}: log_history is not a list, or best_metric not a number")
    if not any(checkpoint.glob("global_step*")):  # DeepSpeed keeps both states in its own folder
        missing = [name for name in ("optimizer.pt", "scheduler.pt") if not (checkpoint / name).is_file()]
        if missing:
            raise InputError(f"{where}: no {' or '.join(missing)}: resuming would restart the optimizer, silently")
    for state_file in sorted(checkpoint.glob("*.pt")) + sorted(checkpoint.glob("*.pth")):
        try:
            with zipfile.ZipFile(state_file) as archive:
                broken = archive.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as err:
            raise InputError(f"{where}: {state_file.name} is not a complete torch file ({err})") from err
        if broken is not None:
            raise InputError(f"{where}: {state_file.name} is damaged (checksum of {broken} wrong)")


def _read_config(path: Path, where: str) -> dict:
    if not path.is_file():
        raise InputError(f"{where}: no config.json, so nothing shows which run wrote it")
    return _read_json(path, where, "a model config")


def _read_json(path: Path, where: str, what: str) -> dict:
    try:
        value = json.loads(decode_utf8(path.read_bytes(), str(path)))
    except OSError as err:
        raise InputError(f"{where}: {path.name} cannot be read ({err.strerror or err})") from err
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: not JSON ({err.msg})") from err
    if not isinstance(value, dict):
        raise InputError(f"{path}: not a JSON object, so not {what}")
    return value


def _value(config, name: str):
    for part in name.split("."):
        config = getattr(config, part, MISSING)
        if config is MISSING:
            break
    return config


def _shown(value) -> str:
    return "(none)" if value is MISSING else _short.repr(value)


def _difference(name: str, theirs, mine) -> str:
    """`name <checkpoint's> here <this run's>`. Dicts (the labels) are cut when long, so for two of the same keys
    the first entry that differs is named, and for others their sizes."""
    if not (isinstance(theirs, dict) and isinstance(mine, dict)):
        return f"{name} {_shown(theirs)} here {_shown(mine)}"
    entries = "labels" if name == "id2label" else "entries"
    if theirs.keys() != mine.keys():
        return f"{name} ({len(theirs)} {entries}) {_shown(theirs)} here ({len(mine)}) {_shown(mine)}"
    keys = [key for key in theirs if theirs[key] != mine[key]]
    first = f"{name}[{keys[0]!r}] {_shown(theirs[keys[0]])} here {_shown(mine[keys[0]])}"
    return first + (f" ({len(keys)} of {len(theirs)} {entries} differ)" if len(keys) > 1 else "")


def _weight_differences(model, checkpoint: Path, where: str) -> list[str]:
    """Weights of the checkpoint that this model has not, or has in another shape: what `strict=False` loading
    would skip or fail on. Read from the safetensors headers; a `.bin` checkpoint is not checked."""
    shapes = _saved_shapes(checkpoint, where)
    ours = {name: list(tensor.shape) for name, tensor in model.state_dict().items()}
    unexpected = [f"weight {name} not in this model" for name in shapes if name not in ours]
    reshaped = [
        f"weight {name} {shape} here {ours[name]}" for name, shape in shapes.items() if ours.get(name, shape) != shape
    ]
    return unexpected + reshaped


def _saved_shapes(checkpoint: Path, where: str) -> dict[str, list[int]]:
    from safetensors import safe_open

    index = checkpoint / "model.safetensors.index.json"
    if (checkpoint / "model.safetensors").is_file():
        files = [checkpoint / "model.safetensors"]
    elif index.is_file():
        try:
            files = [checkpoint / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(f"{where}: {index.name} is not a weights index ({err})") from err
    else:
        return {}
    shapes = {}
    for file in files:
        try:
            with safe_open(str(file), "pt") as weights:
                shapes.update({name: list(weights.get_slice(name).get_shape()) for name in weights.keys()})
        except Exception as err:  # noqa: BLE001 (missing shard, truncated or corrupt header)
            raise InputError(f"{where}: {file.name} is not a readable safetensors file ({err})") from err
    return shapes


__all__ = ["check_checkpoint"]
