"""What a translator returns: plain dataclasses, importable without the model stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# The piece that ends `Translation.source_pieces` and `target_pieces` (the model's eos):
# sentencepiece's default end-of-sentence piece, as `nmt.data.tokenizer` trains it.
EOS_PIECE = "</s>"


class Link(NamedTuple):
    """One target token of `Translation.text` and the source characters it translates.

    All four are character offsets: `text[target_start:target_end]` is the token,
    `source[source_start:source_end]` the source text it is aligned to (the model's
    attention, or the exact span for a number, URL... carried over verbatim).
    """

    source_start: int
    source_end: int
    target_start: int
    target_end: int


@dataclass(frozen=True)
class Alternative:
    """A lower-ranked hypothesis of an n-best list."""

    text: str
    score: float


@dataclass(frozen=True)
class Translation:
    """The translation of one input text, with what a caller may want to inspect.

    The pieces, log-probabilities and attention are those of the model's own input and
    output: after the text boundary (`nmt.text`) cleaned the input, normalised its case
    and put placeholders in place of protected spans. `text` and `alignment` are the
    final result, in the caller's terms. Log-probabilities and scores are natural logs.
    """

    source: str
    text: str
    score: float  # ranking score of the best hypothesis
    token_log_probs: list[float]  # per target token of the best hypothesis, eos included
    source_pieces: list[str]  # the model's input pieces, then EOS_PIECE
    target_pieces: list[str]  # the output pieces, then EOS_PIECE unless cut at the length limit
    alternatives: list[Alternative] = field(default_factory=list)
    attention: list[list[float]] | None = None  # (target pieces + eos) x (source pieces + eos)
    copy_probability: list[float] | None = None  # 1 - p_gen per target token (copy models)
    alignment: list[Link] | None = None  # target tokens of `text` -> characters of `source`
    parts: int = 1  # model calls the text took (> 1: split for being over the length limit)

    @property
    def mean_log_prob(self) -> float:
        """Mean token log-probability: a length-independent confidence."""
        return sum(self.token_log_probs) / max(1, len(self.token_log_probs))
