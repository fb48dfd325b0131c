"""The model card every run writes as `output_dir/README.md` (`hub_push` uploads the folder).

The card's metadata follows the Hub's model card spec (`huggingface_hub.ModelCardData`): `pipeline_tag`,
`library_name`, `license`, `language`, `datasets`, `base_model` (a Hub id, never a local path), `tags`, and a
`model-index` whose results are the run's test (and validation) metrics. The body says what the model is and was
started from, its intended use and limitations, the results (overall, per epoch, and whatever the task adds), a
usage snippet, the training hyperparameters and the framework versions.
"""

import json
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

from .io import write_text

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# a folder of the local Hub cache: .../models--owner--name/snapshots/<commit>
HUB_CACHE_SNAPSHOT = re.compile(r"models--([\w.-]+?)--([\w.-]+)/snapshots/[0-9a-f]+/?$")

HYPERPARAMETERS = ("learning_rate", "classifier_learning_rate", "crf_learning_rate", "per_device_train_batch_size",
                   "gradient_accumulation_steps", "num_train_epochs", "max_steps", "warmup_steps", "weight_decay",
                   "lr_scheduler_type", "optim", "max_grad_norm", "seed", "layer_lr_decay")  # fmt: skip
FRAMEWORKS = ("hf-trainer-toolkit", "transformers", "torch", "datasets")
SPLITS = (("validation", "dev"), ("test", "test"))  # model-index split, and the column in the results table


def hub_id(name_or_path: str | None) -> str | None:
    """`name_or_path` when it names a Hub repository, None when it is a local folder or not a valid repo id."""
    if not name_or_path or os.path.exists(name_or_path) or not HUB_ID.match(str(name_or_path)):
        return None
    return str(name_or_path)


@dataclass
class Source:
    """A model a run starts from, as its own files describe it.

    `name` is its Hub id; else, for a local folder with a model card of its own, the model that card describes (its
    `model_name`, else its title), the folder being a copy of that model; else the Hub id its `config.json` records
    as `_name_or_path` (a plain `save_pretrained` of a Hub model) or its Hub cache folder names; else the folder's
    name. `license`, `language` and `base_model` come from its own card's metadata, when it has one. `recorded` is
    the `_name_or_path` of a carded folder's config, which may be the model it was trained from rather than itself
    (all-MiniLM-L6-v2's names nreimers/MiniLM-L6-H384-uncased), so it is said, never taken for the model."""

    name: str
    hub_id: str | None = None
    model_type: str | None = None
    license: str | None = None
    language: list[str] | None = None
    base_model: str | None = None  # what its card says it derives from
    local: bool = False  # a folder on this machine
    recorded: str | None = None


def source_file(name_or_path: str, filename: str) -> Path | None:
    """`filename` of a local folder, or of a Hub repository that the local Hub cache holds (never downloaded)."""
    if os.path.isdir(name_or_path):
        path = Path(name_or_path, filename)
        return path if path.is_file() else None
    repo = hub_id(name_or_path)
    if repo is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo, filename)
    except ValueError:  # a name the Hub client refuses as a repo id ("a--b", ...): no cache of it
        return None
    return Path(found) if isinstance(found, str) else None


def describe_source(name_or_path: str) -> Source:
    """The `Source` of a Hub id or folder; whatever cannot be read (no config, a card without metadata) is None."""
    name_or_path = str(name_or_path)
    config = read_json(source_file(name_or_path, "config.json"))
    card = source_file(name_or_path, "README.md")
    meta = card_metadata(card)
    cached = HUB_CACHE_SNAPSHOT.search(Path(name_or_path).absolute().as_posix())
    origin = hub_id(name_or_path) or (f"{cached[1]}/{cached[2]}" if cached else None)
    recorded = hub_id(config.get("_name_or_path"))
    own_card = card is not None and os.path.isdir(name_or_path) and origin is None
    if not own_card:
        origin, recorded = origin or recorded, None
    language = meta.get("language")
    return Source(
        name=origin or (card_model_name(card, meta) if own_card else None) or Path(name_or_path).name or name_or_path
        or "unnamed", hub_id=origin, model_type=config.get("model_type"),
        license=_text(meta.get("license")), language=[language] if isinstance(language, str) else language,
        base_model=_text(meta.get("base_model")), local=os.path.isdir(name_or_path), recorded=recorded,
    )  # fmt: skip


def card_model_name(card: Path, meta: dict) -> str | None:
    """The model a card describes: its metadata's `model_name` or model-index name, else its first `# ` title."""
    index = meta.get("model-index")
    named = index[0].get("name") if isinstance(index, list) and index and isinstance(index[0], dict) else None
    name = _text(meta.get("model_name")) or _text(named)
    if name:
        return name
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    body = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # the metadata
    body = re.sub(r"^```.*?^```", "", body, flags=re.M | re.S)  # code, whose comments start with `# ` too
    title = re.search(r"^# +(.+?)\s*$", body, flags=re.M)
    return title[1].strip("`* ") if title else None


