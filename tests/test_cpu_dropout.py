"""`trainer_common.cpu_dropout`: dropout masks from 16-bit draws, and a model switched to them while it trains."""

import json

import pytest
import torch
from helpers import one_thread, tiny_bert_config  # noqa: F401 (an autouse fixture)
from torch import nn
from transformers import BertModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from trainer_common.cpu_dropout import (
    ATTENTION,
    CPUDropout,
    cpu_dropout,
    cpu_dropout_attention,
    kept_fraction_mask,
    uses_cpu_mask,
)


def test_the_mask_drops_p_of_the_elements_independently_and_keeps_the_expectation():
    torch.manual_seed(0)
    mask = kept_fraction_mask((1000, 1000), 0.1, torch.float32)
    dropped = mask == 0
    assert dropped.float().mean().item() == pytest.approx(0.1, abs=0.0015)  # 5 standard deviations
    assert set(mask[~dropped].unique().tolist()) == {torch.tensor(65536 / (65536 - 6554)).item()}
    assert mask.mean().item() == pytest.approx(1.0, abs=0.002)
    # the four draws cut from one 64-bit draw are independent: neighbours are both dropped with probability p^2
    both = (dropped[:, :-1] & dropped[:, 1:]).float().mean().item()
    assert both == pytest.approx(0.01, abs=0.0006)


def test_the_mask_has_the_shape_and_dtype_asked_for_and_p_zero_keeps_everything():
    torch.manual_seed(0)
    mask = kept_fraction_mask((3, 5, 7), 0.5, torch.bfloat16)
    assert mask.shape == (3, 5, 7) and mask.dtype == torch.bfloat16
    assert set(mask.unique().tolist()) == {0.0, 2.0}
    assert bool((kept_fraction_mask((64,), 0.0, torch.float32) == 1).all())


def test_cpu_dropout_is_identity_in_evaluation_and_its_gradient_is_its_mask():
    dropout = CPUDropout(0.3).eval()
    x = torch.randn(50, 40, requires_grad=True)
    assert torch.equal(dropout(x), x)
    dropout.train()
    torch.manual_seed(1)
    y = dropout(x)
    torch.manual_seed(1)
    mask = kept_fraction_mask(x.shape, 0.3, x.dtype)
    assert torch.equal(y, x * mask)
    y.sum().backward()
    assert torch.equal(x.grad, mask)


class Attention(nn.Module):
    is_causal = False


def attention_inputs(seed=0, batch=3, heads=2, length=9, dim=8):
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, length, dim, generator=generator) for _ in range(3))
    # a packed row: two sentences of 4 and 5 tokens, each attending only to itself
    sentence = torch.tensor([0] * 4 + [1] * 5)
    mask = (sentence[:, None] == sentence[None, :]).expand(batch, 1, length, length)
    return q, k, v, mask


def test_attention_without_dropout_is_torchs_sdpa_exactly():
    q, k, v, mask = attention_inputs()
    module = Attention().train()
    expected, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0)
    assert torch.equal(cpu_dropout_attention(module, q, k, v, mask, dropout=0.0)[0], expected)


def test_attention_with_dropout_is_eager_attention_with_the_mask():
    q, k, v, mask = attention_inputs()
    module = Attention().train()
    torch.manual_seed(3)
    output, _ = cpu_dropout_attention(module, q, k, v, mask, dropout=0.2)
    scores = (q @ k.transpose(-1, -2)) / 8**0.5
    probabilities = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    torch.manual_seed(3)
    probabilities = probabilities * kept_fraction_mask(probabilities.shape, 0.2, probabilities.dtype)
    expected = (probabilities @ v).transpose(1, 2)
    assert output.shape == (3, 9, 2, 8)
    torch.testing.assert_close(output, expected)
    # no dropout and the probabilities mix only the own sentence's values: equal to the sentence run alone
    alone, _ = sdpa_attention_forward(module, q[:, :, :4], k[:, :, :4], v[:, :, :4], None, dropout=0.0)
    packed, _ = cpu_dropout_attention(module, q, k, v, mask, dropout=0.0)
    torch.testing.assert_close(packed[:, :4], alone)


