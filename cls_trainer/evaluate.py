"""`run_classification.py evaluate --model DIR --test_file FILE --output_dir OUT`: score a saved classifier on new
data: the result files, the per-class report, the confusion matrix and the predictions (`trainer_common.evaluate`)."""

from trainer_common.errors import InputError

DATA_OPTIONS = {
    "--test_file": "data to predict and score (TSV/CSV with a header, JSON/JSONL, as for training)",
    "--validation_file": "data to score as the validation split (loss and metrics)",
    "--dataset_name": "Hub dataset: its validation and test splits",
    "--task_name": "GLUE task (sst2, rte, ...): its Hub validation split",
}


def _splits(given: dict) -> list[str]:
    hub = "dataset_name" in given or ("task_name" in given and not given.keys() & {"test_file", "validation_file"})
    if not (hub or "test_file" in given or "validation_file" in given):
        raise InputError("evaluate needs data: --test_file, --validation_file, --dataset_name or --task_name")
    test, validation = hub or "test_file" in given, hub or "validation_file" in given
    return ["--do_eval", str(validation).lower(), "--do_predict", str(test).lower()]


def main(argv: list[str] | None = None) -> dict:
    import sys

    from trainer_common.evaluate import run_evaluation

    from .train import main as train_main

    argv = list(sys.argv[1:] if argv is None else argv)
    return run_evaluation(train_main, argv, "run_classification.py evaluate", DATA_OPTIONS, _splits,
                          "--max_seq_length 256")  # fmt: skip
