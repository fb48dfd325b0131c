"""`run_vae.py generate`: decode digits from a saved VAE."""

import argparse

from trainer_common.validation import check_range

from .train import MAX_SAMPLES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="run_vae.py generate", description="Generate digits from a saved VAE.")
    parser.add_argument("--model", required=True, help="Saved VAE folder or Hub id.")
    parser.add_argument("--num_samples", type=int, default=10, help="Number of digits (default 10).")
    parser.add_argument("--output", required=True, help="Folder for samples.png and samples/sample_{i}.png.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the z draws (default 0).")
    parser.add_argument("--trust_remote_code", action="store_true", help="Load the model code from the checkpoint.")
    args = parser.parse_args(argv)
    check_range("num_samples", args.num_samples, 1, MAX_SAMPLES)

    from transformers import AutoModel

    from trainer_common.loading import load_checked

    from . import VAEConfig  # registers the Auto classes
    from .plots import write_samples

    model_type = (VAEConfig.model_type,)
    model = load_checked(AutoModel, args.model, model_type, trust_remote_code=args.trust_remote_code)
    path = write_samples(model.eval(), args.num_samples, args.output, args.seed)
    print(f"wrote {args.num_samples} samples to {path} and {args.output}/samples/")
