"""Tag raw text with a trained token-classification model: `python run_ner.py predict --model DIR "Some text"`.

Text is split into words (`split_words`), encoded with the same windowing as training (`encode_sentences`, one
tokenizer call for all texts), so long texts are never truncated, and run in length-sorted batches of windows of
nearly one length (`predict_io.length_batches`: under 10% padding, at most `batch_tokens` tokens per forward pass).
Output is one JSON object per input text: its words, their tags (in the model's label scheme), and the entities
with character offsets and scores. `ner_trainer.load_tagger` is the same as a Python API.

What `score` is: a word's score is the probability of its tag at its first sub-token, the softmax over the tags of
the logits the model returns outside training. For a linear head (and any stock token classifier) that is the
classifier's softmax probability of the argmax tag. For `BertTagger`'s CRF head those logits are max-marginals,
`m(y) - m*` (the score of the best path that gives the word tag `y`, less the Viterbi path's), so the score is
`1 / sum_y exp(m(y) - m*)`: 1 when every other tag's best path scores far below the Viterbi path, 1/2 when
another tag's best path ties with it. That is a max-marginal confidence, not the CRF's marginal probability (which
would sum over all paths). An entity's score is the mean of its words' scores; scores are rounded to 4 decimals.
"""

import argparse
import inspect
import sys
from collections import Counter

import regex

from trainer_common.cli import parse_command_args
from trainer_common.errors import InputError
from trainer_common.loading import window_length
from trainer_common.predict_io import (
    BATCH_TOKENS,
    DTYPES,
    length_batches,
    predict_inputs,
    predict_parser,
    write_predictions,
)

from .data import Sentence, WordAlignment, encode_sentences
from .tagging import TagSchemeError, check_tag, get_spans

# CJK ideographs (the ranges BERT's tokenizer treats as one-character words): each is a word of its own.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ceaf\U0002f800-\U0002fa1f"
# A word character: a letter, digit or underscore that is not CJK, or a mark (\p{M}: Devanagari and Thai vowel
# signs, Arabic harakat, NFD accents, which `\w` does not match) or a zero-width (non-)joiner inside a word.
WORD_CHAR = f"(?:(?![{CJK}])\\w|\\p{{M}}|\u200c|\u200d)"
WORD_RE = regex.compile(
    rf"(?:\p{{L}}\p{{M}}*\.){{2,}}"  # abbreviations with dots: U.S., e.g.
    rf"|\d+(?:[.,:]\d+)+"  # numbers with separators: 1,000.50, 10:30
    rf"|{WORD_CHAR}+(?:['’-]{WORD_CHAR}+)*"  # words, keeping internal hyphens and apostrophes: Jean-Paul, don't
    rf"|[{CJK}]\p{{M}}*"  # one CJK character
    r"|(?!\s)\X"  # any other grapheme on its own: punctuation, a symbol, an emoji with its modifiers and ZWJ parts
)


def split_words(text: str, word_split: str = "words") -> list[tuple[str, int, int]]:
    """Split text into `(word, start, end)`, `text[start:end] == word`. "words": punctuation and CJK characters stand
    alone, words keep their marks and joiners; "characters": every character is a word, spaces included, as span
    JSON (CLUENER) is read for training."""
    if word_split == "characters":
        return [(char, i, i + 1) for i, char in enumerate(text)]
    if word_split != "words":
        raise InputError(f"unknown word_split {word_split!r}: expected 'words' or 'characters'")
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def entity_scheme(config) -> str:
    """The tag scheme of a model's labels: a `BertTagger`'s `label_scheme`; for any other token classifier, BIOES
    when some label has an E- prefix, BIOS when one has S-, else IOB2."""
    scheme = getattr(config, "label_scheme", None)
    if scheme:
        return scheme
    prefixes = {str(tag).partition("-")[0] for tag in config.id2label.values()}
    return "bioes" if "E" in prefixes else "bios" if "S" in prefixes else "iob2"


