"""The Python API: `classifier = cls_trainer.load_classifier("runs/sst2"); classifier.predict(["A fine film."])`.

`run_classification.py predict` runs through the same two calls, so a record here is a line of its output.
"""

from collections.abc import Iterable

from trainer_common.devices import resolve_device
from trainer_common.errors import InputError

from .predict import classify


class Classifier:
    """A loaded sequence classifier and its tokenizer; made by [`load_classifier`].

    Attributes:
        model: the model (any `AutoModelForSequenceClassification`), in eval mode on its device.
        tokenizer: its tokenizer.
        batch_size: texts per forward pass when `predict` is given none.
        max_seq_length: tokens per text; `None` is the model's limit.
    """

    def __init__(self, model, tokenizer, batch_size: int = 32, max_seq_length: int | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_seq_length = batch_size, max_seq_length

    @property
    def labels(self) -> list[str]:
        """The model's labels, in class-index order."""
        return [self.model.config.id2label[i] for i in sorted(self.model.config.id2label)]

    def predict(self, texts: str | list[str], pairs: str | list[str] | None = None, batch_size: int | None = None,
                progress: bool = False) -> dict | list[dict]:  # fmt: skip
        """Classify texts (or pairs: `pairs[i]` is the second text of `texts[i]`); one record per text, in input order
        (one record for a single string): `{"text", "label", "score", "probabilities"}`, plus `"text_pair"` for a
        pair and `"truncated": true` for a text cut to `max_seq_length` tokens.

        Args:
            texts: a string, or a list of strings.
            pairs: the second texts, as `texts` is given (sentence pairs: premise and hypothesis, ...).
            batch_size: texts per forward pass (default: the classifier's `batch_size`).
            progress: draw a progress bar on stderr when classifying takes more than a second.
        """
        one = isinstance(texts, str)
        if pairs is not None and isinstance(pairs, str) != one:
            raise TypeError("texts and pairs must both be strings or both lists of strings")
        texts = _strings(texts, "texts")
        pairs = None if pairs is None else _strings(pairs, "pairs")
        records = classify(self.model, self.tokenizer, texts, pairs,
                           batch_size=self.batch_size if batch_size is None else batch_size,
                           max_seq_length=self.max_seq_length, progress=progress)  # fmt: skip
        return records[0] if one else records

    def __repr__(self) -> str:
        return (
            f"Classifier({self.model.config.name_or_path!r}, device={str(self.model.device)!r}, labels={self.labels})"
        )


def _strings(values, name: str) -> list[str]:
    if isinstance(values, str):
        return [values]
    if not isinstance(values, Iterable) or isinstance(values, bytes | dict):
        raise TypeError(f"{name} must be a string or a list of strings, got {type(values).__name__}")
    values = list(values)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string or a list of strings; {name}[{i}] is {type(value).__name__}")
    return values


def load_classifier(model: str, device=None, batch_size: int = 32, max_seq_length: int | None = None,
                    trust_remote_code: bool = False) -> Classifier:  # fmt: skip
    """Load a classifier for [`Classifier.predict`], as `run_classification.py predict --model` does, with the same
    checks.

    Args:
        model: a folder saved by `run_classification.py`, any sequence classifier's folder, or a Hub id.
        device: "cpu", "cuda", "cuda:1", a `torch.device`; default: "cuda" when available, else "cpu".
        batch_size: texts per forward pass.
        max_seq_length: tokens per text (default: the model's limit); longer texts are cut, and say so.
        trust_remote_code: allow model code shipped with a checkpoint whose type transformers does not know.

    Raises `InputError` (a `ValueError`) naming the folder for anything but a complete, finite sequence classifier:
    a plain encoder would otherwise run with a random head.
    """
    from transformers import AutoModelForSequenceClassification

    from trainer_common.loading import check_batch_size, describe, load_for_prediction, model_path, read_config

    from .modeling import is_sequence_classifier

    model = model_path(model)
    check_batch_size(batch_size)
    device = resolve_device(device)
    config = read_config(model)
    if not is_sequence_classifier(config):
        raise InputError(f"{model}: {describe(config)}, not a sequence classifier: train one with "
                         f"run_classification.py --model_name_or_path {model} --train_file FILE")  # fmt: skip
    loaded, tokenizer = load_for_prediction(AutoModelForSequenceClassification, model, "predictions",
                                            trust_remote_code)  # fmt: skip
    return Classifier(loaded.to(device).eval(), tokenizer, batch_size, max_seq_length)


__all__ = ["Classifier", "load_classifier"]
