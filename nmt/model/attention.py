"""Bahdanau additive attention (Bahdanau et al., 2015, section 3.1).

score(s, h_j) = v^T tanh(W_s s + W_h h_j [+ w_c c_j]); the keys W_h h_j are projected
once per sentence (EncoderMemory.keys) and the optional coverage term is added by the
caller (see coverage.py). Padding gets -inf before the softmax, so its weight is
exactly 0 (every sentence has at least one real token).

The queries may outnumber the sentences: with R = B * k queries over B sentences, each
sentence's keys and states serve k consecutive queries (beam search's k beams) by
broadcasting, so the search never copies the encoder memory k times.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nmt.model.activations import tanh_scratch


class BahdanauAttention(nn.Module):
    """Additive attention of a decoder state over the encoder states."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int):
        super().__init__()
        self.key_projection = nn.Linear(key_dim, attention_dim, bias=False)
        self.query_projection = nn.Linear(query_dim, attention_dim)
        self.energy = nn.Linear(attention_dim, 1, bias=False)  # v

    def project_keys(self, states: Tensor) -> Tensor:
        """W_h h_j for every source position: (B, S, He) -> (B, S, A)."""
        return self.key_projection(states)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, extra: Tensor | None = None
    ) -> Tensor:
        """Weights (R, S) fp32 for queries (R, H) over keys (B, S, A) and mask (B, S).

        R = B * k (k >= 1, module docstring); `extra` (R, S, A) is added inside the tanh.
        """
        batch, src_len, _ = keys.shape
        beams = queries_per_sentence(query.size(0), batch)
        projected = self.query_projection(query).view(batch, beams, 1, -1)  # (B, k, 1, A)
        hidden = keys.unsqueeze(1) + projected  # (B, k, S, A)
        if extra is not None:
            hidden = hidden + extra.view(batch, beams, src_len, -1)
        scores = self.energy(tanh_scratch(hidden)).squeeze(-1).float()  # (B, k, S)
        weights = scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(dim=-1)
        return weights.view(-1, src_len)


def queries_per_sentence(queries: int, sentences: int) -> int:
    """k for R = queries rows over B = sentences memory rows; ValueError unless R = B * k."""
    if sentences == 0 or queries % sentences != 0:
        raise ValueError(f"{queries} decoder rows cannot share {sentences} memory rows evenly")
    return queries // sentences


def attend(weights: Tensor, states: Tensor) -> Tensor:
    """Context vectors sum_j a_j h_j: weights (R, S), states (B, S, He) -> (R, He), R = B * k."""
    batch, src_len, width = states.shape
    beams = queries_per_sentence(weights.size(0), batch)
    grouped = weights.view(batch, beams, src_len).to(states.dtype)  # (B, k, S)
    return torch.bmm(grouped, states).view(-1, width)
