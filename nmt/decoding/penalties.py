"""GNMT scoring of finished hypotheses (Wu et al., 2016, section 7).

score = log P(y|x) / lp(y) + cp(x; y), with lp(y) = ((5 + |y|) / 6) ** alpha and
cp = beta * sum_j log(min(sum_t a_tj, 1)) over the real source positions j.
|y| counts every emitted token, eos included (a force-ended hypothesis has no eos).
"""

from __future__ import annotations

import torch
from torch import Tensor

from nmt.decoding.types import SearchOptions

# log(0) for a never-attended source word would make every score -inf and rank nothing.
_MIN_COVERAGE = 1e-10


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """lp = ((5 + |y|) / 6) ** alpha for each length (R,); all ones when alpha is 0."""
    if alpha == 0.0:
        return torch.ones_like(lengths, dtype=torch.float)
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def coverage_penalty(coverage: Tensor, source_mask: Tensor, beta: float) -> Tensor:
    """beta * sum_j log(min(c_j, 1)) over real positions j; coverage, mask (R, S) -> (R,)."""
    logs = coverage.float().clamp(min=_MIN_COVERAGE, max=1.0).log()
    return beta * logs.masked_fill(~source_mask, 0.0).sum(dim=-1)


def hypothesis_scores(
    log_prob: Tensor,
    lengths: Tensor,
    coverage: Tensor | None,
    source_mask: Tensor,
    options: SearchOptions,
) -> Tensor:
    """Ranking scores (R,) of finished hypotheses from their summed log-probabilities (R,).

    lengths (R,) long emitted tokens, coverage and source_mask (R, S). Raises ValueError
    for a coverage penalty without coverage.
    """
    scores = log_prob
    if options.length_penalty != 0.0:
        scores = scores / length_penalty(lengths, options.length_penalty)
    if options.coverage_penalty != 0.0:
        if coverage is None:
            raise ValueError("the coverage penalty needs the search to accumulate attention")
        scores = scores + coverage_penalty(coverage, source_mask, options.coverage_penalty)
    return scores


def uses_penalties(options: SearchOptions) -> bool:
    """Whether the ranking score differs from the raw log-probability."""
    return options.length_penalty != 0.0 or options.coverage_penalty != 0.0
