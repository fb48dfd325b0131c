"""The NER model card (what the tagger is, its test scores overall and per entity type, how to use it), and the
table of sample test predictions logged to W&B."""

from trainer_common.model_card import CardInfo, card_metrics, hub_id, model_name

from .tagging import get_spans

SCORES = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("accuracy", "Word accuracy"))


def card_info(args, training_args, config, results: dict) -> CardInfo:
    """`CardInfo` of a trained or evaluated tagger (`config`: its `BertTaggerConfig`) from the run's results."""
    files_used = any((args.train_file, args.validation_file, args.test_file))
    dataset = None if files_used else hub_id(args.dataset_name or "eriktks/conll2003")
    base = hub_id(args.model_name_or_path)
    scheme, head = config.label_scheme, config.head
    summary = (
        f"A `BertTagger` for named-entity recognition: {'`' + base + '`' if base else 'a pretrained encoder'} "
        f"with a {head} head over {scheme.upper()} tags ({config.num_labels} labels), trained with "
        f"hf-trainer-toolkit's `run_ner.py` on {dataset or 'local files'}."
    )
    return CardInfo(
        summary=summary, pipeline_tag="token-classification",
        task_name="Named-entity recognition", tags=["ner", "token-classification", "bert_tagger", f"{head}-head"],
        usage=_usage(model_name(training_args), scheme), base_model=base, datasets=[dataset] if dataset else None,
        dataset_name=dataset or "local files", metrics=card_metrics(results, SCORES),
        sections=[_per_type_table(results)],
    )  # fmt: skip


def _per_type_table(results: dict) -> str:
    types = sorted(key[len("test_") : -len("_f1")] for key in results if key.startswith("test_") and
                   key.endswith("_f1") and f"{key[:-3]}_number" in results)  # fmt: skip
    if not types:
        return ""
    rows = [
        "## Per entity type (test)\n",
        "| type | precision | recall | F1 | gold entities |",
        "|---|---|---|---|---|",
    ]
    for kind in types:
        p, r, f, n = (results[f"test_{kind}_{m}"] for m in ("precision", "recall", "f1", "number"))
        rows.append(f"| {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {int(n)} |")
    return "\n".join(rows) + "\n"


def _usage(repo: str, scheme: str) -> str:
    if scheme == "iob2":  # pipeline's entity grouping reads IOB2 only
        return f'''from transformers import pipeline

tagger = pipeline("token-classification", model="{repo}", trust_remote_code=True, aggregation_strategy="first")
print(tagger("Peter Blackburn visited Brussels on Monday."))'''
    return f'''from transformers import pipeline

# {scheme.upper()} tags: pipeline groups IOB2 only, so read the per-token tags (or use `run_ner.py predict`)
tagger = pipeline("token-classification", model="{repo}", trust_remote_code=True, aggregation_strategy="none")
print([(token["word"], token["entity"]) for token in tagger("Peter Blackburn visited Brussels on Monday.")])'''


def prediction_table(sentences, predicted, scheme: str, limit: int = 50) -> tuple[list[str], list[list[str]]]:
    """The first `limit` test sentences with their gold and predicted entities, as `(columns, rows)`."""

    def entities(words, tags):
        if tags is None:
            return ""
        if scheme == "none":  # tags without chunks: each word's own
            return " ".join(tags)
        return "; ".join(f"{' '.join(words[start:end])} ({kind})" for kind, start, end in get_spans(tags, scheme))

    rows = [[" ".join(s.tokens), entities(s.tokens, s.tags), entities(s.tokens, tags)]
            for s, tags in zip(sentences[:limit], predicted)]  # fmt: skip
    return ["text", "gold entities", "predicted entities"], rows
