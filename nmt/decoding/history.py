"""What the active rows have emitted so far, and the pool of finished hypotheses.

Everything stays on the search's device as batched tensors; only `FinishedPool.hypotheses`
(after the search) loops in Python. Shape alphabet: R rows, T emitted tokens, S source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nmt.decoding.penalties import hypothesis_scores
from nmt.decoding.types import Hypothesis, SearchOptions


def _cat_step(past: Tensor | None, step: Tensor | None) -> Tensor | None:
    if past is None or step is None:
        return None
    return torch.cat([past, step.unsqueeze(1)], dim=1)


@dataclass(frozen=True)
class History:
    """Per-row record of the emitted tokens (rows = sentences x beams)."""

    tokens: Tensor  # (R, T) long
    log_probs: Tensor  # (R, T) float, log-probability of each emitted token
    attention: Tensor | None  # (R, T, S), kept only when attention is returned
    p_gen: Tensor | None  # (R, T), kept when the model reports p_gen
    coverage: Tensor | None  # (R, S) running attention sum, kept for the coverage penalty

    @staticmethod
    def empty(
        rows: int,
        src_len: int,
        options: SearchOptions,
        device: torch.device,
        keep_attention: bool = False,
    ) -> History:
        """History of `rows` rows that have emitted nothing yet.

        Attention is kept when the options return it, or when `keep_attention` asks for it
        anyway (the text boundary aligns output words with it).
        """
        keep_attention = keep_attention or options.return_attention
        keep_coverage = options.coverage_penalty != 0.0
        return History(
            tokens=torch.empty(rows, 0, dtype=torch.long, device=device),
            log_probs=torch.empty(rows, 0, device=device),
            attention=torch.empty(rows, 0, src_len, device=device) if keep_attention else None,
            p_gen=torch.empty(rows, 0, device=device),  # dropped at the first step without p_gen
            coverage=torch.zeros(rows, src_len, device=device) if keep_coverage else None,
        )

    def select(self, rows: Tensor) -> History:
        """Rows `rows` (reorder, expand or shrink)."""
        fields = (self.tokens, self.log_probs, self.attention, self.p_gen, self.coverage)
        return History(*(None if t is None else t.index_select(0, rows) for t in fields))

    def advance(
        self,
        rows: Tensor | None,
        tokens: Tensor,
        token_log_probs: Tensor,
        step_attention: Tensor,
        step_p_gen: Tensor | None,
    ) -> History:
        """Rows `rows` (all rows when None) extended by one token each.

        tokens / token_log_probs (R',) belong to the selected rows; step_attention (R, S) and
        step_p_gen (R,) are the step's outputs for the current rows and are selected here.
        """
        past, attention, p_gen = self, step_attention.float(), step_p_gen  # attention (R', S)
        if rows is not None:
            past, attention = self.select(rows), attention.index_select(0, rows)
            p_gen = None if p_gen is None else p_gen.index_select(0, rows)
        p_gen = None if p_gen is None else p_gen.float()
        return History(
            tokens=torch.cat([past.tokens, tokens.unsqueeze(1)], dim=1),
            log_probs=torch.cat([past.log_probs, token_log_probs.unsqueeze(1)], dim=1),
            attention=_cat_step(past.attention, attention),
            p_gen=_cat_step(past.p_gen, p_gen),
            coverage=None if past.coverage is None else past.coverage + attention,
        )


class FinishedPool:
    """Finished hypotheses of one batch, stored as one chunk of tensors per step."""

    def __init__(self, options: SearchOptions, src_lengths: list[int]) -> None:
        self.options = options
        self.src_lengths = src_lengths
        self._chunks: list[tuple[Tensor, History, Tensor, Tensor, Tensor]] = []

    def add(
        self,
        sentence_ids: Tensor,
        history: History,
        ended_with_eos: Tensor,
        log_prob: Tensor,
        source_mask: Tensor,
    ) -> Tensor:
        """Store F finished rows (all of the same emitted length) and return their scores (F,).

        sentence_ids (F,) index the original batch; history holds their tokens, the eos
        included when ended_with_eos (F,); log_prob (F,) is their summed log-probability.
        """
        lengths = torch.full_like(sentence_ids, history.tokens.size(1))
        scores = hypothesis_scores(log_prob, lengths, history.coverage, source_mask, self.options)
        self._chunks.append((sentence_ids, history, ended_with_eos, log_prob, scores))
        return scores

    def hypotheses(self, n_best: int) -> list[list[Hypothesis]]:
        """The n_best best distinct hypotheses of every sentence, best first."""
        found: list[list[Hypothesis]] = [[] for _ in self.src_lengths]
        for chunk in self._chunks:
            for sentence, hypothesis in self._unpack(*chunk):
                found[sentence].append(hypothesis)
        return [_best_distinct(candidates, n_best) for candidates in found]

    def _unpack(
        self, ids: Tensor, history: History, eos: Tensor, log_prob: Tensor, scores: Tensor
    ) -> list[tuple[int, Hypothesis]]:
        tokens, token_lps = history.tokens.tolist(), history.log_probs.tolist()
        p_gen = None if history.p_gen is None else history.p_gen.tolist()
        attention = None if history.attention is None else history.attention.cpu()
        rows = zip(ids.tolist(), eos.tolist(), log_prob.tolist(), scores.tolist(), strict=True)
        out = []
        for row, (sentence, ended, total, score) in enumerate(rows):
            hypothesis = Hypothesis(
                tokens=tokens[row][:-1] if ended else tokens[row],
                score=score,
                log_prob=total,
                token_log_probs=token_lps[row],
                p_gen=None if p_gen is None else p_gen[row],
            )
            if attention is not None:
                hypothesis.attention = attention[row, :, : self.src_lengths[sentence]].clone()
            out.append((sentence, hypothesis))
        return out


def _best_distinct(candidates: list[Hypothesis], n_best: int) -> list[Hypothesis]:
    """Best first, one per token sequence; impossible (-inf) ones only if nothing else is left."""
    ranked = sorted(candidates, key=lambda h: h.score, reverse=True)
    possible = [h for h in ranked if not math.isinf(h.log_prob)]
    chosen, seen = [], set()
    for hypothesis in possible or ranked:
        key = tuple(hypothesis.tokens)
        if key not in seen:
            seen.add(key)
            chosen.append(hypothesis)
    if not chosen:  # every row was pruned as impossible before finishing
        chosen.append(Hypothesis(tokens=[], score=float("-inf"), log_prob=float("-inf")))
    return chosen[:n_best]
