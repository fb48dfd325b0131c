"""The tagger, stopped by a signal mid-epoch, at an epoch's end and in the next epoch, and resumed each time, ends
with the weights of an uninterrupted run: random and length-grouped packed (padding-free) batches, and the CRF."""

import pytest
import torch
from helpers import SignalAtStep, make_encoder_dir
from safetensors.torch import load_file
from test_ner_train import base_args, make_sentences, write_conll

from ner_trainer.arguments import NERArguments, NERTrainingArguments
from ner_trainer.train import train
from trainer_common.args import parse_args
from trainer_common.errors import Interrupted

STEPS_PER_EPOCH = 6  # 24 sentences in batches of 4; two epochs
STOPS = (2, STEPS_PER_EPOCH, STEPS_PER_EPOCH + 2)  # mid-epoch, at its end, in the next; all but the first resumed
CASES = {
    "random batches": {},
    "length-grouped batches": {"train_sampling_strategy": "group_by_length"},
    "crf head, length-grouped": {"train_sampling_strategy": "group_by_length", "head": "crf"},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ner_resume")
    return {
        "encoder": make_encoder_dir(tmp),
        "train": write_conll(tmp / "train.txt", make_sentences(4 * STEPS_PER_EPOCH, seed=0)),
        "dev": write_conll(tmp / "dev.txt", make_sentences(4, seed=1)),
    }


def run(data, out, options: dict, callbacks=None, **extra) -> None:
    argv = base_args(out, data["train"], data["dev"], model=data["encoder"], num_train_epochs=2, learning_rate=5e-3,
                     logging_steps=1, **options, **extra)  # fmt: skip
    train(*parse_args((NERArguments, NERTrainingArguments), argv), callbacks=callbacks)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: as fast, and the same reduction order in every run
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("options", CASES.values(), ids=CASES.keys())
def test_resuming_after_signals_gives_the_uninterrupted_weights(data, tmp_path, options):
    run(data, tmp_path / "whole", options)
    expected = load_file(str(tmp_path / "whole" / "model.safetensors"))

    out = tmp_path / "stopped"
    for k, step in enumerate(STOPS):
        resume = {"resume_from_checkpoint": "true"} if k else {}
        with pytest.raises(Interrupted, match=f"at step {step}:"):
            run(data, out, options, callbacks=[SignalAtStep(step)], **resume)
        assert (out / f"checkpoint-{step}" / "trainer_state.json").is_file()
    run(data, out, options, resume_from_checkpoint="true")
    resumed = load_file(str(out / "model.safetensors"))

    assert resumed.keys() == expected.keys()
    if options.get("head") == "crf":
        assert "crf.transitions" in expected
    # Same batches, same dropout masks, same optimizer state: nothing may differ, not even in the last bit.
    changed = [name for name in expected if not torch.equal(resumed[name], expected[name])]
    assert not changed, f"{len(changed)} of {len(expected)} tensors differ, first {changed[:3]}"


def test_length_grouped_order_depends_on_the_epoch_only():
    from trainer_common.batches import ShuffledLengthGroupedSampler

    lengths = [(7 * i) % 23 + 1 for i in range(64)]
    sampler = ShuffledLengthGroupedSampler(lengths, 4, seed=3)
    orders = []
    for epoch in (0, 1, 2, 1):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert orders[1] == orders[3] and list(sampler) == orders[3]  # a resumed or re-iterated epoch: the same batches
    assert orders[0] != orders[1] != orders[2]  # and a new shuffle every epoch
    fresh = ShuffledLengthGroupedSampler(lengths, 4, seed=3)
    fresh.set_epoch(2)
    assert list(fresh) == orders[2]  # a new process at epoch 2 (a resumed run) draws what the old one drew
    assert sorted(orders[0]) == list(range(64))
