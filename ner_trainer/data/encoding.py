"""Tokenization, label alignment and windowing: sentences to model features, and token outputs back to words.

`encode_sentences` never drops a word: sentences longer than the model's window are split into consecutive word
windows, and a `WordAlignment` records where every word's first sub-token went, so that per-token outputs are put
back together per word.
"""

from dataclasses import dataclass

from trainer_common.errors import InputError
from trainer_common.loading import max_window_length  # noqa: F401 (`ner_trainer.data` offers it)

from .sentence import IGNORE_INDEX, Sentence, check_labels


def word_windows(num_subtokens_per_word: list[int], max_tokens: int) -> list[tuple[int, int]]:
    """Greedily split words into consecutive `[start, end)` ranges whose sub-token counts sum to <= max_tokens.

    A word longer than `max_tokens` gets a window of its own (the tokenizer then truncates its later pieces,
    but its first piece, which carries its prediction, stays). No words -> no windows.
    """
    if max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1, got {max_tokens}")
    windows = []
    start, total = 0, 0
    for i, count in enumerate(num_subtokens_per_word):
        if i > start and total + count > max_tokens:
            windows.append((start, i))
            start, total = i, 0
        total += count
    if num_subtokens_per_word:
        windows.append((start, len(num_subtokens_per_word)))
    return windows


def _pieces_per_word(word_ids: list[int | None], num_words: int) -> list[int]:
    counts = [0] * num_words
    for w in word_ids:
        if w is not None:
            counts[w] += 1
    return counts


def _tokenize(tokenizer, word_lists: list[list[str]], **kwargs):
    return tokenizer(word_lists, is_split_into_words=True, verbose=False, **kwargs)


