"""Predict speed of a saved tagger against transformers' `pipeline("token-classification")`, in one run.

In process, on the first `--sentences` test sentences (each sentence's words joined by spaces, as raw text): our
`load_tagger(...).predict` in float32 and bfloat16 against the pipeline's default and `batch_size=32`; sentences/s
are medians of interleaved repeats after a warm-up. As whole processes, on every test sentence read from a file:
`run_ner.py predict` (float32, bfloat16) against a process that runs the pipeline over the same lines and writes
JSON lines (start-up, imports, loading and output included in both). Also how many sentences get other entities in
bfloat16 than in float32. Prints the CPU's name and flags with the numbers and writes them all to `--output`.

    python bench/predict_bench.py --model runs/ner --test_file ../shared/data/conll2003/test.txt
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from machine import cpu_info, describe  # noqa: E402


def pipeline_process(model_dir: str, input_file: str, output_file: str) -> None:
    """What a user of `pipeline` runs: load, tag every line of `input_file` (default settings), write JSON lines."""
    from transformers import pipeline

    import ner_trainer  # noqa: F401  (registers the tagger with the Auto classes)

    texts = Path(input_file).read_text(encoding="utf-8").splitlines()
    pipe = pipeline("token-classification", model=model_dir, device="cpu")
    with open(output_file, "w", encoding="utf-8") as out:
        for text, tokens in zip(texts, pipe(texts)):
            tokens = [{**token, "score": float(token["score"])} for token in tokens]
            out.write(json.dumps({"text": text, "tokens": tokens}, ensure_ascii=False) + "\n")


def in_process(model_dir: str, texts: list[str], repeats: int) -> dict:
    """Sentences/s of ours (float32, bfloat16) and of the pipeline (default, batch 32), interleaved medians."""
    import torch
    from ner_speed import _median_rates
    from transformers import pipeline

    import ner_trainer

    fp32 = ner_trainer.load_tagger(model_dir, device="cpu")
    bf16 = ner_trainer.load_tagger(model_dir, device="cpu", dtype="bfloat16")
    pipe = pipeline("token-classification", model=model_dir, device=torch.device("cpu"))
    runs = {
        "ours float32": fp32.predict,
        "ours bfloat16": bf16.predict,
        "pipeline (default)": lambda texts: pipe(texts),
        "pipeline (batch_size=32)": lambda texts: pipe(texts, batch_size=32),
    }
    for run in runs.values():  # warm-up: first-call allocations and lazy imports are not throughput
        run(texts[:64])
    return _median_rates({name: (lambda run=run: run(texts)) for name, run in runs.items()}, len(texts), repeats)


def bf16_differences(model_dir: str, texts: list[str]) -> dict:
    """How many texts get other entities (type and character span) in bfloat16 than in float32, and other tags."""
    import ner_trainer

    results = {
        dtype: ner_trainer.load_tagger(model_dir, device="cpu", dtype=dtype).predict(texts)
        for dtype in ("float32", "bfloat16")
    }
    spans = lambda record: [(e["type"], e["start"], e["end"]) for e in record["entities"]]  # noqa: E731
    pairs = list(zip(results["float32"], results["bfloat16"]))
    return {
        "texts": len(texts),
        "other_entities": sum(spans(a) != spans(b) for a, b in pairs),
        "other_tags": sum(a["tags"] != b["tags"] for a, b in pairs),
        "words": sum(len(a["tags"]) for a, _ in pairs),
        "words_with_other_tags": sum(x != y for a, b in pairs for x, y in zip(a["tags"], b["tags"])),
    }


def whole_processes(model_dir: str, input_file: str, repeats: int) -> dict:
    """Seconds of each command, start to exit (median of interleaved repeats), and the lines it wrote."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        ours = [sys.executable, str(ROOT / "run_ner.py"), "predict", "--model", model_dir, "--input_file", input_file]
        commands = {
            "ours float32": [*ours, "--output_file", str(out)],
            "ours bfloat16": [*ours, "--output_file", str(out), "--dtype", "bfloat16"],
            "pipeline (default)": [sys.executable, __file__, "--pipeline_process", model_dir, input_file, str(out)],
        }
        times, lines = {name: [] for name in commands}, {}
        for _ in range(repeats):
            for name, command in commands.items():
                out.unlink(missing_ok=True)
                start = time.perf_counter()
                subprocess.run(command, check=True, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - start)
                lines[name] = len(out.read_text(encoding="utf-8").splitlines())
    return {name: {"seconds": statistics.median(t), "runs": t, "lines": lines[name]} for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a tagger saved by run_ner.py")
    parser.add_argument("--test_file", default="../shared/data/conll2003/test.txt", help="CoNLL file of sentences")
    parser.add_argument("--sentences", type=int, default=1000, help="sentences for the in-process measures")
    parser.add_argument("--repeats", type=int, default=3, help="in-process repeats (interleaved)")
    parser.add_argument("--process_repeats", type=int, default=2, help="whole-process repeats (interleaved)")
    parser.add_argument("--output", default=str(ROOT / "bench/results/predict.json"))
    parser.add_argument("--note", default="", help="how the model was made, kept with the numbers")
    parser.add_argument("--pipeline_process", nargs=3, metavar=("MODEL", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline_process:
        return pipeline_process(*args.pipeline_process)
    if not args.model:
        parser.error("--model is required")

    from ner_trainer.data import read_conll

    texts = [" ".join(sentence.tokens) for sentence in read_conll(args.test_file)]
    report = {"cpu": cpu_info(), "model": args.model, "note": args.note, "test_file": args.test_file}
    print(describe(report["cpu"]), flush=True)
    rates = in_process(args.model, texts[: args.sentences], args.repeats)
    base = rates["pipeline (default)"]
    report["in_process"] = {"sentences": args.sentences, "repeats": args.repeats, "sentences_per_s": rates}
    for name, rate in rates.items():
        print(f"in process, {args.sentences} sentences: {name}: {rate:.1f} sent/s ({rate / base:.2f}x default)")
    report["bf16_differences"] = bf16_differences(args.model, texts)
    print(f"bfloat16 against float32: {json.dumps(report['bf16_differences'])}", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as file:
        file.write("\n".join(texts) + "\n")
        file.flush()
        processes = whole_processes(args.model, file.name, args.process_repeats)
    report["whole_process"] = {"sentences": len(texts), "repeats": args.process_repeats, "commands": processes}
    base = processes["pipeline (default)"]["seconds"]
    for name, measured in processes.items():
        seconds = measured["seconds"]
        print(f"whole process, {len(texts)} sentences: {name}: {seconds:.2f} s ({base / seconds:.2f}x the pipeline)")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
