"""Where a run's sentences, model and tokenizer come from: files or the Hub, a new tagger or a saved one."""

import logging
import os

from trainer_common.errors import InputError
from trainer_common.hub_data import LOCAL_FILES_ADVICE, HubUnreachable, from_hub
from trainer_common.splits import split_off_validation

from .arguments import NERArguments

logger = logging.getLogger(__name__)


def load_sentences(args: NERArguments, seed: int, label_names: list[str] | None = None) -> tuple[dict, list | None]:
    """The train/validation/test sentences from the files, or else from the Hub, and the label list when the data
    fixes one (a `ClassLabel` feature or `label_names`, when the data is in the label scheme)."""
    from .data import DEFAULT_HUB_DATASET, load_hub_dataset, read_file
    from .data.sentence import named_label_list

    args.log_no_effect()
    columns = args.columns(label_names)
    files = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}
    if any(files.values()):
        splits = {
            name: read_file(
                path, args.label_column, args.tag_scheme, args.label_scheme, args.overlapping_spans, columns
            )
            for name, path in files.items()
            if path
        }
        schemes = {sentence.file_scheme for sentences in splits.values() for sentence in sentences[:1]}
        label_list = named_label_list(label_names, schemes, args.label_scheme, "--label_names")
    else:
        name = args.dataset_name or DEFAULT_HUB_DATASET
        option = "--dataset_name" if args.dataset_name else "no --train_file or --dataset_name given, so the default"
        try:
            splits, label_list = load_hub_dataset(
                name, args.dataset_config_name, args.tag_scheme, args.label_scheme, columns, option, **args.hub_kwargs
            )
        except HubUnreachable as err:
            note = None if args.dataset_name else "the default: no --train_file or --dataset_name given"
            raise err.advise(LOCAL_FILES_ADVICE, note) from err.__cause__
    if args.validation_split is not None:
        splits["train"], splits["validation"] = split_off_validation(splits, args.validation_split, seed)
    limits = {"train": args.max_train_samples, "validation": args.max_eval_samples, "test": args.max_predict_samples}
    return {name: sents[: limits.get(name)] for name, sents in splits.items()}, label_list


