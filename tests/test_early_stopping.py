"""The best checkpoint by validation F1 is the NER model saved, `--load_best_model_at_end false` keeps the last
weights, and `--early_stopping_patience` stops after that many evaluations without improvement."""

import json
from pathlib import Path

import pytest
from helpers import make_encoder_dir
from test_ner_train import base_args, make_sentences, write_conll

from ner_trainer.train import main
from trainer_common.errors import InputError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("early")
    return {
        "encoder": make_encoder_dir(tmp),
        "train": write_conll(tmp / "train.txt", make_sentences(24, seed=0)),
        "dev": write_conll(tmp / "dev.txt", make_sentences(8, seed=1)),
    }


def eval_f1s(out) -> list[float]:
    state = json.loads((out / "trainer_state.json").read_text())
    return [entry["eval_f1"] for entry in state["log_history"] if "eval_f1" in entry], state


def run(files, out, **options) -> dict:
    # rates this high make validation F1 rise and then collapse: the best epoch is not the last
    defaults = dict(num_train_epochs=5, learning_rate=5e-2, classifier_learning_rate=5e-1, do_predict=False)
    return main(base_args(out, files["train"], files["dev"], None, model=files["encoder"], **{**defaults, **options}))


def test_the_saved_tagger_is_the_best_checkpoint_by_validation_f1(files, tmp_path):
    best = run(files, tmp_path / "best")
    f1s, state = eval_f1s(tmp_path / "best")
    assert len(f1s) == 5 and max(f1s) > f1s[-1], f"the last epoch must not be the best for this test: {f1s}"
    assert state["best_metric"] == max(f1s)
    for saved in [tmp_path / "best", *(tmp_path / "best").glob("checkpoint-*")]:  # what a resumed run reads
        named = json.loads((saved / "trainer_state.json").read_text())["best_model_checkpoint"]
        assert ".staging" not in named and Path(named).parent == tmp_path / "best", named
    assert best["eval_f1"] == max(f1s)  # the final evaluation is of the best checkpoint's weights

    last = run(files, tmp_path / "last", load_best_model_at_end="false")
    assert eval_f1s(tmp_path / "last")[0] == f1s  # the same training
    assert last["eval_f1"] == f1s[-1]


def test_early_stopping_stops_after_patience_evaluations_without_improvement(files, tmp_path):
    # learning rates this small leave every prediction unchanged: F1 never improves after the first evaluation
    run(files, tmp_path / "out", num_train_epochs=8, learning_rate=1e-12, classifier_learning_rate=1e-12,
        early_stopping_patience=2)  # fmt: skip
    f1s, state = eval_f1s(tmp_path / "out")
    assert len(f1s) == 3 and len(set(f1s)) == 1
    assert state["epoch"] == 3


def test_early_stopping_needs_evaluation(files, tmp_path):
    with pytest.raises(InputError, match="early_stopping_patience needs validation data"):
        main(base_args(tmp_path / "a", files["train"], None, None, model=files["encoder"], early_stopping_patience=1))
    with pytest.raises(InputError, match="early_stopping_patience needs --load_best_model_at_end"):
        main(base_args(tmp_path / "b", files["train"], files["dev"], None, model=files["encoder"],
                       early_stopping_patience=1, eval_strategy="no"))  # fmt: skip
