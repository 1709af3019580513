"""Search settings and results shared by greedy and beam search."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class SearchOptions:
    """How to search; the defaults give plain greedy decoding."""

    beam_size: int = 1
    n_best: int = 1
    length_penalty: float = 0.0  # GNMT alpha: score / ((5 + |y|) / 6) ** alpha; 0 disables
    coverage_penalty: float = 0.0  # GNMT beta: + beta * sum_j log(min(sum_t a_tj, 1)); 0 disables
    max_length_a: float = 10.0  # hypotheses stop at a + b * source length tokens
    max_length_b: float = 2.0
    min_length: int = 0  # eos is forbidden before this many tokens
    no_repeat_ngram_size: int = 0  # forbid repeating any n-gram of this size; 0 disables
    return_attention: bool = False

    def max_length(self, source_length: int) -> int:
        """Longest allowed hypothesis (tokens, eos excluded) for a source of this length."""
        return max(1, int(self.max_length_a + self.max_length_b * source_length))


@dataclass
class Hypothesis:
    """One finished hypothesis for one source sentence."""

    tokens: list[int]  # target ids, bos and eos excluded
    score: float  # ranking score (length and coverage penalties applied)
    log_prob: float  # sum of the token log-probabilities (eos included)
    token_log_probs: list[float] = field(default_factory=list)  # per token, eos included
    attention: Tensor | None = None  # (T, S) on CPU, rows per emitted token incl. eos
    p_gen: list[float] | None = None  # per emitted token, copy models only
