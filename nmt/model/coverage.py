"""Coverage attention (Tu et al., 2016; See et al., 2017, section 2.3).

The coverage vector c_t = sum_{t' < t} a_t' (c_0 = 0, so c_t excludes a_t) enters the
attention score through w_c c_tj, and the per-step loss sum_j min(a_tj, c_tj)
penalises attending again to what was already covered.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Coverage(nn.Module):
    """The coverage feature w_c c_tj added inside the attention tanh."""

    def __init__(self, attention_dim: int):
        super().__init__()
        self.projection = nn.Linear(1, attention_dim, bias=False)  # w_c

    def forward(self, coverage: Tensor) -> Tensor:
        """(B, S) coverage -> (B, S, A) score features."""
        return self.projection(coverage.unsqueeze(-1))


def coverage_step_loss(attention: Tensor, coverage: Tensor) -> Tensor:
    """sum_j min(a_tj, c_tj): attention and coverage (B, S) -> (B,)."""
    return torch.minimum(attention, coverage).sum(dim=-1)


def advance_coverage(
    coverage: Tensor | None, attention: Tensor
) -> tuple[Tensor | None, Tensor | None]:
    """(c_{t+1}, loss_t) from c_t and a_t, both (B, S); (None, None) without coverage.

    c_{t+1} = c_t + a_t and loss_t = sum_j min(a_tj, c_tj) (See et al., 2017, section 2.3).
    """
    if coverage is None:
        return None, None
    return coverage + attention, coverage_step_loss(attention, coverage)
