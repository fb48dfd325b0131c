"""--bf16 with the tagger: padding-free packed batches and the CRF (whose recursions stay in float32 under autocast),
scalar mix, LoRA and freezing; a bf16 run resumes bit-exactly and saves float32 weights that load anywhere."""

import itertools
import json

import pytest
import torch
from helpers import SignalAtStep, make_encoder_dir, one_thread  # noqa: F401 (an autouse fixture)
from safetensors.torch import load_file
from test_ner_crf_head import LABELS as CRF_LABELS
from test_ner_crf_head import crf_model, sentence_batch
from test_ner_train import base_args, make_sentences, write_conll
from transformers import TrainerCallback

from ner_trainer.arguments import NERArguments, NERTrainingArguments
from ner_trainer.crf import LinearChainCRF
from ner_trainer.train import train
from trainer_common.args import parse_args
from trainer_common.errors import Interrupted

BF16 = {"bf16": "true", "padding_free": "true", "learning_rate": 2e-2, "logging_steps": 1}
CRF_RUN = {**BF16, "head": "crf", "num_train_epochs": 3, "train_sampling_strategy": "group_by_length"}
STOP = 8  # of 18 steps (24 sentences in batches of 4, three epochs): mid-epoch


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bf16_ner")
    return {
        "encoder": make_encoder_dir(tmp, num_hidden_layers=3),
        "train": write_conll(tmp / "train.txt", make_sentences(24, seed=0)),
        "dev": write_conll(tmp / "dev.txt", make_sentences(4, seed=1)),
    }


def run(data, out, options: dict, callbacks=None, **extra) -> dict:
    argv = base_args(out, data["train"], data["dev"], model=data["encoder"], **options, **extra)
    return train(*parse_args((NERArguments, NERTrainingArguments), argv), callbacks=callbacks)


class WatchBatches(TrainerCallback):
    """Records, for each training forward pass, whether its batch was packed (position ids, and no attention mask
    or a 4D block mask; NER and classification) and the dtype of the head's output (`classifier`): bfloat16 under
    autocast."""

    def __init__(self):
        self.packed, self.head_dtypes = [], set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def batch(module, args, kwargs):
            if module.training:
                mask = kwargs.get("attention_mask")
                self.packed.append("position_ids" in kwargs and (mask is None or mask.dim() == 4))

        model.register_forward_pre_hook(batch, with_kwargs=True)
        model.classifier.register_forward_hook(lambda module, args, output: self.head_dtypes.add(output.dtype))


