"""Pointer-generator copy mechanism (See et al., 2017, section 2.2).

p_gen = sigmoid(w_h . c_t + w_s . s_t + w_x . x_t + b) mixes the vocabulary
distribution with the attention scattered onto the source token ids (a joint
vocabulary, so every source id is also a target id):
    P(w) = p_gen P_vocab(w) + (1 - p_gen) sum_{j: x_j = w} a_tj.
The mixture is computed in log space (logsigmoid, log_softmax, logaddexp) and the
copy distribution is clamped before its log, so nothing becomes NaN or -inf when a
probability underflows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_TINY = torch.finfo(torch.float32).tiny


class CopyGenerator(nn.Module):
    """Turns output logits and attention into the final pointer-generator log-distribution."""

    def __init__(self, context_dim: int, hidden_dim: int, embedding_dim: int):
        super().__init__()
        self.gate = nn.Linear(context_dim + hidden_dim + embedding_dim, 1)

    def forward(
        self,
        logits: Tensor,
        attention: Tensor,
        source_ids: Tensor,
        context: Tensor,
        state: Tensor,
        embedded: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Log-probabilities (..., V) fp32 and p_gen (...).

        logits (..., V), attention (..., S), context (..., He), state (..., H) and
        embedded (..., E) share the leading dims: (B,) for a step or (B, T) for a
        sequence; source_ids is (B, S), or (B / k, S) for a step of k beams per sentence.
        """
        gate = self.gate(torch.cat([context, state, embedded], dim=-1)).squeeze(-1).float()
        log_vocab = logits.float().log_softmax(dim=-1)
        ids = source_ids
        if attention.dim() == 3:  # (B, T, S): the same source ids for every step
            ids = source_ids.unsqueeze(1).expand_as(attention)
        elif attention.size(0) != source_ids.size(0):  # (B * k, S): k beams per sentence
            beams = attention.size(0) // source_ids.size(0)
            ids = source_ids.repeat_interleave(beams, dim=0)
        copy = torch.zeros_like(log_vocab).scatter_add_(-1, ids, attention.float())
        log_probs = torch.logaddexp(
            F.logsigmoid(gate).unsqueeze(-1) + log_vocab,
            F.logsigmoid(-gate).unsqueeze(-1) + copy.clamp_min(_TINY).log(),
        )
        return log_probs, torch.sigmoid(gate)
