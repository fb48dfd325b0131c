"""Dropout for training on a CPU, at a fraction of the cost of its random numbers.

On a CPU, `torch.bernoulli_` draws one 32-bit random number per element: a MiniLM training step spends about 40 ms
(a tenth of the step in float32, a seventh in bfloat16) drawing its 20 dropout masks, 60 times the cost of applying
them. Here one 64-bit draw gives four elements' 16-bit draws, and an element is dropped when its draw falls in the
lowest `round(p * 65536)` of the 65536 values; the kept ones are scaled so that the expectation is unchanged. The
drop probability is then `p` rounded to a multiple of 1/65536 (0.1 becomes 0.100006), and the mask costs a fifth; a
`p` that rounds to 0 or 1 gets torch's dropout.

Attention-probability dropout happens inside `scaled_dot_product_attention`, which on a CPU then leaves its fused
kernel for the plain one and draws with `bernoulli_`: `cpu_dropout_attention` does the plain computation with the
fast mask instead (in bfloat16, half the time of torch's).

`cpu_dropout(model)` switches a model to both while it trains and back afterwards: evaluation, prediction and what
is saved are untouched (dropout has no weights; the attention choice is not written to `config.json`). On other
devices, in evaluation or at `p = 0`, the stock paths run.
"""

import contextlib
import math

import torch
from torch import nn

ATTENTION = "sdpa_cpu_dropout"  # the attention implementation's registered name, used only while training
DRAW_VALUES = 65536  # the 16-bit draws' range
# encoders whose attention calls transformers' attention interface as BERT does (query, key, value, mask, dropout,
# scaling; no position bias, no causal mask) and never tests for the name "sdpa": only they switch attention
PLAIN_ATTENTION_MODELS = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert", "albert")
# what the plain computation does not handle: another model's attention falls back to sdpa's
UNHANDLED_ATTENTION_KWARGS = ("position_bias", "softcap", "s_aux", "sliding_window", "is_causal")


def kept_fraction_mask(shape, p: float, dtype: torch.dtype, device=None) -> torch.Tensor:
    """A dropout mask: 0 where dropped (probability `p`), `1 / (1 - p)` elsewhere, as `dtype`."""
    count = math.prod(shape)
    # full 64-bit draws, each viewed as four int16 draws, uniform over [-32768, 32767]
    draws = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), dtype=torch.int64, device=device)
    draws = draws.view(torch.int16)[:count].view(shape)
    dropped = round(p * DRAW_VALUES)
    keep = draws >= dropped - DRAW_VALUES // 2
    return keep.to(dtype) * (DRAW_VALUES / (DRAW_VALUES - dropped))


def uses_cpu_mask(x: torch.Tensor, p: float, training: bool) -> bool:
    """Training on a CPU with a `p` the 16-bit draws can express (else torch's own dropout runs)."""
    return training and 0 < round(p * DRAW_VALUES) < DRAW_VALUES and x.device.type == "cpu"


class CPUDropout(nn.Dropout):
    """`nn.Dropout` that draws its mask with `kept_fraction_mask` on a CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not uses_cpu_mask(x, self.p, self.training):
            return super().forward(x)
        return x * kept_fraction_mask(x.shape, self.p, x.dtype, x.device)


def cpu_dropout_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers' `sdpa` attention, but with attention dropout on a CPU computed as eager attention does, with
    `kept_fraction_mask`. Takes the `sdpa` masks (boolean, True where a query may attend; or additive)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = key.shape[1] == query.shape[1] and getattr(module, "is_causal", True) is False
    plain = plain and all(kwargs.get(name) is None or kwargs[name] is False for name in UNHANDLED_ATTENTION_KWARGS)
    if not (plain and uses_cpu_mask(query, dropout, module.training)):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)  # fmt: skip
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probabilities = torch.softmax(scores, dim=-1)
    probabilities = probabilities * kept_fraction_mask(probabilities.shape, dropout, probabilities.dtype, query.device)
    return torch.matmul(probabilities, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, cpu_dropout_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def _switches_attention(config) -> bool:
    return config.model_type in PLAIN_ATTENTION_MODELS and config._attn_implementation_internal == "sdpa"


@contextlib.contextmanager
def cpu_dropout(model: nn.Module):
    """While inside: every `nn.Dropout` of `model` is a `CPUDropout`, and the sdpa attention of its BERT-like
    encoders (`PLAIN_ATTENTION_MODELS`) is `cpu_dropout_attention`. Both fall back to the stock computation off the
    CPU and outside training. Restored on leaving."""
    _register_attention()
    swapped = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                replacement = CPUDropout(child.p)
                replacement.train(child.training)
                setattr(parent, name, replacement)
                swapped.append((parent, name, child))
    configs = {id(m.config): m.config for m in model.modules() if hasattr(getattr(m, "config", None), "to_dict")}
    configs = [config for config in configs.values() if _switches_attention(config)]
    for config in configs:  # each config on its own: the setter would also rewrite sub-configs, eager ones too
        config._attn_implementation_internal = ATTENTION
    try:
        yield model
    finally:
        for config in configs:
            config._attn_implementation_internal = "sdpa"
        for parent, name, child in swapped:
            child.train(getattr(parent, name).training)
            setattr(parent, name, child)
