#!/usr/bin/env python
"""Train a VAE on MNIST, or generate digits from a saved one.

python run_vae.py --output_dir runs/vae                  # train (see --help for every option)
python run_vae.py config.yaml                            # the same arguments from a JSON/YAML file
python run_vae.py generate --model runs/vae --num_samples 10 --output runs/vae/generated
"""

import sys

from trainer_common.cli import run_cli

COMMANDS = {
    "train": "vae_trainer.train:main",
    "generate": "vae_trainer.generate:main",
    "evaluate": "vae_trainer.evaluate:main",
}


def main() -> int:
    return run_cli(COMMANDS, default="train")


if __name__ == "__main__":
    sys.exit(main())