def build_model_and_tokenizer(args: NERArguments, label_list: list[str] | None, trains: bool = True):
    """A saved BertTagger (when `trains`, extended by the training data's new labels), or a new one around the
    pretrained encoder (with `--config_name`'s config when given); and the matching tokenizer (`--tokenizer_name`'s
    when given)."""
    from transformers import AutoTokenizer

    from trainer_common.loading import load_checked

    from .encoder_strategy import check_layer_pooling
    from .modeling_bert_tagger import BertTagger

    hub = {**args.hub_kwargs, "revision": args.model_revision, "trust_remote_code": args.trust_remote_code}
    config = _load_config(args.model_name_or_path, "--model_name_or_path", hub)
    if config.model_type == "bert_tagger":
        if args.config_name:
            raise InputError(f"--config_name sets a new tagger's encoder; {args.model_name_or_path} is a saved tagger")
        model = load_checked(BertTagger, args.model_name_or_path, (config.model_type,), **hub)
        check_layer_pooling(args, model.config.encoder, saved=model.config.layer_pooling)
        if label_list is not None and trains:  # training data with new entity types: new rows, the old ones kept
            from .label_extension import add_labels

            added = add_labels(model, label_list)
            if added:
                kept = model.config.num_labels - len(added)
                logger.info("%s: label(s) %s added after its %d", args.model_name_or_path, added, kept)
        encoder_type = model.config.encoder.model_type
    else:
        if label_list is None:
            stock = [name for name in config.architectures or () if name.endswith("ForTokenClassification")]
            if stock:  # `export`'s output, or another library's tagger: predict takes it, evaluation does not
                raise InputError(
                    f"{args.model_name_or_path} is a stock {stock[0]}, not a tagger of run_ner.py's: evaluate the "
                    "BertTagger folder it was exported from, or tag text with run_ner.py predict"
                )
            raise InputError(f"{args.model_name_or_path} is an encoder, not a tagger: give a --train_file to train it")
        encoder_kwargs = hub
        if args.config_name:
            config = _load_config(args.config_name, "--config_name", hub)
            encoder_kwargs = {**hub, "config": config}
        check_layer_pooling(args, config)
        try:
            with _from_hub(args.model_name_or_path, "--model_name_or_path"):
                model = BertTagger.from_encoder(
                    args.model_name_or_path, label_list, classifier_dropout=args.classifier_dropout, head=args.head,
                    label_scheme=args.label_scheme, constrain_transitions=args.constrain_transitions,
                    layer_pooling=args.layer_pooling or "last", **encoder_kwargs,
                )  # fmt: skip
        except HubUnreachable:
            raise
        except ValueError as err:  # an incomplete encoder checkpoint, or a tagger where an encoder was expected
            raise InputError(str(err)) from err
        except RuntimeError as err:  # weights of other shapes than the config (--config_name's, say) gives them
            reason = " ".join(str(err).split())[:300]
            config_path = args.config_name or args.model_name_or_path
            raise InputError(
                f"{args.model_name_or_path}: its weights do not fit the config of {config_path}: {reason}"
            ) from err
        encoder_type = config.model_type
    # Byte-level BPE tokenizers need a prefix space to tokenize pre-split words as in running text.
    extra = {"add_prefix_space": True} if encoder_type in {"roberta", "gpt2", "bloom", "longformer"} else {}
    tokenizer_path = args.tokenizer_name or args.model_name_or_path
    option = "--tokenizer_name" if args.tokenizer_name else "--model_name_or_path"
    try:
        with _from_hub(tokenizer_path, option):
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, **hub, **extra)
    except HubUnreachable:
        raise
    except (OSError, ValueError) as err:
        raise InputError(f"{option} {tokenizer_path}: no tokenizer loads from it ({err})") from err
    rows = model.encoder.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:  # a token id past the embeddings fails mid-training, as an IndexError
        raise InputError(f"{tokenizer_path}: the tokenizer has {len(tokenizer)} tokens, the model embeds only {rows}")
    return model, tokenizer


def _from_hub(path: str, option: str):
    """`from_hub` for a model or tokenizer that `option` names: an unreachable Hub says to give a local folder."""
    return from_hub("model", path, f"give a local model folder to {option}, or run once online to fill the cache")


def _load_config(path: str, option: str, hub: dict):
    """The config of `path` for a new tagger's encoder or a saved tagger; another task's model (a VAE) is refused by
    what it is, and a type transformers does not know by name."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from trainer_common.loading import OWN_TYPES, describe, read_config

    raw = read_config(path) if os.path.isfile(os.path.join(path, "config.json")) else None
    if raw and raw["model_type"] in OWN_TYPES and raw["model_type"] != "bert_tagger":
        uses = OWN_TYPES[raw["model_type"]].uses
        raise InputError(
            f"{option} {path}: {describe(raw)}, not an encoder or a tagger of run_ner.py's: give a pretrained encoder "
            f"(a folder or Hub id such as bert-base-cased), or use {uses}"
        )
    try:
        with _from_hub(path, option):
            return AutoConfig.from_pretrained(path, **hub)
    except HubUnreachable:
        raise
    except (OSError, ValueError) as err:
        if raw and raw["model_type"] not in CONFIG_MAPPING:  # transformers' message lists every type it knows
            remote = " (it names its own code: add --trust_remote_code)" if raw.get("auto_map") else ""
            raise InputError(f"{option} {path}: {describe(raw)}, a type transformers does not know{remote}") from err
        if os.path.isdir(path):
            raise InputError(f"{option} {path}: {err}") from err
        # transformers' message for a missing folder is about Hub repo ids or the network, not the path
        raise InputError(f"{option} {path}: not a folder, and not loadable from the Hub ({err})") from err
