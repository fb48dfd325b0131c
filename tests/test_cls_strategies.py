"""The encoder fine-tuning strategies on a stock `BertForSequenceClassification`, through the code NER uses
(`trainer_common.encoder_parts`, `encoder_strategy`, `encoder_trainer`, `lora`, `encoder_args`): freezing, the head's
learning rate (the pooler included), layer-wise learning-rate decay, LoRA merged back into a stock model."""

import logging
import warnings
from dataclasses import dataclass

import pytest
import torch
from helpers import one_thread, tiny_bert_config  # noqa: F401 (an autouse fixture)
from safetensors.torch import load_file
from transformers import BertForSequenceClassification

from trainer_common.encoder_args import EncoderRatesArguments, EncoderStrategyArguments
from trainer_common.encoder_parts import layer_depths, parameter_groups
from trainer_common.encoder_strategy import apply_encoder_strategy
from trainer_common.encoder_trainer import EncoderTrainerMixin
from trainer_common.errors import InputError
from trainer_common.trainer import MultiLossTrainer
from trainer_common.training_args import TaskTrainingArguments

LAYERS = 3
HEAD = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}


@dataclass
class TrainingArgs(EncoderRatesArguments, TaskTrainingArguments):
    """What a task's training arguments look like with the shared rates."""


class ClassifierTrainer(EncoderTrainerMixin, MultiLossTrainer):
    pass