def test_a_model_switches_while_inside_and_back_after(tmp_path):
    torch.manual_seed(0)
    model = BertModel(tiny_bert_config(), add_pooling_layer=False)
    model.config._attn_implementation = "sdpa"
    ids = torch.randint(5, 50, (2, 12))
    model.eval()
    expected = model(input_ids=ids).last_hidden_state
    dropouts = sum(type(m) is nn.Dropout for m in model.modules())
    with cpu_dropout(model):
        assert sum(type(m) is CPUDropout for m in model.modules()) == dropouts > 0
        assert model.config._attn_implementation == ATTENTION
        assert torch.equal(model(input_ids=ids).last_hidden_state, expected)  # evaluation: the stock computation
        model.train()
        torch.manual_seed(5)
        first = model(input_ids=ids).last_hidden_state
        torch.manual_seed(5)
        assert torch.equal(model(input_ids=ids).last_hidden_state, first)  # seeded: reproducible, as resume needs
        assert not torch.allclose(first, expected)
    assert model.training  # the mode set inside stays
    assert sum(type(m) is nn.Dropout for m in model.modules()) == dropouts
    assert not any(isinstance(m, CPUDropout) for m in model.modules())
    assert model.config._attn_implementation == "sdpa"
    model.save_pretrained(tmp_path)
    assert ATTENTION not in json.dumps(json.loads((tmp_path / "config.json").read_text()))


def test_an_eager_model_keeps_its_attention():
    model = BertModel(tiny_bert_config(), add_pooling_layer=False)
    model.config._attn_implementation = "eager"
    with cpu_dropout(model):
        assert model.config._attn_implementation == "eager"
        assert any(isinstance(m, CPUDropout) for m in model.modules())


def test_a_p_the_draws_cannot_express_gets_torchs_dropout():
    x = torch.ones(1000)
    assert not uses_cpu_mask(x, 5e-6, True) and not uses_cpu_mask(x, 0.999995, True)
    assert uses_cpu_mask(x, 0.1, True) and not uses_cpu_mask(x, 0.1, False)
    dropped = CPUDropout(0.999995).train()(x)  # torch's dropout: no division by zero
    assert dropped.shape == x.shape


def test_attention_arguments_it_does_not_handle_fall_back_to_sdpa():
    q, k, v, mask = attention_inputs()
    module = Attention().train()
    bias = torch.randn(1, 2, 9, 9)
    torch.manual_seed(7)
    ours, _ = cpu_dropout_attention(module, q, k, v, None, dropout=0.2, position_bias=bias)
    torch.manual_seed(7)
    expected, _ = sdpa_attention_forward(module, q, k, v, None, dropout=0.2, position_bias=bias)
    assert torch.equal(ours, expected)


def test_only_bert_like_configs_switch_and_each_gets_its_own_value_back():
    """A tagger whose encoder supports eager attention only: the tagger's config says sdpa, the encoder's eager;
    the recursive setter would have written one value into both."""
    from ner_trainer import BertTagger, BertTaggerConfig

    model = BertTagger(BertTaggerConfig(encoder=tiny_bert_config(), id2label={0: "O", 1: "B-X"}))
    model.config._attn_implementation_internal = "sdpa"
    model.encoder.config._attn_implementation_internal = "eager"
    with cpu_dropout(model):
        assert model.encoder.config._attn_implementation == "eager"
    assert (model.config._attn_implementation, model.encoder.config._attn_implementation) == ("sdpa", "eager")
    model.encoder.config._attn_implementation_internal = "sdpa"
    with cpu_dropout(model):
        assert model.encoder.config._attn_implementation == ATTENTION  # a BERT encoder switches
        assert model.config._attn_implementation == "sdpa"  # the tagger's own config is no BERT's
    assert model.encoder.config._attn_implementation == "sdpa"
    other = BertModel(tiny_bert_config())
    other.config._attn_implementation_internal = "sdpa"
    other.config.model_type = "falcon"  # a model that tests for the name "sdpa" itself
    with cpu_dropout(other):
        assert other.config._attn_implementation == "sdpa"
