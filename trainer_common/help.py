"""`--help` of a training command: the project's options in named groups, one spelling each, and the rest of
transformers' `TrainingArguments` behind `--help-all`.

A field joins a group by its metadata, `field(..., metadata={"help": ..., "group": "data"})`, or, for a
`TrainingArguments` field the project does not redefine, by its dataclass's `help_groups`, which gives the group and a
short help (`{"seed": ("training", "Random seed.")}`); any other is a `TrainingArguments` option shown by `--help-all`
only.
"""

import dataclasses
import os
import shutil
import sys
import textwrap

HELP_FLAGS = ("-h", "--help", "--help-all")
# the headings of the project's options, in the order shown; a task shows those its fields use
GROUPS = ("model", "data", "head and tags", "encoder fine-tuning", "training", "outputs and run", "no effect")
SHOWN_BY_HELP_ALL = ("no effect",)  # flags accepted for other scripts' command lines: noise in the plain help
MAX_WIDTH = 120
MAX_CHOICES_WIDTH = 30  # a longer {a,b,...} list goes into the help text, not beside the option


def field_groups(dataclass_types) -> dict[str, tuple[str | None, str | None]]:
    """Each option's group (None: a `TrainingArguments` option) and the short help that replaces transformers' (None:
    its own), from the last definition of its field."""
    groups = {}
    for dataclass_type in dataclass_types:
        inherited = getattr(dataclass_type, "help_groups", {})
        for field in dataclasses.fields(dataclass_type):
            if field.init:
                group = field.metadata.get("group")
                groups[field.name] = (group, None) if group else inherited.get(field.name, (None, None))
    unknown = {group for group, _ in groups.values()} - {None, *GROUPS}
    if unknown:
        raise ValueError(f"help group(s) {sorted(unknown)} are not in trainer_common.help.GROUPS")
    return groups


def format_help(parser, dataclass_types, show_all: bool = False) -> str:
    """The help of `parser` (an `HfArgumentParser` of `dataclass_types`): usage, then each group's options; the
    `TrainingArguments` options last when `show_all`, else one line saying that `--help-all` shows them."""
    groups = field_groups(dataclass_types)
    sections = {title: [] for title in GROUPS}
    rest = []
    for action in parser._actions:
        if not action.option_strings or _is_complement(action):
            continue  # `--no_x`: `--x false` is the one spelling shown
        group, short_help = groups.get(action.dest, (None, None))
        (sections[group] if group else rest).append((action, short_help))
    if show_all:
        sections[f"transformers TrainingArguments ({len(rest)} options)"] = rest
    else:
        for title in SHOWN_BY_HELP_ALL:
            sections.pop(title)
    entries = {title: [_entry(*item) for item in items] for title, items in sections.items() if items}
    prog = os.path.basename(sys.argv[0]) or "run.py"
    width = min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2
    column = min(max((len(name) for rows in entries.values() for name, _ in rows), default=0) + 4, 32)
    lines = [
        f"usage: {prog} [CONFIG.json|CONFIG.yaml] [OPTIONS]",
        "A config file first holds defaults that the options after it override. A [BOOL] option alone means true.",
    ]
    for title, rows in entries.items():
        lines += ["", f"{title}:"]
        for name, text in rows:
            lines += _wrapped(name, text, column, width)
    if not show_all:
        lines += [
            "",
            f"--help-all also shows the {len(rest)} further options of transformers' TrainingArguments "
            "(optimizer, precision, logging, checkpoints, Hub, distributed).",
        ]
    return "\n".join(lines)


def _is_complement(action) -> bool:
    """The `--no_x` option `HfArgumentParser` adds beside a boolean `--x` whose default is true."""
    return action.nargs == 0 and action.option_strings[0].startswith("--no_")


def _is_bool(action) -> bool:
    return getattr(action.type, "__name__", "") == "string_to_bool"


def _entry(action, short_help: str | None = None) -> tuple[str, str]:
    """The option's one spelling with its metavar, and its help (`short_help` if given) with the default."""
    name = action.option_strings[0]  # `--snake_case`; the `--kebab-case` alias is accepted but not shown
    help_text = " ".join(str(short_help or action.help or "").split())
    choices = [str(getattr(choice, "value", choice)) for choice in action.choices or ()]
    if _is_bool(action):
        metavar = "[BOOL]" if action.nargs == "?" else "BOOL"
    elif choices and len(",".join(choices)) + 2 <= MAX_CHOICES_WIDTH:
        metavar = "{" + ",".join(choices) + "}"
    else:
        metavar = "NAME" if choices else {int: "INT", float: "FLOAT", str: "TEXT"}.get(action.type, "VALUE")
        if choices:
            help_text += f" One of: {', '.join(choices)}."
    if action.nargs in ("+", "*"):
        metavar += " ..."
    return f"{name} {metavar}", _with_default(name, help_text, action)


def _with_default(name: str, help_text: str, action) -> str:
    """`help_text` followed by the default, unless it says it itself; a boolean that is on says how to turn it off."""
    default = getattr(action.default, "value", action.default)
    if default is True:
        return f"{help_text} (default: true; {name} false turns it off)".strip()
    if default is None or default == "" or default == [] or "default:" in help_text.lower():
        return help_text
    if default is False:
        shown = "false"
    elif isinstance(default, float):
        shown = f"{default:g}"
    elif isinstance(default, list | tuple):
        shown = " ".join(str(getattr(item, "value", item)) for item in default)
    else:
        shown = str(default)
    return f"{help_text} (default: {shown})".strip()


def _wrapped(name: str, text: str, column: int, width: int) -> list[str]:
    """`  --name METAVAR   help...` with the help wrapped at `width` in a column from `column`; a name too long for
    the column puts the help on the next lines."""
    body = textwrap.wrap(text, max(width - column, 20)) or [""]
    first = f"  {name}"
    if len(first) + 2 > column:
        return [first, *(" " * column + line for line in body)]
    return [f"{first:<{column}}{body[0]}", *(" " * column + line for line in body[1:])]
