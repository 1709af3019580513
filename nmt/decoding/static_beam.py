"""Beam search on fixed shapes, for a GPU: every step is the same kernels on the same buffers.

`beam_search` (nmt.decoding.beam) shrinks its batch as sentences finish and moves finished
hypotheses to the host as they appear, so each step runs a few dozen small ops of
different shapes and several host syncs. On a GPU that made beam-5 decoding host-bound:
on an H200 a step cost ~6 ms of host time against ~0.4 ms of device work, and one
captured CUDA graph of the decoder step ran in 0.22 ms instead of 1.30 ms eager
(docs/RESULTS.md, 2026-11-30). Here:

- all n*K rows decode at every step; a finished sentence is masked (`alive`), not removed;
- the history is back-pointers: per step, each row's parent row, token, token log-prob
  and the step's attention, written at a device-side step index into preallocated
  (R, T) buffers (no per-step `cat` or reordering of the past);
- finishing candidates are recorded per step in (n, T, 2K) buffers, with their scores;
  the hypotheses are rebuilt on the host once, after the search;
- the stopping test is read one step late through pinned memory: no host sync per step.

So one step is a fixed sequence of tensor ops that `GraphedBeamSearch` can replay as one
CUDA graph (nmt.decoding.graphs). The search rules are `beam_search`'s: the same
candidates, the same finishing and stopping rules, the same pool order, so the same
hypotheses (tests/decoding/test_static_beam.py checks it against `beam_search`).
Not supported (`supports` says so; `search` falls back): the coverage penalty and
n-gram blocking, which read each row's whole history.
Shape alphabet: n sentences, K beams, R = n*K rows, T steps, S source, V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from nmt.decoding.beam import _expand, _first_step
from nmt.decoding.constraints import NEG_INF, max_lengths
from nmt.decoding.greedy import banned_ids
from nmt.decoding.penalties import length_penalty, uses_penalties
from nmt.decoding.protocol import Decodable
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.model.state import DecoderState, EncoderMemory, StepOutput


def supports(options: SearchOptions) -> bool:
    """Whether the static search implements these options (else use `beam_search`)."""
    return options.coverage_penalty == 0.0 and options.no_repeat_ngram_size == 0


@dataclass
class SearchBuffers:
    """Every tensor a step reads or writes; updated in place so a CUDA graph can replay it."""

    prev: Tensor  # (R,) long, the token each row emitted last
    state: DecoderState  # R rows
    memory: EncoderMemory  # n rows
    step: Tensor  # () long, tokens emitted so far
    limits: Tensor  # (n,) long, max tokens per hypothesis
    alive: Tensor  # (n,) bool, still searching
    total: Tensor  # (n, K) summed log-prob of the live beams, best first
    kept: Tensor  # (n, N) best finished scores so far
    finished: Tensor  # (n,) long, finished hypotheses with a finite score
    parents: Tensor  # (R, T) long, row (at step t) each row of step t+1 continues
    tokens: Tensor  # (R, T) long, the token chosen at step t (post-reorder numbering)
    token_log_probs: Tensor  # (R, T)
    attention: Tensor | None  # (R, T, S) the step's attention (pre-reorder numbering)
    p_gen: Tensor | None  # (R, T) copy models (pre-reorder numbering)
    ended: Tensor  # (n, T, 2K) bool, candidate finished at step t
    ended_scores: Tensor  # (n, T, 2K) ranking score (-inf where not ended)
    ended_rows: Tensor  # (n, T, 2K) long, the row (pre-reorder) it continues
    ended_tokens: Tensor  # (n, T, 2K) long
    ended_totals: Tensor  # (n, T, 2K) summed log-prob
    ended_token_log_probs: Tensor  # (n, T, 2K)

    @staticmethod
    def allocate(
        out: StepOutput,
        state: DecoderState,
        memory: EncoderMemory,
        limits: Tensor,
        alive: Tensor,
        k: int,
        n_best: int,
        keep_attention: bool,
        steps: int | None = None,
    ) -> SearchBuffers:
        """Buffers for a batch whose first step gave `out` and `state` (R rows), for
        `steps` steps (default: the longest limit)."""
        n, device = limits.size(0), limits.device
        rows, src_len = n * k, memory.mask.size(1)
        steps = int(limits.max()) if steps is None else steps
        total = torch.full((n, k), NEG_INF, device=device)
        total[:, 0] = 0.0  # the K beams start identical: expand only the first

        def per_row(dtype: torch.dtype = torch.float) -> Tensor:
            return torch.zeros(rows, steps, dtype=dtype, device=device)

        def per_candidate(dtype: torch.dtype = torch.float) -> Tensor:
            return torch.zeros(n, steps, 2 * k, dtype=dtype, device=device)

        return SearchBuffers(
            prev=torch.zeros(rows, dtype=torch.long, device=device),
            state=state,
            memory=memory,
            step=torch.zeros((), dtype=torch.long, device=device),
            limits=limits.clone(),  # owned: the steps edit them, the caller may reuse its own
            alive=alive.clone(),
            total=total,
            kept=torch.full((n, n_best), NEG_INF, device=device),
            finished=torch.zeros(n, dtype=torch.long, device=device),
            parents=per_row(torch.long),
            tokens=per_row(torch.long),
            token_log_probs=per_row(),
            attention=torch.zeros(rows, steps, src_len, device=device) if keep_attention else None,
            p_gen=None if out.p_gen is None else per_row(),
            ended=per_candidate(torch.bool),
            ended_scores=per_candidate(),
            ended_rows=per_candidate(torch.long),
            ended_tokens=per_candidate(torch.long),
            ended_totals=per_candidate(),
            ended_token_log_probs=per_candidate(),
        )


def _write_step(buffer: Tensor, step: Tensor, value: Tensor) -> None:
    """buffer[:, step] = value, with step a device scalar (graph-safe)."""
    buffer.index_copy_(1, step.view(1), value.unsqueeze(1))


def copy_fields(target: object, source: object) -> None:
    """Copy every tensor field of a dataclass into `target`'s tensors, in place (nested
    DecoderState / EncoderMemory too; None fields are skipped)."""
    for field in fields(target):  # type: ignore[arg-type]
        into, value = getattr(target, field.name), getattr(source, field.name)
        if isinstance(into, Tensor):
            into.copy_(value)
        elif isinstance(into, DecoderState | EncoderMemory):
            copy_fields(into, value)


class StaticStep:
    """One search step over `SearchBuffers`: `advance(out)` after a decoder step, or
    `__call__()` for the decoder step and the advance together (what a graph captures)."""

    def __init__(
        self,
        model: Decodable,
        options: SearchOptions,
        bos_id: int,
        eos_id: int,
        device: torch.device,
    ) -> None:
        self.model, self.options, self.eos_id = model, options, eos_id
        self.k = max(options.beam_size, options.n_best)
        self.banned = banned_ids(model, bos_id, device)  # made here: no host copy in a graph
        self.buffers: SearchBuffers | None = None

    def __call__(self) -> None:
        """Decode one token for every row from the buffers' state, then advance."""
        b = self._buffers()
        out, state = self.model.decode_step(b.prev, b.state, b.memory)
        self.advance(out, state)

    def _buffers(self) -> SearchBuffers:
        if self.buffers is None:
            raise RuntimeError("StaticStep has no buffers: set .buffers first")
        return self.buffers

    def advance(self, out: StepOutput, state: DecoderState) -> None:
        """Choose, record and reorder, as one `beam_search` step does, in place."""
        b, k, options = self._buffers(), self.k, self.options
        log_probs = out.log_probs.float()
        log_probs.index_fill_(1, self.banned, NEG_INF)
        if options.min_length > 0:
            eos = log_probs[:, self.eos_id]
            log_probs[:, self.eos_id] = eos.masked_fill(b.step < options.min_length, NEG_INF)
        candidates = _expand(b.total, log_probs)  # (n, 2K)
        is_eos = candidates.tokens == self.eos_id
        live = candidates.take(is_eos.long().argsort(dim=1, stable=True)[:, :k])  # (n, K)
        forced = b.step + 1 >= b.limits  # (n,)
        ending = candidates.head(k).cat(live)  # (n, 2K)
        mask = torch.cat([is_eos[:, :k], forced.unsqueeze(1).expand(-1, k)], dim=1)
        mask = mask & b.alive.unsqueeze(1)
        scores = ending.scores
        if options.length_penalty != 0.0:
            scores = scores / length_penalty(b.step + 1, options.length_penalty)
        new_scores = scores.masked_fill(~mask, NEG_INF)
        for buffer, value in (
            (b.ended, mask),
            (b.ended_scores, new_scores),
            (b.ended_rows, ending.rows),
            (b.ended_tokens, ending.tokens),
            (b.ended_totals, ending.scores),
            (b.ended_token_log_probs, log_probs[ending.rows, ending.tokens]),
        ):
            _write_step(buffer, b.step, value)
        kept = torch.cat([b.kept, new_scores], dim=1).topk(b.kept.size(1), dim=1).values
        b.kept.copy_(kept)
        b.finished.add_((new_scores > NEG_INF).sum(dim=1))
        b.total.copy_(live.scores)
        bound = b.total[:, 0] / length_penalty(b.limits, options.length_penalty)
        done = forced | (bound <= b.kept[:, -1])
        if uses_penalties(options):
            done = done | (b.finished >= k)
        b.alive.logical_and_(~done)
        rows, tokens = live.rows.reshape(-1), live.tokens.reshape(-1)  # (R,)
        if b.attention is not None:
            _write_step(b.attention, b.step, out.attention.float())
        if b.p_gen is not None and out.p_gen is not None:
            _write_step(b.p_gen, b.step, out.p_gen.float())
        _write_step(b.parents, b.step, rows)
        _write_step(b.tokens, b.step, tokens)
        _write_step(b.token_log_probs, b.step, log_probs[rows, tokens])
        copy_fields(b.state, state.index_select(rows))
        b.prev.copy_(tokens)
        b.step.add_(1)