def encode_sentences(
    sentences: list[Sentence],
    tokenizer,
    label2id: dict[str, int] | None = None,
    max_seq_length: int = 128,
    label_all_tokens: bool = False,
) -> tuple[dict[str, list], dict[str, int]]:
    """Tokenize sentences into model features, windowing long ones so that no word is ever dropped.

    Returns `(features, stats)`. Each feature row (one window of one sentence, in sentence order) has
    `input_ids`, `attention_mask`, `token_type_ids` (if the tokenizer makes them), `labels` (when `label2id`
    is given and the sentences are tagged), and bookkeeping: `sentence_id`, `word_start` (first word of the
    window), `word_index` (per token: the word's index in the sentence on its first sub-token, -1 elsewhere)
    `word_mask` (per token: 1 on a word's first sub-token, else 0; what the CRF head and `decode` read) and
    `length` (number of tokens). Labels sit on first sub-tokens; other pieces get -100, or with
    `label_all_tokens` the word's label (B-X turned into I-X). Specials always get -100.
    `stats` counts sentences, windows, split sentences and words whose sub-tokens had to be truncated.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("encode_sentences needs a fast tokenizer (one with word_ids())")
    max_tokens = max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
    if max_tokens < 1:
        raise InputError(f"max_seq_length={max_seq_length} leaves no room for words next to the special tokens")
    with_labels = label2id is not None and any(s.tags is not None for s in sentences)
    if with_labels:
        for s in sentences:
            if s.tags is None:
                raise InputError(f"{s.source}:{s.line}: sentence has no tags, but the other sentences do")
        check_labels(sentences, label2id)

    # One batched call for all sentences. Most fit; only the others are tokenized again, window by window.
    word_lists = [list(s.tokens) for s in sentences]
    nonempty = [i for i, words in enumerate(word_lists) if words]
    encoding = _tokenize(tokenizer, [word_lists[i] for i in nonempty]) if nonempty else None
    plan = []  # (sentence_id, word_start, word_end, row in `encoding` or None when it must be re-tokenized)
    pieces = {}
    split_sentences = 0
    for row, i in enumerate(nonempty):
        counts = _pieces_per_word(encoding.word_ids(row), len(word_lists[i]))
        reuse = 0 not in counts
        if not reuse:
            # A word the tokenizer deletes (e.g. a lone zero-width space) would get no prediction: use [UNK].
            if tokenizer.unk_token is None:
                raise InputError(f"{sentences[i].source}:{sentences[i].line}: a word has no sub-tokens")
            word_lists[i] = [w if c else tokenizer.unk_token for w, c in zip(word_lists[i], counts)]
            counts = [c or 1 for c in counts]
        pieces[i] = counts
        if sum(counts) <= max_tokens:
            plan.append((i, 0, len(counts), row if reuse else None))
        else:
            windows = word_windows(counts, max_tokens)
            split_sentences += len(windows) > 1
            plan.extend((i, start, end, None) for start, end in windows)
    redo = [k for k, (_, _, _, row) in enumerate(plan) if row is None]
    if redo:
        # truncation only bites on a single word longer than the window, and keeps its first piece
        words = [word_lists[plan[k][0]][plan[k][1] : plan[k][2]] for k in redo]
        redone = _tokenize(tokenizer, words, truncation=True, max_length=max_seq_length)
        redone_row = {k: row for row, k in enumerate(redo)}

    produced = encoding.keys() if encoding is not None else tokenizer.model_input_names
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in produced]
    features = {key: [] for key in keys}
    if with_labels:
        features["labels"] = []
    features.update(sentence_id=[], word_start=[], word_index=[], word_mask=[], length=[])
    truncated_words = 0
    for k, (i, start, end, row) in enumerate(plan):
        source = encoding
        if row is None:
            source, row = redone, redone_row[k]
        word_ids = source.word_ids(row)
        word_index, labels, previous = [], [], None
        for w in word_ids:
            first = w is not None and w != previous
            word_index.append(start + w if first else -1)
            if with_labels:
                labels.append(_token_label(sentences[i].tags, start, w, first, label2id, label_all_tokens))
            previous = w
        for key in keys:
            features[key].append(source[key][row])
        if with_labels:
            features["labels"].append(labels)
        features["sentence_id"].append(i)
        features["word_start"].append(start)
        features["word_index"].append(word_index)
        features["word_mask"].append([int(w >= 0) for w in word_index])
        features["length"].append(len(word_ids))
        truncated_words += end - start == 1 and pieces[i][start] > max_tokens

    _check_coverage(features, sentences)
    stats = {
        "sentences": len(sentences),
        "windows": len(plan),
        "split_sentences": split_sentences,
        "truncated_words": truncated_words,
    }
    return features, stats


def _token_label(tags, start, w, first, label2id, label_all_tokens) -> int:
    """Label id of one token: the word's tag on its first sub-token; -100 or the I- tag on the other pieces."""
    if w is None:
        return IGNORE_INDEX
    tag = tags[start + w]
    if first:
        return label2id[tag]
    if not label_all_tokens:
        return IGNORE_INDEX
    if tag.startswith("B-") and f"I-{tag[2:]}" in label2id:
        tag = f"I-{tag[2:]}"
    return label2id[tag]


def _check_coverage(features: dict[str, list], sentences: list[Sentence]) -> None:
    """Every word of every sentence must be the first sub-token of exactly one feature token."""
    seen = [0] * len(sentences)
    for i, word_index in zip(features["sentence_id"], features["word_index"]):
        seen[i] += sum(1 for w in word_index if w >= 0)
    for i, sentence in enumerate(sentences):
        if seen[i] != len(sentence.tokens):
            raise RuntimeError(
                f"{sentence.source}:{sentence.line}: {len(sentence.tokens)} words but {seen[i]} were encoded"
            )


def to_dataset(features: dict[str, list]):
    """A `datasets.Dataset` with one row per feature window."""
    from datasets import Dataset

    return Dataset.from_dict(features)


