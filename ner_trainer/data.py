"""NER data: CoNLL / JSON / CLUENER / Hub readers, label lists, and word-aligned, windowed tokenization.

Everything works on `Sentence` records (words plus optional IOB2 tags). `encode_sentences` turns them into
model features without ever dropping a word: sentences longer than the model's window are split into
consecutive word windows, and `words_from_predictions` puts per-token outputs back together per word.
"""

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_HUB_DATASET = "eriktks/conll2003"
DOCSTART = "-DOCSTART-"
IGNORE_INDEX = -100  # label id the loss ignores (specials, non-first sub-tokens)
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")


@dataclass
class Sentence:
    """One sentence: its words, their IOB2 tags (None when untagged), and where it came from.

    `line` is the 1-based line where the sentence starts in `source`. For CoNLL files each word is on its
    own line (`one_word_per_line`), so word i sits on line `line + i`; for JSON the whole record is on `line`.
    """

    tokens: list[str]
    tags: list[str] | None
    source: str
    line: int
    one_word_per_line: bool = False

    def word_line(self, i: int) -> int:
        """1-based line of word `i` in `source`."""
        return self.line + i if self.one_word_per_line else self.line


# ---------------------------------------------------------------------------------------------------------
# Readers


def _read_utf8(path: str | os.PathLike) -> str:
    """The file's text; missing files and non-UTF-8 bytes get errors that name the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not valid UTF-8 ({err.reason} at byte {err.start})") from err


def check_tag(tag: str, where: str) -> None:
    """Raise unless `tag` looks like `O`, `B-X` or `I-X`; `where` is the "file:line" to blame."""
    if not TAG_RE.match(tag):
        raise ValueError(f"{where}: bad tag {tag!r}: expected 'O', 'B-TYPE' or 'I-TYPE' (IOB2 or IOB1)")


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """Convert IOB1 tags to IOB2: an `I-X` that does not continue an `X` entity starts one, so it becomes `B-X`."""
    out = []
    prev_type = None  # entity type of the previous word, None after O
    for tag in tags:
        kind, entity_type = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        if kind == "I" and entity_type != prev_type:
            tag = f"B-{entity_type}"
        out.append(tag)
        prev_type = entity_type
    return out


def read_conll(path: str | os.PathLike, label_column: int = -1, tag_scheme: str = "iob2") -> list[Sentence]:
    """Read a CoNLL-style file: one word per line, whitespace-separated columns, blank lines between sentences.

    The tag is in column `label_column` (default: the last). A file with a single column is untagged.
    `-DOCSTART-` lines are skipped. `tag_scheme="iob1"` converts the tags to IOB2.
    """
    if tag_scheme not in ("iob1", "iob2"):
        raise ValueError(f"tag_scheme must be 'iob1' or 'iob2', got {tag_scheme!r}")
    path = str(path)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    num_columns = None  # fixed by the first data row
    tag_index = None

    def flush():
        if tokens:
            sentence_tags = None if tag_index is None else list(tags)
            if sentence_tags is not None and tag_scheme == "iob1":
                sentence_tags = iob1_to_iob2(sentence_tags)
            sentences.append(Sentence(list(tokens), sentence_tags, path, start, one_word_per_line=True))
        tokens.clear()
        tags.clear()

    for line_number, line in enumerate(_read_utf8(path).split("\n"), start=1):
        columns = line.split()
        if not columns:
            flush()
            continue
        if columns[0] == DOCSTART:
            flush()
            continue
        if num_columns is None:
            num_columns = len(columns)
            if num_columns > 1:
                tag_index = label_column if label_column >= 0 else num_columns + label_column
                if not 1 <= tag_index < num_columns:
                    raise ValueError(
                        f"{path}:{line_number}: label_column={label_column} does not name a tag column in a row "
                        f"with {num_columns} columns (column 0 is the word)"
                    )
        elif len(columns) != num_columns:
            raise ValueError(
                f"{path}:{line_number}: expected {num_columns} columns like the first row, found {len(columns)}: "
                f"{line.strip()!r}"
            )
        if not tokens:
            start = line_number
        tokens.append(columns[0])
        if tag_index is not None:
            check_tag(columns[tag_index], f"{path}:{line_number}")
            tags.append(columns[tag_index])
    flush()
    return sentences


def _json_records(text: str, path: str):
    """Yield (line, record) from JSON lines or a JSON list, with the 1-based line where each record starts."""
    if not text.lstrip().startswith("["):
        for line_number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    yield line_number, json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{line_number}: not valid JSON: {err.msg} (column {err.colno})") from err
        return
    # A JSON list: decode it element by element so that each record keeps its line number.
    decoder = json.JSONDecoder()
    space = re.compile(r"\s*")
    pos = space.match(text, text.index("[") + 1).end()
    line, counted_to = 1, 0
    while not text.startswith("]", pos):
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{err.lineno}: not valid JSON: {err.msg} (column {err.colno})") from err
        yield line, record
        pos = space.match(text, pos).end()
        if text.startswith(",", pos):
            pos = space.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            where = f"{path}:{line + text.count(chr(10), counted_to, pos)}"
            raise ValueError(f"{where}: not valid JSON: expected ',' or ']' after a list element")
    if text[pos + 1 :].strip():
        raise ValueError(f"{path}: not valid JSON: extra data after the closing ']'")


def _tokens_record(record: dict, where: str, path: str, line: int, tag_scheme: str) -> Sentence:
    tokens = record["tokens"]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{where}: 'tokens' must be a list of strings")
    tags = record.get("ner_tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"{where}: 'ner_tags' must be a list of tag strings like 'B-PER'")
        if len(tags) != len(tokens):
            raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} ner_tags")
        for tag in tags:
            check_tag(tag, where)
        if tag_scheme == "iob1":
            tags = iob1_to_iob2(tags)
    return Sentence(tokens, tags, path, line)


def _cluener_record(record: dict, where: str, path: str, line: int) -> Sentence:
    """CLUENER: one word per character; `label` maps type -> entity text -> [[start, end_inclusive], ...]."""
    text = record["text"]
    label = record.get("label")
    if label is None:
        return Sentence(list(text), None, path, line)
    try:
        spans = [
            (t, entity, span)
            for t, entities in label.items()
            for entity, positions in entities.items()
            for span in positions
        ]
    except (AttributeError, TypeError) as err:
        raise ValueError(f"{where}: 'label' must look like {{type: {{entity: [[start, end], ...]}}}}") from err
    tags = ["O"] * len(text)
    for entity_type, entity, span in spans:
        check_tag(f"B-{entity_type}", where)
        ok = isinstance(span, list) and len(span) == 2 and all(isinstance(i, int) for i in span)
        if not ok or not 0 <= span[0] <= span[1] < len(text):
            raise ValueError(f"{where}: bad span {span!r} for {entity_type} {entity!r} in a text of {len(text)} chars")
        start, end = span
        if text[start : end + 1] != entity:
            raise ValueError(
                f"{where}: span [{start}, {end}] of {entity_type} is {text[start : end + 1]!r}, "
                f"not the entity {entity!r}"
            )
    # IOB2 cannot nest entities (CLUENER train has a company inside a book title): the longer, outer span wins,
    # and each span left out is reported.
    spans.sort(key=lambda item: (item[2][0], item[2][0] - item[2][1]))
    for entity_type, entity, (start, end) in spans:
        if any(tag != "O" for tag in tags[start : end + 1]):
            logger.warning(f"{where}: {entity_type} {entity!r} at [{start}, {end}] overlaps a longer entity; left out")
            continue
        tags[start : end + 1] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (end - start)
    return Sentence(list(text), tags, path, line)


def read_json(path: str | os.PathLike, tag_scheme: str = "iob2") -> list[Sentence]:
    """Read JSON lines or a JSON list of records.

    Two record formats: `{"tokens": [...], "ner_tags": ["B-PER", ...]}` (ner_tags optional), and CLUENER's
    `{"text": "...", "label": {type: {entity: [[start, end_inclusive], ...]}}}` (label optional), which becomes
    one word per character. `tag_scheme="iob1"` converts `ner_tags` to IOB2.
    """
    if tag_scheme not in ("iob1", "iob2"):
        raise ValueError(f"tag_scheme must be 'iob1' or 'iob2', got {tag_scheme!r}")
    path = str(path)
    sentences = []
    for line, record in _json_records(_read_utf8(path), path):
        where = f"{path}:{line}"
        is_object = isinstance(record, dict)
        if is_object and "tokens" in record:
            sentences.append(_tokens_record(record, where, path, line, tag_scheme))
        elif is_object and isinstance(record.get("text"), str):
            sentences.append(_cluener_record(record, where, path, line))
        else:
            found = f"keys {sorted(record)}" if is_object else type(record).__name__
            raise ValueError(
                f"{where}: expected an object with 'tokens' (+ optional 'ner_tags') or CLUENER's 'text' string "
                f"(+ optional 'label'), found {found}"
            )
    return sentences


def read_file(path: str | os.PathLike, label_column: int = -1, tag_scheme: str = "iob2") -> list[Sentence]:
    """Read `.json`/`.jsonl` with `read_json`, anything else as CoNLL with `read_conll`."""
    if Path(path).suffix.lower() in (".json", ".jsonl"):
        return read_json(path, tag_scheme=tag_scheme)
    return read_conll(path, label_column=label_column, tag_scheme=tag_scheme)


# ---------------------------------------------------------------------------------------------------------
# Labels


def build_label_list(sentences: list[Sentence]) -> list[str]:
    """Deterministic label list: "O", then for each entity type in sorted order both `B-X` and `I-X`."""
    types = set()
    tagged = False
    for sentence in sentences:
        if sentence.tags is None:
            continue
        tagged = True
        for i, tag in enumerate(sentence.tags):
            check_tag(tag, f"{sentence.source}:{sentence.word_line(i)}")
            if tag != "O":
                types.add(tag[2:])
    if not tagged:
        raise ValueError("cannot build a label list: no sentence has tags")
    return ["O"] + [f"{prefix}-{entity_type}" for entity_type in sorted(types) for prefix in ("B", "I")]


def check_labels(sentences: list[Sentence], label2id: dict[str, int]) -> None:
    """Raise on the first tag that is not in `label2id`, naming its file, line and tag."""
    for sentence in sentences:
        for i, tag in enumerate(sentence.tags or ()):
            if tag not in label2id:
                raise ValueError(
                    f"{sentence.source}:{sentence.word_line(i)}: tag {tag!r} (word {sentence.tokens[i]!r}) "
                    f"is not one of the training labels {sorted(label2id, key=label2id.get)}"
                )


# ---------------------------------------------------------------------------------------------------------
# Hugging Face Hub datasets


def _class_label_names(split) -> list[str] | None:
    """Names of the `ner_tags` ClassLabel of a datasets split, or None when the tags are plain strings."""
    from datasets import ClassLabel

    feature = split.features.get("ner_tags")
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def hub_label_list(dataset) -> list[str]:
    """The label list of a Hub dataset (a `Dataset` or `DatasetDict`) from its `ner_tags` ClassLabel feature."""
    split = next(iter(dataset.values())) if hasattr(dataset, "values") else dataset
    names = _class_label_names(split)
    if names is None:
        raise ValueError(f"dataset has no ClassLabel 'ner_tags' feature (features: {split.features})")
    for name in names:
        check_tag(name, "ner_tags ClassLabel")
    return names


def sentences_from_hf(split, source: str) -> list[Sentence]:
    """Convert a datasets split with `tokens` and (optional) `ner_tags` columns into Sentences.

    `ner_tags` may be ClassLabel ids (mapped to names) or strings. A row whose ids are all -1 (the "no label"
    value of ClassLabel, used by some test splits) is untagged. `line` is the 1-based row number.
    """
    if "tokens" not in split.column_names:
        raise ValueError(f"{source}: no 'tokens' column (columns: {split.column_names})")
    has_tags = "ner_tags" in split.column_names
    names = _class_label_names(split) if has_tags else None
    columns = split.select_columns(["tokens", "ner_tags"] if has_tags else ["tokens"])[:]
    sentences = []
    for row, tokens in enumerate(columns["tokens"]):
        tags = columns["ner_tags"][row] if has_tags else None
        where = f"{source}:{row + 1}"
        if tags is not None and len(tags) != len(tokens):
            raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} ner_tags")
        if tags is not None and names is not None:
            if tags and all(t == -1 for t in tags):
                tags = None
            else:
                bad = [t for t in tags if not 0 <= t < len(names)]
                if bad:
                    raise ValueError(f"{where}: ner_tags id {bad[0]} is not a label id (0..{len(names) - 1})")
                tags = [names[t] for t in tags]
        for tag in tags or ():
            check_tag(tag, where)
        sentences.append(Sentence(list(tokens), tags, source, row + 1))
    return sentences


def load_hub_dataset(name: str = DEFAULT_HUB_DATASET, config: str | None = None):
    """Load a Hub NER dataset with `datasets.load_dataset`.

    Returns `(splits, label_list)`: `splits` maps split names to Sentence lists; `label_list` comes from the
    `ner_tags` ClassLabel (so ids keep the dataset's order), or is built from the train split for string tags.
    """
    from datasets import load_dataset

    dataset = load_dataset(name, config) if config else load_dataset(name)
    splits = {split: sentences_from_hf(dataset[split], f"{name}[{split}]") for split in dataset}
    if _class_label_names(next(iter(dataset.values()))) is not None:
        label_list = hub_label_list(dataset)
    else:
        label_list = build_label_list(splits.get("train") or [s for part in splits.values() for s in part])
    return splits, label_list


# ---------------------------------------------------------------------------------------------------------
# Tokenization, label alignment and windowing


def word_windows(num_subtokens_per_word: list[int], max_tokens: int) -> list[tuple[int, int]]:
    """Greedily split words into consecutive `[start, end)` ranges whose sub-token counts sum to <= max_tokens.

    A word longer than `max_tokens` gets a window of its own (the tokenizer then truncates its later pieces,
    but its first piece, which carries its prediction, stays). No words -> no windows.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
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
    and `length` (number of tokens). Labels sit on first sub-tokens; other pieces get -100, or with
    `label_all_tokens` the word's label (B-X turned into I-X). Specials always get -100.
    `stats` counts sentences, windows, split sentences and words whose sub-tokens had to be truncated.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("encode_sentences needs a fast tokenizer (one with word_ids())")
    max_tokens = max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
    if max_tokens < 1:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for words next to the special tokens")
    with_labels = label2id is not None and any(s.tags is not None for s in sentences)
    if with_labels:
        for s in sentences:
            if s.tags is None:
                raise ValueError(f"{s.source}:{s.line}: sentence has no tags, but the other sentences do")
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
                raise ValueError(f"{sentences[i].source}:{sentences[i].line}: a word has no sub-tokens")
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
    features.update(sentence_id=[], word_start=[], word_index=[], length=[])
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


# ---------------------------------------------------------------------------------------------------------
# Back from tokens to words


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


# ---------------------------------------------------------------------------------------------------------
# Batching


def shuffled_length_grouped_indices(lengths: list[int], batch_size: int, generator) -> list[int]:
    """Training order: batches of similar lengths (little padding), the batches in random order.

    transformers' `get_length_grouped_indices` sorts random mega-batches of 50 batches by length, but yields each
    mega-batch from its longest batch to its shortest, so training sweeps 50 steps of long sentences down to 50
    steps of one-word headlines, over and over. The same batches in random order pad just as little. The batch with
    the longest example stays first, so that running out of memory happens at once; a last, partial batch stays
    last, so that batch boundaries do not move.
    """
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    indices = get_length_grouped_indices(lengths, batch_size, generator=generator)
    batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    first, rest = batches[:1], batches[1:]
    partial = rest.pop() if rest and len(rest[-1]) < batch_size else None
    order = torch.randperm(len(rest), generator=generator).tolist()
    batches = first + [rest[i] for i in order] + ([partial] if partial else [])
    return [i for batch in batches for i in batch]


def pack_rows(lengths: list[int]) -> list[list[int]]:
    """Group sequence indices into rows no longer than the longest sequence (first-fit decreasing)."""
    capacity = max(lengths, default=0)
    rows, room = [], []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if lengths[i] <= free), None)
        if row is None:
            rows.append([])
            room.append(capacity)
            row = len(rows) - 1
        rows[row].append(i)
        room[row] -= lengths[i]
    return rows


