"""Words of the sentences in a batch of token rows, as dense per-sentence chains for a CRF, and back to tokens.

A row holds one sentence (padded batches) or several packed end to end (padding-free training batches, where a
position id of 0 starts a sentence). A CRF must see each sentence's words as one chain of its own: never a chain
across a sentence boundary, never the special tokens, padding or a word's later sub-tokens. Imports only torch, so
that it travels with the model file as remote code.
"""

from dataclasses import dataclass

import torch


@dataclass
class WordChains:
    """`index[n, w]`: the flat token position (`row * seq_len + t`) of word `w` of sentence `n`; `mask[n, w]`: that
    word exists. `token_word[p]`: the flat word number (sentence-major, as `mask` enumerates them) of the latest word
    started at or before token `p` in its sentence, -1 when none has started yet."""

    index: torch.Tensor
    mask: torch.Tensor
    token_word: torch.Tensor

    @classmethod
    def build(cls, word_mask: torch.Tensor, sentence_starts: torch.Tensor) -> "WordChains":
        """From `word_mask` (`[batch, seq]`, true on each word's first sub-token) and `sentence_starts` (true where
        a sentence begins; a row's first token always does)."""
        starts = sentence_starts.bool().clone()
        if starts.numel():
            starts[:, 0] = True
        words = word_mask.bool().flatten().long()
        sentence = starts.flatten().long().cumsum(0) - 1
        num_sentences = int(sentence[-1]) + 1 if sentence.numel() else 0
        counts = torch.zeros(num_sentences, dtype=torch.long, device=words.device).index_add_(0, sentence, words)
        offsets = counts.cumsum(0) - counts
        word_number = words.cumsum(0) - 1
        rank = word_number - offsets[sentence]
        width = int(counts.max()) if num_sentences else 0
        positions = words.nonzero().squeeze(1)
        index = torch.zeros(num_sentences, width, dtype=torch.long, device=words.device)
        index[sentence[positions], rank[positions]] = positions
        mask = torch.arange(width, device=words.device) < counts[:, None]
        token_word = torch.where(rank >= 0, word_number, torch.full_like(word_number, -1))
        return cls(index, mask, token_word)

    def gather(self, token_values: torch.Tensor) -> torch.Tensor:
        """`[batch, seq, ...]` per-token values to `[sentences, words, ...]` (values at masked slots are arbitrary)."""
        return token_values.flatten(0, 1)[self.index]

    def scatter(self, word_values: torch.Tensor, token_values: torch.Tensor) -> torch.Tensor:
        """Each token takes its word's value from `[sentences, words, ...]`; tokens before any word keep theirs."""
        flat = token_values.flatten(0, 1).clone()
        has_word = self.token_word >= 0
        flat[has_word] = word_values[self.mask].to(flat.dtype)[self.token_word[has_word]]
        return flat.view_as(token_values)


def sentence_starts(position_ids: torch.Tensor | None, attention_mask: torch.Tensor | None, shape, device):
    """Where sentences begin: at every position id 0 in packed rows (no attention mask), else at each row's start."""
    if position_ids is not None and attention_mask is None:
        return position_ids == 0
    starts = torch.zeros(shape, dtype=torch.bool, device=device)
    starts[:, 0] = True
    return starts


def default_word_mask(attention_mask: torch.Tensor | None, shape: torch.Size, device) -> torch.Tensor:
    """Without a word mask (as in `pipeline`): every attended token but each row's first and last, the special
    tokens a BERT-style tokenizer puts around a sentence. Every sub-token is then a step of the chain."""
    attended = torch.ones(shape, dtype=torch.bool, device=device) if attention_mask is None else attention_mask.bool()
    mask = attended.clone()
    mask[:, 0] = False
    last = attended.long().cumsum(1).argmax(1)  # position of the last attended token
    mask[torch.arange(shape[0], device=device), last] = False
    return mask
