"""The model card every run writes as `output_dir/README.md` (`hub_push` uploads the folder).

The card's metadata follows the Hub's model card spec (`huggingface_hub.ModelCardData`): `pipeline_tag`,
`library_name`, `license`, `datasets`, `base_model` (a Hub id, never a local path), `tags`, and a `model-index`
whose results are the run's test metrics. The body holds the results, the training hyperparameters, a usage snippet
and whatever the task adds (a per-type table, the samples image).
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .io import write_text

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


HYPERPARAMETERS = ("learning_rate", "classifier_learning_rate", "crf_learning_rate", "per_device_train_batch_size",
                   "gradient_accumulation_steps", "num_train_epochs", "max_steps", "warmup_steps", "weight_decay",
                   "lr_scheduler_type", "optim", "max_grad_norm", "seed", "layer_lr_decay")  # fmt: skip


def hub_id(name_or_path: str | None) -> str | None:
    """`name_or_path` when it names a Hub repository, None when it is a local folder or not a valid repo id."""
    if not name_or_path or os.path.exists(name_or_path) or not HUB_ID.match(str(name_or_path)):
        return None
    return str(name_or_path)


@dataclass
class CardInfo:
    """What a task tells the card. `metrics` are `(metric type, display name, value)` of the test set; values of
    type f1/precision/recall/accuracy are fractions, as the Hub expects."""

    summary: str
    pipeline_tag: str
    task_name: str
    tags: list[str]
    usage: str
    base_model: str | None = None
    datasets: list[str] | None = None
    dataset_name: str = "local files"
    license: str | None = None
    metrics: list[tuple[str, str, float]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # extra markdown, after the results


def card_metrics(results: dict, scores) -> list[tuple[str, str, float]]:
    """`CardInfo.metrics` from the run's `test_*` results: `scores` are `(key, display name)` pairs."""
    return [(key, name, results[f"test_{key}"]) for key, name in scores if f"test_{key}" in results]


def card_text(info: CardInfo, training_args, model_name: str) -> str:
    """The card as markdown with YAML metadata."""
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import EvalResult

    results = [
        EvalResult(
            task_type=info.pipeline_tag,
            task_name=info.task_name,
            dataset_type=(info.datasets or ["local"])[0],
            dataset_name=info.dataset_name,
            dataset_split="test",
            metric_type=kind,
            metric_name=name,
            metric_value=round(float(value), 6),
        )  # fmt: skip
        for kind, name, value in info.metrics
    ]
    data = ModelCardData(
        model_name=model_name if results else None, eval_results=results or None, pipeline_tag=info.pipeline_tag,
        library_name="transformers", license=info.license, datasets=info.datasets, base_model=info.base_model,
        tags=info.tags,
    )  # fmt: skip
    lines = [f"---\n{data.to_yaml()}\n---\n", f"# {model_name}\n", info.summary + "\n"]
    if info.metrics:
        lines += ["## Test results\n", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4f} |" for _, name, value in info.metrics] + [""]
    lines += info.sections
    lines += ["## Usage\n", "```python", info.usage.strip(), "```\n", "## Training hyperparameters\n"]
    lines += ["| hyperparameter | value |", "|---|---|"]
    for name in HYPERPARAMETERS:
        value = getattr(training_args, name, None)
        if value is not None and not (name == "max_steps" and value <= 0):
            lines.append(f"| {name} | {getattr(value, 'value', value)} |")
    lines.append(f"| total train batch size | {training_args.total_train_batch_size} |\n")
    return "\n".join(lines)


def model_name(training_args) -> str:
    return training_args.hub_model_id or Path(training_args.output_dir).name


def write_card(info: CardInfo, training_args) -> Path:
    path = Path(training_args.output_dir) / "README.md"
    write_text(path, card_text(info, training_args, model_name(training_args)))
    return path
