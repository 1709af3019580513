"""Hard constraints applied to a step's log-probabilities: forbidden ids, min length, n-grams.

Shape alphabet: R active rows (sentences x beams), T tokens emitted so far, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nmt.decoding.types import SearchOptions

NEG_INF = float("-inf")


def max_lengths(src_lengths: Tensor, options: SearchOptions, device: torch.device) -> Tensor:
    """Per-sentence token budget `options.max_length(len)` as a (B,) long tensor."""
    values = [options.max_length(int(n)) for n in src_lengths.tolist()]
    return torch.tensor(values, dtype=torch.long, device=device)


def block_repeated_ngrams(log_probs: Tensor, history: Tensor, n: int) -> Tensor:
    """Forbid every token that would complete an n-gram already present in its row's history.

    log_probs (R, V); history (R, T) emitted tokens (bos excluded). Returns a new tensor.
    """
    length = history.size(1)
    if n <= 0 or length < n:  # no complete earlier n-gram yet
        return log_probs
    windows = history.unfold(1, n, 1)  # (R, W, n), W = T - n + 1 earlier n-grams
    last = history[:, length - n + 1 :]  # (R, n - 1) prefix of the n-gram being formed
    match = (windows[:, :, :-1] == last[:, None, :]).all(dim=-1)  # (R, W)
    # scatter_add, not scatter: a token may close several windows, and any match bans it.
    hits = torch.zeros_like(log_probs).scatter_add_(1, windows[:, :, -1], match.to(log_probs.dtype))
    return log_probs.masked_fill(hits > 0, NEG_INF)


def constrain(
    log_probs: Tensor,
    history: Tensor,
    options: SearchOptions,
    eos_id: int,
    banned_ids: Tensor,
) -> Tensor:
    """Apply all hard constraints to one step's log-probabilities (R, V) and return a new tensor.

    `banned_ids` (e.g. pad and bos) are never produced; eos is forbidden while fewer than
    `options.min_length` tokens were emitted; `options.no_repeat_ngram_size` blocks repeats.
    """
    return constrain_(log_probs.clone(), history, options, eos_id, banned_ids)


def constrain_(
    log_probs: Tensor,
    history: Tensor,
    options: SearchOptions,
    eos_id: int,
    banned_ids: Tensor,
) -> Tensor:
    """`constrain` in place on log_probs (R, V), which it returns (or a new tensor with n-gram
    blocking). The searches own each step's output, so they need no copy of the whole (R, V)
    tensor per step (it cost about as much as the log-softmax that made it)."""
    log_probs.index_fill_(1, banned_ids, NEG_INF)
    if history.size(1) < options.min_length:
        log_probs[:, eos_id] = NEG_INF
    if options.no_repeat_ngram_size > 0:
        log_probs = block_repeated_ngrams(log_probs, history, options.no_repeat_ngram_size)
    return log_probs
