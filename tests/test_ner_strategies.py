"""Encoder fine-tuning strategies: layer pooling (scalar mix, a layer, the embeddings), freezing, layer-wise
learning-rate decay, LoRA through peft, and new labels for a trained tagger."""

import json
import shutil

import pytest
import torch
from helpers import (
    make_encoder_dir,
    one_thread,  # noqa: F401 (an autouse fixture)
    run_without_project,
    tiny_bert_config,
)
from safetensors.torch import load_file
from test_ner_train import base_args, make_sentences, read_blocks, write_conll

from ner_trainer import tagging
from ner_trainer.configuration_bert_tagger import BertTaggerConfig
from ner_trainer.modeling_bert_tagger import BertTagger

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def tagger(layers=2, seed=0, **kwargs) -> BertTagger:
    torch.manual_seed(seed)
    config = BertTaggerConfig(
        encoder=tiny_bert_config(num_hidden_layers=layers), id2label=dict(enumerate(LABELS)), **kwargs
    )
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    return BertTagger(config)


def inputs(seed=0, rows=2, length=9):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 30, (rows, length), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def trained_looking(model: BertTagger) -> BertTagger:
    """Head parameters away from their initial values, so that reload checks see them."""
    with torch.no_grad():
        if model.scalar_mix is not None:
            model.scalar_mix.weights.normal_(0, 1.0)
            model.scalar_mix.gamma.fill_(1.7)
        if model.crf is not None:
            model.crf.transitions.normal_(0, 1.0)
    return model


# ---- configuration ---------------------------------------------------------------------------------------------


def test_config_records_the_strategy_and_reloads_it(tmp_path):
    config = BertTaggerConfig(
        encoder=tiny_bert_config(num_hidden_layers=3), layer_pooling="-2", freeze_layers=1, layer_lr_decay=0.9,
        lora_r=8, lora_alpha=16, lora_dropout=0.05, lora_target_modules=["query", "value"],
    )  # fmt: skip
    config.save_pretrained(tmp_path)
    loaded = BertTaggerConfig.from_pretrained(tmp_path)
    for field, value in [("layer_pooling", "-2"), ("freeze_encoder", False), ("freeze_layers", 1),
                         ("layer_lr_decay", 0.9), ("lora_r", 8), ("lora_alpha", 16), ("lora_dropout", 0.05),
                         ("lora_target_modules", ["query", "value"])]:  # fmt: skip
        assert getattr(loaded, field) == value, field
    defaults = BertTaggerConfig()
    assert (defaults.layer_pooling, defaults.freeze_encoder, defaults.freeze_layers, defaults.lora_r) == (
        "last", False, None, 0
    )  # fmt: skip
    assert BertTaggerConfig(encoder=tiny_bert_config(), layer_pooling=1).layer_pooling == "1"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer_pooling": "3"}, r"layer_pooling 3 is out of range for an encoder with 2 layers: .* -3 to 2"),
        ({"layer_pooling": "-4"}, "out of range"),
        ({"layer_pooling": "mean"}, r"layer_pooling must be one of .*'mean'"),
        ({"freeze_layers": 3}, r"freeze_layers must be in \[0, 2\]"),
        ({"layer_lr_decay": 0.0}, r"layer_lr_decay must be in \(0, 1\]"),
        ({"layer_lr_decay": 1.5}, r"layer_lr_decay must be in \(0, 1\]"),
        ({"lora_r": -1}, "lora_r must be >= 0"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
    ],
)
def test_config_rejects_strategies_that_do_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertTaggerConfig(encoder=tiny_bert_config(), **kwargs)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--layer_pooling", "top"], "--layer_pooling must be last, scalar_mix, embeddings or an index, got 'top'"),
        (["--freeze_layers", "-1"], "--freeze_layers must be at least 0"),
        (["--lora_r", "-2"], "--lora_r must be at least 0"),
        (["--lora_r", "4", "--lora_alpha", "0"], "--lora_alpha must be above 0"),
        (["--lora_r", "4", "--lora_dropout", "1"], r"--lora_dropout must be in \[0, 1\)"),
        (["--lora_alpha", "16"], "need --lora_r above 0"),
        (["--freeze_encoder", "--freeze_layers", "2"], "not both"),
        (["--lora_r", "4", "--freeze_encoder"], "drop --freeze_"),
        (["--lora_r", "4", "--lora_target_modules", " , "], "names no module"),
        (["--layer_lr_decay", "0"], "--layer_lr_decay must be above 0"),
        (["--layer_lr_decay", "1.1"], "--layer_lr_decay must be at most 1"),
    ],
)
def test_command_line_checks_at_parse_time(tmp_path, flags, message):
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from trainer_common.args import parse_args
    from trainer_common.errors import InputError

    with pytest.raises(InputError, match=message):
        parse_args((NERArguments, NERTrainingArguments), ["--output_dir", str(tmp_path), *flags])


