"""BERT tagger: config, forward/loss, encoder loading, save/reload, Auto classes, pipeline and remote code."""

import json
import shutil

import pytest
import torch
from helpers import assert_same_loss_and_gradients, make_tokenizer, run_without_project, tiny_bert_config
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForTokenClassification,
    BertConfig,
    BertModel,
    DistilBertConfig,
    pipeline,
)

from ner_trainer.configuration_bert_tagger import BertTaggerConfig
from ner_trainer.modeling_bert_tagger import BertTagger, register_auto_classes

# ner_trainer/__init__.py does this on import; idempotent, so harmless once it does.
register_auto_classes()

CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def tiny_config(**kwargs) -> BertTaggerConfig:
    return BertTaggerConfig(encoder=tiny_bert_config(), id2label=dict(enumerate(CONLL_LABELS)), **kwargs)


def batch(batch_size=2, seq_len=7, vocab=30, num_labels=9, seed=0):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab, (batch_size, seq_len), generator=generator)
    labels = torch.randint(0, num_labels, (batch_size, seq_len), generator=generator)
    labels[:, 0] = labels[:, -1] = -100  # [CLS], [SEP]
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}


@pytest.fixture
def saved_tagger(tmp_path, tiny_encoder_dir):
    """A tagger fine-tuned from the tiny encoder, saved with its tokenizer; the encoder folder is then deleted."""
    model = BertTagger.from_encoder(tiny_encoder_dir, CONLL_LABELS).eval()
    with torch.no_grad():  # make every token B-LOC so that the pipeline's output is known
        model.classifier.bias.copy_(torch.tensor([50.0 if t == "B-LOC" else 0.0 for t in CONLL_LABELS]))
    out = tmp_path / "tagger"
    model.save_pretrained(out)
    make_tokenizer(tmp_path).save_pretrained(out)
    shutil.rmtree(tiny_encoder_dir)
    return model, out


# ---- configuration -------------------------------------------------------------------------------------------


def test_config_defaults():
    config = BertTaggerConfig()
    assert type(config.encoder) is BertConfig and config.encoder.hidden_size == 768
    assert config.num_labels == 2 and config.label2id == {"LABEL_0": 0, "LABEL_1": 1}
    assert config.head == "linear" and config.classifier_dropout is None
    assert config.hidden_size == 768


def test_config_round_trip_with_labels(tmp_path):
    config = tiny_config(classifier_dropout=0.2)
    assert config.label2id == {tag: i for i, tag in enumerate(CONLL_LABELS)}
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is BertTaggerConfig and type(loaded.encoder) is BertConfig
    assert loaded.id2label == config.id2label and loaded.label2id == config.label2id
    assert loaded.encoder.hidden_size == 32 and loaded.classifier_dropout == 0.2
    loaded_dict, config_dict = loaded.to_dict(), config.to_dict()
    assert loaded_dict.pop("_name_or_path") == str(tmp_path) and config_dict.pop("_name_or_path") == ""
    assert loaded_dict == config_dict


