"""`datasets.load_dataset` for `--dataset_name`: a dataset that does not load is one error naming it and why."""

import os

from .errors import InputError

REASON_CHARS = 200  # of the library's message: enough to tell "no such dataset" from "no network"


def load_dataset_checked(name: str, config: str | None = None, option: str = "--dataset_name", **kwargs):
    """`datasets.load_dataset(name, config, **kwargs)`, or an `InputError` naming `option` and `name` that says
    whether it is a local folder and, briefly, why it did not load (offline, unreachable, no such dataset)."""
    from datasets import load_dataset

    try:
        return load_dataset(name, config, **kwargs)
    except Exception as err:  # noqa: BLE001 (missing repo, no network, bad config, bad files: each its own type)
        raise InputError(unloadable(name, err, option)) from err


def unloadable(name: str, err: Exception, option: str = "--dataset_name") -> str:
    """The message for a dataset `name` that raised `err` as it loaded."""
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    reason = hub_reason(err)
    if os.path.isdir(name):
        return f"{option} {name}: a local folder, but no dataset loads from it ({reason})"
    if os.path.exists(name):
        return f"{option} {name}: a file, not a dataset folder or a Hub dataset id"
    if name in _PACKAGED_DATASETS_MODULES:  # "json", "csv", ...: a builder for the data_files given
        return f"{option} {name}: could not load ({reason})"
    if os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1:  # no Hub id looks like this
        return f"{option} {name}: no such folder"
    return f"{option} {name}: not a local folder, and could not be loaded from the Hub ({reason})"


def hub_reason(err: Exception) -> str:
    """Why a Hub call failed, in a few words: offline mode, or the error's type and (cut) message."""
    chain, cause = [], err
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any("OfflineModeIsEnabled" in f"{type(cause).__name__} {cause}" for cause in chain):
        return "offline: HF_HUB_OFFLINE is set"
    text = " ".join(str(err).split())
    text = text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
