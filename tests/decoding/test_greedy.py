"""Greedy search on the fake model: hand-made paths, limits, constraints, penalties."""

from __future__ import annotations

import math

import pytest
import torch

from nmt.decoding import greedy_search
from nmt.decoding.types import Hypothesis, SearchOptions

from .fakes import EOS, FakeModel, log_softmax, pad_batch, random_table, table

V = 10


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _greedy(model: FakeModel, sources: list[list[int]], options: SearchOptions) -> list[Hypothesis]:
    src, lengths = pad_batch(sources)
    results = greedy_search(model, src, lengths, options)
    assert all(len(r) == 1 for r in results)
    return [r[0] for r in results]


def test_follows_the_most_probable_token() -> None:
    rules = {(): {4: 0.5, 5: 0.4}, (4,): {6: 0.35, 5: 0.3, 7: 0.25}, (4, 6): {EOS: 0.9}}
    fn = table(V, rules)
    [hyp] = _greedy(FakeModel(fn, V), [[4, 5]], SearchOptions())
    assert hyp.tokens == [4, 6]
    expected = [math.log(0.5), math.log(0.35), math.log(0.9)]
    assert hyp.token_log_probs == pytest.approx(expected, abs=1e-5)
    assert hyp.log_prob == pytest.approx(sum(expected), abs=1e-5)
    assert hyp.score == hyp.log_prob
    assert hyp.attention is None and hyp.p_gen is None


def test_batched_equals_one_by_one() -> None:
    model = FakeModel(random_table(V, seed=3), V)
    sources = [[4, 5, 6, 7, 8, 9], [5], [9, 8, 4], [6, 6], [7, 4, 5, 9]]
    options = SearchOptions(length_penalty=0.6, coverage_penalty=0.2, return_attention=True)
    batched = _greedy(model, sources, options)
    for source, hyp in zip(sources, batched, strict=True):
        [alone] = _greedy(model, [source], options)
        assert alone.tokens == hyp.tokens
        assert alone.score == pytest.approx(hyp.score, abs=1e-5)
        assert torch.allclose(alone.attention, hyp.attention)
    assert len({tuple(h.tokens) for h in batched}) > 1, "the sources should be told apart"


def test_finished_sentences_leave_the_batch() -> None:
    def copy_source(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
        probs = [0.01] * V
        probs[EOS if len(prefix) >= len(source) else source[len(prefix)]] = 0.92
        return [math.log(p) for p in probs]

    model = FakeModel(copy_source, V)
    hyps = _greedy(model, [[4], [5, 6, 7], [8, 9]], SearchOptions())
    assert [h.tokens for h in hyps] == [[4], [5, 6, 7], [8, 9]]
    assert model.batch_sizes == [3, 3, 2, 1]


def _without_eos(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
    log_probs = random_table(V, seed=1)(prefix, source)
    log_probs[EOS] = -60.0
    return log_softmax(log_probs)


def test_max_length_force_ends_without_eos() -> None:
    options = SearchOptions(max_length_a=2.0, max_length_b=1.0)
    sources = [[4], [4, 5, 6, 7]]
    hyps = _greedy(FakeModel(_without_eos, V), sources, options)
    for source, hyp in zip(sources, hyps, strict=True):
        assert len(hyp.tokens) == options.max_length(len(source))
        assert EOS not in hyp.tokens
        assert len(hyp.token_log_probs) == len(hyp.tokens)  # no eos emitted
        assert hyp.log_prob == pytest.approx(sum(hyp.token_log_probs), abs=1e-5)


@pytest.mark.parametrize("min_length", [0, 1, 3])
def test_min_length_delays_eos(min_length: int) -> None:
    eager = table(V, {})  # eos at 0.99 everywhere
    [hyp] = _greedy(FakeModel(eager, V), [[4, 5]], SearchOptions(min_length=min_length))
    assert len(hyp.tokens) == min_length
    assert hyp.token_log_probs[-1] == pytest.approx(math.log(0.99), abs=1e-5)


def repeater(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
    """Prefers 4 > 5 > 6 > ... at every step, so unblocked decoding repeats 4."""
    return log_softmax([4.0 - token if token >= 4 else -30.0 for token in range(V)])


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_no_repeat_ngram(n: int) -> None:
    options = SearchOptions(max_length_a=6.0, max_length_b=0.0, no_repeat_ngram_size=n)
    [hyp] = _greedy(FakeModel(repeater, V), [[4]], options)
    assert len(hyp.tokens) == 6
    if n == 0:
        assert hyp.tokens == [4] * 6
        return
    ngrams = [tuple(hyp.tokens[i : i + n]) for i in range(len(hyp.tokens) - n + 1)]
    assert len(ngrams) == len(set(ngrams))
    by_hand = {1: [4, 5, 6, 7, 8, 9], 2: [4, 4, 5, 4, 6, 4], 3: [4, 4, 4, 5, 4, 4]}
    assert hyp.tokens == by_hand[n]


def test_coverage_and_length_penalty_formula() -> None:
    alpha, beta = 0.7, 0.4
    options = SearchOptions(length_penalty=alpha, coverage_penalty=beta, return_attention=True)
    model = FakeModel(random_table(V, seed=5), V, with_p_gen=True)
    sources = [[4, 5, 6, 7, 8, 9, 4, 5], [6, 7]]
    for source, hyp in zip(sources, _greedy(model, sources, options), strict=True):
        emitted = len(hyp.tokens) + 1  # eos included
        assert hyp.attention is not None and hyp.attention.shape == (emitted, len(source))
        assert torch.allclose(hyp.attention.sum(dim=1), torch.ones(emitted))
        # uniform attention: every real source word has coverage emitted / |x|
        coverage = len(source) * math.log(min(emitted / len(source), 1.0))
        expected = hyp.log_prob / ((5 + emitted) / 6) ** alpha + beta * coverage
        assert hyp.score == pytest.approx(expected, abs=1e-5)
        assert hyp.p_gen is not None and len(hyp.p_gen) == emitted