def tags_to_entities(
    text: str, offsets: list[tuple[int, int]], tags: list[str], scores: list[float], scheme: str = "iob2"
) -> list[dict[str, object]]:
    """Entities of the word tags, read in `scheme` as conlleval reads tags (`tagging.get_spans`: a stray I-X starts
    an entity), with character offsets in `text` and the mean of their words' scores. A tag that `scheme` cannot
    read (LABEL_3, E-X in IOB2) is outside any entity. With scheme "none", each run of one tag other than O is one.
    """
    if scheme == "none":
        runs = [i for i in range(len(tags)) if i == 0 or tags[i] != tags[i - 1]] + [len(tags)]
        spans = [(tags[start], start, end) for start, end in zip(runs, runs[1:]) if tags[start] != "O"]
    else:
        spans = get_spans([tag if _readable(tag, scheme) else "O" for tag in tags], scheme)
    entities = []
    for kind, first, end in spans:
        start, stop = offsets[first][0], offsets[end - 1][1]
        mean_score = sum(scores[first:end]) / (end - first)
        entities.append(
            {"text": text[start:stop], "type": kind, "start": start, "end": stop, "score": round(mean_score, 4)}
        )
    return entities


def _readable(tag: str, scheme: str) -> bool:
    try:
        check_tag(tag, scheme)
    except TagSchemeError:
        return False
    return True


PREDICTION_KEYS = {"text", "words", "tags", "entities"}  # of every line `predict` writes
PROGRESS_DELAY = 1.0  # seconds before the progress bar shows: a quick run draws none


def _progress_bar(sentence_ids: list[int], num_texts: int, enabled: bool):
    """A tqdm bar on stderr counting texts done (a text is done when its last window is), and a function that
    advances it by the feature rows just tagged."""
    from tqdm import tqdm

    windows_left = Counter(sentence_ids)
    empty = num_texts - len(windows_left)  # texts without words: done before the model runs
    bar = tqdm(total=num_texts, initial=empty, unit="text", desc="tagging", disable=not enabled, delay=PROGRESS_DELAY)

    def advance(rows: list[int]) -> None:
        for r in rows:
            windows_left[sentence_ids[r]] -= 1
            bar.update(int(windows_left[sentence_ids[r]] == 0))

    return bar, advance


def _pad(rows: list[list[int]], value: int):
    """Right-pad to the longest row (right, so that token positions match `word_index`)."""
    import torch

    width = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def _tag_ids(outputs):
    """Tag id and its probability for each token, from logits that carry the model's decoding.

    `BertTagger`'s logits outside training are built so that the best-scoring tag is its `decode`'s (the Viterbi
    path for a CRF head); for any other token-classification model that is the argmax of its scores. The score is
    the softmax probability of that tag.
    """
    probs = outputs.logits.float().softmax(-1)
    scores, ids = probs.max(-1)
    return ids, scores


