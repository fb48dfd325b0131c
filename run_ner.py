#!/usr/bin/env python
"""Fine-tune a BERT tagger for named entity recognition, tag raw text with a saved one, or export it.

python run_ner.py --model_name_or_path bert-base-cased --output_dir runs/ner          # CoNLL-2003 from the Hub
python run_ner.py --train_file train.txt --validation_file dev.txt --test_file test.txt --output_dir runs/ner
python run_ner.py config.yaml                                                         # arguments from a file
python run_ner.py predict --model runs/ner "Peter Blackburn visited Brussels."        # or --input_file / stdin
python run_ner.py export --model runs/ner --output runs/ner-stock                     # as BertForTokenClassification
"""

import sys

from trainer_common.cli import run_cli

COMMANDS = {
    "train": "ner_trainer.train:main",
    "predict": "ner_trainer.predict:main",
    "export": "ner_trainer.export:main",
    "evaluate": "ner_trainer.evaluate:main",
    "explain": "ner_trainer.explain:main",
}


def main() -> int:
    return run_cli(COMMANDS, default="train")


if __name__ == "__main__":
    sys.exit(main())
