"""Packed (padding-free) training batches for the stock sequence classifiers: the same logits, loss and gradients as
padded batches, on fewer tokens."""

import pytest
import torch
from helpers import assert_same_loss_and_gradients, one_thread, tiny_bert_config  # noqa: F401 (an autouse fixture)
from transformers import DataCollatorWithPadding

from cls_trainer.packing import PackedSequenceCollator, packed_batch, packed_forward, packing_refusal, supports_packing

LENGTHS = (9, 3, 5, 4, 7, 2)  # packs as 9 | 7+2 | 5+4 | 3: four rows of 9 instead of six


def features(pairs: bool, num_labels=3, lengths=LENGTHS, seed=0):
    """Random token ids, each sequence opening with [CLS] (2); pairs get token_type_ids 0 then 1."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for length in lengths:
        ids = [2] + torch.randint(5, 40, (length - 1,), generator=generator).tolist()
        feature = {"input_ids": ids, "labels": int(torch.randint(num_labels, (1,), generator=generator)),
                   "length": length}  # fmt: skip
        if pairs:
            feature["token_type_ids"] = [0] * (length // 2) + [1] * (length - length // 2)
        out.append(feature)
    return out


class PackedOrPadded(torch.nn.Module):
    """Runs a packed batch through `packed_forward` and a padded one through the model, as the trainer does."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, **inputs):
        return packed_forward(self.model, inputs) if "sequence_starts" in inputs else self.model(**inputs)


def padded_batch(collator, feats):
    return collator([{k: v for k, v in f.items() if k != "length"} for f in feats])


def tiny_classifier(model_type="bert", attn_implementation="sdpa", num_labels=3):
    """A random classifier of `model_type` in eval mode (no dropout), with peaked attention: what a token attends
    to shows in its state."""
    from transformers import (
        AlbertConfig,
        AutoModelForSequenceClassification,
        DistilBertConfig,
        ElectraConfig,
        RobertaConfig,
    )

    torch.manual_seed(0)
    common = dict(vocab_size=50, num_labels=num_labels, initializer_range=0.5, pad_token_id=0)
    if model_type == "bert":
        config = tiny_bert_config()
        config.update(common)
    elif model_type == "distilbert":
        config = DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64, **common)
    else:
        sizes = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
        make = {"roberta": RobertaConfig, "electra": ElectraConfig, "albert": AlbertConfig}[model_type]
        extra = {"embedding_size": 16} if model_type in ("albert", "electra") else {}
        config = make(max_position_embeddings=72, type_vocab_size=2, **sizes, **extra, **common)
    config._attn_implementation = attn_implementation
    return AutoModelForSequenceClassification.from_config(config).eval()


@pytest.fixture
def collator(tiny_tokenizer):
    return DataCollatorWithPadding(tiny_tokenizer)


