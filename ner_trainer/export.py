"""Export a saved linear tagger as its encoder's stock `*ForTokenClassification`: `python run_ner.py export`.

`BertTagger` with a linear head over the last layer computes what the encoder family's own token-classification
class computes (base model, dropout, linear classifier), so its weights fit that class, which loads and deploys
with no custom code (`pipeline`, TGI, ONNX export) on machines without this package. A CRF head (Viterbi over
whole sentences), another layer or a scalar mix of layers has no stock equivalent and is refused. The export is
checked, not assumed: both models run on a padded probe batch, and anything but identical logits is refused.
"""

import argparse
import copy
import inspect
import logging
import os
import shutil
import tempfile
from pathlib import Path

from trainer_common.cli import parse_command_args
from trainer_common.errors import InputError

logger = logging.getLogger(__name__)

# Two sentences of different lengths (so one row is padded), with words split into several sub-tokens.
PROBE = (
    "Peter Blackburn visited Brussels on Monday.",
    "EU rejects German call to boycott British lamb, the European Commission said in Washington on Wednesday.",
)


def refusal(model) -> str | None:
    """Why a loaded tagger has no stock equivalent, or None when it has one."""
    config, layers = model.config, model.config.encoder.num_hidden_layers
    if config.head != "linear":
        return f"a {config.head.upper()} head: its Viterbi decoding over whole sentences is not a per-token argmax"
    if model.scalar_mix is not None:
        return f"layer_pooling {config.layer_pooling!r}: a learned mix of every layer, the stock class reads the last"
    if model._pooled != layers:
        return f"layer_pooling {config.layer_pooling!r}: hidden state {model._pooled} of {layers}, not the last layer"
    extra = sorted({name.split(".")[0] for name, _ in model.named_parameters()} - {"encoder", "classifier"})
    if extra:
        return f"modules the stock class lacks: {', '.join(extra)}"
    return None


def stock_model(tagger, path: str):
    """The encoder family's stock token classifier holding the tagger's encoder and classifier weights."""
    from torch import nn
    from transformers import AutoModelForTokenClassification

    config = copy.deepcopy(tagger.config.encoder)
    config.id2label, config.label2id = dict(tagger.config.id2label), dict(tagger.config.label2id)
    if hasattr(config, "auto_map"):  # a stock config has none; the export must never ask for remote code
        del config.auto_map
    if tagger.config.classifier_dropout is not None and hasattr(config, "classifier_dropout"):
        config.classifier_dropout = tagger.config.classifier_dropout
    # read by `run_ner.py predict`, ignored by transformers: predict on the export splits and decodes as on the tagger
    config.label_scheme, config.word_split = tagger.config.label_scheme, tagger.config.word_split
    attention = tagger.encoder.config._attn_implementation
    try:
        stock = AutoModelForTokenClassification.from_config(config, dtype=tagger.dtype, attn_implementation=attention)
    except ValueError as err:
        raise InputError(f"cannot export {path}: no stock token classifier for {config.model_type!r}: {err}") from err
    name, head = type(stock).__name__, getattr(stock, "classifier", None)
    if not type(stock).__module__.startswith("transformers.models."):
        raise InputError(f"cannot export {path}: {config.model_type!r} maps to {name}, not a stock transformers class")
    if not isinstance(head, nn.Linear) or head.weight.shape != tagger.classifier.weight.shape or head.bias is None:
        raise InputError(f"cannot export {path}: {name}'s classifier is not a Linear of the tagger's shape")
    head_names, prefix = ("classifier.weight", "classifier.bias"), f"{stock.base_model_prefix}."
    if not all(key.startswith(prefix) or key in head_names for key, _ in stock.named_parameters()):
        raise InputError(f"cannot export {path}: {name} has layers beyond its base model and classifier")
    try:
        stock.base_model.load_state_dict(tagger.encoder.state_dict(), strict=True)
    except RuntimeError as err:
        reason = " ".join(str(err).split())
        raise InputError(f"cannot export {path}: the encoder's weights do not fit {name}: {reason}") from err
    stock.classifier.load_state_dict(tagger.classifier.state_dict(), strict=True)
    return stock.eval()


