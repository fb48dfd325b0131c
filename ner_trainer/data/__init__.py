"""NER data: readers for each format, the sentence record, word-aligned windowed encoding, and batching.

Every reader yields `Sentence` records (words plus optional tags, with the file and line they came from);
`encode_sentences` turns them into model features without ever dropping a word, and `WordAlignment` maps
per-token outputs back onto words.
"""

import os
from pathlib import Path

from trainer_common.batches import shuffled_length_grouped_indices
from trainer_common.errors import InputError

from .collators import PaddingFreeCollator, WordMaskCollator, pack_rows
from .conll import DOCSTART, read_conll, write_conll_predictions
from .encoding import (
    WordAlignment,
    encode_sentences,
    max_window_length,
    scatter_to_words,
    to_dataset,
    word_windows,
    words_from_predictions,
)
from .hub import DEFAULT_HUB_DATASET, hub_label_list, load_hub_dataset, sentences_from_hf
from .json_records import read_json
from .sentence import IGNORE_INDEX, Sentence, apply_tag_scheme, build_label_list, check_labels, check_tag
from .token_records import DEFAULT_COLUMNS, Columns, read_csv


def read_file(
    path: str | os.PathLike,
    label_column: int = -1,
    tag_scheme: str = "auto",
    label_scheme: str = "iob2",
    overlapping_spans: str = "error",
    columns: Columns = DEFAULT_COLUMNS,
) -> list[Sentence]:
    """Read `.json`/`.jsonl` with `read_json`, `.csv` with `read_csv`, anything else as CoNLL with `read_conll`;
    tags in `label_scheme`. `columns` names the tokens and tags of JSON and CSV records."""
    suffix = Path(path).suffix.lower()
    if suffix in (".json", ".jsonl"):
        sentences = read_json(path, tag_scheme, label_scheme, overlapping_spans, columns)
    elif suffix == ".csv":
        sentences = read_csv(path, columns, tag_scheme, label_scheme)
    else:
        sentences = read_conll(path, label_column=label_column, tag_scheme=tag_scheme, label_scheme=label_scheme)
    if not sentences:  # an empty split would be skipped silently, and scores nothing
        raise InputError(f"{path}: no sentences in the file")
    return sentences


__all__ = [
    "Columns", "DEFAULT_HUB_DATASET", "DOCSTART", "IGNORE_INDEX", "PaddingFreeCollator", "Sentence", "WordAlignment",
    "build_label_list", "check_labels", "check_tag", "encode_sentences", "hub_label_list", "apply_tag_scheme",
    "load_hub_dataset", "max_window_length", "pack_rows", "read_conll", "read_csv", "read_file", "read_json",
    "scatter_to_words", "sentences_from_hf", "shuffled_length_grouped_indices", "to_dataset", "word_windows",
    "words_from_predictions", "WordMaskCollator", "write_conll_predictions",
]  # fmt: skip
