#!/usr/bin/env python
"""Train a VAE on MNIST; generate digits with, or evaluate, a saved one.

python run_vae.py --output_dir runs/vae                  # train (see --help for the options)
python run_vae.py config.yaml                            # the same arguments from a JSON/YAML file
python run_vae.py generate --model runs/vae --num_samples 10 --output runs/vae/generated
python run_vae.py evaluate --model runs/vae              # test loss, reconstruction and KL of a saved VAE
"""

import sys

from trainer_common.cli import Command, run_cli

COMMANDS = {
    "train": Command(
        "vae_trainer.train:main", "train a VAE on MNIST (bundled, IDX files or Hub); write it and figures"
    ),
    "generate": Command(
        "vae_trainer.generate:main", "decode digits drawn from z ~ N(0, I) by a saved VAE into PNG files"
    ),
    "evaluate": Command(
        "vae_trainer.evaluate:main", "score a saved VAE on MNIST's test images: loss, reconstruction, KL"
    ),
}


def main() -> int:
    return run_cli(COMMANDS, default="train", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