def predict_texts(
    model,
    tokenizer,
    texts: list[str],
    batch_size: int | None = 32,
    max_seq_length: int | None = None,
    word_scores: bool = False,
    progress: bool = False,
    batch_tokens: int = BATCH_TOKENS,
) -> list[dict]:
    """Tag each text; returns `{"text", "words", "tags", "entities"}` per text, in input order.

    `model` is any token-classification model with `config.id2label` that returns `logits`. Every word gets a
    tag: texts longer than `max_seq_length` tokens (default: `max_window_length`) are split into windows.
    Empty or whitespace-only texts get empty lists without running the model. A forward pass takes at most
    `batch_size` windows (None: no limit) and `batch_tokens` tokens, padding included. Each entity is `{"text", "type",
    "start", "end", "score"}` (character offsets, `text[start:end]`); `word_scores` adds `"word_scores"`, one
    `{"word", "start", "end", "tag", "score"}` per word. `score` is defined in this module's docstring. `progress`
    draws a bar on stderr (after `PROGRESS_DELAY` seconds).
    """
    import torch

    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if batch_tokens < 1:
        raise InputError(f"batch_tokens must be at least 1, got {batch_tokens}")
    max_seq_length = window_length(model, tokenizer, max_seq_length)
    if tokenizer.pad_token_id is None:
        raise InputError("the tokenizer has no pad token, so windows cannot be batched")
    id2label = {int(i): tag for i, tag in model.config.id2label.items()}
    scheme = entity_scheme(model.config)
    word_split = getattr(model.config, "word_split", "words")  # any other token classifier: words

    words = [split_words(text, word_split) for text in texts]
    sentences = [Sentence([w for w, _, _ in ws], None, "<text>", i + 1) for i, ws in enumerate(words)]
    features, _ = encode_sentences(sentences, tokenizer, max_seq_length=max_seq_length)
    inputs = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in features]
    pad_values = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0, "token_type_ids": 0}

    batches = length_batches(features["length"], batch_tokens, batch_size)
    device = next(model.parameters()).device
    takes_word_mask = "word_mask" in inspect.signature(model.forward).parameters
    token_ids = [None] * len(features["length"])
    token_scores = [None] * len(features["length"])
    bar, advance = _progress_bar(features["sentence_id"], len(texts), progress)
    with torch.inference_mode(), bar:
        for rows in batches:
            batch = {key: _pad([features[key][r] for r in rows], pad_values[key]).to(device) for key in inputs}
            if takes_word_mask:
                batch["word_mask"] = _pad([features["word_mask"][r] for r in rows], 0).to(device)
            ids, scores = _tag_ids(model(**batch))
            for r, row_ids, row_scores in zip(rows, ids.tolist(), scores.tolist()):
                token_ids[r], token_scores[r] = row_ids, row_scores
            advance(rows)

    alignment = WordAlignment.from_features(features, sentences)
    per_word_ids, per_word_scores = alignment.to_words(token_ids), alignment.to_words(token_scores)
    results = []
    for text, ws, ids, scores in zip(texts, words, per_word_ids, per_word_scores):
        tags = [id2label[int(i)] for i in ids]
        scores = [float(s) for s in scores]
        offsets = [(start, end) for _, start, end in ws]
        entities = tags_to_entities(text, offsets, tags, scores, scheme)
        result = {"text": text, "words": [w for w, _, _ in ws], "tags": tags, "entities": entities}
        if word_scores:
            result["word_scores"] = [
                {"word": word, "start": start, "end": end, "tag": tag, "score": round(score, 4)}
                for (word, start, end), tag, score in zip(ws, tags, scores)
            ]
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = predict_parser(
        "run_ner.py predict",
        "Tag raw text with a trained NER model; prints one JSON object per text (JSON lines).",
        verb="tag",
        unit="window",
        input_note="; empty lines give empty results",
    )
    parser.add_argument(
        "--batch_tokens",
        type=int,
        default=BATCH_TOKENS,
        help=f"tokens per forward pass, padding included; a longer window runs alone (default: {BATCH_TOKENS})",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="precision of the encoder: bfloat16 is about 2x faster on CPUs with bf16 units and on GPUs, and may "
        "change a close call's tag; a CRF decodes in float32 either way (default: float32)",
    )
    parser.add_argument(
        "--word_scores",
        action="store_true",
        help='add "word_scores" to each line: {"word", "start", "end", "tag", "score"} for every word',
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: `load_tagger`, then `Tagger.predict`, as the Python API. Bad input or an unloadable
    model raises `InputError`; `run_ner.py` turns it into one `error:` line and exit status 2."""
    args = parse_command_args(build_parser(), argv)
    if args.batch_tokens < 1:
        raise InputError(f"--batch_tokens must be at least 1, got {args.batch_tokens}")
    texts = predict_inputs(args, PREDICTION_KEYS)

    from .api import load_tagger  # not at the top: the API is built on this module

    tagger = load_tagger(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        trust_remote_code=args.trust_remote_code,
        batch_tokens=args.batch_tokens,
        dtype=args.dtype,
    )
    on_terminal = sys.stderr is not None and sys.stderr.isatty()  # progress bars only there, not in a log file
    results = tagger.predict(texts, word_scores=args.word_scores, progress=on_terminal)
    write_predictions(results, args.output_file)


if __name__ == "__main__":
    from trainer_common.cli import run_cli

    sys.exit(run_cli({"predict": "ner_trainer.predict:main"}, default="predict"))
