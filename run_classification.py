#!/usr/bin/env python
"""Fine-tune a text classifier (single sentences or sentence pairs); classify text with, or evaluate, a saved one.

python run_classification.py --model_name_or_path bert-base-cased --task_name sst2 --output_dir runs/sst2  # GLUE, Hub
python run_classification.py --train_file train.tsv --validation_file dev.tsv --output_dir runs/cls
python run_classification.py config.yaml                                                 # arguments from a file
python run_classification.py predict --model runs/cls "A gripping, beautifully acted film."  # or --input_file
python run_classification.py evaluate --model runs/cls --test_file test.tsv --output_dir runs/cls-test
"""

import sys

from trainer_common.cli import Command, run_cli

COMMANDS = {
    "train": Command(
        "cls_trainer.train:main", "fine-tune a classifier on TSV, CSV, JSON or Hub data; write it and its scores"
    ),
    "predict": Command(
        "cls_trainer.predict:main", "classify raw texts or pairs with a saved classifier: a JSON line per text"
    ),
    "evaluate": Command(
        "cls_trainer.evaluate:main", "score a saved classifier on new data: results, report and predictions"
    ),
}


def main() -> int:
    return run_cli(COMMANDS, default="train", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
