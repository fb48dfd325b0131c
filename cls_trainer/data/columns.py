"""Which columns hold the text, the second text of a pair, and the label: the options', else the usual names.

Without options, the text columns are the first pair of the usual names that a file has both of (`PAIRS`), else its
first usual single-text name (`SINGLES`); the label is the first of `LABELS`. A text column named by an option takes
a second text only from `--text_pair_column_name`. With no header row the columns are 0-based positions: by default
the label is column 0 and the text column 1 (ChnSentiCorp's `label,review`), the pair column 2 when there is one; a
file of one column is texts alone.
"""

from dataclasses import dataclass

from trainer_common.errors import InputError

PAIRS = (
    ("sentence1", "sentence2"),
    ("question", "sentence"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("text_a", "text_b"),
    ("text", "text_pair"),
)
SINGLES = ("sentence", "text", "review", "content", "document")
LABELS = ("label", "labels", "gold_label", "class")
POSITIONS = {"label": "0", "text": "1", "pair": "2"}  # with no header row


@dataclass(frozen=True)
class ColumnOptions:
    """The column options as given (None: not given): names, or 0-based positions as text with `no_header`."""

    text: str | None = None
    pair: str | None = None
    label: str | None = None
    no_header: bool = False

    @classmethod
    def from_args(cls, args) -> "ColumnOptions":
        return cls(args.text_column_name, args.text_pair_column_name, args.label_column_name, args.no_header)


@dataclass(frozen=True)
class Columns:
    """The columns a split is read from; `pair` None for single texts, `label` None when it has no labels."""

    text: str
    pair: str | None
    label: str | None

    def describe(self, positions: bool = False) -> str:
        """The columns in words: "text 'sentence1', pair 'sentence2', label 'label'", or by position."""
        show = (lambda column: f"column {column}") if positions else repr
        parts = [f"text {show(self.text)}"]
        parts += [f"pair {show(self.pair)}"] if self.pair is not None else []
        parts += [f"label {show(self.label)}"] if self.label is not None else ["no labels"]
        return ", ".join(parts)


def choose_columns(available: list[str], options: ColumnOptions, where: str, labels_optional: bool) -> Columns:
    """The columns to read from a file (or Hub split) with `available` columns, named in errors as `where`. A
    missing label column is allowed (the split is unlabelled) when `labels_optional` (a test split) or when the
    label column was not named; any other column named by an option must exist."""
    if options.no_header:
        return _positions(len(available), options, where, labels_optional)
    for option, name in (("text", options.text), ("text_pair", options.pair)):
        if name is not None and name not in available:
            raise InputError(
                f"{where}: no {name!r} column for --{option}_column_name (columns: {available}){_hint(name)}"
            )
    if options.label is not None and options.label not in available and not labels_optional:
        raise InputError(f"{where}: no {options.label!r} column for --label_column_name (columns: {available})")
    label = options.label if options.label is not None else _first(LABELS, available)
    label = label if label in available else None
    text, pair = options.text, options.pair
    if text is None:
        taken = {pair, label}
        found = next((p for p in PAIRS if pair is None and set(p) <= set(available) and not taken & set(p)), None)
        if found is not None:
            text, pair = found
        else:
            usual = [first for first, _ in PAIRS] + list(SINGLES)
            text = next((name for name in usual if name in available and name not in taken), None)
        if text is None:
            raise InputError(
                f"{where}: no text column among {available}: name it with --text_column_name (found by default: "
                f"{', '.join(SINGLES)}, or a pair such as sentence1/sentence2); a file without a header row "
                "needs --no_header"
            )
    if label is not None and label in (text, pair):  # the label would be read as input too
        role = "text" if label == text else "second text"
        raise InputError(f"{where}: column {label!r} is both the label and the {role}: name the label column with "
                         "--label_column_name, or another text column")  # fmt: skip
    return Columns(text, pair, label)


def _positions(width: int, options: ColumnOptions, where: str, labels_optional: bool) -> Columns:
    """Columns by position: the options', else `POSITIONS` where no option took them; a one-column file is texts."""
    if width == 1 and options.text is None and options.pair is None:
        if options.label is not None and not labels_optional:
            raise InputError(f"{where}: one column, so no label column {options.label} (--label_column_name)")
        return Columns("0", None, None)
    for option, position in (("text", options.text), ("text_pair", options.pair), ("label", options.label)):
        if position is not None and int(position) >= width and not (option == "label" and labels_optional):
            raise InputError(f"{where}: --{option}_column_name {position}, but the file has {width} columns")
    text = options.text if options.text is not None else POSITIONS["text"]
    if text in (options.pair, options.label):
        raise InputError(f"{where}: column {text} is the text by default, but another option names it: give "
                         "--text_column_name too")  # fmt: skip
    label = options.label
    if label is None and POSITIONS["label"] in (text, options.pair) and not labels_optional:
        raise InputError(f"{where}: column {POSITIONS['label']} is the label by default, but a text option names it: "
                         "give --label_column_name too")  # fmt: skip
    if label is None and POSITIONS["label"] not in (text, options.pair):
        label = POSITIONS["label"]
    pair = options.pair
    if pair is None and options.text is None and width > 2 and label != POSITIONS["pair"]:
        pair = POSITIONS["pair"]
    return Columns(text, pair, label if label is not None and int(label) < width else None)


def _first(names: tuple[str, ...], available: list[str]) -> str | None:
    return next((name for name in names if name in available), None)


def _hint(name: str) -> str:
    return " (a header row names the columns; --no_header reads them by position)" if name.isdigit() else ""
