"""The classifier: the encoder's own stock `AutoModelForSequenceClassification`, new around a pretrained encoder or a
saved one loaded whole, and its tokenizer.

The model is stock on purpose: a saved classifier loads anywhere with `AutoModelForSequenceClassification` (or a
`text-classification` pipeline), without remote code. What the toolkit adds to training (packed batches, the head's
own learning rate, freezing, LoRA) lives in the trainer and is gone from the saved weights.
"""

import contextlib
import dataclasses
import logging

from trainer_common.errors import InputError
from trainer_common.hub_data import HubUnreachable, from_hub

logger = logging.getLogger(__name__)

# weights a classifier built on an encoder checkpoint may lack: the new head, and the pooler of encoders saved
# without one (sentence-embedding checkpoints); every other missing weight means a wrong or truncated checkpoint
NEW_HEAD_WEIGHTS = ("classifier.", "pooler.", "pre_classifier.", "score.", "sequence_summary.")


def is_sequence_classifier(config: dict) -> bool:
    """Whether a raw `config.json` is a saved sequence classifier's."""
    return any(name.endswith("ForSequenceClassification") for name in config.get("architectures") or ())


def saved_label_names(args) -> list[str] | None:
    """The labels of a saved classifier given as `--model_name_or_path`, in id order (None for an encoder): they
    name the data's integer labels, as `--label_names` would."""
    from trainer_common.loading import read_config

    hub = {**args.hub_kwargs, "revision": args.model_revision}
    config = read_config(args.model_name_or_path, **hub)
    if not is_sequence_classifier(config) or not config.get("id2label"):
        return None
    id2label = {int(i): label for i, label in config["id2label"].items()}
    return [id2label[i] for i in sorted(id2label)]


def build_model_and_tokenizer(args, label_list: list[str] | None, trains: bool = True):
    """A saved classifier (with its own labels, which the training data must keep to), or a new one with
    `label_list` around the pretrained encoder (`--config_name`'s config when given); and its tokenizer."""
    from transformers import AutoModelForSequenceClassification

    from trainer_common.loading import OWN_TYPES, describe, load_checked, read_config

    hub = {**args.hub_kwargs, "revision": args.model_revision, "trust_remote_code": args.trust_remote_code}
    path = args.model_name_or_path
    raw = read_config(path, **hub)
    if raw["model_type"] in OWN_TYPES:
        raise InputError(f"--model_name_or_path {path}: {describe(raw)}, not an encoder or a sequence classifier: "
                         f"use {OWN_TYPES[raw['model_type']].uses}")  # fmt: skip
    what = describe(raw)
    if not is_sequence_classifier(raw) and not what.startswith(("an encoder", "a model (")):
        raise InputError(f"--model_name_or_path {path}: {what}, not an encoder or a sequence classifier: give a "
                         "pretrained encoder (a folder or Hub id such as bert-base-cased)")  # fmt: skip
    if is_sequence_classifier(raw):
        if args.config_name:
            raise InputError(f"--config_name sets a new classifier's encoder; {path} is a saved classifier")
        model = load_checked(AutoModelForSequenceClassification, path, **hub)
        if getattr(model.config, "problem_type", None) not in (None, "single_label_classification"):
            raise InputError(f"{path}: a {model.config.problem_type} model; this task trains single-label classifiers")
        if args.classifier_dropout is not None:
            logger.info("--classifier_dropout: %s keeps its own head, dropout included", path)
    else:
        if label_list is None:
            noun = what.split(" (")[0]
            raise InputError(f"{path} is {noun}, not a classifier: give a --train_file to train one on it")
        model = _new_classifier(args, label_list, hub)
    tokenizer = _tokenizer(args, hub)
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:  # a token id past the embeddings fails mid-training, as an IndexError
        raise InputError(f"{args.tokenizer_name or path}: the tokenizer has {len(tokenizer)} tokens, the model embeds "
                         f"only {rows}")  # fmt: skip
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id  # heads that find the last token read it
    return model, tokenizer


