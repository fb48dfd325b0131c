#!/usr/bin/env python
"""Fine-tune a BERT tagger for named entity recognition; tag text with, evaluate, export or explain a saved one.

python run_ner.py --model_name_or_path bert-base-cased --output_dir runs/ner          # CoNLL-2003 from the Hub
python run_ner.py --train_file train.txt --validation_file dev.txt --test_file test.txt --output_dir runs/ner
python run_ner.py config.yaml                                                         # arguments from a file
python run_ner.py predict --model runs/ner "Peter Blackburn visited Brussels."        # or --input_file / stdin
python run_ner.py evaluate --model runs/ner --test_file test.txt --output_dir runs/ner-test
python run_ner.py export --model runs/ner --output runs/ner-stock                     # as BertForTokenClassification
python run_ner.py explain --model runs/ner "Peter Blackburn visited Brussels." --output view.html
"""

import sys

from trainer_common.cli import Command, run_cli

COMMANDS = {
    "train": Command(
        "ner_trainer.train:main", "fine-tune a tagger on CoNLL, JSON, CSV or Hub data; write it and its scores"
    ),
    "predict": Command(
        "ner_trainer.predict:main", "tag raw text with a saved tagger: a JSON line of entities per text"
    ),
    "export": Command(
        "ner_trainer.export:main", "write a saved linear tagger as its encoder's stock *ForTokenClassification"
    ),
    "evaluate": Command(
        "ner_trainer.evaluate:main", "score a saved tagger on new data: results, report and predictions"
    ),
    "explain": Command("ner_trainer.explain:main", "view the tagger's attention on a text: bertviz HTML, PNG heatmap"),
}


def main() -> int:
    return run_cli(COMMANDS, default="train", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
