"""The NER model card (what the tagger is and was trained from, its labels, intended use and limitations, its
scores on dev and test overall, per entity type and per epoch, how to use it), the card of its stock export, and the
table of sample test predictions logged to W&B."""

from pathlib import Path

from trainer_common.model_card import (
    CardInfo,
    card_metadata,
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

from .tagging import get_spans, split_tag

SCORES = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("accuracy", "Word accuracy"))
CONLL2003 = "eriktks/conll2003"
WORD_SPLITS = {
    "characters": "one per character, as CLUENER's span JSON is read",
    "words": "words and punctuation, each CJK character alone",
}
EXAMPLES = {  # a sentence of the training data's language: CoNLL-2003's first, CLUENER's first
    "en": "Peter Blackburn visited Brussels on Monday.",
    "zh": "浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。",
}


def card_info(args, training_args, config, results: dict, trainer=None) -> CardInfo:
    """`CardInfo` of a trained tagger (`config`: its `BertTaggerConfig`) from the run's results and the trainer's
    log history (`trainer`; without it, the `trainer_state.json` saved in `output_dir`)."""
    files_used = any((args.train_file, args.validation_file, args.test_file))
    dataset = None if files_used else hub_id(args.dataset_name or CONLL2003)
    start = describe_source(args.model_name_or_path)
    continued = start.model_type == config.model_type  # a saved tagger trained further
    encoder = describe_source(config.encoder.name_or_path) if continued else start
    base = start.hub_id or start.base_model  # a carded folder's own base model; a tagger's, its encoder
    scheme, head, types = config.label_scheme, config.head, entity_types(config)
    data = _data_text(args, dataset, config.word_split)
    language = "zh" if config.word_split == "characters" or "zh" in (encoder.language or []) else "en"
    summary = (
        f"A `BertTagger` for named-entity recognition: the encoder `{encoder.name}` with a {head} head over "
        f"{scheme.upper()} tags, fine-tuned with hf-trainer-toolkit's `run_ner.py` on {data}."
    )
    history = training_log(training_args, trainer)
    return CardInfo(
        summary=summary, pipeline_tag="token-classification",
        task_name="Named-entity recognition", tags=["ner", "token-classification", "bert_tagger", f"{head}-head"],
        usage=_usage(model_reference(training_args, trainer), scheme, language, trust_remote_code=True),
        base_model=base, datasets=[dataset] if dataset else None, dataset_name=dataset or "local files",
        license=training_args.license or (start.license if continued else None) or encoder.license,
        language=_language(dataset, encoder), metrics=card_metrics(results, SCORES),
        validation_metrics=card_metrics(results, SCORES, prefix="eval"),
        intended_use=_intended_use(data, types, results),
        model=[encoder_line(encoder, config.encoder, start if continued else None), *label_lines(config)],
        sections=[_per_type_table(results, "test"), _per_type_table(results, "eval")],
        history=history_table(evaluations(history), HISTORY), hyperparameters=hyperparameters(training_args, history),
    )  # fmt: skip


HISTORY = [("validation loss", "eval_loss"), ("precision", "eval_precision"), ("recall", "eval_recall"),
           ("F1", "eval_f1")]  # fmt: skip


def entity_types(config) -> list[str]:
    """The entity types of the tagger's tags, in tag order (the tags themselves for the "none" scheme)."""
    if config.label_scheme == "none":
        return [tag for tag in config.id2label.values() if tag != "O"]
    return list(dict.fromkeys(split_tag(tag)[1] for tag in config.id2label.values() if tag != "O"))


def label_lines(config) -> list[str]:
    types, tags = entity_types(config), [config.id2label[i] for i in sorted(config.id2label)]
    return [
        f"- **Entity types** ({len(types)}): {', '.join(f'`{kind}`' for kind in types)}",
        f"- **Tags** ({config.label_scheme.upper()}, {len(tags)}): {', '.join(f'`{tag}`' for tag in tags)}",
        f"- **Words**: {WORD_SPLITS[config.word_split]}; each word's tag is read at its first sub-token",
    ]


def _language(dataset, encoder) -> list[str] | None:
    """The training data's language where it is known: CoNLL-2003's, else a single-language encoder's."""
    if dataset == CONLL2003:
        return ["en"]
    return encoder.language if encoder.language and len(encoder.language) == 1 else None


def _data_text(args, dataset: str | None, word_split: str) -> str:
    if dataset == CONLL2003:
        text = "CoNLL-2003's English Reuters news (`eriktks/conll2003`)"
    elif dataset:
        text = f"the Hub dataset `{dataset}`"
    elif args.train_file:
        text = f"the local file `{Path(args.train_file).name}`"
    else:
        text = "local files"
    return text + (", read one character per word" if word_split == "characters" else "")