def test_config_takes_other_encoder_types(tmp_path):
    """Any AutoConfig model type: DistilBERT has no segment embeddings, no pooler and other field names."""
    encoder = {"model_type": "distilbert", "dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64, "vocab_size": 50}
    config = BertTaggerConfig(encoder=encoder, id2label={0: "O", 1: "B-PER", 2: "I-PER"})
    config.save_pretrained(tmp_path)
    config = BertTaggerConfig.from_pretrained(tmp_path)
    assert type(config.encoder) is DistilBertConfig and config.hidden_size == 32

    model = BertTagger(config).eval()
    inputs = batch(num_labels=3)
    out = model(**inputs, token_type_ids=torch.zeros_like(inputs["input_ids"]))  # dropped, not an error
    assert out.logits.shape == (2, 7, 3) and torch.isfinite(out.loss)
    assert model.dropout.p == 0.1  # DistilBertConfig has no hidden_dropout_prob


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "crf2"}, "'crf2'"),
        ({"classifier_dropout": 1.5}, "1.5"),
        ({"id2label": {0: "O", 2: "B-PER"}}, r"\[0, 2\]"),
        ({"id2label": {0: "O", 1: "B-PER", 2: "O"}}, r"\['O'\]"),
        ({"id2label": {0: "O", 1: "B-PER"}, "label2id": {"O": 1, "B-PER": 0}}, "not the inverse"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertTaggerConfig(**kwargs)


# ---- model -----------------------------------------------------------------------------------------------------


def test_model_structure_and_init():
    model = BertTagger(tiny_config())
    assert type(model.encoder) is BertModel and model.encoder.pooler is None
    assert not any("pooler" in name for name, _ in model.named_parameters())
    assert model.encoder.config is model.config.encoder
    assert model.classifier.in_features == 32 and model.classifier.out_features == 9
    assert 0.01 < model.classifier.weight.std().item() < 0.03  # normal(0, initializer_range=0.02), 288 values
    assert torch.all(model.classifier.bias == 0)
    assert model.dropout.p == model.config.encoder.hidden_dropout_prob
    assert BertTagger(tiny_config(classifier_dropout=0.3)).dropout.p == 0.3
    # the encoder's own init ran for its modules
    assert torch.all(model.encoder.embeddings.LayerNorm.weight == 1)


def test_forward_loss_is_cross_entropy_ignoring_minus_100():
    model = BertTagger(tiny_config()).eval()
    inputs = batch()
    out = model(**inputs, token_type_ids=torch.zeros_like(inputs["input_ids"]))
    expected = nn.CrossEntropyLoss()(out.logits.reshape(-1, 9), inputs["labels"].reshape(-1))
    torch.testing.assert_close(out.loss, expected)

    # The Trainer's token count of the whole accumulated batch divides the summed loss.
    summed = nn.functional.cross_entropy(out.logits.reshape(-1, 9), inputs["labels"].reshape(-1), reduction="sum")
    out = model(**inputs, num_items_in_batch=torch.tensor(40))
    torch.testing.assert_close(out.loss, summed / 40)

    unlabelled = dict(inputs, labels=torch.full_like(inputs["labels"], -100))
    assert model(**unlabelled).loss.item() == 0.0  # not nan
    assert model(input_ids=inputs["input_ids"]).loss is None


def test_forward_outputs():
    model = BertTagger(tiny_config()).eval()
    inputs = batch()
    out = model(**inputs, output_hidden_states=True)
    assert len(out.hidden_states) == 3 and out.hidden_states[-1].shape == (2, 7, 32)
    segment_b = model(**inputs, token_type_ids=torch.ones_like(inputs["input_ids"])).logits
    assert not torch.allclose(segment_b, out.logits)  # BERT's segment embeddings are used
    as_tuple = model(**inputs, return_dict=False)
    torch.testing.assert_close(as_tuple[1], out.logits)
    embeds = model.get_input_embeddings()(inputs["input_ids"])
    torch.testing.assert_close(model(inputs_embeds=embeds).logits, model(input_ids=inputs["input_ids"]).logits)


def test_every_parameter_gets_a_gradient():
    model = BertTagger(tiny_config()).train()
    model(**batch()).loss.backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


def test_gradient_checkpointing_gives_the_same_gradients():
    config = tiny_config(classifier_dropout=0.0)
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    model = BertTagger(config).train()
    model(**batch()).loss.backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.activation_checkpointing_enable()
    assert all(layer.gradient_checkpointing for layer in model.encoder.encoder.layer)
    model(**batch()).loss.backward()
    for grad, p in zip(expected, model.parameters()):
        torch.testing.assert_close(p.grad, grad)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager", "roberta"])
def test_packed_rows_give_the_padded_batch_logits_loss_and_gradients(tiny_tokenizer, attn_implementation):
    """`roberta`: an encoder whose position embeddings count from `padding_idx + 1`; packed rows' positions (0 at
    each sentence start) must be shifted as a padded row's are."""
    from transformers import DataCollatorForTokenClassification, RobertaConfig

    from ner_trainer.data import PaddingFreeCollator

    config = tiny_config(classifier_dropout=0.0)
    if attn_implementation == "roberta":
        encoder = RobertaConfig(**{**tiny_bert_config().to_dict(), "pad_token_id": 0, "max_position_embeddings": 80})
        config, attn_implementation = BertTaggerConfig(encoder=encoder, id2label=config.id2label,
                                                       classifier_dropout=0.0), "sdpa"  # fmt: skip
    config.encoder.hidden_dropout_prob = config.encoder.attention_probs_dropout_prob = 0.0
    config.encoder._attn_implementation = attn_implementation
    config.encoder.initializer_range = 0.5  # peaked attention: what a token attends to shows in its logits
    model = BertTagger(config).train()
    generator = torch.Generator().manual_seed(0)
    features = []
    for length in (9, 3, 5, 4, 7, 2):
        ids = torch.randint(5, 30, (length,), generator=generator).tolist()
        labels = torch.randint(0, 9, (length,), generator=generator).tolist()
        features.append({"input_ids": ids, "attention_mask": [1] * length, "token_type_ids": [0] * length,
                         "labels": labels})  # fmt: skip
    collator = DataCollatorForTokenClassification(tiny_tokenizer)
    padded, packed = collator(features), PaddingFreeCollator(collator)(features)
    assert packed["input_ids"].shape == (4, 9)  # 9 | 7+2 | 5+4 | 3: four rows instead of six

    out, packed_out, _ = assert_same_loss_and_gradients(model, padded, packed)
    # every real token's logits, row by row
    real = padded["labels"] != -100
    torch.testing.assert_close(
        packed_out.logits[packed["labels"] != -100].sum(0), out.logits[real].sum(0), rtol=1e-4, atol=1e-4
    )
    # without the block mask, sentences in a row would see each other
    leaky = model(**{**packed, "attention_mask": torch.ones_like(packed["input_ids"])})
    assert (leaky.logits - packed_out.logits).abs().max() > 0.1


def test_packed_rows_sdpa_mask_equals_transformers_mask_functions():
    """The sdpa mask built directly equals `create_bidirectional_mask` with the packed-sequence mask function."""
    from transformers.masking_utils import create_bidirectional_mask, packed_sequence_mask_function

    model = BertTagger(tiny_config())
    model.encoder.config._attn_implementation = "sdpa"
    position_ids = torch.tensor([[0, 1, 2, 0, 1, 0, 0, 1], [0, 1, 2, 3, 4, 5, 0, 1]])
    sentence = (position_ids == 0).cumsum(-1)
    expected = create_bidirectional_mask(
        config=model.encoder.config,
        inputs_embeds=torch.empty(2, 8, 0),
        attention_mask=None,
        and_mask_function=packed_sequence_mask_function(sentence),
    )
    mask = model._packed_attention_mask(position_ids)
    assert mask.dtype == torch.bool and mask.shape == (2, 1, 8, 8)
    assert torch.equal(mask, expected)
    assert mask[0, 0, 3].tolist() == [False, False, False, True, True, False, False, False]


def test_packed_rows_refuse_flash_attention():
    model = BertTagger(tiny_config())
    model.encoder.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="packed rows need sdpa, eager or flex attention"):
        model._packed_attention_mask(torch.tensor([[0, 1, 0, 1]]))


