"""CLUENER2020 benchmark: linear and CRF heads, BIO and BIOS tags, on one small randomly initialised BERT.

No Chinese weights can be downloaded here, so every variant starts from the same random 4-layer BERT with the real
bert-base-chinese vocabulary and tokenizer (`../shared/data/tokenizers/bert-base-chinese`), and trains through
`run_ner.py`'s `train()` on the real train.json, scored on the real dev.json by CLUE's span F1 (`dev_span_f1`, from
`dev_predictions.json`). Same seed, data, budget and hyperparameters for all four; only `--head` and
`--label_scheme` change. The published ~0.80 dev F1 of BERT+CRF needs pretrained Chinese weights
(hfl/chinese-roberta-wwm-ext); these numbers compare the heads and tag schemes, not the encoder.

    python bench/cluener_bench.py [--data_dir ../shared/data] [--epochs 3] [--seed 42] \
        [--variants linear_bio,linear_bios,crf_bio,crf_bios] [--max_train_samples N]
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "linear_bio": {"head": "linear", "label_scheme": "iob2"},
    "linear_bios": {"head": "linear", "label_scheme": "bios"},
    "crf_bio": {"head": "crf", "label_scheme": "iob2"},
    "crf_bios": {"head": "crf", "label_scheme": "bios"},
}
# A random encoder learns at a higher rate than a pretrained one is fine-tuned at.
HYPER = dict(learning_rate=5e-4, classifier_learning_rate=1e-3, per_device_train_batch_size=32,
             per_device_eval_batch_size=64, warmup_steps=0.1, report_to="none", save_strategy="no",
             eval_strategy="no", disable_tqdm=True, log_level="warning", logging_steps=100)  # fmt: skip
ENCODER = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)


def random_encoder(tokenizer_dir: Path, out: Path, seed: int) -> Path:
    """A random BertModel with bert-base-chinese's vocabulary, saved with its tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=len(tokenizer), **ENCODER)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def run(variant: str, encoder: Path, data: Path, out: Path, epochs: float, seed: int, max_train: int | None) -> dict:
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.train import train

    args = NERArguments(
        model_name_or_path=str(encoder), train_file=str(data / "train.json"), validation_file=str(data / "dev.json"),
        test_file=str(data / "test.json"), overlapping_spans="keep_longest", max_seq_length=128,
        max_train_samples=max_train, **VARIANTS[variant],
    )  # fmt: skip
    training_args = NERTrainingArguments(output_dir=str(out), num_train_epochs=epochs, seed=seed, **HYPER)
    results = train(args, training_args)
    return {
        "dev_span_f1": results["dev_span_f1"],
        "dev_span_precision": results["dev_span_precision"],
        "dev_span_recall": results["dev_span_recall"],
        "eval_f1_seqeval": results["eval_f1"],
        "train_samples_per_second": results["train_samples_per_second"],
        "train_runtime": results["train_runtime"],
        "per_type_f1": {
            k[len("dev_span_") : -3]: v
            for k, v in results.items()
            if k.startswith("dev_span_") and k.endswith("_f1") and k != "dev_span_f1"
        },  # fmt: skip
        "submission_lines": sum(1 for _ in open(out / "cluener_predict.json", encoding="utf-8")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--max_train_samples", type=int)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "cluener.json"))
    options = parser.parse_args()

    data_dir = Path(options.data_dir)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        encoder = random_encoder(data_dir / "tokenizers" / "bert-base-chinese", tmp / "encoder", options.seed)
        for variant in options.variants.split(","):
            results[variant] = run(variant, encoder, data_dir / "cluener2020", tmp / variant, options.epochs,
                                   options.seed, options.max_train_samples)  # fmt: skip
            print(variant, json.dumps(results[variant]), flush=True)
    report = {"epochs": options.epochs, "seed": options.seed, "encoder": ENCODER, "hyper": HYPER, "results": results}
    if options.max_train_samples is None:
        Path(options.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'variant':<12} {'dev span F1':>11} {'P':>7} {'R':>7} {'seqeval F1':>10} {'samples/s':>9}")
    for variant, r in results.items():
        print(f"{variant:<12} {100 * r['dev_span_f1']:11.2f} {100 * r['dev_span_precision']:7.2f} "
              f"{100 * r['dev_span_recall']:7.2f} {100 * r['eval_f1_seqeval']:10.2f} "
              f"{r['train_samples_per_second']:9.1f}")  # fmt: skip
    speeds = [r["train_samples_per_second"] for r in results.values()]
    print(f"median samples/s {statistics.median(speeds):.1f}")


if __name__ == "__main__":
    main()