def _intended_use(data: str, types: list[str], results: dict) -> str:
    kinds = ", ".join(types) if len(types) <= 12 else f"{len(types)} entity types"
    splits = [name for name, key in (("dev", "eval_f1"), ("test", "test_f1")) if key in results]
    evaluated = (f"was evaluated only on the {' and '.join(splits)} split{'s' * (len(splits) > 1)} of that data"
                 if splits else "was not evaluated on held-out data")  # fmt: skip
    return (
        f"Intended for finding {kinds} entities in text like its training data ({data}). "
        f"It {evaluated}, not on other domains, genres or languages, and it finds no other entity types."
    )


def _per_type_table(results: dict, prefix: str) -> str:
    types = sorted(key[len(prefix) + 1 : -len("_f1")] for key in results if key.startswith(f"{prefix}_") and
                   key.endswith("_f1") and f"{key[:-3]}_number" in results)  # fmt: skip
    if not types:
        return ""
    rows = [
        f"## Per entity type ({'dev' if prefix == 'eval' else prefix})\n",
        "| type | precision | recall | F1 | gold entities |",
        "|---|---|---|---|---|",
    ]
    for kind in types:
        p, r, f, n = (results[f"{prefix}_{kind}_{m}"] for m in ("precision", "recall", "f1", "number"))
        rows.append(f"| {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {int(n)} |")
    return "\n".join(rows) + "\n"


def _usage(repo: str, scheme: str, language: str, trust_remote_code: bool) -> str:
    remote = ", trust_remote_code=True" if trust_remote_code else ""
    text = EXAMPLES[language]
    if scheme == "iob2":  # pipeline's entity grouping reads IOB2 only
        return f'''from transformers import pipeline

tagger = pipeline("token-classification", model="{repo}"{remote}, aggregation_strategy="first")
print(tagger("{text}"))'''
    return f'''from transformers import pipeline

# {scheme.upper()} tags: pipeline groups IOB2 only, so read the per-token tags (or use `run_ner.py predict`)
tagger = pipeline("token-classification", model="{repo}"{remote}, aggregation_strategy="none")
print([(token["word"], token["entity"]) for token in tagger("{text}")])'''


def export_card_info(tagger, stock_name: str, source: str, out: Path) -> CardInfo:
    """`CardInfo` of `tagger` exported as the stock `stock_name` to `out`: the source folder's scores (its card's
    model-index, else its `all_results.json`), licence, language, datasets, intended use and per-epoch table."""
    from trainer_common.model_card import card_section, read_json, source_file

    config = tagger.config
    card = source_file(source, "README.md")
    meta, body = card_metadata(card), card.read_text(encoding="utf-8") if card else ""
    results = read_json(source_file(source, "all_results.json"))
    split_metrics = {"test": card_metrics(results, SCORES), "validation": card_metrics(results, SCORES, "eval")}
    index = _model_index(meta)
    if index:  # the card's own scores win: they are what the Hub shows for the source
        split_metrics = {split: [(r.metric_type, r.metric_name or r.metric_type, r.metric_value) for r in index
                                 if r.dataset_split == split] for split in split_metrics}  # fmt: skip
    encoder = describe_source(config.encoder.name_or_path)
    types = entity_types(config)
    word_split = "one character per word" if config.word_split == "characters" else "words"
    language = "zh" if config.word_split == "characters" or "zh" in (encoder.language or []) else "en"
    summary = (
        f"A stock `{stock_name}` exported with hf-trainer-toolkit's `run_ner.py export` from the `BertTagger` "
        f"`{Path(source).absolute().name}` (linear head, {config.label_scheme.upper()} tags, {config.num_labels} "
        "labels): same weights, identical logits, no custom code needed."
    )
    datasets = meta.get("datasets")
    return CardInfo(
        summary=summary, pipeline_tag="token-classification", task_name="Named-entity recognition",
        tags=["ner", "token-classification"], usage=_usage(out.absolute().as_posix(), config.label_scheme, language,
                                                            trust_remote_code=False),
        base_model=meta.get("base_model") or encoder.hub_id, datasets=datasets,
        dataset_name=index[0].dataset_name if index else "local files",
        dataset_type=index[0].dataset_type if index else None, license=meta.get("license") or encoder.license,
        language=meta.get("language"), metrics=split_metrics["test"], validation_metrics=split_metrics["validation"],
        intended_use=card_section(body, "Intended use and limitations")
        or _intended_use(f"its training data, {word_split}", types, results),
        model=[encoder_line(encoder, config.encoder, None), *label_lines(config)],
        sections=[_per_type_table(results, "test"), _per_type_table(results, "eval")],
        history=card_section(body, "Training results"),
    )  # fmt: skip


def _model_index(meta: dict) -> list:
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        return model_index_to_eval_results(meta["model-index"])[1] if meta.get("model-index") else []
    except (KeyError, TypeError, ValueError):  # a hand-edited model-index the Hub's parser refuses
        return []


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