# ---- layer pooling ---------------------------------------------------------------------------------------------


def test_scalar_mix_starts_even_and_mixes_every_hidden_state():
    model = tagger(layers=3, layer_pooling="scalar_mix").eval()
    assert model.scalar_mix.weights.tolist() == [0.0] * 4 and model.scalar_mix.gamma.tolist() == [1.0]
    trained_looking(model)
    batch = inputs()
    with torch.no_grad():
        out = model(**batch)
        states = model.encoder(**batch, output_hidden_states=True).hidden_states
        weights = torch.softmax(model.scalar_mix.weights, 0)
        mixed = 1.7 * sum(w * h for w, h in zip(weights, states))  # ELMo's formula, written out
        expected = model.classifier(mixed)
    assert len(states) == 4
    torch.testing.assert_close(out.logits, expected)
    assert out.hidden_states is None, "hidden states go back only to a caller who asked (Trainer would gather them)"
    assert len(model(**batch, output_hidden_states=True).hidden_states) == 4


@pytest.mark.parametrize("pooling, state", [("1", 1), ("-3", 1), ("0", 0), ("embeddings", 0), ("-1", 3), ("3", 3)])
def test_a_layer_index_reads_that_hidden_state(pooling, state):
    model = tagger(layers=3, layer_pooling=pooling).eval()
    reference = tagger(layers=3).eval()  # same seed: the same weights, pooling the last layer
    batch = inputs()
    with torch.no_grad():
        states = reference.encoder(**batch, output_hidden_states=True).hidden_states
        torch.testing.assert_close(model(**batch).logits, reference.classifier(states[state]), rtol=0, atol=0)
    # layers above the pooled state cannot change the output: frozen, so the optimizer never sees them
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    above = {name for name, _ in model.named_parameters() if any(f"layer.{i}." in name for i in range(state, 3))}
    assert frozen == above


def test_the_last_layer_path_does_not_ask_for_hidden_states():
    model = tagger().eval()
    seen = {}
    model.encoder.register_forward_pre_hook(lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True)
    out = model(**inputs())
    assert "output_hidden_states" not in seen and out.hidden_states is None
    model(**inputs(), output_hidden_states=True)
    assert seen["output_hidden_states"] is True


