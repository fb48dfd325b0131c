"""Load a saved model and check that it is what it claims to be, or raise `InputError` naming the folder.

`from_pretrained` fills missing weights with random ones and only logs a warning, so a plain encoder, a checkpoint
cut short or a folder of another model type would load and run. Here each of those is an error that names the
folder and the first few offending weights.
"""

import json
import os
from typing import NamedTuple

from .errors import InputError
from .hub_data import HubUnreachable, from_hub, looks_like_hub_id

SHOWN_KEYS = 3
HUB_KWARGS = ("revision", "token", "cache_dir")  # of from_pretrained's, those that say where config.json comes from


class Own(NamedTuple):
    """One of the toolkit's model types: what it is, what to call it where it is asked for, the script that trains
    one and the command that uses one."""

    noun: str
    wanted: str
    trains: str
    uses: str


OWN_TYPES = {
    "mnist_vae": Own("a VAE", "a VAE", "run_vae.py", "run_vae.py generate"),
    "bert_tagger": Own(
        "a token classifier", "a tagger of run_ner.py's (model_type bert_tagger)", "run_ner.py", "run_ner.py predict"
    ),
}
TOKEN_CLASSIFIER = "a token classifier"
# What an architecture's name says the model is, by its ending; the first that fits wins.
ARCHITECTURE_NOUNS = (
    ("ForTokenClassification", TOKEN_CLASSIFIER),
    ("ForSequenceClassification", "a sequence classifier"),
    ("ForQuestionAnswering", "a question-answering model"),
    ("ForCausalLM", "a language model"),
    ("LMHeadModel", "a language model"),
    ("ForConditionalGeneration", "a sequence-to-sequence model"),
    ("ForMaskedLM", "an encoder"),
    ("ForPreTraining", "an encoder"),
    ("Model", "an encoder"),
)


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
        if not looks_like_hub_id(path):
            return f"{path}: no such folder"
        return f"{path}: no such folder, and not loadable from the Hub ({type(err).__name__}: {err})"
    return f"could not load {path}: {type(err).__name__}: {err}"


def read_config(path: str, **hub) -> dict:
    """The `config.json` of the folder or Hub id `path`, read as it is rather than through `AutoConfig`, so a type
    whose code is not installed is named rather than reported as needing `trust_remote_code`. `hub`: `revision`,
    `token`, `cache_dir` for a Hub id."""
    if os.path.isdir(path):
        config_file = os.path.join(path, "config.json")
        if not os.path.isfile(config_file):
            raise InputError(f"{path}: a folder without a config.json, not a saved model")
    elif os.path.exists(path):
        raise InputError(f"{path}: a file, not a model folder")
    elif not looks_like_hub_id(path):
        raise InputError(f"{path}: no such folder")
    else:
        from transformers.utils import cached_file

        try:
            with from_hub("model", path):
                config_file = cached_file(path, "config.json", **{k: v for k, v in hub.items() if k in HUB_KWARGS})
        except HubUnreachable:
            raise
        except Exception as err:  # noqa: BLE001 (no such repo, gated, no config.json: each its own type)
            raise InputError(_where(path, err)) from err
    try:
        with open(config_file, encoding="utf-8") as file:
            config = json.load(file)
        if not isinstance(config["model_type"], str):
            raise TypeError(f"model_type is {config['model_type']!r}, not a name")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise InputError(f"{config_file}: not a model config ({type(err).__name__}: {err})") from err
    return config


def describe(config: dict) -> str:
    """What a model config says the model is, for a message: `"a VAE (VAEModel, model_type mnist_vae)"`."""
    model_type, architectures = config["model_type"], config.get("architectures") or []
    noun = OWN_TYPES[model_type].noun if model_type in OWN_TYPES else "a model"
    if model_type not in OWN_TYPES:
        noun = next((noun for end, noun in ARCHITECTURE_NOUNS for name in architectures if name.endswith(end)), noun)
    return f"{noun} ({', '.join([*architectures, f'model_type {model_type}'])})"


def is_token_classifier(config: dict) -> bool:
    """Whether a model config is that of a token classifier: ours, a `*ForTokenClassification`, or remote code that
    maps `AutoModelForTokenClassification`."""
    architectures = config.get("architectures") or []
    return (
        config["model_type"] == "bert_tagger"
        or any(name.endswith("ForTokenClassification") for name in architectures)
        or "AutoModelForTokenClassification" in (config.get("auto_map") or {})
    )


