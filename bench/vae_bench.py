"""VAE benchmark: our Trainer path against a plain pytorch/examples-style loop, side by side in one run.

Both train the same `VAEModel` (same init seed, Adam lr 1e-3, batch 128, 10 epochs, test eval every epoch) on
`../shared/data/mnist`. The plain loop is the fast, honest baseline: MNIST preloaded as one tensor, batches
sliced from a random permutation. Reports the median per-epoch wall time of each, their ratio, and the final
per-image test loss of each.

    python bench/vae_bench.py [--data_dir ../shared/data/mnist] [--epochs 10] [--output bench/results/vae.json]
"""

import argparse
import json
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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "vae.json"))
    args = parser.parse_args()

    from trainer_common.io import write_json
    from vae_trainer.data import load_idx_split

    train_pixels, _ = load_idx_split(args.data_dir, "train")
    test_pixels, _ = load_idx_split(args.data_dir, "test")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(train_pixels)} train images")

    plain = plain_loop(train_pixels, test_pixels, args.epochs, args.seed)
    ours = trainer_path(args.data_dir, args.epochs, args.seed)
    rows = {"plain": plain, "ours": ours}
    for row in rows.values():
        row["median_epoch_s"] = statistics.median(row["epoch_times"])
    ratio = ours["median_epoch_s"] / plain["median_epoch_s"]
    report = {**rows, "ratio_ours_over_plain": ratio, "epochs": args.epochs, "seed": args.seed}
    write_json(args.output, report)

    print(f"\n| path | median s/epoch | test loss after {args.epochs} epochs |")
    print("|---|---|---|")
    print(f"| plain PyTorch loop | {plain['median_epoch_s']:.2f} | {plain['test_loss']:.2f} |")
    print(f"| ours (Trainer) | {ours['median_epoch_s']:.2f} | {ours['test_loss']:.2f} |")
    print(f"\nratio ours/plain = {ratio:.3f}; test loss gap = {ours['test_loss'] - plain['test_loss']:+.2f}")
    print(json.dumps({k: round(v, 3) for k, v in {"ratio": ratio}.items()}))


if __name__ == "__main__":
    main()