@pytest.mark.parametrize("pooling", ["scalar_mix", "1", "embeddings"])
def test_packed_rows_and_the_crf_with_every_pooling(tiny_tokenizer, pooling):
    from test_ner_crf_head import sentence_batch
    from transformers import DataCollatorForTokenClassification

    from ner_trainer.data import PaddingFreeCollator, WordMaskCollator

    labels = tagging.label_list(["LOC", "PER"], "bioes")
    torch.manual_seed(0)
    config = BertTaggerConfig(encoder=tiny_bert_config(), id2label=dict(enumerate(labels)), head="crf",
                              label_scheme="bioes", classifier_dropout=0.0, layer_pooling=pooling)  # fmt: skip
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    model = trained_looking(BertTagger(config)).train()
    model.crf.set_constraints(None, None, None)
    features = sentence_batch()
    for f in features:
        f["labels"] = [i % len(labels) if m else -100 for i, m in enumerate(f["word_mask"])]
    collator = WordMaskCollator(DataCollatorForTokenClassification(tiny_tokenizer))
    padded, packed = collator(features), PaddingFreeCollator(collator)(features)
    grads = []
    for batch in (padded, packed):
        model.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        grads.append((loss, {name: p.grad for name, p in model.named_parameters() if p.grad is not None}))
    (loss, expected), (packed_loss, got) = grads
    torch.testing.assert_close(packed_loss, loss)
    assert set(got) == set(expected) == {name for name, p in model.named_parameters() if p.requires_grad}
    for name, grad in got.items():
        torch.testing.assert_close(grad, expected[name], rtol=1e-4, atol=1e-5, msg=name)
    grads = expected
    if pooling == "scalar_mix":
        assert grads["scalar_mix.weights"].abs().sum() > 0 and grads["scalar_mix.gamma"].abs().sum() > 0
    model.eval()
    with torch.no_grad():  # decoding stays Viterbi over the pooled features
        out = model(**{k: v for k, v in padded.items() if k != "labels"})
    assert out.logits.shape[-1] == len(labels)


@pytest.mark.parametrize("pooling", ["last", "scalar_mix", "-2", "embeddings"])
def test_a_reloaded_tagger_gives_identical_outputs(tmp_path, pooling):
    model = trained_looking(tagger(layers=3, layer_pooling=pooling, head="crf", label_scheme="iob2")).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "encoder_layers.py").is_file(), "the sibling module ships with the model code"
    reloaded = BertTagger.from_pretrained(tmp_path).eval()
    assert reloaded.config.layer_pooling == pooling
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs()).logits, model(**inputs()).logits, rtol=0, atol=0)
    assert [n for n, p in reloaded.named_parameters() if not p.requires_grad] == [
        n for n, p in model.named_parameters() if not p.requires_grad
    ]


