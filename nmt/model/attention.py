"""Bahdanau additive attention (Bahdanau et al., 2015, section 3.1).

score(s, h_j) = v^T tanh(W_s s + W_h h_j [+ w_c c_j]); the keys W_h h_j are projected
once per sentence (EncoderMemory.keys) and the optional coverage term is added by the
caller (see coverage.py). Padding gets -inf before the softmax, so its weight is
exactly 0 (every sentence has at least one real token).
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
        """Weights (B, S) fp32 for a query (B, H); `extra` (B, S, A) is added inside the tanh."""
        hidden = keys + self.query_projection(query).unsqueeze(1)  # (B, S, A)
        if extra is not None:
            hidden = hidden + extra
        scores = self.energy(tanh_scratch(hidden)).squeeze(-1).float()  # (B, S)
        return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def attend(weights: Tensor, states: Tensor) -> Tensor:
    """Context vector sum_j a_j h_j: weights (B, S), states (B, S, He) -> (B, He)."""
    return torch.bmm(weights.unsqueeze(1).to(states.dtype), states).squeeze(1)
