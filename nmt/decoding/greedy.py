"""Batched greedy decoding: the most probable allowed token at every step."""

from __future__ import annotations

import torch
from torch import Tensor

from nmt.decoding.constraints import constrain_, max_lengths
from nmt.decoding.history import FinishedPool, History
from nmt.decoding.protocol import Decodable
from nmt.decoding.types import Hypothesis, SearchOptions


def banned_ids(model: Decodable, bos_id: int, device: torch.device) -> Tensor:
    """Ids the search never emits: padding and bos."""
    return torch.tensor(sorted({model.pad_id, bos_id}), dtype=torch.long, device=device)


@torch.inference_mode()
def greedy_search(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int = 2,
    eos_id: int = 3,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """Greedy-decode a padded batch src (B, S); one hypothesis per sentence.

    A sentence leaves the batch when it emits eos or reaches `options.max_length(len)` tokens
    (force-ended, no eos). Its score applies the same GNMT penalties as beam search.
    Each hypothesis carries its attention (T, S) when `options.return_attention` or
    `keep_attention` is set.
    """
    if src.size(0) == 0:
        return []
    device = src.device
    memory, state = model.encode(src, src_lengths)
    batch, src_len = src.shape
    sentence_ids = torch.arange(batch, device=device)  # (B,) original index of each active row
    limits = max_lengths(src_lengths, options, device)  # (B,)
    history = History.empty(batch, src_len, options, device, keep_attention)
    total = torch.zeros(batch, device=device)  # (B,) summed log-probability
    prev = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    banned = banned_ids(model, bos_id, device)
    pool = FinishedPool(options, src_lengths.tolist())

    for step in range(int(limits.max())):
        out, state = model.decode_step(prev, state, memory)
        log_probs = constrain_(out.log_probs.float(), history.tokens, options, eos_id, banned)
        token_lp, prev = log_probs.max(dim=-1)  # (B,), (B,)
        total = total + token_lp
        history = history.advance(None, prev, token_lp, out.attention, out.p_gen)
        ended = prev == eos_id
        done = ended | (step + 1 >= limits)
        if not bool(done.any()):
            continue
        gone = done.nonzero().squeeze(1)
        pool.add(
            sentence_ids[gone], history.select(gone), ended[gone], total[gone], memory.mask[gone]
        )
        keep = (~done).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        memory, state = memory.index_select(keep), state.index_select(keep)
        history, prev, total = history.select(keep), prev[keep], total[keep]
        sentence_ids, limits = sentence_ids[keep], limits[keep]
    return pool.hypotheses(n_best=1)