def card_metadata(path: Path | None) -> dict:
    """The YAML metadata of a model card file, `{}` when there is none or it does not parse."""
    if path is None:
        return {}
    from huggingface_hub import ModelCard

    try:
        return ModelCard.load(path, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # noqa: BLE001 (a card that is not ours: bad YAML, not UTF-8, ...) says nothing we can use
        return {}


def read_json(path: Path | None) -> dict:
    """A JSON object file's content, `{}` when there is none or it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def card_section(text: str, title: str) -> str:
    """The body of a card's `## title` section, up to the next `## ` heading ("" when the card has none)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return match[1].strip() + "\n" if match else ""


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class CardInfo:
    """What a task tells the card. `metrics` are `(metric type, display name, value)` of the test set,
    `validation_metrics` the same of the validation (dev) set; values of type f1/precision/recall/accuracy are
    fractions, as the Hub expects. `intended_use` is the two sentences of intended use and limitations; `model`
    lists what the model is (`- ` lines: encoder, labels); `history` is the per-evaluation table."""

    summary: str
    pipeline_tag: str
    task_name: str
    tags: list[str]
    usage: str
    base_model: str | None = None
    datasets: list[str] | None = None
    dataset_name: str = "local files"
    dataset_type: str | None = None  # the model-index's dataset id: the Hub dataset, else "local"
    license: str | None = None
    language: list[str] | None = None
    metrics: list[tuple[str, str, float]] = field(default_factory=list)
    validation_metrics: list[tuple[str, str, float]] = field(default_factory=list)
    intended_use: str = ""
    model: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # extra markdown, after the results
    history: str = ""
    hyperparameters: list[tuple[str, object]] = field(default_factory=list)


def encoder_line(encoder: Source, encoder_config, start: Source | None) -> str:
    """The card's `- **Encoder**` line: the encoder's name, where it comes from, its size, licence and language, and
    the saved model (`start`) it was trained further from, if any."""
    size = (f"{encoder_config.model_type}, {getattr(encoder_config, 'num_hidden_layers', '?')} layers, hidden size "
            f"{getattr(encoder_config, 'hidden_size', '?')}")  # fmt: skip
    where = "on the Hub" if encoder.hub_id and not encoder.local else "a local folder"
    if encoder.recorded:  # maybe the model it was trained from: said, not taken for it
        where += f"; its config records `{encoder.recorded}` as its origin"
    if encoder.base_model and encoder.base_model != encoder.name:
        where += f"; its card names `{encoder.base_model}` as its base model"
    known = [f"licence {encoder.license}"] if encoder.license else []
    known += [f"language {', '.join(encoder.language)}"] if encoder.language else []
    line = f"- **Encoder**: `{encoder.name}` ({where}; {size}{''.join('; ' + k for k in known)})"
    if start is not None:
        line += f", as trained further from the tagger `{start.name}`"
    return line


def card_metrics(results: dict, scores, prefix: str = "test") -> list[tuple[str, str, float]]:
    """`CardInfo.metrics` from the run's `{prefix}_*` results: `scores` are `(key, display name)` pairs."""
    return [(key, name, results[f"{prefix}_{key}"]) for key, name in scores if f"{prefix}_{key}" in results]


def eval_results(info: CardInfo) -> list:
    """The model-index entries: the test metrics, then the validation metrics."""
    from huggingface_hub.repocard_data import EvalResult

    return [
        EvalResult(
            task_type=info.pipeline_tag,
            task_name=info.task_name,
            dataset_type=info.dataset_type or (info.datasets or ["local"])[0],
            dataset_name=info.dataset_name,
            dataset_split=split,
            metric_type=kind,
            metric_name=name,
            metric_value=round(float(value), 6),
        )  # fmt: skip
        for split, metrics in (("test", info.metrics), ("validation", info.validation_metrics))
        for kind, name, value in metrics
    ]


def results_table(info: CardInfo) -> list[str]:
    """One row per metric, one column per split that has any."""
    by_split = {"dev": dict((name, v) for _, name, v in info.validation_metrics),
                "test": dict((name, v) for _, name, v in info.metrics)}  # fmt: skip
    columns = [split for split in ("dev", "test") if by_split[split]]
    if not columns:
        return []
    names = list(dict.fromkeys([name for _, name, _ in info.validation_metrics + info.metrics]))
    rows = ["## Results\n", f"| metric | {' | '.join(columns)} |", "|---|" + "---|" * len(columns)]
    for name in names:
        cells = [f"{by_split[split][name]:.4f}" if name in by_split[split] else "–" for split in columns]
        rows.append(f"| {name} | {' | '.join(cells)} |")
    return rows + [""]


def card_text(info: CardInfo, model_name: str) -> str:
    """The card as markdown with YAML metadata."""
    from huggingface_hub import ModelCardData

    results = eval_results(info)
    data = ModelCardData(
        model_name=model_name if results else None, eval_results=results or None, pipeline_tag=info.pipeline_tag,
        library_name="transformers", license=info.license, language=info.language, datasets=info.datasets,
        base_model=info.base_model, tags=info.tags,
    )  # fmt: skip
    lines = [f"---\n{data.to_yaml()}\n---\n", f"# {model_name}\n", info.summary + "\n"]
    if info.model:
        lines += ["## Model\n", *info.model, ""]
    if info.intended_use:
        lines += ["## Intended use and limitations\n", info.intended_use.strip() + "\n"]
    lines += results_table(info)
    lines += [section for section in info.sections if section]
    if info.history:
        lines += ["## Training results\n", info.history]
    lines += ["## Usage\n", "```python", info.usage.strip(), "```\n"]
    if info.hyperparameters:
        lines += ["## Training hyperparameters\n", "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in info.hyperparameters] + [""]
    lines += ["## Framework versions\n", *(f"- {name} {version}" for name, version in framework_versions()), ""]
    return "\n".join(lines)


def framework_versions() -> list[tuple[str, str]]:
    """`(name, version)` of this toolkit, the libraries it trains with, and Python."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in FRAMEWORKS:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:  # run from a checkout that was never installed
            found.append((name, "not installed"))
    return found + [("Python", platform.python_version())]


def hyperparameters(training_args, log_history: list[dict]) -> list[tuple[str, object]]:
    """The settings that shaped training, then how far it ran: the epochs and steps of the trainer's state, which
    early stopping or `max_steps` may leave short of `num_train_epochs`."""
    rows = []
    for name in HYPERPARAMETERS:
        value = getattr(training_args, name, None)
        if value is not None and not (name == "max_steps" and value <= 0):
            rows.append((name, getattr(value, "value", value)))
    rows.append(("total train batch size", training_args.total_train_batch_size))
    trained = [entry for entry in log_history if "train_runtime" in entry]
    if trained:
        rows += [("epochs trained", _epoch(trained[-1].get("epoch"))), ("steps trained", trained[-1].get("step"))]
    return rows


def training_log(training_args, trainer=None) -> list[dict]:
    """The trainer state's `log_history`, or the one `trainer_state.json` saved in `output_dir`."""
    if trainer is not None:
        return list(trainer.state.log_history)
    return read_json(Path(training_args.output_dir) / "trainer_state.json").get("log_history", [])


def evaluations(log_history: list[dict]) -> list[dict]:
    """The evaluations made during training (not those after it), each with `loss`: the last training loss logged
    since the evaluation before it (None when none was)."""
    rows, loss = [], None
    for entry in log_history:
        if "train_runtime" in entry:  # the end of training: later entries evaluate the final model
            break
        if "loss" in entry:
            loss = entry["loss"]
        if "eval_loss" in entry:
            rows.append({**entry, "loss": loss})
            loss = None
    return rows


def history_table(rows: list[dict], columns: list[tuple[str, object]]) -> str:
    """A markdown table of `rows` (`evaluations`): epoch, step, training loss, then `columns`, `(header, key)`
    pairs where a key is a log entry's key or a function of the entry."""
    if not rows:
        return ""
    columns = [("epoch", lambda row: _epoch(row.get("epoch"))), ("step", "step"), ("training loss", "loss"), *columns]
    lines = [f"| {' | '.join(header for header, _ in columns)} |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [key(row) if callable(key) else row.get(key) for _, key in columns]
        lines.append(f"| {' | '.join(_cell(cell) for cell in cells)} |")
    return "\n".join(lines) + "\n"


def _epoch(value) -> str | None:
    return None if value is None else f"{round(float(value), 2):g}"


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def model_name(training_args) -> str:
    return training_args.hub_model_id or Path(training_args.output_dir).absolute().name


def model_reference(training_args, trainer=None) -> str:
    """How the card's snippet loads the model: the Hub repository a push uploads it to, else the absolute path of
    `output_dir`, which works from any folder on this machine."""
    if training_args.push_to_hub:
        return getattr(trainer, "hub_model_id", None) or model_name(training_args)
    return Path(training_args.output_dir).absolute().as_posix()


def write_card(info: CardInfo, training_args) -> Path:
    path = Path(training_args.output_dir) / "README.md"
    write_text(path, card_text(info, model_name(training_args)))
    return path