def test_remote_code_runs_scalar_mix_and_a_layer_index(tmp_path):
    folders, expected = {}, {}
    batch = {"input_ids": torch.arange(5, 15).reshape(2, 5)}
    for pooling in ("scalar_mix", "1"):
        model = trained_looking(tagger(layers=3, layer_pooling=pooling)).eval()
        folders[pooling] = str(tmp_path / pooling)
        model.save_pretrained(folders[pooling])
        with torch.no_grad():
            expected[pooling] = model(**batch).logits
    script = f"""
import json, torch
from transformers import AutoModelForTokenClassification
out = {{}}
for pooling, folder in {folders!r}.items():
    model = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    with torch.no_grad():
        out[pooling] = model(input_ids=torch.arange(5, 15).reshape(2, 5)).logits.tolist()
print(json.dumps(out))
"""
    done = run_without_project(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    logits = json.loads(done.stdout.strip().splitlines()[-1])
    for pooling, tensor in expected.items():
        torch.testing.assert_close(torch.tensor(logits[pooling]), tensor)


# ---- freezing and layer depths ---------------------------------------------------------------------------------


def test_freezing_follows_the_config_and_survives_a_reload(tmp_path):
    model = tagger(layers=3, freeze_layers=1)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {
        n for n, _ in model.named_parameters() if n.startswith(("encoder.embeddings.", "encoder.encoder.layer.0."))
    }
    model.save_pretrained(tmp_path)
    reloaded = BertTagger.from_pretrained(tmp_path)
    assert {name for name, p in reloaded.named_parameters() if not p.requires_grad} == frozen

    everything = tagger(freeze_encoder=True)
    assert {n for n, p in everything.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}
    reloaded.config.freeze_layers = None  # a new run's settings: apply_freezing follows the config again
    reloaded.apply_freezing()
    assert all(p.requires_grad for p in reloaded.parameters())


def test_layer_depths_of_bert_and_distilbert():
    depths = tagger(layers=3).layer_depths()
    assert depths["encoder.embeddings.word_embeddings.weight"] == 0
    assert depths["encoder.embeddings.LayerNorm.bias"] == 0
    assert depths["encoder.encoder.layer.0.attention.self.query.weight"] == 1
    assert depths["encoder.encoder.layer.2.output.dense.weight"] == 3
    assert set(depths) == {n for n, _ in tagger(layers=3).named_parameters() if n.startswith("encoder.")}

    encoder = {"model_type": "distilbert", "dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64, "vocab_size": 50}
    distil = BertTagger(BertTaggerConfig(encoder=encoder, id2label=dict(enumerate(LABELS)), freeze_layers=1))
    depths = distil.layer_depths()
    assert depths["encoder.embeddings.position_embeddings.weight"] == 0
    assert depths["encoder.transformer.layer.1.ffn.lin2.weight"] == 2
    assert not distil.encoder.transformer.layer[0].ffn.lin1.weight.requires_grad
    assert distil.encoder.transformer.layer[1].ffn.lin1.weight.requires_grad


# ---- learning rates --------------------------------------------------------------------------------------------


def optimizer_rates(tmp_path, model, **options) -> dict[str, float]:
    from ner_trainer.arguments import NERTrainingArguments
    from ner_trainer.trainer import NERTrainer

    args = NERTrainingArguments(str(tmp_path), report_to="none", use_cpu=True, eval_strategy="no", **options)
    optimizer = NERTrainer(model=model, args=args).create_optimizer()
    rate = {id(param): group["lr"] for group in optimizer.param_groups for param in group["params"]}
    assert len(rate) == sum(len(group["params"]) for group in optimizer.param_groups), "a parameter in two groups"
    return {name: rate[id(p)] for name, p in model.named_parameters() if id(p) in rate}


def test_layer_wise_decay_gives_each_layer_its_rate(tmp_path):
    model = tagger(layers=3, head="crf", layer_pooling="scalar_mix")
    rates = optimizer_rates(tmp_path, model, learning_rate=1e-3, layer_lr_decay=0.5, classifier_learning_rate=1e-2,
                            crf_learning_rate=4e-2)  # fmt: skip
    expected = {}
    for name, _ in model.named_parameters():  # written out by hand, powers of two: exact in floating point
        if name.startswith("encoder.embeddings."):
            expected[name] = 1.25e-4  # below layer 0: 1e-3 * 0.5 ** 3
        elif name.startswith("encoder.encoder.layer."):
            expected[name] = {"0": 2.5e-4, "1": 5e-4, "2": 1e-3}[name.split(".")[3]]
        elif name.startswith("crf."):
            expected[name] = 4e-2
        else:  # classifier and scalar mix: the head
            expected[name] = 1e-2
    assert rates == expected

    rates = optimizer_rates(tmp_path, tagger(layers=3), layer_lr_decay=0.9)
    top = rates["encoder.encoder.layer.2.attention.self.query.weight"]
    assert top == 5e-5 and rates["classifier.weight"] == 1e-3
    assert rates["encoder.encoder.layer.1.output.dense.bias"] == pytest.approx(top * 0.9, rel=1e-12)
    assert rates["encoder.embeddings.word_embeddings.weight"] == pytest.approx(top * 0.9**3, rel=1e-12)


def test_frozen_parameters_stay_out_of_the_optimizer(tmp_path):
    model = tagger(layers=3, freeze_layers=2)
    rates = optimizer_rates(tmp_path, model, layer_lr_decay=0.5)
    assert set(rates) == {name for name, p in model.named_parameters() if p.requires_grad}
    assert not any(name.startswith(("encoder.embeddings.", "encoder.encoder.layer.0.")) for name in rates)
    assert rates["encoder.encoder.layer.2.output.dense.weight"] == 5e-5


# ---- new labels ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["linear", "crf"])
def test_new_labels_keep_the_old_rows_exactly(head):
    from ner_trainer.label_extension import add_labels

    model = trained_looking(tagger(head=head)).eval()
    old = {name: p.detach().clone() for name, p in model.named_parameters()}
    batch = inputs()
    with torch.no_grad():
        old_logits = model.classifier(model.encoder(**batch).last_hidden_state)
    added = add_labels(model, ["B-MISC", "I-MISC", "B-LOC", "O", "B-MISC"])  # repeats and known tags ignored
    assert added == ["B-MISC", "I-MISC"]
    assert [model.config.id2label[i] for i in range(7)] == LABELS + ["B-MISC", "I-MISC"]
    assert model.config.label2id["I-MISC"] == 6 and model.config.num_labels == model.num_labels == 7
    assert torch.equal(model.classifier.weight[:5], old["classifier.weight"])
    assert torch.equal(model.classifier.bias[:5], old["classifier.bias"])
    assert model.classifier.bias[5:].abs().sum() == 0 and 0 < model.classifier.weight[5:].std() < 0.05
    with torch.no_grad():  # the old labels' scores are the old classifier's, exactly
        new_logits = model.classifier(model.encoder(**batch).last_hidden_state)
    assert torch.equal(new_logits[..., :5], old_logits)
    for name, value in old.items():
        if name.startswith("encoder."):
            assert torch.equal(dict(model.named_parameters())[name], value), name
    if head == "crf":
        assert torch.equal(model.crf.transitions[:5, :5], old["crf.transitions"])
        assert torch.equal(model.crf.start_transitions[:5], old["crf.start_transitions"])
        assert torch.equal(model.crf.end_transitions[:5], old["crf.end_transitions"])
        assert model.crf.transitions[5:].abs().sum() == 0 and model.crf.transitions[:, 5:].abs().sum() == 0
        # constraints for the whole new label set: O -> I-MISC and B-LOC -> I-MISC are forbidden, B-MISC -> I-MISC not
        assert model.crf.transition_penalty[0, 6] < 0 and model.crf.transition_penalty[1, 6] < 0
        assert model.crf.transition_penalty[5, 6] == 0 and model.crf.start_penalty[6] < 0
    assert add_labels(model, LABELS) == []


# ---- LoRA ------------------------------------------------------------------------------------------------------


def test_lora_trains_only_adapters_and_head_and_merges_to_a_plain_tagger(tmp_path):
    from trainer_common.lora import add_lora, has_lora, merge_lora

    model = tagger(layers=2, layer_pooling="1", head="crf")
    plain_keys = set(model.state_dict())
    add_lora(model, r=4)
    assert has_lora(model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    # the adapters of query and value (peft's BERT default) in layer 0, the head; layer 1 is above the pooled state
    assert trainable == {
        f"encoder.encoder.layer.0.attention.self.{m}.lora_{ab}.default.weight"
        for m in ("query", "value")
        for ab in "AB"
    } | {"classifier.weight", "classifier.bias", "crf.start_transitions", "crf.end_transitions", "crf.transitions"}
    assert (model.config.lora_r, model.config.lora_alpha, model.config.lora_target_modules) == (
        4,
        8,
        ["query", "value"],
    )
    with torch.no_grad():  # adapters that have trained
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model.eval()
    with torch.no_grad():
        adapted = model(**inputs()).logits
    assert merge_lora(model) == 4 and not has_lora(model)
    assert set(model.state_dict()) == plain_keys
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs()).logits, adapted, rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path)
    reloaded = BertTagger.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs()).logits, model(**inputs()).logits, rtol=0, atol=0)