def _new_classifier(args, label_list: list[str], hub: dict):
    """`AutoModelForSequenceClassification` on the encoder's weights, with a new head for `label_list`; refuses a
    checkpoint lacking any encoder weight (only the head and a pooler may be new)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config_path = args.config_name or args.model_name_or_path
    option = "--config_name" if args.config_name else "--model_name_or_path"
    labels = {"num_labels": len(label_list), "id2label": dict(enumerate(label_list)),
              "label2id": {label: i for i, label in enumerate(label_list)}}  # fmt: skip
    try:
        with _from_hub(config_path, option):
            config = AutoConfig.from_pretrained(config_path, **hub, **labels)
    except HubUnreachable:
        raise
    except (OSError, ValueError) as err:
        raise InputError(f"{option} {config_path}: {err}") from err
    config.problem_type = "single_label_classification"
    if args.classifier_dropout is not None:
        config.classifier_dropout = args.classifier_dropout
    try:  # transformers' loading report would list the new head as missing weights: said below, in one line
        with _from_hub(args.model_name_or_path, "--model_name_or_path"), _quiet("transformers.modeling_utils"):
            model, info = AutoModelForSequenceClassification.from_pretrained(
                args.model_name_or_path, config=config, output_loading_info=True, **hub
            )
    except HubUnreachable:
        raise
    except (OSError, ValueError, RuntimeError) as err:
        reason = " ".join(str(err).split())[:300]
        raise InputError(f"--model_name_or_path {args.model_name_or_path}: could not load it ({reason})") from err
    missing = sorted(key for key in info["missing_keys"] if not _is_head_weight(key))
    if missing or info["mismatched_keys"]:
        raise InputError(
            f"{args.model_name_or_path} does not hold all encoder weights: missing {missing[:3]}"
            f"{' ...' if len(missing) > 3 else ''}, mis-shaped {sorted(map(str, info['mismatched_keys']))[:3]}"
        )
    new = sorted({key.split(".")[-2] if "." in key else key for key in info["missing_keys"]})
    logger.info("new classifier on %s: %d labels %s; new weights: %s", args.model_name_or_path, len(label_list),
                label_list, ", ".join(new) or "none")  # fmt: skip
    return model


@contextlib.contextmanager
def _quiet(logger_name: str):
    """Warnings of `logger_name` dropped for the block, by a filter: raising the logger's level instead would make
    `from_pretrained` check a tensor-parallel plan and warn of every weight not sharded."""
    quieted = logging.getLogger(logger_name)
    below_warning = lambda record: record.levelno < logging.WARNING  # noqa: E731
    quieted.addFilter(below_warning)
    try:
        yield
    finally:
        quieted.removeFilter(below_warning)


def _is_head_weight(key: str) -> bool:
    return any(key.startswith(part) or f".{part}" in key for part in NEW_HEAD_WEIGHTS)


def _tokenizer(args, hub: dict):
    from transformers import AutoTokenizer

    path = args.tokenizer_name or args.model_name_or_path
    option = "--tokenizer_name" if args.tokenizer_name else "--model_name_or_path"
    try:
        with _from_hub(path, option):
            return AutoTokenizer.from_pretrained(path, **hub)
    except HubUnreachable:
        raise
    except (OSError, ValueError) as err:
        raise InputError(f"{option} {path}: no tokenizer loads from it ({err})") from err


def _from_hub(path: str, option: str):
    """`from_hub` for a model or tokenizer that `option` names: an unreachable Hub says to give a local folder."""
    return from_hub("model", path, f"give a local model folder to {option}, or run once online to fill the cache")


def check_max_seq_length(args, model, tokenizer) -> None:
    """`--max_seq_length` within what the model takes (None: that limit), before any text is encoded."""
    from trainer_common.loading import max_window_length

    limit = max_window_length(model, tokenizer)
    default = next(f.default for f in dataclasses.fields(args) if f.name == "max_seq_length")
    if args.max_seq_length is None or (args.max_seq_length == default and limit < default):
        if args.max_seq_length is not None:  # a small model's own limit, not an error the user did not make
            logger.info("--max_seq_length %d: the model takes %d tokens, so %d", default, limit, limit)
        args.max_seq_length = limit
    elif args.max_seq_length > limit:  # a longer text would fail mid-training in the position embeddings
        raise InputError(f"--max_seq_length {args.max_seq_length} is longer than the model takes ({limit} tokens)")


__all__ = ["build_model_and_tokenizer", "check_max_seq_length", "is_sequence_classifier"]
