"""Corpus BLEU and chrF2 with sacreBLEU defaults, for a variable number of references.

BLEU (Papineni et al., 2002) and chrF with beta 2 (Popović, 2015) as sacreBLEU computes
them (Post, 2018). See the design note DATA_SPLIT.md: hypotheses are detokenised text,
BLEU uses 13a tokenisation (cased) and missing references are padded with `None` (never
`''`, which sacreBLEU would keep as a zero-length reference and which can shift the
brevity penalty); the signatures then read `nrefs:var`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF

from nmt.errors import NmtError


@dataclass(frozen=True)
class CorpusScore:
    """Corpus-level scores (0-100) with the sacreBLEU signatures that reproduce them."""

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Transpose per-hypothesis reference lists into sacreBLEU streams, padding with None.

    `references[i]` holds the references of hypothesis i; the result holds one stream
    per reference slot, `streams[r][i]` being the r-th reference of hypothesis i or None.
    """
    if any(len(refs) == 0 for refs in references):
        raise NmtError("every hypothesis needs at least one reference")
    width = max((len(refs) for refs in references), default=0)
    return [[refs[r] if r < len(refs) else None for refs in references] for r in range(width)]


def score_corpus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> CorpusScore:
    """Score hypotheses against their (one or more) references with BLEU and chrF2.

    Raises NmtError when there are no hypotheses, their count differs from the reference
    lists', or a hypothesis has no reference.
    """
    if len(hypotheses) != len(references):
        raise NmtError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists; they must match"
        )
    if not hypotheses:
        raise NmtError("nothing to score: no hypotheses")
    streams = reference_streams(references)
    bleu, chrf = BLEU(), CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), streams)
    chrf_score = chrf.corpus_score(list(hypotheses), streams)
    return CorpusScore(
        bleu=float(bleu_score.score),
        chrf=float(chrf_score.score),
        bleu_signature=str(bleu.get_signature()),
        chrf_signature=str(chrf.get_signature()),
    )