def test_lora_with_unknown_target_modules_is_an_input_error(tmp_path):
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.encoder_strategy import apply_encoder_strategy

    args = NERArguments(lora_r=2, lora_target_modules="q_proj")
    with pytest.raises(ValueError, match="--lora_target_modules: .*q_proj"):
        apply_encoder_strategy(tagger(), args, NERTrainingArguments(str(tmp_path), report_to="none"))


# ---- training runs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("strategies")
    return {
        "dir": tmp,
        "encoder": make_encoder_dir(tmp, num_hidden_layers=3),
        "train": write_conll(tmp / "train.txt", make_sentences(24, seed=0)),
        "test": write_conll(tmp / "test.txt", make_sentences(6, seed=2)),
    }


def run(data, out, callbacks=None, **options):
    """`ner_trainer.train.train` on the command line's arguments: a short run from the tiny 3-layer encoder."""
    from ner_trainer.arguments import NERArguments, NERTrainingArguments
    from ner_trainer.train import train
    from trainer_common.args import parse_args

    options = {"max_steps": 4, "learning_rate": 1e-2, "weight_decay": 0.1, "eval_strategy": "no", **options}
    model = options.pop("model", data["encoder"])
    argv = base_args(out, data["train"], None, data["test"], model=model, **options)
    return train(*parse_args((NERArguments, NERTrainingArguments), argv), callbacks=callbacks)