# ---- from_encoder ---------------------------------------------------------------------------------------------


def test_from_encoder_loads_every_encoder_weight(tiny_encoder_dir):
    model = BertTagger.from_encoder(tiny_encoder_dir, CONLL_LABELS)
    assert model.config.id2label == dict(enumerate(CONLL_LABELS))
    saved = load_file(tiny_encoder_dir / "model.safetensors")
    loaded = model.encoder.state_dict()
    assert {k for k in saved if not k.startswith("pooler.")} == set(loaded)
    for key, tensor in loaded.items():
        torch.testing.assert_close(tensor, saved[key], rtol=0, atol=0, msg=key)

    as_dict = BertTagger.from_encoder(tiny_encoder_dir, {0: "O", 1: "B-X", 2: "I-X"}, classifier_dropout=0.0)
    assert as_dict.config.num_labels == 3 and as_dict.dropout.p == 0.0


def test_from_encoder_rejects_an_incomplete_checkpoint(tiny_encoder_dir):
    weights = load_file(tiny_encoder_dir / "model.safetensors")
    del weights["encoder.layer.1.output.dense.weight"]
    save_file(weights, tiny_encoder_dir / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"missing \['encoder.layer.1.output.dense.weight'\]"):
        BertTagger.from_encoder(tiny_encoder_dir, CONLL_LABELS)