def refusal(path: str, config: dict, model_class, model_types: tuple[str, ...] | None = None) -> str | None:
    """Why the model of `config` (at `path`) is not what `model_class` with `model_types` loads, saying what it is
    and what to do instead; None when it is, or when its config does not tell."""
    model_type = config["model_type"]
    if model_types:
        if model_type in model_types:
            return None
        wanted = " or ".join(OWN_TYPES[t].wanted if t in OWN_TYPES else f"a {t!r} model" for t in model_types)
        trains = [OWN_TYPES[t].trains for t in model_types if t in OWN_TYPES]
    elif getattr(model_class, "__name__", "").endswith("ForTokenClassification"):
        if is_token_classifier(config) or not (config.get("architectures") or model_type in OWN_TYPES):
            return None
        wanted, trains = TOKEN_CLASSIFIER, ["run_ner.py"]
    else:
        return None
    found = describe(config)
    steps = [f"train one with {trains[0]}"] if trains else []
    if model_type in OWN_TYPES:
        steps.append(f"use {OWN_TYPES[model_type].uses}")
    elif found.startswith(TOKEN_CLASSIFIER):
        steps.append("use run_ner.py predict")
    elif found.startswith("an encoder"):  # the one thing to do with it: train a tagger on it
        on_it = f"on it with run_ner.py --model_name_or_path {path} --train_file FILE"
        steps = [f"train one {on_it}"] if wanted == TOKEN_CLASSIFIER else [*steps, f"train a tagger {on_it}"]
    return f"{path}: {found}, not {wanted}" + (f": {', or '.join(steps)}" if steps else "")


def load_checked(model_class, path: str, model_types: tuple[str, ...] | None = None, **kwargs):
    """`model_class.from_pretrained(path, **kwargs)` (an Auto class or a model class) that refuses anything but an
    exact load: a model of another kind than `model_class` loads (a VAE where a token classifier is asked for), a
    `model_type` outside `model_types` (when given), or any missing, unexpected or mis-shaped weight. A corrupt or
    truncated weights file is an `InputError` too, and so is a Hub id not in the cache while the Hub is unreachable.
    """
    config = read_config(path, **kwargs)
    reason = refusal(path, config, model_class, model_types)
    if reason:
        raise InputError(reason)
    model_type = config["model_type"]
    try:
        # ignore_mismatched_sizes: to list the mis-shaped weights below rather than fail without naming them
        with from_hub("model", path):
            model, info = model_class.from_pretrained(
                path, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs
            )
    except HubUnreachable:
        raise
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


def max_window_length(model, tokenizer) -> int:
    """The longest window the model takes: min of the tokenizer's `model_max_length` and the encoder's
    `max_position_embeddings` (512 when neither is known)."""
    limits = []
    if getattr(tokenizer, "model_max_length", None) and tokenizer.model_max_length < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for cfg in (config, text_config):
        if getattr(cfg, "max_position_embeddings", None):
            limits.append(int(cfg.max_position_embeddings))
    return min(limits) if limits else 512


def window_length(model, tokenizer, max_seq_length: int | None) -> int:
    """The tokens per window of a prediction: `max_seq_length`, or the model's limit (`max_window_length`) when
    None; longer than the limit is an `InputError`."""
    limit = max_window_length(model, tokenizer)
    if max_seq_length is None:
        return limit
    if max_seq_length > limit:
        raise InputError(f"max_seq_length={max_seq_length} is longer than the model takes ({limit})")
    return max_seq_length


def model_path(model) -> str:
    """`model` (a folder or a Hub id, `str` or `os.PathLike`) as a non-empty string; anything else is refused."""
    if not isinstance(model, str | os.PathLike):
        raise TypeError(f"model must be a folder or a Hub id (a str or os.PathLike), got {type(model).__name__}")
    model = os.fspath(model)
    if not isinstance(model, str):  # a bytes path
        raise TypeError(f"model must be a folder or a Hub id as a str, got {type(model).__name__}")
    if not model.strip():
        raise InputError("model is empty: give a trained model folder or Hub id")
    return model


def load_for_prediction(model_class, path: str, result: str, trust_remote_code: bool = False):
    """A complete, finite `model_class` (`load_checked`, `check_finite`: its `result` would mean nothing otherwise)
    and its tokenizer, as a task's Python API and `predict` load a saved model; loading bars on a terminal only."""
    from transformers import AutoTokenizer

    from .cli import loading_bars_on_terminal_only

    with loading_bars_on_terminal_only():
        loaded = load_checked(model_class, path, trust_remote_code=trust_remote_code)
        check_finite(loaded, path, result)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
        except Exception as err:  # noqa: BLE001 (a missing or unreadable tokenizer file)
            raise InputError(f"could not load the tokenizer of {path}: {type(err).__name__}: {err}") from err
    return loaded, tokenizer


def check_batch_size(batch_size, name: str = "batch_size") -> None:
    """A Python API's `batch_size` (or another count `name`d, such as `batch_tokens`): an integer of at least 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"{name} must be an integer of at least 1, got {batch_size!r}")