def encoder_weights(data) -> dict[str, torch.Tensor]:
    """The pretrained encoder's weights under the tagger's names."""
    return {f"encoder.{k}": v for k, v in load_file(data["encoder"] / "model.safetensors").items()}


@pytest.mark.parametrize("options", [{"freeze_encoder": True}, {"freeze_layers": 2}])
def test_frozen_weights_are_bit_identical_after_training(data, tmp_path, options):
    out = tmp_path / "out"
    run(data, out, **options)
    saved, pretrained = load_file(out / "model.safetensors"), encoder_weights(data)
    frozen = ("encoder.",) if "freeze_encoder" in options else ("encoder.embeddings.", "encoder.encoder.layer.0.",
                                                                 "encoder.encoder.layer.1.")  # fmt: skip
    checked = 0
    for name, value in saved.items():
        if name.startswith(frozen):
            assert torch.equal(value, pretrained[name]), name
            checked += 1
        elif name.startswith("encoder."):  # trained: every weight matrix of layer 2 moved
            assert value.dim() == 1 or not torch.equal(value, pretrained[name]), name
    assert checked > 10
    assert not torch.equal(saved["classifier.bias"], torch.zeros_like(saved["classifier.bias"]))
    config = BertTaggerConfig.from_pretrained(out)
    assert (config.freeze_encoder, config.freeze_layers) == (
        options.get("freeze_encoder", False), options.get("freeze_layers")
    )  # fmt: skip


def test_scalar_mix_weights_are_trained_and_reload(data, tmp_path):
    from transformers import TrainerCallback

    seen = {}

    class Keep(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            seen["model"] = model

    out = tmp_path / "out"
    run(data, out, callbacks=[Keep()], do_predict=False, layer_pooling="scalar_mix", head="crf")
    saved = load_file(out / "model.safetensors")
    assert saved["scalar_mix.weights"].shape == (4,) and saved["scalar_mix.weights"].abs().min() > 0
    assert saved["scalar_mix.gamma"].item() != 1.0
    model = seen["model"].eval()
    reloaded = BertTagger.from_pretrained(out).eval()
    assert reloaded.config.layer_pooling == "scalar_mix"
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs()).logits, model(**inputs()).logits, rtol=0, atol=0)


