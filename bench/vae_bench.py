"""VAE benchmark: our Trainer path against a plain pytorch/examples-style loop, side by side in one run.

Both train the same `VAEModel` (same init seed, Adam lr 1e-3, batch 128, 10 epochs, test eval every epoch) on
`../shared/data/mnist`. The plain loop is the fast, honest baseline: MNIST preloaded as one tensor, batches
sliced from a random permutation. Reports the median per-epoch wall time of each, their ratio, and the final
per-image test loss of each, as medians over seeds (one seed's test loss moves by about +-0.3).

    python bench/vae_bench.py [--data_dir ../shared/data/mnist] [--epochs 10] [--seeds 1,2,3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plain_loop(train_pixels, test_pixels, epochs: int, seed: int, batch_size: int = 128) -> dict:
    """pytorch/examples vae/main.py, minus the DataLoader: the same model and loss, Adam, eval each epoch."""
    from vae_trainer import VAEConfig, VAEModel

    torch.manual_seed(seed)
    model = VAEModel(VAEConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch_times, test_loss = [], float("nan")
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(train_pixels)).split(batch_size):
            optimizer.zero_grad()
            loss = model(train_pixels[batch]).loss
            loss.backward()
            optimizer.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for batch in test_pixels.split(1000):
                total += model(batch).loss.item() * len(batch)
        test_loss = total / len(test_pixels)
        epoch_times.append(time.perf_counter() - start)
    return {"epoch_times": epoch_times, "test_loss": test_loss}


def trainer_path(data_dir: str, epochs: int, seed: int) -> dict:
    """`run_vae.py` with its defaults, called in-process, timing each epoch with a callback."""
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
            output_dir=out, num_train_epochs=epochs, seed=seed, disable_tqdm=True, log_level="warning"
        )
        results = train(args, training_args, callbacks=[timer])
    # on_epoch_end fires before the epoch's evaluation and checkpoint; spread those over the epochs too.
    overhead = (results["train_runtime"] - sum(timer.times)) / epochs
    return {"epoch_times": [t + overhead for t in timer.times], "test_loss": results["test_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="1,2,3", help="Comma-separated; each seed runs both paths.")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "vae.json"))
    args = parser.parse_args()

    from trainer_common.io import write_json
    from vae_trainer.data import load_idx_split

    train_pixels, _ = load_idx_split(args.data_dir, "train")
    test_pixels, _ = load_idx_split(args.data_dir, "test")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(train_pixels)} train images")

    seeds = [int(seed) for seed in args.seeds.split(",")]
    runs = {"plain": [], "ours": []}
    for seed in seeds:  # alternate the two paths so drifting machine load hits both alike
        runs["plain"].append(plain_loop(train_pixels, test_pixels, args.epochs, seed))
        runs["ours"].append(trainer_path(args.data_dir, args.epochs, seed))
        for name, row in runs.items():
            print(f"seed {seed} {name}: {statistics.median(row[-1]['epoch_times']):.2f} s/epoch, "
                  f"test loss {row[-1]['test_loss']:.2f}", flush=True)  # fmt: skip
    summary = {
        name: {
            "median_epoch_s": statistics.median(t for run in rows for t in run["epoch_times"]),
            "median_test_loss": statistics.median(run["test_loss"] for run in rows),
            "test_loss_per_seed": [run["test_loss"] for run in rows],
        }
        for name, rows in runs.items()
    }
    plain, ours = summary["plain"], summary["ours"]
    ratio = ours["median_epoch_s"] / plain["median_epoch_s"]
    write_json(args.output, {**summary, "ratio_ours_over_plain": ratio, "epochs": args.epochs, "seeds": seeds})

    print(f"\n| path | median s/epoch | median test loss after {args.epochs} epochs | per seed {seeds} |")
    print("|---|---|---|---|")
    for name, label in (("plain", "plain PyTorch loop"), ("ours", "ours (Trainer)")):
        row = summary[name]
        per_seed = ", ".join(f"{loss:.2f}" for loss in row["test_loss_per_seed"])
        print(f"| {label} | {row['median_epoch_s']:.2f} | {row['median_test_loss']:.2f} | {per_seed} |")
    gap = ours["median_test_loss"] - plain["median_test_loss"]
    print(f"\nratio ours/plain = {ratio:.3f}; median test loss gap = {gap:+.2f}")


if __name__ == "__main__":
    main()
