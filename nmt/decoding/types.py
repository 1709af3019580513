"""Search settings and results shared by greedy and beam search."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from torch import Tensor

from nmt.config import MAX_BEAM_SIZE, DecodeConfig
from nmt.errors import SearchOptionsError


@dataclass(frozen=True)
class SearchOptions:
    """How to search; the defaults give plain greedy decoding.

    Lengths count pieces (a source's include its eos); the penalties are GNMT's (Wu et al.,
    2016; nmt.decoding.penalties).
    """

    beam_size: int = 1
    n_best: int = 1
    length_penalty: float = 0.0  # GNMT alpha: score / ((5 + |y|) / 6) ** alpha; 0 disables
    coverage_penalty: float = 0.0  # GNMT beta: + beta * sum_j log(min(sum_t a_tj, 1)); 0 disables
    max_length_a: float = 10.0  # hypotheses stop at a + b * source length tokens
    max_length_b: float = 2.0
    min_length: int = 0  # eos is forbidden before this many tokens
    no_repeat_ngram_size: int = 0  # forbid repeating any n-gram of this size; 0 disables
    return_attention: bool = False

    @classmethod
    def from_decode(cls, decode: DecodeConfig) -> SearchOptions:
        """A model's default search: the fields its config's `decode` section sets.

        `n_best` stays 1 and attention is not returned: those are per call.
        """
        return cls(
            beam_size=decode.beam_size,
            length_penalty=decode.length_penalty,
            coverage_penalty=decode.coverage_penalty,
            max_length_a=decode.max_length_a,
            max_length_b=decode.max_length_b,
            min_length=decode.min_length,
            no_repeat_ngram_size=decode.no_repeat_ngram_size,
        )

    def merged(self, **overrides: Any) -> SearchOptions:
        """These options with each override that is not None put on top, checked.

        The one rule for a caller's choices over a model's defaults: the command line,
        the v1 and LibreTranslate APIs and validation all call it. Raises
        SearchOptionsError (a ValueError) for an unknown field, a beam outside
        1..MAX_BEAM_SIZE or an n_best outside 1..beam_size.
        """
        given = {name: value for name, value in overrides.items() if value is not None}
        unknown = sorted(given.keys() - {f.name for f in fields(self)})
        if unknown:
            raise SearchOptionsError(f"unknown search option(s): {', '.join(unknown)}")
        options = replace(self, **given)
        if not 1 <= options.beam_size <= MAX_BEAM_SIZE:
            raise SearchOptionsError(
                f"beam size must be between 1 and {MAX_BEAM_SIZE}, got {options.beam_size}"
            )
        if not 1 <= options.n_best <= options.beam_size:
            raise SearchOptionsError(
                f"n_best must be between 1 and the beam size ({options.beam_size}), "
                f"got {options.n_best}"
            )
        return options

    def max_length(self, source_length: int) -> int:
        """Longest allowed hypothesis (tokens, eos excluded) for a source of this length."""
        return max(1, int(self.max_length_a + self.max_length_b * source_length))


@dataclass
class Hypothesis:
    """One finished hypothesis for one source sentence; log-probabilities are natural logs."""

    tokens: list[int]  # target ids, bos and eos excluded
    score: float  # ranking score (length and coverage penalties applied)
    log_prob: float  # sum of the token log-probabilities (eos included)
    token_log_probs: list[float] = field(default_factory=list)  # per token, eos included
    attention: Tensor | None = None  # (T, S) on CPU, rows per emitted token incl. eos
    p_gen: list[float] | None = None  # per emitted token, copy models only