def test_lora_run_saves_merged_weights_resumes_and_predicts(data, tmp_path, capsys):
    from transformers import AutoModelForTokenClassification, TrainerCallback

    from ner_trainer.predict import main as predict_main
    from trainer_common.loading import load_checked

    out = tmp_path / "lora"
    run(data, out, lora_r=4, save_strategy="steps", save_steps=2, save_total_limit=2, layer_lr_decay=0.9)
    saved, pretrained = load_file(out / "model.safetensors"), encoder_weights(data)
    plain = {name for name in pretrained if not name.startswith("encoder.pooler.")}
    assert set(saved) == plain | {"classifier.weight", "classifier.bias"}, "a plain tagger's weights, nothing else"
    assert not [key for key in saved if "lora_" in key or "base_layer" in key], "the adapters are merged"
    for name, value in pretrained.items():
        if name.startswith("encoder.pooler."):
            continue
        adapted = name.endswith(("query.weight", "value.weight"))
        assert torch.equal(saved[name], value) != adapted, name  # only the adapted matrices changed
    config = json.loads((out / "config.json").read_text())
    assert (config["lora_r"], config["lora_alpha"], config["lora_target_modules"]) == (4, 8, ["query", "value"])
    checkpoint = load_file(out / "checkpoint-2" / "model.safetensors")
    assert any("lora_A" in key for key in checkpoint), "checkpoints keep the adapters, to resume from"

    # resumed from step 2, the run ends with the uninterrupted run's weights
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(out / "checkpoint-2", resumed / "checkpoint-2")
    steps = []

    class CountSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            steps.append(state.global_step)

    run(data, resumed, [CountSteps()], lora_r=4, save_strategy="steps", save_steps=2, layer_lr_decay=0.9,
        resume_from_checkpoint=resumed / "checkpoint-2")  # fmt: skip
    assert steps == [3, 4], "steps 3 and 4 only: the run went on from the checkpoint"
    for name, value in load_file(resumed / "model.safetensors").items():
        assert torch.equal(value, saved[name]), name

    # a plain tagger: checked loading, and `run_ner.py predict` tags as the test predictions after training did
    assert type(load_checked(AutoModelForTokenClassification, str(out))) is BertTagger
    block = read_blocks(out / "test_predictions.txt")[0]
    capsys.readouterr()
    predict_main(["--model", str(out), " ".join(row[0] for row in block)])
    assert json.loads(capsys.readouterr().out.splitlines()[0])["tags"] == [row[2] for row in block]


def test_new_labels_continue_training_from_a_saved_tagger(data, tmp_path, caplog):
    first = tmp_path / "first"
    run(data, first, head="crf", do_predict=False)
    old = json.loads((first / "config.json").read_text())["id2label"]
    extra = [s + [("Monday", "B-DATE")] for s in make_sentences(8, seed=4)]
    train = write_conll(tmp_path / "more.txt", extra)
    out = tmp_path / "more"
    with caplog.at_level("INFO", logger="ner_trainer.sources"):
        run({**data, "train": train}, out, model=first, max_steps=2, learning_rate=1e-9, classifier_learning_rate=1e-9,
            do_predict=False)  # fmt: skip
    assert "['B-DATE', 'I-DATE'] added after its 9" in caplog.text
    id2label = json.loads((out / "config.json").read_text())["id2label"]
    assert [id2label[str(i)] for i in range(11)] == [old[str(i)] for i in range(9)] + ["B-DATE", "I-DATE"]
    before, after = load_file(first / "model.safetensors"), load_file(out / "model.safetensors")
    assert after["classifier.weight"].shape == (11, 32) and after["crf.transitions"].shape == (11, 11)
    # a learning rate of 1e-9 leaves the old rows where they were, to float rounding
    torch.testing.assert_close(after["crf.transitions"][:9, :9], before["crf.transitions"], rtol=0, atol=1e-6)
    torch.testing.assert_close(after["classifier.weight"][:9], before["classifier.weight"], rtol=0, atol=1e-6)


def test_a_saved_tagger_keeps_its_layer_pooling(data, tmp_path):
    from trainer_common.errors import InputError

    first = tmp_path / "first"
    run(data, first, layer_pooling="-2", max_steps=1, do_predict=False)
    with pytest.raises(InputError, match="trained on layer_pooling '-2', which it keeps"):
        run(data, tmp_path / "again", model=first, layer_pooling="scalar_mix")
    with pytest.raises(InputError, match="--layer_pooling 4 is out of range for an encoder with 3 layers"):
        run(data, tmp_path / "new", layer_pooling="4")
    results = run(data, tmp_path / "same", model=first, layer_pooling="2", max_steps=1, do_predict=False)
    assert results["train_loss"] > 0
