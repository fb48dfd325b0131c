"""Linear-chain conditional random field (CRF) over per-token tag scores, as a `torch.nn.Module`.

Our own rather than pytorch-crf: that library is unmaintained, assumes the first time step of every sequence is
unmasked, and decodes with a Python loop over the batch. This one accepts empty sequences, runs batched in every
pass (forward algorithm, Viterbi and its backtracking, max-marginals) and supports transition constraints.

Self-contained on purpose (only `torch`): it is copied to the Hub as remote code next to the model file.
"""

from collections.abc import Sequence

import torch
from torch import nn

# Score of a forbidden transition: finite, so a gold path through one gives a large loss, never nan.
NEG_INF = -10000.0

Allowed = torch.Tensor | Sequence | None
Steps = tuple[torch.Tensor, ...]


class LinearChainCRF(nn.Module):
    r"""
    Linear-chain CRF: the score of a tag path is the sum of its emissions, its start and end scores and the
    transition scores between consecutive tags.

    Every method takes `emissions` `[batch, length, num_tags]` (any float dtype; computed and returned in float32)
    and a `mask` `[batch, length]` that must be a prefix in each row: `length` Trues then Falses. A row with no True
    is an empty sequence: score, log-partition and log-likelihood 0, decoded as all padding.

    Args:
        num_tags (`int`): number of tags.
        allowed_start (`[num_tags]` bools, *optional*): tags a sequence may start with.
        allowed_transitions (`[num_tags, num_tags]` bools, *optional*): whether tag `j` may follow tag `i`.
        allowed_end (`[num_tags]` bools, *optional*): tags a sequence may end with.
    """

    def __init__(
        self,
        num_tags: int,
        allowed_start: Allowed = None,
        allowed_transitions: Allowed = None,
        allowed_end: Allowed = None,
    ):
        super().__init__()
        if num_tags <= 0:
            raise ValueError(f"num_tags must be positive, got {num_tags}")
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [i, j]: score of tag i -> tag j
        # Not persistent: the constraints are rebuilt from the config, so checkpoints hold only learnt scores.
        for name in ("start_penalty", "end_penalty"):
            self.register_buffer(name, torch.zeros(num_tags), persistent=False)
        self.register_buffer("transition_penalty", torch.zeros(num_tags, num_tags), persistent=False)
        self.set_constraints(allowed_start, allowed_transitions, allowed_end)
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def reset_parameters(self) -> None:
        """All scores to zero: a fresh CRF adds nothing to the emissions, and a constrained one starts exactly from
        the emissions with the forbidden paths removed, rather than from a random preference between tags."""
        for param in (self.start_transitions, self.end_transitions, self.transitions):
            nn.init.zeros_(param)

    def set_constraints(
        self, allowed_start: Allowed = None, allowed_transitions: Allowed = None, allowed_end: Allowed = None
    ) -> None:
        """Forbid starts, transitions and ends: True (or nonzero) is allowed, None allows everything. Forbidden
        scores get `NEG_INF` added, in training and decoding alike."""
        for name, allowed, shape in (
            ("start_penalty", allowed_start, (self.num_tags,)),
            ("transition_penalty", allowed_transitions, (self.num_tags, self.num_tags)),
            ("end_penalty", allowed_end, (self.num_tags,)),
        ):
            buffer = getattr(self, name)
            if allowed is None:
                penalty = torch.zeros(shape, device=buffer.device)
            else:
                allowed = torch.as_tensor(allowed, device=buffer.device).bool()
                if allowed.shape != shape:
                    raise ValueError(f"{name}: constraint of shape {tuple(allowed.shape)}, expected {shape}")
                penalty = torch.where(allowed, 0.0, NEG_INF)
            setattr(self, name, penalty.to(buffer.dtype))  # a buffer stays a (non-persistent) buffer

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start `[T]`, transition `[T, T]` and end `[T]` scores in float32, constraints included."""
        return (
            self.start_transitions.float() + self.start_penalty.float(),
            self.transitions.float() + self.transition_penalty.float(),
            self.end_transitions.float() + self.end_penalty.float(),
        )

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(f"emissions must be [batch, length, {self.num_tags}], got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask {tuple(mask.shape)} does not match emissions {tuple(emissions.shape)}")
        return emissions.float(), mask.bool()

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log of the sum of exp(score) over all tag paths of each row (forward algorithm), `[batch]`."""
        emissions, mask = self._check(emissions, mask)
        if emissions.size(1) == 0:
            return emissions.new_zeros(emissions.size(0))
        start, transitions, end = self._scores()
        steps, valid = _time_steps(emissions, mask)
        into = transitions.unsqueeze(2)  # [previous, next, 1]
        alpha = start[:, None] + steps[0]  # [T, B]: log-sum over the paths ending in each tag
        for emission, valid_t in zip(steps[1:], valid[1:]):
            step = torch.logsumexp(alpha.unsqueeze(1) + into, dim=0) + emission
            alpha = torch.where(valid_t, step, alpha)  # rows that have ended keep their last alpha
        return torch.where(mask[:, 0], torch.logsumexp(alpha + end[:, None], dim=0), 0.0)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the tag path `tags` `[batch, length]` of each row, `[batch]`. Tags at masked
        positions are ignored (they may be -100)."""
        emissions, mask = self._check(emissions, mask)
        if tags.shape != mask.shape:
            raise ValueError(f"tags {tuple(tags.shape)} do not match mask {tuple(mask.shape)}")
        if emissions.size(1) == 0:
            return emissions.new_zeros(emissions.size(0))
        start, transitions, end = self._scores()
        tags = tags.long().masked_fill(~mask, 0)  # never index with padding labels
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        moved = transitions[tags[:, :-1], tags[:, 1:]]
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1).clamp(min=0)).squeeze(1)
        total = torch.where(mask, emitted, 0.0).sum(1) + torch.where(mask[:, 1:], moved, 0.0).sum(1)
        return total + torch.where(mask[:, 0], start[tags[:, 0]] + end[last], 0.0)

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log-probability of the tag path `tags` of each row, `[batch]` (0 for an empty row)."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, reduction: str = "sum"
    ) -> torch.Tensor:
        """Negative log-likelihood of `tags`: per row (`"none"`), summed (`"sum"`) or averaged over rows
        (`"mean"`)."""
        if reduction not in ("sum", "mean", "none"):
            raise ValueError(f"reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
        nll = -self.log_likelihood(emissions, tags, mask)
        return nll if reduction == "none" else nll.sum() if reduction == "sum" else nll.mean()

    def viterbi_decode(
        self, emissions: torch.Tensor, mask: torch.Tensor, pad_tag: int = -100
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Best tag path of each row and its score.

        Returns:
            `tuple(torch.Tensor, torch.Tensor)`: the tags `[batch, length]` (long, `pad_tag` where `mask` is False)
            and the best path's score `[batch]` (0 for an empty row).
        """
        emissions, mask = self._check(emissions, mask)
        batch, length, _ = emissions.shape
        if length == 0:
            return mask.new_full((batch, 0), pad_tag, dtype=torch.long), emissions.new_zeros(batch)
        start, transitions, end = self._scores()
        steps, valid = _time_steps(emissions, mask)
        into = transitions.unsqueeze(2)
        # `amax` and no per-step backpointers: on CPU a small `max(dim)` with indices costs more than the whole step.
        history = [start[:, None] + steps[0]]  # [T, B]: best score of the paths ending in each tag
        for emission, valid_t in zip(steps[1:], valid[1:]):
            step = (history[-1].unsqueeze(1) + into).amax(dim=0) + emission
            history.append(torch.where(valid_t, step, history[-1]))
        final = history[-1] + end[:, None]
        best_score, tag = final.max(dim=0)
        # Backpointers of all steps at once; at a row's padding they point to the same tag, so backtracking is one
        # gather a step. The best previous tag is found as the first that reaches `amax`: on CPU, `max(dim)` with
        # indices and `argmax` are each several times slower than `amax`, and this is the same first-index tie-break.
        path = [tag]
        if length > 1:
            into_next = torch.stack(history[:-1]).unsqueeze(2) + into  # [L - 1, previous T, next T, B]
            reaches = into_next == into_next.amax(dim=1, keepdim=True)
            small = torch.uint8 if self.num_tags < 256 else torch.int32
            first = torch.arange(self.num_tags, 0, -1, dtype=small, device=reaches.device)[:, None, None]
            pointers = self.num_tags - (reaches * first).amax(dim=1).long()  # [L - 1, next T, B]: best previous tag
            same = torch.arange(self.num_tags, device=pointers.device)[None, :, None]
            pointers = torch.where(mask.t()[1:, None, :], pointers, same)
        for t in range(length - 2, -1, -1):
            tag = pointers[t].gather(0, tag.unsqueeze(0)).squeeze(0)
            path.append(tag)
        tags = torch.stack(path[::-1], dim=1).masked_fill_(~mask, pad_tag)
        return tags, torch.where(mask[:, 0], best_score, 0.0)

    def max_marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the best path through tag `y` at step `t`, `[batch, length, num_tags]` (0 at masked steps).

        Its max over tags at any valid step is the Viterbi score, and its argmax the Viterbi tag when that path is
        unique. Computed as a forward max pass (best prefix ending in `y`) plus a backward one (best suffix after it).
        """
        emissions, mask = self._check(emissions, mask)
        batch, length, num_tags = emissions.shape
        if length == 0:
            return emissions.new_zeros(batch, 0, num_tags)
        start, transitions, end = self._scores()
        steps, valid = _time_steps(emissions, mask)
        into = transitions.unsqueeze(2)  # [previous, next, 1]
        out_of = transitions.t().unsqueeze(2)  # [next, previous, 1]
        prefix = [start[:, None] + steps[0]]  # best score of the paths ending in each tag at t, emission at t included
        for emission, valid_t in zip(steps[1:], valid[1:]):
            step = (prefix[-1].unsqueeze(1) + into).amax(dim=0) + emission
            prefix.append(torch.where(valid_t, step, prefix[-1]))
        # Best score after tag y at t: the end score at a row's last step, else the best move on to step t + 1.
        end = end[:, None].expand(num_tags, batch)
        suffix = [end]
        for t in range(length - 2, -1, -1):
            ahead = (out_of + (steps[t + 1] + suffix[-1]).unsqueeze(1)).amax(dim=0)
            suffix.append(torch.where(valid[t + 1], ahead, end))
        marginals = (torch.stack(prefix) + torch.stack(suffix[::-1])).permute(2, 0, 1)  # [B, L, T]
        return marginals.masked_fill(~mask.unsqueeze(-1), 0.0)


def _time_steps(emissions: torch.Tensor, mask: torch.Tensor) -> tuple[Steps, Steps]:
    """Views of each time step, batch last: emissions `[T, B]` and mask `[1, B]`. The recursions reduce over a
    leading tag dimension of `[T, T, B]`, which runs vectorised along the batch: about twice as fast on CPU as
    reducing the small last dimension of `[B, T, T]`."""
    return emissions.permute(1, 2, 0).unbind(0), mask.t().unsqueeze(1).unbind(0)
