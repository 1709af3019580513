"""Beam search on the fake model, checked against a plain per-hypothesis reference."""

from __future__ import annotations

import math

import pytest
import torch

from nmt.decoding import beam_search, greedy_search
from nmt.decoding.types import Hypothesis, SearchOptions

from .fakes import BOS, EOS, PAD, FakeModel, NextLogProbs, pad_batch, random_table, table

V = 10
SOURCES = [[4, 5, 6, 7, 8, 9], [5], [9, 8, 4], [6, 6, 7, 7]]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _beam(model: FakeModel, sources: list[list[int]], options: SearchOptions):
    src, lengths = pad_batch(sources)
    return beam_search(model, src, lengths, options)


def reference_beam(
    fn: NextLogProbs, source: list[int], options: SearchOptions
) -> list[tuple[list[int], float]]:
    """Textbook beam search, one hypothesis at a time, run to the length limit; no penalties."""
    k, limit = max(options.beam_size, options.n_best), options.max_length(len(source))
    live: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[list[int], float]] = []
    for step in range(limit):
        candidates = []
        for prefix, total in live:
            for token, log_prob in enumerate(fn(prefix, tuple(source))):
                if token not in (PAD, BOS):
                    candidates.append((total + log_prob, prefix, token))
        best = sorted(candidates, key=lambda c: -c[0])[: 2 * k]
        finished += [(list(p), s) for s, p, t in best[:k] if t == EOS]
        live = [(p + (t,), s) for s, p, t in best if t != EOS][:k]
        if step + 1 == limit:
            finished += [(list(p), s) for p, s in live]
    return sorted(finished, key=lambda f: -f[1])[: options.n_best]


def _check_log_probs_follow_the_model(fn: NextLogProbs, source: list[int], hyp: Hypothesis) -> None:
    """Each token's log-prob is the model's for that exact prefix: the state followed the beam."""
    emitted = hyp.tokens + [EOS] if len(hyp.token_log_probs) > len(hyp.tokens) else hyp.tokens
    expected = [fn(tuple(emitted[:i]), tuple(source))[t] for i, t in enumerate(emitted)]
    assert hyp.token_log_probs == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("seed", "beam", "n_best"), [(0, 3, 3), (1, 4, 2), (2, 2, 1)])
def test_matches_reference_beam_search(seed: int, beam: int, n_best: int) -> None:
    fn = random_table(V, seed=seed, eos_growth=0.25)
    options = SearchOptions(beam_size=beam, n_best=n_best, max_length_a=3.0, max_length_b=1.0)
    results = _beam(FakeModel(fn, V), SOURCES, options)
    for source, hyps in zip(SOURCES, results, strict=True):
        reference = reference_beam(fn, source, options)
        assert [h.tokens for h in hyps] == [tokens for tokens, _ in reference]
        assert [h.log_prob for h in hyps] == pytest.approx([s for _, s in reference], abs=1e-4)
        for hyp in hyps:
            _check_log_probs_follow_the_model(fn, source, hyp)
            assert hyp.score == hyp.log_prob


def test_n_best_sorted_and_distinct() -> None:
    options = SearchOptions(beam_size=5, n_best=5, length_penalty=0.6)
    results = _beam(FakeModel(random_table(V, seed=4), V), SOURCES, options)
    for hyps in results:
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5


def test_finds_a_better_sequence_than_greedy() -> None:
    rules = {(): {4: 0.5, 5: 0.4}, (4,): {6: 0.35, 5: 0.3, 7: 0.25}, (5,): {EOS: 0.9}}
    model = FakeModel(table(V, rules), V)
    src, lengths = pad_batch([[4, 5]])
    [[greedy]] = greedy_search(model, src, lengths, SearchOptions())
    [[best]] = beam_search(model, src, lengths, SearchOptions(beam_size=2))
    assert greedy.tokens == [4, 6]
    assert best.tokens == [5]
    assert best.log_prob == pytest.approx(math.log(0.4 * 0.9), abs=1e-5)
    assert best.log_prob > greedy.log_prob