def losses(out) -> list[float]:
    log = json.loads((out / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in log if "loss" in entry]


def dtypes(out) -> set[str]:
    return {str(tensor.dtype) for tensor in load_file(str(out / "model.safetensors")).values()}


@pytest.fixture(scope="module")
def crf_run(data, tmp_path_factory):
    """A bf16 run of the CRF head on packed batches: 18 steps, evaluated after each epoch."""
    out, watch = tmp_path_factory.mktemp("bf16_crf") / "whole", WatchBatches()
    return out, run(data, out, CRF_RUN, callbacks=[watch]), watch


# ---- the CRF under autocast ------------------------------------------------------------------------------------


def brute_force(crf: LinearChainCRF, emissions, tags, lengths):
    """Float64 negative log-likelihood and best path of each row, from every tag path enumerated: the oracle."""
    start, transitions, end = (p.double() for p in (crf.start_transitions, crf.transitions, crf.end_transitions))
    nlls, best_paths = [], []

    def score(row, path):
        moves = sum(transitions[a, b] for a, b in itertools.pairwise(path))
        return start[path[0]] + end[path[-1]] + sum(row[t, y] for t, y in enumerate(path)) + moves

    for row, gold, length in zip(emissions.double(), tags, lengths):
        paths = list(itertools.product(range(crf.num_tags), repeat=length))
        scores = torch.stack([score(row, path) for path in paths])
        nlls.append(torch.logsumexp(scores, 0) - score(row, gold[:length].tolist()))
        best_paths.append(list(paths[scores.argmax()]))
    return torch.stack(nlls), best_paths


def test_crf_recursions_stay_float32_under_bf16_autocast():
    """bf16 emissions (a Linear under autocast, as the tagger's classifier makes them): the log-likelihood and the
    Viterbi path are float32 computations on them, equal to the oracle to float32 accuracy (a bf16 forward algorithm
    would be off by about 1e-2 of the log-partition)."""
    torch.manual_seed(0)
    crf, classifier = LinearChainCRF(3), torch.nn.Linear(8, 3)
    with torch.no_grad():
        for param in (crf.start_transitions, crf.transitions, crf.end_transitions):
            param.normal_(0, 2.0)
    lengths = [5, 3, 1, 4]
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    tags = torch.randint(0, 3, (4, 5))
    features = torch.randn(4, 5, 8) * 4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emissions = classifier(features)
        nll = crf(emissions, tags, mask, reduction="none")
        decoded, _ = crf.viterbi_decode(emissions, mask)
    assert emissions.dtype == torch.bfloat16 and nll.dtype == torch.float32
    assert torch.equal(nll, crf(emissions.float(), tags, mask, reduction="none"))  # as without autocast
    expected, best_paths = brute_force(crf, emissions, tags, lengths)
    torch.testing.assert_close(nll.double(), expected, rtol=1e-6, atol=1e-4)
    assert [row[:length] for row, length in zip(decoded.tolist(), lengths)] == best_paths


def test_the_taggers_crf_loss_on_packed_rows_is_float32_under_autocast(tiny_tokenizer):
    """Inside the model: packed rows, bf16 emissions from the classifier, a loss that the CRF computes in float32
    from them (equal to the same loss computed from the emissions outside autocast)."""
    from transformers import DataCollatorForTokenClassification

    from ner_trainer.data import PaddingFreeCollator, WordMaskCollator

    model = crf_model().eval()
    model.crf.set_constraints(None, None, None)  # random tags break the scheme
    features = sentence_batch()
    for f in features:
        f["labels"] = [i % len(CRF_LABELS) if m else -100 for i, m in enumerate(f["word_mask"])]
    packed = PaddingFreeCollator(WordMaskCollator(DataCollatorForTokenClassification(tiny_tokenizer)))(features)
    assert "attention_mask" not in packed and packed["input_ids"].shape[0] < len(features)
    seen = []
    model.classifier.register_forward_hook(lambda module, args, output: seen.append(output))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(**packed).loss
    emissions = seen[0].float()
    assert seen[0].dtype == torch.bfloat16 and loss.dtype == torch.float32
    labels, position_ids = packed["labels"], packed["position_ids"]
    chains = model._word_chains(emissions, packed["word_mask"], labels, position_ids, None)
    with torch.no_grad():
        assert torch.equal(loss, model._crf_loss(emissions, labels, chains, None))


# ---- training runs ---------------------------------------------------------------------------------------------


def test_a_bf16_crf_run_on_packed_batches_trains_and_saves_float32_weights_that_load(crf_run):
    from transformers import AutoModelForTokenClassification

    out, results, watch = crf_run
    assert len(watch.packed) == 18 and all(watch.packed) and watch.head_dtypes == {torch.bfloat16}
    loss = losses(out)
    assert len(loss) == 18 and sum(loss[-3:]) < 0.75 * sum(loss[:3])  # it trains
    assert dtypes(out) == {"torch.float32"}
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert type(model).__name__ == "BertTagger" and model.crf is not None
    assert model.dtype == torch.float32 and results["eval_f1"] > 0


def test_a_bf16_run_resumes_bit_exactly(data, crf_run, tmp_path):
    """Stopped by a signal mid-epoch and resumed: the weights of the uninterrupted bf16 run, every bit."""
    out = tmp_path / "stopped"
    with pytest.raises(Interrupted, match=f"at step {STOP}:"):
        run(data, out, CRF_RUN, callbacks=[SignalAtStep(STOP)])
    run(data, out, CRF_RUN, resume_from_checkpoint="true")
    expected, resumed = load_file(str(crf_run[0] / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert resumed.keys() == expected.keys() and "crf.transitions" in expected
    changed = [name for name in expected if not torch.equal(resumed[name], expected[name])]
    assert not changed, f"{len(changed)} of {len(expected)} tensors differ, first {changed[:3]}"


STRATEGIES = {
    "scalar mix": {"layer_pooling": "scalar_mix"},
    "lora": {"lora_r": 4},
    "freeze layers": {"freeze_layers": 2},
}


@pytest.mark.parametrize("options", STRATEGIES.values(), ids=STRATEGIES.keys())
def test_each_encoder_strategy_trains_in_bf16(data, tmp_path, options):
    out = tmp_path / "out"
    run(data, out, {**BF16, "max_steps": 18, "learning_rate": 3e-2, "eval_strategy": "no", **options})
    loss = losses(out)
    assert sum(loss[-3:]) < 0.9 * sum(loss[:3]), loss  # it trains
    assert dtypes(out) == {"torch.float32"}
    saved = load_file(str(out / "model.safetensors"))
    pretrained = {f"encoder.{k}": v for k, v in load_file(str(data["encoder"] / "model.safetensors")).items()}
    if "layer_pooling" in options:
        assert saved["scalar_mix.gamma"].item() != 1.0  # the mix trained
    if "lora_r" in options:  # merged adapters: only the adapted matrices moved
        adapted = [name for name in pretrained if name in saved and not torch.equal(saved[name], pretrained[name])]
        assert adapted and all(name.endswith(("query.weight", "value.weight")) for name in adapted)
    if "freeze_layers" in options:  # frozen in bf16 too: bit-identical
        frozen = [name for name in pretrained if name.startswith(("encoder.embeddings.", "encoder.encoder.layer.0."))]
        assert frozen and all(torch.equal(saved[name], pretrained[name]) for name in frozen)