def test_from_encoder_rejects_bad_labels(tiny_encoder_dir):
    with pytest.raises(TypeError, match="'O B-PER'"):
        BertTagger.from_encoder(tiny_encoder_dir, "O B-PER")
    with pytest.raises(ValueError, match="'crf2'"):
        BertTagger.from_encoder(tiny_encoder_dir, CONLL_LABELS, head="crf2")


def test_from_encoder_rejects_a_saved_tagger(saved_tagger):
    with pytest.raises(ValueError, match="is a saved tagger, not an encoder"):
        BertTagger.from_encoder(saved_tagger[1], CONLL_LABELS)


# ---- saving and loading -------------------------------------------------------------------------------------------


def test_reload_needs_no_encoder_folder(saved_tagger):
    model, out = saved_tagger
    assert {"config.json", "model.safetensors", "modeling_bert_tagger.py", "configuration_bert_tagger.py"} <= {
        p.name for p in out.iterdir()
    }
    auto_map = json.loads((out / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_bert_tagger.BertTaggerConfig",
        "AutoModelForTokenClassification": "modeling_bert_tagger.BertTagger",
    }
    input_ids = batch()["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=input_ids).logits
        for cls in (BertTagger, AutoModelForTokenClassification, AutoModel):
            loaded = cls.from_pretrained(out).eval()
            assert type(loaded) is BertTagger
            torch.testing.assert_close(loaded(input_ids=input_ids).logits, expected, rtol=0, atol=0)


def test_resized_embeddings_survive_a_reload(tmp_path):
    model = BertTagger(tiny_config())
    model.resize_token_embeddings(53, mean_resizing=False)
    assert model.config.encoder.vocab_size == 53
    model.save_pretrained(tmp_path)
    assert BertTagger.from_pretrained(tmp_path).get_input_embeddings().num_embeddings == 53


def test_pipeline(saved_tagger):
    _, out = saved_tagger
    tagger = pipeline("token-classification", model=str(out))
    entities = tagger("John Smith lives in Washington")
    assert [e["word"] for e in entities] == ["John", "Smith", "lives", "in", "Wash", "##ing", "##ton"]
    assert {e["entity"] for e in entities} == {"B-LOC"}
    grouped = pipeline("token-classification", model=str(out), aggregation_strategy="first")("John lives")
    assert [(e["entity_group"], e["word"]) for e in grouped] == [("LOC", "John"), ("LOC", "lives")]


def test_trust_remote_code_in_a_fresh_process(saved_tagger, tmp_path):
    model, out = saved_tagger
    script = f"""
import json, torch
from transformers import AutoModelForTokenClassification
model = AutoModelForTokenClassification.from_pretrained({str(out)!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
with torch.no_grad():
    print(json.dumps(model(input_ids=torch.arange(5, 15).reshape(2, 5)).logits.tolist()))
"""
    proc = run_without_project(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with torch.no_grad():
        expected = model(input_ids=torch.arange(5, 15).reshape(2, 5)).logits
    torch.testing.assert_close(torch.tensor(json.loads(proc.stdout.strip().splitlines()[-1])), expected)