LENGTH_RULES = {(): {EOS: 0.5, 6: 0.48}, (6,): {EOS: 0.999}}


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_length_penalty_changes_the_ranking(alpha: float) -> None:
    model = FakeModel(table(V, LENGTH_RULES), V)
    options = SearchOptions(beam_size=2, n_best=2, length_penalty=alpha)
    [hyps] = _beam(model, [[4, 5]], options)
    for hyp in hyps:
        assert hyp.score == pytest.approx(hyp.log_prob / ((5 + len(hyp.tokens) + 1) / 6) ** alpha)
    by_tokens = {tuple(h.tokens): h for h in hyps}
    assert by_tokens[()].log_prob == pytest.approx(math.log(0.5), abs=1e-5)
    assert by_tokens[(6,)].log_prob == pytest.approx(math.log(0.48 * 0.999), abs=1e-5)
    assert hyps[0].tokens == ([] if alpha == 0.0 else [6])
    # the search must not stop at the short hypothesis when a longer one can still win
    [[one]] = _beam(model, [[4, 5]], SearchOptions(beam_size=2, length_penalty=alpha))
    assert one.tokens == hyps[0].tokens


OPTION_SETS = [
    SearchOptions(),
    SearchOptions(length_penalty=0.6, coverage_penalty=0.3, return_attention=True),
    SearchOptions(min_length=2, no_repeat_ngram_size=2, max_length_a=4.0, max_length_b=0.5),
]


@pytest.mark.parametrize("options", OPTION_SETS)
def test_beam_one_is_greedy(options: SearchOptions) -> None:
    model = FakeModel(random_table(V, seed=6), V, with_p_gen=True)
    src, lengths = pad_batch(SOURCES)
    greedy = greedy_search(model, src, lengths, options)
    beam = beam_search(model, src, lengths, options)
    for [g], [b] in zip(greedy, beam, strict=True):
        assert (b.tokens, b.log_prob, b.token_log_probs) == (
            g.tokens,
            g.log_prob,
            g.token_log_probs,
        )
        assert b.score == pytest.approx(g.score, abs=1e-6)
        assert b.p_gen == g.p_gen
        if options.return_attention:
            assert torch.equal(b.attention, g.attention)


@pytest.mark.parametrize("options", OPTION_SETS)
def test_batched_equals_one_by_one(options: SearchOptions) -> None:
    options = SearchOptions(**{**vars(options), "beam_size": 3, "n_best": 2})
    model = FakeModel(random_table(V, seed=7), V)
    batched = _beam(model, SOURCES, options)
    for source, hyps in zip(SOURCES, batched, strict=True):
        [alone] = _beam(model, [source], options)
        assert [h.tokens for h in alone] == [h.tokens for h in hyps]
        assert [h.score for h in alone] == pytest.approx([h.score for h in hyps], abs=1e-5)
        if options.return_attention:
            for a, h in zip(alone, hyps, strict=True):
                assert a.attention.shape == (len(a.token_log_probs), len(source))
                assert torch.allclose(a.attention, h.attention)


def test_stops_early_and_shrinks_the_batch() -> None:
    def copy_source(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
        probs = [0.01] * V
        probs[EOS if len(prefix) >= len(source) else source[len(prefix)]] = 0.92
        return [math.log(p) for p in probs]

    model = FakeModel(copy_source, V)
    results = _beam(model, [[4], [5, 6, 7], [8, 9]], SearchOptions(beam_size=2))
    assert [r[0].tokens for r in results] == [[4], [5, 6, 7], [8, 9]]
    # the first step once per sentence, then 3 sentences x 2 beams, then fewer
    assert model.batch_sizes == [3, 6, 4, 2]


def test_limits_and_constraints_hold_in_every_beam() -> None:
    options = SearchOptions(
        beam_size=4,
        n_best=4,
        min_length=2,
        no_repeat_ngram_size=1,
        max_length_a=5.0,
        max_length_b=0,
    )
    for hyps in _beam(FakeModel(random_table(V, seed=8, eos_growth=-0.5), V), SOURCES, options):
        for hyp in hyps:
            assert 2 <= len(hyp.tokens) <= 5
            assert len(set(hyp.tokens)) == len(hyp.tokens)
            assert not {PAD, BOS, EOS} & set(hyp.tokens)


def test_empty_batch() -> None:
    model = FakeModel(random_table(V), V)
    src, lengths = torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    assert beam_search(model, src, lengths, SearchOptions(beam_size=2)) == []
    assert greedy_search(model, src, lengths, SearchOptions()) == []
