"""Batched beam search: every sentence x beam is one row of a single (n*K)-row batch.

Per step, each sentence's K live beams propose their K*V continuations ranked by summed
log-probability; of the 2K best, eos candidates ranked in the top K finish, and the K best
non-eos candidates live on (the state is reordered with one `index_select`). The first
step runs once per sentence and its output is then copied to the K rows (the K beams
start identical), which saves (K-1)/K of that step's work. Penalties
(GNMT length and coverage) score finished hypotheses only: live beams of a sentence all
have the same length, so the length penalty cannot reorder them.

Stopping: a sentence leaves the batch when its beams reach the length limit (they are
force-ended), or when no live beam can beat its n_best-th finished score. That bound,
best live log-prob / lp(max length), is exact since future log-probs are <= 0 and the
coverage penalty is <= 0; with no penalty it equals the best live log-prob. With penalties
the bound is loose, so a sentence also stops once it has K finished hypotheses (fairseq's
rule), which keeps beam size 1 identical to greedy search.
Shape alphabet: n active sentences, K beams, V vocabulary, N n_best.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from nmt.decoding.constraints import NEG_INF, constrain_, max_lengths
from nmt.decoding.greedy import banned_ids
from nmt.decoding.history import FinishedPool, History
from nmt.decoding.penalties import length_penalty, uses_penalties
from nmt.decoding.protocol import Decodable, SearchMemory, SearchState
from nmt.decoding.select import best_continuations
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.model.state import StepOutput


@dataclass(frozen=True)
class _Candidates:
    """Expansions of n sentences: summed log-prob, source row (n*K batch), next token."""

    scores: Tensor  # (n, C) best first
    rows: Tensor  # (n, C) long
    tokens: Tensor  # (n, C) long

    def take(self, index: Tensor) -> _Candidates:
        """Columns `index` (n, C') of every field."""
        return _Candidates(*(t.gather(1, index) for t in (self.scores, self.rows, self.tokens)))

    def head(self, columns: int) -> _Candidates:
        """The first `columns` columns (the best ones)."""
        return _Candidates(
            self.scores[:, :columns], self.rows[:, :columns], self.tokens[:, :columns]
        )

    def take_rows(self, index: Tensor) -> _Candidates:
        """Sentences `index` (n',)."""
        return _Candidates(
            *(t.index_select(0, index) for t in (self.scores, self.rows, self.tokens))
        )

    def cat(self, other: _Candidates) -> _Candidates:
        """Columns of self then of other."""
        pairs = zip(
            (self.scores, self.rows, self.tokens),
            (other.scores, other.rows, other.tokens),
            strict=True,
        )
        return _Candidates(*(torch.cat(pair, dim=1) for pair in pairs))


@dataclass(frozen=True)
class _Beams:
    """Bookkeeping of the n active sentences."""

    sentence_ids: Tensor  # (n,) index in the original batch
    limits: Tensor  # (n,) max tokens per hypothesis
    total: Tensor  # (n, K) summed log-prob of each live beam, best first
    kept: Tensor  # (n, N) best finished scores so far, -inf padded
    finished: Tensor  # (n,) number of finished hypotheses with a finite score

    def select(self, index: Tensor) -> _Beams:
        """Sentences `index`."""
        fields = (self.sentence_ids, self.limits, self.total, self.kept, self.finished)
        return _Beams(*(t.index_select(0, index) for t in fields))


def _start(limits: Tensor, k: int, n_best: int) -> _Beams:
    batch, device = limits.size(0), limits.device
    total = torch.full((batch, k), NEG_INF, device=device)
    total[:, 0] = 0.0  # the K beams start identical: expand only the first
    return _Beams(
        sentence_ids=torch.arange(batch, device=device),
        limits=limits,
        total=total,
        kept=torch.full((batch, n_best), NEG_INF, device=device),
        finished=torch.zeros(batch, dtype=torch.long, device=device),
    )


def _expand(total: Tensor, log_probs: Tensor) -> _Candidates:
    """The 2K best continuations of each sentence; total (n, K), log_probs (n*K, V)."""
    n, k = total.shape
    vocab = log_probs.size(1)
    scores, index = best_continuations(total, log_probs, 2 * k)  # (n, 2K) into K*V
    base = torch.arange(n, device=total.device).unsqueeze(1) * k
    return _Candidates(scores, base + index // vocab, index % vocab)


def _finish(
    pool: FinishedPool,
    ending: _Candidates,
    mask: Tensor,
    beams: _Beams,
    step: tuple[Tensor, StepOutput, History, SearchMemory],
    eos_id: int,
) -> Tensor:
    """Move the candidates where mask (n, C) into the pool; their scores at (n, C), else -inf."""
    log_probs, out, history, memory = step
    new_scores = torch.full_like(ending.scores, NEG_INF)
    index = mask.reshape(-1).nonzero().squeeze(1)  # (F,)
    if index.numel() == 0:
        return new_scores
    rows, tokens = ending.rows.reshape(-1)[index], ending.tokens.reshape(-1)[index]
    finished = history.advance(rows, tokens, log_probs[rows, tokens], out.attention, out.p_gen)
    sentences = beams.sentence_ids[index // mask.size(1)]
    total = ending.scores.reshape(-1)[index]
    source_mask = memory.mask[index // mask.size(1)]  # one memory row per sentence
    scores = pool.add(sentences, finished, tokens == eos_id, total, source_mask)
    new_scores.view(-1)[index] = scores
    return new_scores


def _record(beams: _Beams, live: _Candidates, new_scores: Tensor) -> _Beams:
    """Beams after a step: live log-probs, best kept scores and finished counts updated."""
    n_best = beams.kept.size(1)
    kept = torch.cat([beams.kept, new_scores], dim=1).topk(n_best, dim=1).values
    finished = beams.finished + (new_scores > NEG_INF).sum(dim=1)
    return replace(beams, total=live.scores, kept=kept, finished=finished)


def _done(beams: _Beams, forced: Tensor, options: SearchOptions, k: int) -> Tensor:
    """(n,) bool: sentences that no further step can improve (see the module docstring)."""
    bound = beams.total[:, 0] / length_penalty(beams.limits, options.length_penalty)
    done = forced | (bound <= beams.kept[:, -1])
    if uses_penalties(options):
        done = done | (beams.finished >= k)
    return done


def _first_step(
    model: Decodable, src: Tensor, src_lengths: Tensor, k: int, bos_id: int
) -> tuple[StepOutput, SearchState, SearchMemory]:
    """Encode src (B, S) and predict the first token once per sentence, then give every
    sentence K identical rows: the K beams start from the same bos and state. The memory
    keeps one row per sentence (the K beams read it through decode_step's broadcast)."""
    batch = src.size(0)
    memory, state = model.encode(src, src_lengths)
    bos = torch.full((batch,), bos_id, dtype=torch.long, device=src.device)
    out, state = model.decode_step(bos, state, memory)
    expand = torch.arange(batch, device=src.device).repeat_interleave(k)  # (B*K,)
    return out.index_select(expand), state.index_select(expand), memory


@torch.inference_mode()
def beam_search(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int = 2,
    eos_id: int = 3,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """Beam-search a padded batch src (B, S); n_best distinct hypotheses per sentence, best first.

    The beam holds max(beam_size, n_best) hypotheses, so n_best > beam_size widens it.
    Each hypothesis carries its attention (T, S) when `options.return_attention` or
    `keep_attention` is set.
    """
    if src.size(0) == 0:
        return []
    k, device = max(options.beam_size, options.n_best), src.device
    batch, src_len = src.shape
    out, state, memory = _first_step(model, src, src_lengths, k, bos_id)
    beams = _start(max_lengths(src_lengths, options, device), k, options.n_best)
    history = History.empty(batch * k, src_len, options, device, keep_attention)
    banned = banned_ids(model, bos_id, device)
    pool = FinishedPool(options, src_lengths.tolist())

    prev: Tensor | None = None  # (n*K,) the tokens the live beams emitted last
    for step in range(int(beams.limits.max())):
        if prev is not None:
            out, state = model.decode_step(prev, state, memory)
        log_probs = constrain_(out.log_probs.float(), history.tokens, options, eos_id, banned)
        candidates = _expand(beams.total, log_probs)  # (n, 2K)
        is_eos = candidates.tokens == eos_id  # at most K: one eos per live beam
        live = candidates.take(is_eos.long().argsort(dim=1, stable=True)[:, :k])  # (n, K)
        forced = step + 1 >= beams.limits  # (n,) the length limit force-ends the live beams
        ending = candidates.head(k).cat(live)  # (n, 2K)
        mask = torch.cat([is_eos[:, :k], forced.unsqueeze(1).expand(-1, k)], dim=1)  # (n, 2K)
        new_scores = _finish(pool, ending, mask, beams, (log_probs, out, history, memory), eos_id)
        beams = _record(beams, live, new_scores)
        done = _done(beams, forced, options, k)
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            beams, live = beams.select(keep), live.take_rows(keep)
            memory = memory.index_select(keep)
        rows, prev = live.rows.reshape(-1), live.tokens.reshape(-1)  # (n*K,)
        state = state.index_select(rows)
        history = history.advance(rows, prev, log_probs[rows, prev], out.attention, out.p_gen)
    return pool.hypotheses(options.n_best)