@dataclass(frozen=True)
class _Host:
    """What the hypotheses are rebuilt from, on the host (lists indexed [row][step])."""

    parents: list[list[int]]
    tokens: list[list[int]]
    token_log_probs: list[list[float]]
    p_gen: list[list[float]] | None


@dataclass(frozen=True)
class _Candidate:
    """One finishing candidate, as recorded at the step it ended."""

    step: int
    score: float
    total: float
    row: int  # pre-reorder row it continued
    token: int
    last_log_prob: float


def _ranked(candidates: list[_Candidate]) -> list[_Candidate]:
    """Best first, as `FinishedPool` ranks them: given in step then column order, stably
    sorted by score; impossible (-inf) ones only if nothing else is left."""
    order = sorted(candidates, key=lambda candidate: candidate.score, reverse=True)
    possible = [candidate for candidate in order if not math.isinf(candidate.total)]
    return possible or order


def _candidates(buffers: SearchBuffers, steps: int, sentences: int) -> list[list[_Candidate]]:
    """Every recorded candidate of the first `sentences` sentences, in step/column order."""
    b = buffers
    marked = b.ended[:sentences, :steps].nonzero()  # (M, 3): sentence, step, column
    at = marked.unbind(1)
    values = (b.ended_scores, b.ended_totals, b.ended_token_log_probs)
    floats = torch.stack([t[:sentences, :steps][at] for t in values], dim=1).tolist()
    picked = [t[:sentences, :steps][at] for t in (b.ended_rows, b.ended_tokens)]
    longs = torch.stack([marked[:, 0], marked[:, 1], *picked], dim=1).tolist()
    found: list[list[_Candidate]] = [[] for _ in range(sentences)]
    for (sentence, step, row, token), (score, total, last) in zip(longs, floats, strict=True):
        found[sentence].append(_Candidate(step, score, total, row, token, last))
    return found