def classifier(seed=0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = tiny_bert_config(num_hidden_layers=LAYERS)
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    config.num_labels = 3
    return BertForSequenceClassification(config)


def inputs(seed=0, rows=4, length=9):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 50, (rows, length), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def training_args(tmp_path, **options) -> TrainingArgs:
    return TrainingArgs(str(tmp_path), report_to="none", use_cpu=True, eval_strategy="no", save_strategy="no",
                        **options)  # fmt: skip


def trainable(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def strategy(model, layer_lr_decay=None, **options):
    """`apply_encoder_strategy` with these options, as a task's run applies them."""
    rates = EncoderRatesArguments(layer_lr_decay=layer_lr_decay)
    apply_encoder_strategy(model, EncoderStrategyArguments(**options), rates)
    return model


# ---- parts, freezing -------------------------------------------------------------------------------------------


def test_the_head_is_the_classifier_and_the_pooler():
    model = classifier()
    groups = parameter_groups(model)
    assert groups["classifier"] == HEAD
    assert groups["encoder"] == {name for name, _ in model.named_parameters()} - HEAD
    depths = layer_depths(model)
    assert set(depths) == groups["encoder"]
    assert depths["bert.embeddings.word_embeddings.weight"] == depths["bert.embeddings.LayerNorm.bias"] == 0
    assert depths["bert.encoder.layer.0.attention.self.query.weight"] == 1
    assert depths["bert.encoder.layer.2.output.dense.bias"] == 3


@pytest.mark.parametrize(
    "options, frozen_prefixes",
    [
        ({}, ()),
        ({"freeze_layers": 0}, ("bert.embeddings.",)),
        ({"freeze_layers": 2}, ("bert.embeddings.", "bert.encoder.layer.0.", "bert.encoder.layer.1.")),
        ({"freeze_encoder": True}, ("bert.embeddings.", "bert.encoder.")),
    ],
)
def test_freezing_leaves_the_head_and_the_pooler_trainable(tmp_path, options, frozen_prefixes):
    model = strategy(classifier(), **options)
    names = {name for name, _ in model.named_parameters()}
    assert trainable(model) == {name for name in names if not name.startswith(frozen_prefixes or ("-",))}
    assert HEAD <= trainable(model)
    model.save_pretrained(tmp_path)  # a stock config keeps the settings, for a resumed run to compare
    config = BertForSequenceClassification.from_pretrained(tmp_path).config
    assert (config.freeze_encoder, config.freeze_layers, config.lora_r) == (
        options.get("freeze_encoder", False), options.get("freeze_layers"), 0
    )  # fmt: skip


def test_freeze_layers_beyond_the_encoder_is_an_input_error():
    with pytest.raises(InputError, match=r"--freeze_layers must be in \[0, 3\] \(the encoder has 3\), got 4"):
        strategy(classifier(), freeze_layers=4)


@pytest.mark.parametrize(
    "flags, message",
    [(["--lora_r", "4", "--freeze_layers", "1"], "drop --freeze_"), (["--layer_lr_decay", "0"], "must be above 0")],
)
def test_the_shared_options_are_checked_when_parsed(tmp_path, flags, message):
    from trainer_common.args import parse_args

    with pytest.raises(InputError, match=message):
        parse_args((EncoderStrategyArguments, TrainingArgs), ["--output_dir", str(tmp_path), *flags])


# ---- learning rates --------------------------------------------------------------------------------------------


def optimizer_rates(tmp_path, model, **options) -> dict[str, float]:
    optimizer = ClassifierTrainer(model=model, args=training_args(tmp_path, **options)).create_optimizer()
    rate = {id(param): group["lr"] for group in optimizer.param_groups for param in group["params"]}
    assert len(rate) == sum(len(group["params"]) for group in optimizer.param_groups), "a parameter in two groups"
    return {name: rate[id(p)] for name, p in model.named_parameters() if id(p) in rate}


def test_layer_wise_decay_and_the_heads_rate(tmp_path):
    model = classifier()
    rates = optimizer_rates(tmp_path, model, learning_rate=1e-3, layer_lr_decay=0.5, classifier_learning_rate=1e-2)
    expected = {}
    for name, _ in model.named_parameters():  # by hand, powers of two: exact in floating point
        if name.startswith("bert.embeddings."):
            expected[name] = 1.25e-4  # below layer 0: 1e-3 * 0.5 ** 3
        elif name.startswith("bert.encoder.layer."):
            expected[name] = {"0": 2.5e-4, "1": 5e-4, "2": 1e-3}[name.split(".")[3]]
        else:  # the classifier and the pooler: the head
            expected[name] = 1e-2
    assert rates == expected

    rates = optimizer_rates(tmp_path, classifier(), learning_rate=3e-5, classifier_learning_rate=7e-4)
    assert {name for name, rate in rates.items() if rate == 7e-4} == HEAD
    assert {rate for name, rate in rates.items() if name not in HEAD} == {3e-5}


def test_frozen_and_lora_parameters_get_their_layers_rates(tmp_path):
    model = strategy(classifier(), freeze_layers=1)
    rates = optimizer_rates(tmp_path, model, learning_rate=2e-5, layer_lr_decay=0.8)
    assert set(rates) == trainable(model)
    assert not any(name.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for name in rates)

    model = strategy(classifier(), lora_r=2)
    rates = optimizer_rates(tmp_path, model, learning_rate=2e-5, layer_lr_decay=0.8)
    adapters = {name for name in rates if "lora_" in name}
    assert set(rates) == adapters | HEAD and len(adapters) == 4 * LAYERS  # A and B of query and value per layer
    for name in adapters:
        depth = int(name.split(".")[3]) + 1
        assert rates[name] == pytest.approx(2e-5 * 0.8 ** (LAYERS - depth), rel=1e-12), name
    assert {rates[name] for name in HEAD} == {1e-3}  # the default head rate


# ---- LoRA ------------------------------------------------------------------------------------------------------


def test_lora_merges_into_a_stock_classifier(tmp_path, caplog):
    from trainer_common.lora import add_lora, has_lora, merge_lora

    model = classifier()
    stock_keys = set(model.state_dict())
    add_lora(model, r=4, target_modules=["dense"])  # every dense layer but the pooler's, which is the head's
    adapted = {name.rsplit(".lora_A", 1)[0] for name in trainable(model) if ".lora_A." in name}
    assert adapted == {
        f"bert.encoder.layer.{i}.{module}.dense"
        for i in range(LAYERS)
        for module in ("attention.output", "intermediate", "output")
    }
    assert trainable(model) - {name for name in trainable(model) if "lora_" in name} == HEAD
    with torch.no_grad():  # adapters that have trained
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model.eval()
    with torch.no_grad():
        logits = model(**inputs()).logits
    assert merge_lora(model) == 3 * LAYERS and not has_lora(model)
    assert set(model.state_dict()) == stock_keys
    assert all(p.requires_grad for p in model.parameters())  # as a model without adapters
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs()).logits, logits, rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path)
    library_logger = logging.getLogger("transformers")
    propagate, library_logger.propagate = library_logger.propagate, True  # its load report reaches caplog
    caplog.clear()  # the merge's own line, when an earlier test's run left the toolkit's loggers at INFO
    try:
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            reloaded, info = BertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    finally:
        library_logger.propagate = propagate
    assert not any(info.values()), info
    assert not caught and not caplog.records, [*caught, *caplog.records]
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval()(**inputs()).logits, logits, rtol=1e-5, atol=1e-5)


