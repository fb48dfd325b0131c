"""Inference speed of a saved tagger, for `ner_bench.py`: our `predict_texts` against `pipeline`, and our batched
Viterbi against pytorch-crf's `decode` on the same word emissions. Each path runs interleaved with the others,
after a warm-up, and the median of the repeats is kept."""

import statistics
import time


def _median_rates(runs: dict, items: int, repeats: int) -> dict:
    """Items/s of each zero-argument callable: interleaved repeats, so drifting machine load hits all alike."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: items / statistics.median(t) for name, t in times.items()}


def predict_speed(model_dir: str, texts: list[str], repeats: int) -> dict:
    """Sentences/s of our predict (length-sorted batches by token budget) and of the pipeline (default and batch
    32). `bench/predict_bench.py` measures predict alone, bfloat16 and whole processes too."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    import ner_trainer  # noqa: F401  (registers the tagger)
    from ner_trainer.predict import predict_texts

    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pipe = pipeline("token-classification", model=model, tokenizer=tokenizer, device=torch.device("cpu"))
    runs = {
        "ours": lambda texts: predict_texts(model, tokenizer, texts, batch_size=32),
        "pipeline (default)": lambda texts: pipe(texts),
        "pipeline (batch_size=32)": lambda texts: pipe(texts, batch_size=32),
    }
    for run in runs.values():  # warm-up: first-call allocations and lazy imports are not throughput
        run(texts[:64])
    return _median_rates({name: (lambda run=run: run(texts)) for name, run in runs.items()}, len(texts), repeats)


def word_emissions(model, tokenizer, sentences, batch_size: int = 64):
    """The classifier's scores at each word's first sub-token, `[sentences, words, tags]`, and the word mask."""
    import torch

    rows = []
    with torch.no_grad():
        for start in range(0, len(sentences), batch_size):
            words = [s.tokens for s in sentences[start : start + batch_size]]
            batch = tokenizer(words, is_split_into_words=True, truncation=True, padding=True, return_tensors="pt")
            hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            scores = model.classifier(hidden.last_hidden_state)
            for i in range(len(words)):
                ids = batch.word_ids(i)
                firsts = [t for t, w in enumerate(ids) if w is not None and (t == 0 or ids[t - 1] != w)]
                rows.append(scores[i, firsts])
    width = max(len(row) for row in rows)
    emissions = torch.zeros(len(rows), width, rows[0].shape[-1])
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, row in enumerate(rows):
        emissions[i, : len(row)], mask[i, : len(row)] = row, True
    return emissions, mask


DECODE_BATCHES = {  # name: (batch size, sorted by length)
    "batch 64, test-set order (as evaluation)": (64, False),
    "batch 32, length-sorted (as predict)": (32, True),
    "batch 512, test-set order": (512, False),
}


def crf_decode_speed(model_dir: str, sentences, repeats: int) -> dict:
    """Sentences/s of `LinearChainCRF.viterbi_decode` and of pytorch-crf's `CRF.decode`, given the saved CRF tagger's
    own word emissions on `sentences` and its own scores, constraints included, batched as in `DECODE_BATCHES`, each
    batch padded to its longest sentence. Also checks that both find the same paths."""
    import torch
    from torchcrf import CRF
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    import ner_trainer  # noqa: F401

    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    emissions, mask = word_emissions(model, tokenizer, sentences)
    reference = CRF(model.config.num_labels, batch_first=True)
    with torch.no_grad():
        start, transitions, end = model.crf._scores()
        reference.start_transitions.copy_(start)
        reference.transitions.copy_(transitions)
        reference.end_transitions.copy_(end)
    report = {}
    for name, (batch_size, by_length) in DECODE_BATCHES.items():
        order = mask.sum(1).argsort(descending=True) if by_length else torch.arange(len(mask))
        batches = []
        for i in range(0, len(emissions), batch_size):
            rows = order[i : i + batch_size]
            width = int(mask[rows].sum(1).max())
            batches.append((emissions[rows, :width], mask[rows, :width]))

        def ours(batches=batches):
            return [model.crf.viterbi_decode(e, m)[0] for e, m in batches]

        def theirs(batches=batches):
            return [reference.decode(e, m) for e, m in batches]

        with torch.no_grad():
            same = all(
                row[: len(path)].tolist() == path
                for tags, paths in zip(ours(), theirs())
                for row, path in zip(tags, paths)
            )
            runs = {"ours (batched Viterbi)": ours, "pytorch-crf decode": theirs}
            report[name] = {**_median_rates(runs, len(sentences), repeats), "identical_paths": same}
    return report
