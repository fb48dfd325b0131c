"""VAE benchmark: our Trainer path against a plain pytorch/examples-style loop, side by side in one run.

Both train the same `VAEModel` (same init seed, Adam lr 1e-3, batch 128, 10 epochs, test eval every epoch) on
`../shared/data/mnist`. The plain loop is the fast, honest baseline: MNIST preloaded as one tensor, batches
sliced from a random permutation. Reports the median per-epoch wall time of each, their ratio, and the final
per-image test loss of each, as medians over seeds (one seed's test loss moves by about +-0.3).

With `--bf16`, each path also runs in bfloat16 mixed precision: ours with `--bf16` (transformers' autocast), the
plain loop under `torch.autocast("cpu", torch.bfloat16)` (training and evaluation alike), side by side with float32;
the CPU's name and bf16 flags are printed and saved with the numbers (default output then `vae_bf16.json`).

    python bench/vae_bench.py [--data_dir ../shared/data/mnist] [--epochs 10] [--seeds 1,2,3] [--bf16]
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from machine import cpu_info, describe  # noqa: E402


def plain_loop(train_pixels, test_pixels, epochs: int, seed: int, batch_size: int = 128, bf16: bool = False) -> dict:
    """pytorch/examples vae/main.py, minus the DataLoader: the same model and loss, Adam, eval each epoch; with
    `bf16`, forward passes under CPU autocast (float32 weights and optimizer, as transformers' --bf16)."""
    from vae_trainer import VAEConfig, VAEModel

    def precision():
        return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    torch.manual_seed(seed)
    model = VAEModel(VAEConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch_times, test_loss = [], float("nan")
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(train_pixels)).split(batch_size):
            optimizer.zero_grad()
            with precision():
                loss = model(train_pixels[batch]).loss
            loss.backward()
            optimizer.step()
        model.eval()
        total = 0.0
        with torch.no_grad(), precision():
            for batch in test_pixels.split(1000):
                total += model(batch).loss.item() * len(batch)
        test_loss = total / len(test_pixels)
        epoch_times.append(time.perf_counter() - start)
    return {"epoch_times": epoch_times, "test_loss": test_loss}


def trainer_path(data_dir: str, epochs: int, seed: int, bf16: bool = False) -> dict:
    """`run_vae.py` with its defaults (and `--bf16` when asked), called in-process, timing each epoch with a
    callback."""
    from transformers import TrainerCallback

    from vae_trainer.train import VAEArguments, VAETrainingArguments, train

    class EpochTimer(TrainerCallback):
        def __init__(self):
            self.times, self._start = [], None

        def on_epoch_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self._start)

    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        args = VAEArguments(data_dir=data_dir)
        training_args = VAETrainingArguments(
            output_dir=out, num_train_epochs=epochs, seed=seed, disable_tqdm=True, log_level="warning", bf16=bf16
        )
        results = train(args, training_args, callbacks=[timer])
    # on_epoch_end fires before the epoch's evaluation and checkpoint; spread those over the epochs too.
    overhead = (results["train_runtime"] - sum(timer.times)) / epochs
    return {"epoch_times": [t + overhead for t in timer.times], "test_loss": results["test_loss"]}


PATHS = {  # name: (label, runner, bf16)
    "plain": ("plain PyTorch loop", "plain", False),
    "ours": ("ours (Trainer)", "ours", False),
    "plain_bf16": ("plain loop, autocast bf16", "plain", True),
    "ours_bf16": ("ours (Trainer), --bf16", "ours", True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="1,2,3", help="Comma-separated; each seed runs every path.")
    parser.add_argument("--bf16", action="store_true", help="Also run both paths in bfloat16 mixed precision.")
    parser.add_argument("--output", help="Default: bench/results/vae.json (vae_bf16.json with --bf16).")
    args = parser.parse_args()
    output = args.output or str(ROOT / "bench" / "results" / ("vae_bf16.json" if args.bf16 else "vae.json"))

    from trainer_common.io import write_json
    from vae_trainer.data import load_idx_split

    train_pixels, _ = load_idx_split(args.data_dir, "train")
    test_pixels, _ = load_idx_split(args.data_dir, "test")
    cpu = cpu_info()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(train_pixels)} train images")
    print(describe(cpu), flush=True)

    seeds = [int(seed) for seed in args.seeds.split(",")]
    names = [name for name in PATHS if args.bf16 or not PATHS[name][2]]
    runs = {name: [] for name in names}
    for seed in seeds:  # alternate the paths so drifting machine load hits all alike
        for name in names:
            _, runner, bf16 = PATHS[name]
            if runner == "plain":
                runs[name].append(plain_loop(train_pixels, test_pixels, args.epochs, seed, bf16=bf16))
            else:
                runs[name].append(trainer_path(args.data_dir, args.epochs, seed, bf16=bf16))
            row = runs[name][-1]
            print(f"seed {seed} {name}: {statistics.median(row['epoch_times']):.2f} s/epoch, "
                  f"test loss {row['test_loss']:.2f}", flush=True)  # fmt: skip
    summary = {
        name: {
            "median_epoch_s": statistics.median(t for run in rows for t in run["epoch_times"]),
            "median_test_loss": statistics.median(run["test_loss"] for run in rows),
            "test_loss_per_seed": [run["test_loss"] for run in rows],
            "epoch_times_per_seed": [run["epoch_times"] for run in rows],
        }
        for name, rows in runs.items()
    }
    ratio = summary["ours"]["median_epoch_s"] / summary["plain"]["median_epoch_s"]
    extra = {"ratio_ours_over_plain": ratio}
    if args.bf16:
        extra["ratio_ours_bf16_over_plain_bf16"] = (
            summary["ours_bf16"]["median_epoch_s"] / summary["plain_bf16"]["median_epoch_s"]
        )
        extra["speedup_ours_bf16_over_fp32"] = (
            summary["ours"]["median_epoch_s"] / summary["ours_bf16"]["median_epoch_s"]
        )
        extra["test_loss_gap_ours_bf16_minus_fp32"] = (
            summary["ours_bf16"]["median_test_loss"] - summary["ours"]["median_test_loss"]
        )
        extra["cpu"] = cpu
    write_json(output, {**summary, **extra, "epochs": args.epochs, "seeds": seeds, "torch": torch.__version__})

    print(f"\n| path | median s/epoch | median test loss after {args.epochs} epochs | per seed {seeds} |")
    print("|---|---|---|---|")
    for name in names:
        row = summary[name]
        per_seed = ", ".join(f"{loss:.2f}" for loss in row["test_loss_per_seed"])
        print(f"| {PATHS[name][0]} | {row['median_epoch_s']:.2f} | {row['median_test_loss']:.2f} | {per_seed} |")
    gap = summary["ours"]["median_test_loss"] - summary["plain"]["median_test_loss"]
    print(f"\nratio ours/plain = {ratio:.3f}; median test loss gap = {gap:+.2f}")
    if args.bf16:
        print(f"bf16: ours/plain = {extra['ratio_ours_bf16_over_plain_bf16']:.3f}; ours bf16 is "
              f"{extra['speedup_ours_bf16_over_fp32']:.2f}x ours fp32; test loss bf16 - fp32 = "
              f"{extra['test_loss_gap_ours_bf16_minus_fp32']:+.2f} (goal: within 0.5)")  # fmt: skip


if __name__ == "__main__":
    main()