class PaddingFreeCollator:
    """Training batches without padding: the batch's sentences packed end to end into rows as long as its longest.

    Wraps a `DataCollatorForTokenClassification`, which pads the packed rows. `position_ids` restart at 0 at every
    sentence and no `attention_mask` is returned: `BertTagger` reads the restarts as sentence boundaries and lets
    each token attend only within its own sentence, so the model sees the same sentences and computes the same loss
    as with the padded batch, on about 2.6x fewer tokens for CoNLL. Padding at the end of a row gets positions of its
    own, as one more sentence that attends only to itself and has no labels.
    """

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, features: list[dict]) -> dict:
        import torch

        lengths = [len(feature["input_ids"]) for feature in features]
        rows = pack_rows(lengths)
        keys = [key for key in features[0] if key != "attention_mask"]
        batch = self.collator([{key: [x for i in row for x in features[i][key]] for key in keys} for row in rows])
        batch.pop("attention_mask", None)
        width = batch["input_ids"].shape[1]
        pad_right = self.collator.tokenizer.padding_side == "right"
        position_ids = []
        for row in rows:
            positions = [p for i in row for p in range(lengths[i])]
            padding = list(range(width - len(positions)))
            position_ids.append(positions + padding if pad_right else padding + positions)
        batch["position_ids"] = torch.tensor(position_ids, dtype=torch.long)
        return batch
