"""The classification model card: what the classifier is and was trained from, its labels, intended use and
limitations, its scores on dev and test overall, per class and per epoch, and how to use it."""

from pathlib import Path

from trainer_common.model_card import (
    CardInfo,
    card_metrics,
    describe_source,
    encoder_line,
    evaluations,
    history_table,
    hub_id,
    hyperparameters,
    model_reference,
    training_log,
)

SCORES = (("accuracy", "Accuracy"), ("macro_f1", "Macro F1"), ("mcc", "MCC"))
HISTORY = [("validation loss", "eval_loss"), ("accuracy", "eval_accuracy"), ("macro F1", "eval_macro_f1")]
GLUE = "nyu-mll/glue"
GLUE_NAMES = {"sst2": "SST-2 (Stanford Sentiment Treebank)", "rte": "RTE (textual entailment)", "cola": "CoLA",
              "mrpc": "MRPC", "qqp": "QQP", "qnli": "QNLI", "wnli": "WNLI", "mnli": "MNLI"}  # fmt: skip


def card_info(args, training_args, config, results: dict, trainer=None, pairs: bool = False) -> CardInfo:
    """`CardInfo` of a trained classifier (`config`: its stock config) from the run's results and log history;
    `pairs`: it was trained on sentence pairs."""
    files_used = any((args.train_file, args.validation_file, args.test_file))
    dataset = None if files_used else hub_id(args.dataset_name or (GLUE if args.task_name else None))
    start = describe_source(args.model_name_or_path)
    encoder, continued = start, _is_classifier(args.model_name_or_path)
    labels = [config.id2label[i] for i in sorted(config.id2label)]
    data = _data_text(args, dataset)
    architecture = (config.architectures or [f"{config.model_type} sequence classifier"])[0]
    summary = (
        f"A stock `{architecture}` ({len(labels)} labels) fine-tuned from `{encoder.name}` with hf-trainer-toolkit's "
        f"`run_classification.py` on {data}. It loads with `AutoModelForSequenceClassification` and the "
        "`text-classification` pipeline, no custom code."
    )
    history = training_log(training_args, trainer)
    return CardInfo(
        summary=summary, pipeline_tag="text-classification", task_name="Text classification",
        tags=["text-classification", *([args.task_name] if args.task_name else [])],
        usage=_usage(model_reference(training_args, trainer), pairs), base_model=start.hub_id or start.base_model,
        datasets=[dataset] if dataset else None, dataset_name=_dataset_name(args, dataset),
        license=training_args.license or encoder.license, language=_language(args, encoder),
        metrics=card_metrics(results, SCORES), validation_metrics=card_metrics(results, SCORES, prefix="eval"),
        intended_use=_intended_use(data, labels, results),
        model=[encoder_line(encoder, config, start if continued else None),
               f"- **Labels** ({len(labels)}): {', '.join(f'`{label}`' for label in labels)}"],
        sections=[_per_class_table(results, labels, "test"), _per_class_table(results, labels, "eval")],
        history=history_table(evaluations(history), HISTORY), hyperparameters=hyperparameters(training_args, history),
    )  # fmt: skip


def _is_classifier(path: str) -> bool:
    """Whether the run started from a saved classifier (trained further), not an encoder."""
    from trainer_common.errors import InputError
    from trainer_common.loading import read_config

    from .modeling import is_sequence_classifier

    try:
        return is_sequence_classifier(read_config(path))
    except InputError:  # a Hub id out of reach: the card says what the run was given
        return False


def _dataset_name(args, dataset: str | None) -> str:
    if dataset == GLUE and args.task_name:
        return f"GLUE {GLUE_NAMES.get(args.task_name, args.task_name)}"
    return dataset or "local files"


def _data_text(args, dataset: str | None) -> str:
    if dataset == GLUE and args.task_name:
        return f"GLUE's {GLUE_NAMES.get(args.task_name, args.task_name)} (`{GLUE}`, `{args.task_name}`)"
    if dataset:
        return f"the Hub dataset `{dataset}`"
    if args.train_file:
        return f"the local file `{Path(args.train_file).name}`"
    return "local files"


def _language(args, encoder) -> list[str] | None:
    if args.task_name:  # GLUE is English
        return ["en"]
    return encoder.language if encoder.language and len(encoder.language) == 1 else None


def _intended_use(data: str, labels: list[str], results: dict) -> str:
    kinds = ", ".join(labels) if len(labels) <= 12 else f"{len(labels)} classes"
    splits = [name for name, key in (("dev", "eval_accuracy"), ("test", "test_accuracy")) if key in results]
    evaluated = (f"was evaluated only on the {' and '.join(splits)} split{'s' * (len(splits) > 1)} of that data"
                 if splits else "was not evaluated on held-out data")  # fmt: skip
    return (
        f"Intended for sorting texts like its training data ({data}) into {kinds}. It {evaluated}, not on other "
        "domains, genres or languages; every text gets one of these labels, even one that fits none of them."
    )


def _per_class_table(results: dict, labels: list[str], prefix: str) -> str:
    present = [label for label in labels if f"{prefix}_{label}_f1" in results]
    if not present:
        return ""
    rows = [f"## Per class ({'dev' if prefix == 'eval' else prefix})\n", "| class | precision | recall | F1 | gold |",
            "|---|---|---|---|---|"]  # fmt: skip
    for label in present:
        p, r, f, n = (results.get(f"{prefix}_{label}_{m}", 0) for m in ("precision", "recall", "f1", "support"))
        rows.append(f"| {label} | {p:.4f} | {r:.4f} | {f:.4f} | {int(n)} |")
    return "\n".join(rows) + "\n"


def _usage(repo: str, pairs: bool) -> str:
    call = ('{"text": "A man is playing a guitar.", "text_pair": "A man plays music."}' if pairs
            else '"A gripping, beautifully acted film."')  # fmt: skip
    return f'''from transformers import pipeline

classifier = pipeline("text-classification", model="{repo}")
print(classifier({call}))'''
