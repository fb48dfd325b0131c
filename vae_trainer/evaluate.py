"""`run_vae.py evaluate --model DIR --output_dir OUT`: a saved VAE's test loss, reconstruction and KL on MNIST's test
split (or other IDX files), with its samples and reconstructions (`trainer_common.evaluate`)."""

DATA_OPTIONS = {
    "--data_dir": "folder of MNIST IDX files (only the t10k test files are read; default: the bundled MNIST)",
    "--dataset_name": "Hub dataset with image/label columns (its test split)",
}


def main(argv: list[str] | None = None) -> dict:
    import sys

    from trainer_common.evaluate import run_evaluation

    from .train import main as train_main

    argv = list(sys.argv[1:] if argv is None else argv)
    return run_evaluation(
        train_main, argv, "run_vae.py evaluate", DATA_OPTIONS, lambda given: ["--do_eval", "true"],
        "--max_eval_samples 1000",
    )  # fmt: skip
