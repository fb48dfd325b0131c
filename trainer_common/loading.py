"""Load a saved model and check that it is what it claims to be, or raise `InputError` naming the folder.

`from_pretrained` fills missing weights with random ones and only logs a warning, so a plain encoder, a checkpoint
cut short or a folder of another model type would load and run. Here each of those is an error that names the
folder and the first few offending weights.
"""

import os

from .errors import InputError

SHOWN_KEYS = 3


def _first(keys) -> str:
    """The first few keys; a mis-shaped one comes as `(key, checkpoint shape, model shape)`."""
    keys = sorted(
        f"{key[0]} (checkpoint {list(key[1])}, model {list(key[2])})" if isinstance(key, tuple) else str(key)
        for key in keys
    )
    return ", ".join(keys[:SHOWN_KEYS]) + (f", ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else "")


def _where(path: str, err: Exception) -> str:
    """What went wrong reaching `path`: a local folder that is not there is not a bad Hub repo id."""
    if not os.path.exists(path):
        if os.path.isabs(path) or path.startswith((".", "~")) or path.count("/") > 1:  # no Hub id looks like this
            return f"{path}: no such folder"
        return f"{path}: no such folder, and not loadable from the Hub ({type(err).__name__}: {err})"
    return f"could not load {path}: {type(err).__name__}: {err}"


def load_model_type(path: str, trust_remote_code: bool = False) -> str:
    """The `model_type` in the config of `path`: read from a local `config.json` as it is, so a type whose code
    is not installed is named rather than reported as needing `trust_remote_code`."""
    import json

    from transformers import AutoConfig

    config_file = os.path.join(path, "config.json")
    if os.path.isfile(config_file):
        try:
            with open(config_file, encoding="utf-8") as file:
                return str(json.load(file)["model_type"])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise InputError(f"{config_file}: not a model config ({type(err).__name__}: {err})") from err
    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code).model_type
    except Exception as err:  # noqa: BLE001 (missing folder, unreadable config, unknown type: all bad input here)
        raise InputError(_where(path, err)) from err


def load_checked(model_class, path: str, model_types: tuple[str, ...] | None = None, **kwargs):
    """`model_class.from_pretrained(path, **kwargs)` (an Auto class or a model class) that refuses anything but an
    exact load: a `model_type` outside `model_types` (when given), or any missing, unexpected or mis-shaped weight.
    A corrupt or truncated weights file is an `InputError` too."""
    model_type = load_model_type(path, kwargs.get("trust_remote_code", False))
    if model_types is not None and model_type not in model_types:
        raise InputError(f"{path} holds a {model_type!r} model, not {' or '.join(map(repr, model_types))}")
    try:
        # ignore_mismatched_sizes: to list the mis-shaped weights below rather than fail without naming them
        model, info = model_class.from_pretrained(
            path, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs
        )
    except Exception as err:  # noqa: BLE001 (corrupt safetensors, shape mismatch, ...: all surface differently)
        raise InputError(_where(path, err)) from err
    kinds = {"missing": "missing_keys", "unexpected": "unexpected_keys", "mis-shaped": "mismatched_keys"}
    problems = [f"{kind} weights {_first(info[key])}" for kind, key in kinds.items() if info.get(key)]
    if problems:
        raise InputError(f"{path} is not a complete {model_type!r} checkpoint: {'; '.join(problems)}")
    return model


def check_finite(model, path: str, result: str) -> None:
    """Refuse a loaded `model` whose weights hold NaN or inf: it would run, and its `result` would mean nothing."""
    if not all(bool(weights.isfinite().all()) for weights in model.parameters()):
        raise InputError(f"{path}: its weights hold NaN or inf values; its {result} would be meaningless")