def hypotheses(
    buffers: SearchBuffers,
    steps: int,
    sentences: int,
    src_lengths: list[int],
    options: SearchOptions,
    eos_id: int,
) -> list[list[Hypothesis]]:
    """The n_best best distinct hypotheses of the first `sentences` sentences, best first
    (`FinishedPool.hypotheses`); only the candidates the ranking reaches are rebuilt, and
    their attention is gathered in one indexing op."""
    b = buffers
    host = _Host(
        parents=b.parents[:, :steps].tolist(),
        tokens=b.tokens[:, :steps].tolist(),
        token_log_probs=b.token_log_probs[:, :steps].tolist(),
        p_gen=None if b.p_gen is None else b.p_gen[:, :steps].tolist(),
    )
    found: list[list[Hypothesis]] = []
    paths: list[tuple[Hypothesis, list[int], int]] = []  # attention still to gather
    for i, candidates in enumerate(_candidates(b, steps, sentences)):
        chosen: list[Hypothesis] = []
        seen: set[tuple[int, ...]] = set()
        for candidate in _ranked(candidates):
            hypothesis, path = _rebuild(host, candidate, eos_id)
            if tuple(hypothesis.tokens) not in seen:
                seen.add(tuple(hypothesis.tokens))
                chosen.append(hypothesis)
                paths.append((hypothesis, path, src_lengths[i]))
                if len(chosen) == options.n_best:
                    break
        if not chosen:  # every sentence is force-ended at its limit: a bug, never a result
            raise RuntimeError(f"static beam search recorded no hypothesis for sentence {i}")
        found.append(chosen)
    if b.attention is not None and paths:
        _gather_attention(b.attention[:, :steps], paths)
    return found