def test_the_final_save_merges_and_a_checkpoint_keeps_the_adapters(tmp_path):
    model = strategy(classifier(), lora_r=2)
    trainer = ClassifierTrainer(model=model, args=training_args(tmp_path / "run"))
    trainer.save_model(str(tmp_path / "checkpoint"), _internal_call=True)  # how a checkpoint is saved
    checkpoint = load_file(tmp_path / "checkpoint" / "model.safetensors")
    assert any("lora_A" in key for key in checkpoint)
    resumed = strategy(classifier(seed=1), lora_r=2)  # a resumed run rebuilds the adapters, then loads them all
    resumed.load_state_dict(checkpoint, strict=True)
    resumed.eval(), model.eval()
    with torch.no_grad():
        logits = model(**inputs()).logits
        assert torch.equal(resumed(**inputs()).logits, logits)

    trainer.save_model(str(tmp_path / "final"))
    saved = load_file(tmp_path / "final" / "model.safetensors")
    assert set(saved) == set(classifier().state_dict())
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path / "final").eval()
    assert reloaded.config.lora_r == 2 and reloaded.config.lora_target_modules == ["query", "value"]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs()).logits, logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("targets", ["q_proj", "query,q_proj", "pooler.dense"])
def test_lora_on_a_module_the_encoder_lacks_is_an_input_error(targets):
    message = r"--lora_target_modules: no linear layer of the bert encoder is named '(q_proj|pooler.dense)' \(dense, "
    with pytest.raises(InputError, match=message + r"key, query, value\)$"):
        strategy(classifier(), lora_r=2, lora_target_modules=targets)


# ---- a training run --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three steps of the Trainer with the mixin: layers 0 and the embeddings frozen, decayed rates, weight decay."""
    tmp = tmp_path_factory.mktemp("cls_strategies")
    model = strategy(classifier(), freeze_layers=1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    batch = inputs(rows=12)
    labels = torch.arange(12) % 3
    rows = [{"input_ids": i, "attention_mask": m, "labels": y} for i, m, y in zip(*batch.values(), labels)]
    args = training_args(tmp, max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2, weight_decay=0.1,
                         layer_lr_decay=0.5, classifier_learning_rate=5e-2, logging_steps=1)  # fmt: skip
    ClassifierTrainer(model=model, args=args, train_dataset=rows).train()
    return before, dict(model.named_parameters())


def test_frozen_parameters_do_not_move_and_the_rest_trains(trained):
    before, after = trained
    frozen = ("bert.embeddings.", "bert.encoder.layer.0.")
    for name, value in after.items():
        if name.startswith(frozen):
            assert not value.requires_grad and torch.equal(value, before[name]), name
        elif value.dim() == 2:  # every weight matrix above, the pooler's and the classifier's too
            assert not torch.equal(value, before[name]), name
