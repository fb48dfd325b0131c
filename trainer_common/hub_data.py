"""Loading from the Hugging Face Hub: a dataset or model that does not load is one error naming it and why, and a
Hub that does not answer is found out at once rather than after the libraries' minute of retries."""

import logging
import os
import sys
from contextlib import contextmanager

from .errors import InputError

logger = logging.getLogger(__name__)

REASON_CHARS = 200  # of the library's message: enough to tell "no such dataset" from "no network"
PROBE_SECONDS = 5  # a Hub that answers at all answers a HEAD within this
DATA_ADVICE = "give local files instead, or run once online to fill the cache"
# what a task's training command says when its --dataset_name is out of reach
LOCAL_FILES_ADVICE = (
    "give local files with --train_file/--validation_file/--test_file, or run once online to fill the cache"
)
MODEL_ADVICE = "give a local model folder instead, or run once online to fill the cache"

_probe: dict[str, str | None] = {}  # endpoint -> why it did not answer (None: it did), probed once per process


class HubUnreachable(InputError):
    """A dataset or model that is not cached, asked for while the Hub cannot be reached (offline mode, no network)."""

    def __init__(self, kind: str, name: str, why: str, advice: str, note: str | None = None):
        self.kind, self.name, self.why, self.note = kind, name, why, note
        source = f"{note}; " if note else ""
        super().__init__(
            f"could not reach the Hugging Face Hub for {kind} {name} ({source}{why}), and it is not in the cache: "
            f"{advice}"
        )

    def advise(self, advice: str, note: str | None = None) -> "HubUnreachable":
        """The same error with the caller's `advice` (the options that give local files) in place of the generic,
        and `note` in place of its own when given."""
        return HubUnreachable(self.kind, self.name, self.why, advice, note or self.note)


def load_dataset_checked(
    name: str, config: str | None = None, option: str = "--dataset_name", advice: str = DATA_ADVICE, **kwargs
):
    """`datasets.load_dataset(name, config, **kwargs)`, or an `InputError` naming `option` and `name` that says
    whether it is a local folder and, briefly, why it did not load (no such dataset, bad files); a Hub id that
    cannot be fetched while the Hub is unreachable is a `HubUnreachable` with `advice`."""
    from datasets import load_dataset

    note = None if option == "--dataset_name" else option
    try:
        with from_hub("dataset", name, advice, note):
            return load_dataset(name, config, **kwargs)
    except HubUnreachable:
        raise
    except Exception as err:  # noqa: BLE001 (missing repo, bad config, bad files: each its own type)
        raise InputError(unloadable(name, err, option)) from err


def unloadable(name: str, err: Exception, option: str = "--dataset_name") -> str:
    """The message for a dataset `name` that raised `err` as it loaded."""
    reason = hub_reason(err)
    if os.path.isdir(name):
        return f"{option} {name}: a local folder, but no dataset loads from it ({reason})"
    if os.path.exists(name):
        return f"{option} {name}: a file, not a dataset folder or a Hub dataset id"
    if _packaged(name):  # "json", "csv", ...: a builder for the data_files given
        return f"{option} {name}: could not load ({reason})"
    if not looks_like_hub_id(name):
        return f"{option} {name}: no such folder"
    return f"{option} {name}: not a local folder, and could not be loaded from the Hub ({reason})"


def looks_like_hub_id(name: str) -> bool:
    """Whether `name` could be a Hub repo id (`name` or `owner/name`) rather than only a path."""
    return not (os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1)


def hub_reason(err: Exception) -> str:
    """Why a Hub call failed, in a few words: offline mode, or the error's type and (cut) message."""
    if any("OfflineModeIsEnabled" in f"{type(cause).__name__} {cause}" for cause in _chain(err)):
        down = next((reason for reason in _probe.values() if reason), None)
        return f"offline: the Hub did not answer ({down})" if down else "offline: HF_HUB_OFFLINE is set"
    text = " ".join(str(err).split())
    text = text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def unreachable(err: Exception) -> bool:
    """Whether `err` says the Hub could not be reached (offline mode, a failed connection, nothing in the cache to
    fall back on), as opposed to a Hub that answered "no" or a bug."""
    import httpx2
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    # datasets raises a bare ConnectionError("Couldn't reach ... (OfflineModeIsEnabled)"), the cause dropped
    kinds = (LocalEntryNotFoundError, OfflineModeIsEnabled, httpx2.TransportError, ConnectionError)
    return any(isinstance(cause, kinds) for cause in _chain(err))


@contextmanager
def from_hub(kind: str, name: str, advice: str = MODEL_ADVICE, note: str | None = None):
    """Run the load of `kind` (`"dataset"`, `"model"`) `name` inside. For a Hub id, the Hub is asked first (once per
    process) whether it answers; when it does not, the process goes offline (see `_hub_down`). A load that fails
    because the Hub is unreachable is a `HubUnreachable` naming `name`, offering `advice` (and `note`: where the
    name came from, when not from its option)."""
    local = os.path.exists(name) or not looks_like_hub_id(name) or (kind == "dataset" and _packaged(name))
    down = None if local else _hub_down()
    try:
        yield
    except Exception as err:
        if not unreachable(err):
            raise
        raise HubUnreachable(kind, name, _why(err, down), advice, note) from err


def _why(err: Exception, down: str | None) -> str:
    if down is not None:
        return f"connection failed: {down}"
    if _env_offline():
        return "HF_HUB_OFFLINE is set"
    if any("OfflineModeIsEnabled" in f"{type(cause).__name__} {cause}" for cause in _chain(err)):
        return "HF_DATASETS_OFFLINE is set"  # datasets' own switch, without huggingface_hub's
    reasons = [f"{type(cause).__name__}: {cause}" for cause in _chain(err) if isinstance(cause, OSError)]
    return "connection failed" + (f": {' '.join(reasons[-1].split())[:REASON_CHARS]}" if reasons else "")


def _hub_down() -> str | None:
    """Why the Hub endpoint did not answer a HEAD request within `PROBE_SECONDS`, or None when it answered (any
    status) or offline mode was on anyway. Asked once per process, through huggingface_hub's own client (its
    proxies and certificates). When it did not answer, the process goes offline, as `HF_HUB_OFFLINE=1` would have
    made it: every later load (a tokenizer after its model, say) is answered by the cache at once, where
    huggingface_hub would retry each file for half a minute before falling back to it."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    endpoint = constants.ENDPOINT
    if endpoint in _probe:
        return _probe[endpoint]
    if _env_offline():
        return None
    try:
        get_session().head(endpoint, timeout=PROBE_SECONDS)
        _probe[endpoint] = None
    except httpx2.TransportError as err:
        _probe[endpoint] = f"{endpoint}: {type(err).__name__}: {' '.join(str(err).split())}"[:REASON_CHARS]
        logger.warning("the Hugging Face Hub did not answer (%s): working offline, from the cache", _probe[endpoint])
        constants.HF_HUB_OFFLINE = True
        if "datasets.config" in sys.modules:  # read from huggingface_hub's when datasets is imported later
            sys.modules["datasets.config"].HF_HUB_OFFLINE = True
    return _probe[endpoint]


def _env_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _packaged(name: str) -> bool:
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    return name in _PACKAGED_DATASETS_MODULES


def _chain(err: BaseException) -> list[BaseException]:
    """`err` and its causes and contexts, outermost first."""
    chain, cause = [], err
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain
