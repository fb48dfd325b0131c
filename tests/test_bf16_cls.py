"""--bf16 with text classification: packed (padding-free) batches under autocast train, and the saved float32
classifier loads as a stock one."""

import json

import pytest
import torch
from helpers import make_encoder_dir, one_thread  # noqa: F401 (an autouse fixture)
from safetensors.torch import load_file
from test_bf16_ner import WatchBatches
from test_cls_train import cls_args, make_rows, write_tsv

from cls_trainer.arguments import ClassificationArguments, ClassificationTrainingArguments
from cls_trainer.train import train
from trainer_common.args import parse_args


def losses(out) -> list[float]:
    return [entry["loss"] for entry in json.loads((out / "trainer_state.json").read_text())["log_history"]
            if "loss" in entry]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """64 train and 16 dev texts: 48 steps (batches of 4, 3 epochs) on packed rows, in bf16 and in float32."""
    tmp = tmp_path_factory.mktemp("bf16_cls")
    files = [write_tsv(tmp / f"{name}.tsv", make_rows(n, seed)) for name, n, seed in
             (("train", 64, 0), ("dev", 16, 1))]  # fmt: skip
    encoder, watch = make_encoder_dir(tmp), WatchBatches()
    for precision in ("bf16", "fp32"):
        argv = cls_args(tmp / precision, *files, model=encoder, num_train_epochs=3, learning_rate=3e-3,
                        bf16=str(precision == "bf16"), padding_free="true", logging_steps=1)  # fmt: skip
        parsed = parse_args((ClassificationArguments, ClassificationTrainingArguments), argv)
        train(*parsed, callbacks=[watch] if precision == "bf16" else None)
    return tmp / "bf16", tmp / "fp32", watch


def test_a_bf16_run_on_packed_batches_trains_as_float32_does(runs):
    bf16, fp32, watch = runs
    assert len(watch.packed) == 48 and all(watch.packed), "every training batch packed"
    assert watch.head_dtypes == {torch.bfloat16}, "the head ran under bf16 autocast"
    means = [[sum(loss[i : i + 8]) / 8 for i in range(0, 48, 8)] for loss in (losses(bf16), losses(fp32))]
    assert means[0][-1] < means[0][0] - 0.04, means  # it trains
    assert means[0] == pytest.approx(means[1], abs=0.02), means  # as float32 does, but for bf16's rounding


def test_a_bf16_run_saves_float32_weights_that_load_as_a_stock_classifier(runs):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = runs[0]
    assert {str(tensor.dtype) for tensor in load_file(str(out / "model.safetensors")).values()} == {"torch.float32"}
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert type(model).__name__ == "BertForSequenceClassification" and model.dtype == torch.float32
    with torch.no_grad():
        logits = model(**AutoTokenizer.from_pretrained(out)(["Paris London", "lives in"], return_tensors="pt",
                                                            padding=True)).logits  # fmt: skip
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
