"""The Python API: `tagger = ner_trainer.load_tagger("runs/ner"); tagger.predict(["Some text."])`.

`run_ner.py predict` runs through the same two calls, so a record here is a line of its output, key for key.
"""

from collections.abc import Iterable

from trainer_common.devices import resolve_device
from trainer_common.loading import model_path
from trainer_common.predict_io import BATCH_TOKENS, inference_dtype

from .predict import predict_texts


class Tagger:
    """A loaded token-classification model and its tokenizer; made by [`load_tagger`].

    Attributes:
        model: the model (a `BertTagger`, or any `AutoModelForTokenClassification`), in eval mode on its device.
        tokenizer: its fast tokenizer.
        batch_size: at most this many windows per forward pass when `predict` is given none.
        max_seq_length: tokens per window; `None` is the model's limit.
        batch_tokens: at most this many tokens per forward pass, padding included.
    """

    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        batch_tokens: int = BATCH_TOKENS,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.batch_tokens = batch_tokens

    @property
    def labels(self) -> list[str]:
        """The model's tags, in class-index order."""
        return [self.model.config.id2label[i] for i in sorted(self.model.config.id2label)]

    def predict(
        self, texts: str | list[str], batch_size: int | None = None, word_scores: bool = False, progress: bool = False
    ) -> dict | list[dict]:
        """Tag raw texts; returns one record per text, in input order (one record for a single string).

        Each record is a line of `run_ner.py predict`'s output: `{"text", "words", "tags", "entities"}`, each
        entity `{"text", "type", "start", "end", "score"}` with `text[start:end]` its text. With `word_scores`,
        also `"word_scores"`: `{"word", "start", "end", "tag", "score"}` for every word. See
        `predict.predict_texts` for what `score` is.

        Args:
            texts: a string, or a list of strings; an empty string gives empty lists.
            batch_size: windows per forward pass (default: the tagger's `batch_size`).
            word_scores: add every word's tag and score.
            progress: draw a progress bar on stderr when tagging takes more than a second.
        """
        one = isinstance(texts, str)
        if not one and (not isinstance(texts, Iterable) or isinstance(texts, bytes)):
            raise TypeError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
        texts = [texts] if one else list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts must be a string or a list of strings; texts[{i}] is {type(text).__name__}")
        records = predict_texts(
            self.model,
            self.tokenizer,
            texts,
            batch_size=self.batch_size if batch_size is None else batch_size,
            max_seq_length=self.max_seq_length,
            word_scores=word_scores,
            progress=progress,
            batch_tokens=self.batch_tokens,
        )
        return records[0] if one else records

    def __repr__(self) -> str:
        return f"Tagger({self.model.config.name_or_path!r}, device={str(self.model.device)!r}, labels={self.labels})"


def load_tagger(
    model: str,
    device=None,
    batch_size: int = 32,
    max_seq_length: int | None = None,
    trust_remote_code: bool = False,
    batch_tokens: int = BATCH_TOKENS,
    dtype: str = "float32",
) -> Tagger:
    """Load a tagger for [`Tagger.predict`], as `run_ner.py predict --model` does, with the same checks.

    Args:
        model: a folder saved by `run_ner.py` (or `export`), any token-classification model's folder, or a Hub id.
        device: "cpu", "cuda", "cuda:1", a `torch.device`; default: "cuda" when available, else "cpu".
        batch_size: at most this many windows per forward pass.
        max_seq_length: tokens per window (default: the model's limit); longer texts are split into windows.
        trust_remote_code: allow model code shipped with a checkpoint whose type this package does not know.
        batch_tokens: at most this many tokens per forward pass, padding included (a longer window runs alone).
        dtype: "float32", or "bfloat16": the encoder and classifier in bf16, about 2x faster on CPUs with bf16 units
            and on GPUs; a CRF head stays float32.

    Raises `InputError` (a `ValueError`) naming the folder for anything but a complete, finite token classifier:
    a plain encoder would otherwise run with a random classifier.
    """
    from transformers import AutoModelForTokenClassification

    from trainer_common.loading import check_batch_size, load_for_prediction

    model = model_path(model)
    check_batch_size(batch_size)
    check_batch_size(batch_tokens, "batch_tokens")
    device = resolve_device(device)
    loaded, tokenizer = load_for_prediction(AutoModelForTokenClassification, model, "tags", trust_remote_code)
    loaded = inference_dtype(loaded.to(device).eval(), dtype, keep_float32=("crf",))
    return Tagger(loaded, tokenizer, batch_size, max_seq_length, batch_tokens)