def verify(tagger, stock, tokenizer, path: str) -> None:
    """Refuse unless both models give bit-identical logits on the probe batch (padding and attention mask included).

    Exact, no tolerance: the weights are copies, and the stock class runs the same modules in the same order on the
    same device, so the same kernels see the same numbers; any difference at all is a different computation (a
    mask handled otherwise, a layer more or less), which a tolerance could hide until longer inputs."""
    import torch

    try:
        probe = tokenizer(list(PROBE), padding=True, truncation=True, return_tensors="pt")
    except Exception as err:  # noqa: BLE001 (no pad token, ...)
        raise InputError(f"cannot export {path}: the tokenizer cannot make a padded batch: {err}") from err
    accepted = inspect.signature(type(stock).forward).parameters
    inputs = {key: value for key, value in probe.items() if key in accepted}
    with torch.inference_mode():
        expected, logits = tagger.eval()(**inputs).logits, stock(**inputs).logits
    if not torch.equal(logits, expected):
        gap = (logits.float() - expected.float()).abs().max().item() if logits.shape == expected.shape else "shape"
        raise InputError(f"cannot export {path}: {type(stock).__name__} gives other logits (max difference {gap})")


def card_text(tagger, stock, path: str, out: Path) -> str:
    """The export's model card: the source tagger's scores, model-index, licence and intended use, with a snippet
    that loads `out` from any folder."""
    from trainer_common.model_card import card_text as render

    from .card import export_card_info

    return render(export_card_info(tagger, type(stock).__name__, path, out), out.absolute().name)


def check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {out} is a file, not a folder")
    if any(parent.exists() and not parent.is_dir() for parent in out.parents):
        raise InputError(f"--output {out} lies in a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"--output {out} is not empty: give a new or empty folder")


def write_export(stock, tokenizer, card: str, out: Path) -> None:
    """Write into a staging folder beside `out`, renamed into place only once complete."""
    from trainer_common.io import default_file_mode, give_default_modes, write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        stock.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_text(staging / "README.md", card)
        give_default_modes(staging)
        mode = default_file_mode()
        os.chmod(staging, mode | (mode & 0o444) >> 2)  # as mkdir would make it; mkdtemp makes it private (0700)
        try:
            os.replace(staging, out)  # replaces a missing or empty folder, never a filled one
        except OSError as err:
            raise InputError(f"--output {out}: could not move the export into place ({err.strerror})") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_ner.py export",
        description="Write a saved linear BertTagger as its encoder's stock *ForTokenClassification "
        "(identical logits, no custom code needed to load it).",
        allow_abbrev=False,
    )
    parser.add_argument("--model", required=True, help="saved BertTagger folder")
    parser.add_argument("--output", required=True, help="new (or empty) folder for the exported model")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a tagger that cannot be exported exactly is an `InputError` and nothing is written."""
    args = parse_command_args(build_parser(), argv)
    if not args.model.strip():
        raise InputError("--model is empty: give a saved BertTagger folder")
    if not args.output:
        raise InputError("--output is empty: give a new folder")
    out = Path(args.output)
    check_output(out)

    from transformers import AutoTokenizer

    from trainer_common.loading import load_checked

    from .configuration_bert_tagger import BertTaggerConfig
    from .modeling_bert_tagger import BertTagger

    tagger = load_checked(BertTagger, args.model, (BertTaggerConfig.model_type,)).eval()
    reason = refusal(tagger)
    if reason:
        raise InputError(f"cannot export {args.model} as a stock token classifier: {reason}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    except Exception as err:  # noqa: BLE001 (a missing or unreadable tokenizer file)
        raise InputError(f"could not load the tokenizer of {args.model}: {type(err).__name__}: {err}") from err
    if len(tokenizer) <= len(set(tokenizer.all_special_ids)):  # transformers makes one even without its vocabulary
        raise InputError(f"the tokenizer of {args.model} has no vocabulary besides special tokens (a missing file?)")
    stock = stock_model(tagger, args.model)
    verify(tagger, stock, tokenizer, args.model)
    if tagger.config.label_scheme != "iob2":
        logger.warning(
            "%s: %s tags: pipeline's aggregation_strategy understands B-/I- tags only; use aggregation_strategy="
            "'none' or run_ner.py predict", args.model, tagger.config.label_scheme.upper(),
        )  # fmt: skip
    if tagger.config.word_split != "words":
        logger.warning("%s: trained on single characters as words; pipeline groups tokens its own way", args.model)
    check_output(out)
    write_export(stock, tokenizer, card_text(tagger, stock, args.model, out), out)
    print(f"wrote {out}: {type(stock).__name__} (config.json, model.safetensors, tokenizer, README.md)")
