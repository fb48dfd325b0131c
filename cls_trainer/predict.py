"""Classify raw texts or text pairs with a trained classifier: `python run_classification.py predict --model DIR "Some
text"`. One JSON object per text: `{"text", "label", "score", "probabilities"}` (`"text_pair"` for pairs, and
`"truncated": true` for a text longer than the model takes, which is classified on its first `max_seq_length`
tokens). `score` is the softmax probability of `label`, the argmax class; `probabilities` holds every class's.
`cls_trainer.load_classifier` is the same as a Python API.
"""

import argparse
import sys

from trainer_common.cli import parse_command_args
from trainer_common.errors import InputError
from trainer_common.predict_io import predict_inputs, predict_parser, write_predictions

from .data import Example, encode_examples

PREDICTION_KEYS = {"text", "label", "score", "probabilities"}  # of every line `predict` writes
PROGRESS_DELAY = 1.0  # seconds before the progress bar shows: a quick run draws none


def classify(model, tokenizer, texts: list[str], pairs: list[str] | None = None, batch_size: int = 32,
             max_seq_length: int | None = None, progress: bool = False) -> list[dict]:  # fmt: skip
    """Classify each text (with `pairs[i]` as its second text); returns one record per text, in input order.

    Batches are formed longest first and padded to their own longest text. `model` is any sequence classifier with
    `config.id2label` that returns `logits`.
    """
    import torch
    from tqdm import tqdm

    from trainer_common.loading import check_batch_size, window_length

    check_batch_size(batch_size)
    if max_seq_length is not None and (isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int)
                                       or max_seq_length < 2):  # fmt: skip
        raise InputError(f"max_seq_length must be an integer of at least 2, got {max_seq_length!r}")
    if pairs is not None and len(pairs) != len(texts):
        raise InputError(f"{len(texts)} texts but {len(pairs)} second texts: give one pair per text")
    max_seq_length = window_length(model, tokenizer, max_seq_length)
    if not texts:
        return []
    id2label = {int(i): label for i, label in model.config.id2label.items()}
    labels = [id2label[i] for i in sorted(id2label)]
    # tokenized once, as training data is: cut to max_seq_length, the examples cut known
    seconds = pairs if pairs is not None else [None] * len(texts)
    examples = [Example(text, second, None, f"text {i + 1}") for i, (text, second) in enumerate(zip(texts, seconds))]
    features, stats = encode_examples(examples, tokenizer, None, max_seq_length)
    truncated = set(stats["truncated_rows"])
    inputs = [key for key in ("input_ids", "token_type_ids") if key in features]
    order = sorted(range(len(texts)), key=lambda i: -features["length"][i])
    device = next(model.parameters()).device
    probabilities = [None] * len(texts)
    bar = tqdm(total=len(texts), unit="text", desc="classifying", disable=not progress, delay=PROGRESS_DELAY)
    with torch.inference_mode(), bar:
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            batch = tokenizer.pad([{key: features[key][i] for key in inputs} for i in rows], return_tensors="pt")
            logits = model(**{key: value.to(device) for key, value in batch.items()}).logits
            for i, row in zip(rows, logits.float().softmax(-1).tolist()):
                probabilities[i] = row
            bar.update(len(rows))
    records = []
    for i, text in enumerate(texts):
        best = max(range(len(labels)), key=probabilities[i].__getitem__)
        record = {"text": text} if pairs is None else {"text": text, "text_pair": pairs[i]}
        record.update(label=labels[best], score=round(probabilities[i][best], 4),
                      probabilities={label: round(p, 4) for label, p in zip(labels, probabilities[i])})  # fmt: skip
        if i in truncated:
            record["truncated"] = True
        records.append(record)
    return records


def split_pairs(lines: list[str]) -> tuple[list[str], list[str]]:
    """`first<TAB>second` lines as (texts, second texts); a line without exactly one tab is an error naming it."""
    texts, pairs = [], []
    for number, line in enumerate(lines, 1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise InputError(f"text {number}: --pairs needs 'first<TAB>second', found {len(parts) - 1} tabs")
        texts.append(parts[0])
        pairs.append(parts[1])
    return texts, pairs


def build_parser() -> argparse.ArgumentParser:
    parser = predict_parser(
        "run_classification.py predict",
        "Classify raw texts (or pairs) with a trained classifier; prints one JSON object per text (JSON lines): "
        '{"text", "label", "score", "probabilities"}.',
        verb="classify",
        unit="text",
    )
    parser.add_argument("--pairs", action="store_true",
                        help="each text is a pair, 'first<TAB>second' (sentence1, sentence2)")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    """`load_classifier`, then `Classifier.predict`, as the Python API. Bad input or an unloadable model raises
    `InputError`; `run_classification.py` turns it into one `error:` line and exit status 2."""
    args = parse_command_args(build_parser(), argv)
    texts = predict_inputs(args, PREDICTION_KEYS)
    texts, pairs = split_pairs(texts) if args.pairs else (texts, None)

    from .api import load_classifier  # not at the top: the API is built on this module

    classifier = load_classifier(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        trust_remote_code=args.trust_remote_code,
    )
    on_terminal = sys.stderr is not None and sys.stderr.isatty()  # progress bars only there, not in a log file
    results = classifier.predict(texts, pairs, progress=on_terminal)
    write_predictions(results, args.output_file)