def _gather_attention(attention: Tensor, paths: list[tuple[Hypothesis, list[int], int]]) -> None:
    """Set each hypothesis's attention (T, S) from the (R, T, S) buffer along its path."""
    rows = [row for _, path, _ in paths for row in path]
    steps = [t for _, path, _ in paths for t in range(len(path))]
    index = torch.tensor([rows, steps], device=attention.device)
    gathered = attention[index[0], index[1]].cpu()  # (sum of lengths, S)
    start = 0
    for hypothesis, path, src_length in paths:
        hypothesis.attention = gathered[start : start + len(path), :src_length].clone()
        start += len(path)


def _rebuild(host: _Host, candidate: _Candidate, eos_id: int) -> tuple[Hypothesis, list[int]]:
    """The hypothesis a candidate ends, and its path: back-pointers followed from its row.

    path[t] is the row that computed step t (t = 0..step): step t's attention is row
    path[t]'s, and step t's token was chosen for row path[t + 1].
    """
    step, token = candidate.step, candidate.token
    path = [candidate.row]
    for t in range(step - 1, -1, -1):
        path.append(host.parents[path[-1]][t])
    path.reverse()
    emitted = [host.tokens[path[t + 1]][t] for t in range(step)] + [token]
    log_probs = [host.token_log_probs[path[t + 1]][t] for t in range(step)]
    hypothesis = Hypothesis(
        tokens=emitted[:-1] if token == eos_id else emitted,
        score=candidate.score,
        log_prob=candidate.total,
        token_log_probs=[*log_probs, candidate.last_log_prob],
    )
    if host.p_gen is not None:
        hypothesis.p_gen = [host.p_gen[r][t] for t, r in enumerate(path)]
    return hypothesis, path


def start(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int,
    keep_attention: bool,
    alive: Tensor | None = None,
    steps: int | None = None,
) -> tuple[StepOutput, DecoderState, SearchBuffers]:
    """Encode, take the first decoder step, and allocate the buffers (alive: (n,) bool;
    steps: see `SearchBuffers.allocate`)."""
    k = max(options.beam_size, options.n_best)
    out, state, memory = _first_step(model, src, src_lengths, k, bos_id)
    limits = max_lengths(src_lengths, options, src.device)
    if alive is None:
        alive = torch.ones(src.size(0), dtype=torch.bool, device=src.device)
    keep = keep_attention or options.return_attention
    buffers = SearchBuffers.allocate(
        out, state, memory, limits, alive, k, options.n_best, keep, steps
    )
    return out, state, buffers


@torch.inference_mode()
def static_beam_search(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int = 2,
    eos_id: int = 3,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """`beam_search` on fixed shapes, eagerly (any device); see the module docstring.

    Raises ValueError for options `supports` refuses.
    """
    if not supports(options):
        raise ValueError("the static beam search has no coverage penalty or n-gram blocking")
    if src.size(0) == 0:
        return []
    out, state, buffers = start(model, src, src_lengths, options, bos_id, keep_attention)
    step = StaticStep(model, options, bos_id, eos_id, src.device)
    step.buffers = buffers
    step.advance(out, state)
    steps = 1
    while steps < buffers.parents.size(1) and bool(buffers.alive.any()):
        step()
        steps += 1
    return hypotheses(buffers, steps, src.size(0), src_lengths.tolist(), options, eos_id)