@dataclass
class WordAlignment:
    """Where the words of the sentences sit in the feature rows, so that per-token outputs map back to words.

    Row `r` holds a window of sentence `sentence_id[r]` starting at its word `word_start[r]`; `word_index[r][t]` is
    the sentence's word whose first sub-token is token `t`, -1 for every other token. `num_words[i]` is the length
    of sentence `i`.
    """

    sentence_id: list[int]
    word_start: list[int]
    word_index: list[list[int]]
    num_words: list[int]

    @classmethod
    def from_features(cls, features: dict[str, list], sentences: list[Sentence]) -> "WordAlignment":
        num_words = [len(sentence.tokens) for sentence in sentences]
        return cls(features["sentence_id"], features["word_start"], features["word_index"], num_words)

    def select(self, rows: list[int]) -> "WordAlignment":
        """The alignment of the feature rows reordered (or subset) as `rows`."""
        pick = lambda column: [column[r] for r in rows]  # noqa: E731
        return WordAlignment(pick(self.sentence_id), pick(self.word_start), pick(self.word_index), self.num_words)

    def to_words(self, token_values) -> list:
        """Per-token values (ids, scores) of every row to one numpy array per sentence; see `scatter_to_words`."""
        return scatter_to_words(token_values, self.word_index, self.sentence_id, self.num_words)

    def tag_ids(self, token_ids) -> list[list[int]]:
        """Per-word tag ids of every sentence; see `words_from_predictions`."""
        return words_from_predictions(token_ids, self.word_index, self.sentence_id, self.word_start, self.num_words)


def scatter_to_words(
    token_values,
    word_index: list[list[int]],
    sentence_id: list[int],
    num_words_per_sentence: list[int],
) -> list:
    """Gather per-token values (e.g. predicted ids or scores) onto words: one numpy array per sentence.

    `token_values[r]` belongs to feature row `r` (rows may come in any order, e.g. length-sorted) and may be
    longer than the row (right-padded, as Trainer.predict does with -100) but must reach its last first sub-token.
    Raises unless every word of every sentence gets exactly one value.
    """
    import numpy as np

    offsets = np.concatenate([[0], np.cumsum(num_words_per_sentence, dtype=np.int64)])
    total = int(offsets[-1])
    values = None
    filled = np.zeros(total, dtype=np.int64)
    if len(token_values) != len(word_index):
        raise ValueError(f"{len(token_values)} rows of token values for {len(word_index)} feature rows")
    for r, (row_word_index, i) in enumerate(zip(word_index, sentence_id)):
        row_word_index = np.asarray(row_word_index, dtype=np.int64)
        positions = np.nonzero(row_word_index >= 0)[0]
        if positions.size == 0:
            continue
        row_values = np.asarray(token_values[r])
        if row_values.shape[0] <= positions[-1]:
            raise ValueError(f"feature row {r} has {row_values.shape[0]} token values, needs {positions[-1] + 1}")
        words = row_word_index[positions]
        if words.max() >= num_words_per_sentence[i]:
            raise ValueError(f"feature row {r}: word {words.max()} is past the end of sentence {i}")
        if values is None:
            values = np.zeros((total,) + row_values.shape[1:], dtype=row_values.dtype)
        values[offsets[i] + words] = row_values[positions]
        np.add.at(filled, offsets[i] + words, 1)
    if total and (filled != 1).any():
        bad = int(np.nonzero(filled != 1)[0][0])
        i = int(np.searchsorted(offsets, bad, side="right") - 1)
        raise ValueError(f"word {bad - offsets[i]} of sentence {i} got {filled[bad]} predictions instead of 1")
    if values is None:
        values = np.zeros(total)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(num_words_per_sentence))]


def words_from_predictions(
    pred_ids,
    word_index: list[list[int]],
    sentence_id: list[int],
    word_start: list[int],
    num_words_per_sentence: list[int],
) -> list[list[int]]:
    """Per-word predicted label ids for every sentence, from windowed feature rows given in any order.

    `pred_ids` is `[n_features, seq_len]` (padded with -100 is fine). `word_start` is only used as a check
    that each row's words lie inside its window.
    """
    for r, (row_word_index, start) in enumerate(zip(word_index, word_start)):
        if any(0 <= w < start for w in row_word_index):
            raise ValueError(f"feature row {r}: a word index is before its window start {start}")
    per_word = scatter_to_words(pred_ids, word_index, sentence_id, num_words_per_sentence)
    return [[int(x) for x in words] for words in per_word]