@pytest.mark.parametrize("pairs", [False, True], ids=["sentences", "pairs"])
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_packed_bert_gives_the_padded_logits_loss_and_every_gradient(collator, pairs, attn_implementation):
    model = tiny_classifier("bert", attn_implementation)
    feats = features(pairs)
    padded, packed = padded_batch(collator, feats), PackedSequenceCollator(collator)(feats)
    assert packed["input_ids"].shape == (4, 9) and padded["input_ids"].shape == (6, 9)
    assert "attention_mask" not in packed and "length" not in packed
    assert ("token_type_ids" in packed) == pairs
    assert torch.equal(packed["labels"], padded["labels"])

    out, packed_out, expected = assert_same_loss_and_gradients(
        PackedOrPadded(model), padded, packed, rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(packed_out.logits, out.logits, rtol=1e-5, atol=1e-5)
    for name in ("bert.pooler.dense.weight", "bert.embeddings.position_embeddings.weight", "classifier.weight"):
        assert expected[f"model.{name}"].abs().sum() > 0, name  # the pooler trains, as with padding
    segment_b = expected["model.bert.embeddings.token_type_embeddings.weight"][1]
    assert (segment_b.abs().sum() > 0) == pairs


@pytest.mark.parametrize("model_type", ["roberta", "distilbert", "electra", "albert"])
def test_other_first_token_heads_pack_too(collator, model_type):
    model = tiny_classifier(model_type)
    assert supports_packing(model)
    feats = features(pairs=model_type != "distilbert")
    if model_type == "distilbert":
        feats = [{k: v for k, v in f.items() if k != "token_type_ids"} for f in feats]
    padded, packed = padded_batch(collator, feats), PackedSequenceCollator(collator)(feats)
    if model_type == "distilbert":
        padded.pop("token_type_ids", None)
    out, packed_out, _ = assert_same_loss_and_gradients(PackedOrPadded(model), padded, packed, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed_out.logits, out.logits, rtol=1e-5, atol=1e-5)


def test_without_the_block_mask_sequences_in_a_row_would_see_each_other(collator):
    model = tiny_classifier()
    packed = PackedSequenceCollator(collator)(features(pairs=False))
    with packed_batch(model, packed) as inputs:
        masked = model(**inputs).logits
        leaky = model(**{**inputs, "attention_mask": None}).logits
    assert (leaky - masked).abs().max() > 0.1
    assert not model.bert.encoder._forward_hooks  # gone after the packed batch


def test_padding_at_a_row_end_never_becomes_a_sequence(collator):
    feats = features(pairs=False, lengths=(6, 2, 5))  # 6 | 5 | 2: rows of 6, padding after 5 and after 2
    packed = PackedSequenceCollator(collator)(feats)
    assert packed["input_ids"].shape == (3, 6) and int((packed["input_ids"] == 0).sum()) == 5
    starts = packed["sequence_starts"]
    assert starts.tolist() == [[0, 0], [2, 0], [1, 0]]  # each feature's own start, in the features' order
    assert torch.all(packed["input_ids"][starts[:, 0], starts[:, 1]] == 2)  # each start is a [CLS], none padding
    assert packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 0], [0, 1, 0, 1, 2, 3]]
    logits = packed_forward(tiny_classifier(), packed).logits
    assert logits.shape == (3, 3)


def test_left_padding_starts_count_the_padding(tiny_tokenizer):
    feats = features(pairs=True, lengths=(6, 2, 5))
    right = padded_batch(DataCollatorWithPadding(tiny_tokenizer), feats)
    tiny_tokenizer.padding_side = "left"
    packed = PackedSequenceCollator(DataCollatorWithPadding(tiny_tokenizer))(feats)
    assert packed["sequence_starts"].tolist() == [[0, 0], [2, 4], [1, 1]]
    assert packed["position_ids"].tolist()[2] == [0, 1, 2, 3, 0, 1]
    # BERT counts a left-padded row's positions from its padding; packed rows count from each sequence's start,
    # as a right-padded batch does
    model = tiny_classifier()
    with torch.no_grad():
        torch.testing.assert_close(packed_forward(model, packed).logits, model(**right).logits, rtol=1e-5, atol=1e-5)


def test_a_float_label_stays_a_float(collator):
    feats = [{"input_ids": [2, 7, 8], "label": 0.5}, {"input_ids": [2, 9], "label": 1.5}]
    packed = PackedSequenceCollator(collator)(feats)
    assert packed["labels"].dtype == torch.float and packed["labels"].tolist() == [0.5, 1.5]


def test_heads_that_do_not_read_the_first_token_or_flash_attention_are_refused():
    from transformers import AutoModelForSequenceClassification, GPT2Config

    gpt2 = GPT2Config(vocab_size=50, n_embd=32, n_layer=1, n_head=2, n_positions=32, pad_token_id=0)
    last_token_head = AutoModelForSequenceClassification.from_config(gpt2)
    assert not supports_packing(last_token_head) and "'gpt2'" in packing_refusal(last_token_head)
    model = tiny_classifier()
    model.config._attn_implementation = "flash_attention_2"
    assert not supports_packing(model) and "flash_attention_2" in packing_refusal(model)


def test_a_lora_wrapped_classifier_packs(collator):
    from peft import LoraConfig, get_peft_model

    model = tiny_classifier()
    feats = features(pairs=False)
    padded, packed = padded_batch(collator, feats), PackedSequenceCollator(collator)(feats)
    lora = get_peft_model(model, LoraConfig(r=2, target_modules=["query", "value"], init_lora_weights=False))
    assert supports_packing(lora)
    with torch.no_grad():
        torch.testing.assert_close(packed_forward(lora, packed).logits, lora(**padded).logits, rtol=1e-5, atol=1e-5)
