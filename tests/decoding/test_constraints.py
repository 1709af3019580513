"""Hard constraints on one step's log-probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from nmt.decoding.constraints import block_repeated_ngrams, constrain, max_lengths
from nmt.decoding.types import SearchOptions

from .fakes import BOS, EOS, PAD

V = 8


def _blocked(history: list[int], n: int) -> set[int]:
    log_probs = torch.zeros(1, V)
    out = block_repeated_ngrams(log_probs, torch.tensor([history]), n)
    return {token for token in range(V) if math.isinf(out[0, token].item())}


@pytest.mark.parametrize(
    ("history", "n", "expected"),
    [
        ([4, 5, 4], 1, {4, 5}),  # unigrams: nothing seen may come again
        ([4, 5, 4], 2, {5}),  # "4 5" exists, last token is 4
        ([4, 5, 4], 3, set()),  # "5 4 x" never seen
        ([4, 5, 6, 4, 5], 3, {6}),
        ([4, 5, 7, 4, 5, 6, 4], 3, set()),  # prefix "6 4" unseen
        ([4, 5, 7, 6, 4, 5], 3, {7}),
        ([4, 5, 7, 4, 5, 6, 4, 5], 3, {6, 7}),  # one prefix, two continuations
        ([4], 2, set()),  # no complete bigram yet
        ([], 1, set()),
    ],
)
def test_block_repeated_ngrams_hand_made(history: list[int], n: int, expected: set[int]) -> None:
    assert _blocked(history, n) == expected


def test_block_repeated_ngrams_is_per_row() -> None:
    history = torch.tensor([[4, 5, 4], [6, 7, 6]])
    out = block_repeated_ngrams(torch.zeros(2, V), history, 2)
    assert torch.isinf(out[0]).nonzero().flatten().tolist() == [5]
    assert torch.isinf(out[1]).nonzero().flatten().tolist() == [7]


def test_constrain_bans_specials_and_early_eos() -> None:
    options = SearchOptions(min_length=2)
    banned = torch.tensor([PAD, BOS])
    log_probs = torch.log_softmax(torch.randn(3, V, generator=torch.Generator().manual_seed(0)), -1)
    for step in range(4):
        history = torch.full((3, step), 5, dtype=torch.long)
        out = constrain(log_probs, history, options, EOS, banned)
        assert torch.isinf(out[:, [PAD, BOS]]).all()
        assert bool(torch.isinf(out[:, EOS]).all()) == (step < 2)
        others = [t for t in range(V) if t not in (PAD, BOS, EOS)]
        assert torch.equal(out[:, others], log_probs[:, others])
    assert not torch.isinf(log_probs).any(), "the input must not be modified"


def test_max_lengths_follow_options() -> None:
    options = SearchOptions(max_length_a=3.0, max_length_b=1.5)
    lengths = torch.tensor([1, 4, 7])
    expected = [options.max_length(n) for n in (1, 4, 7)]
    assert expected == [4, 9, 13]
    assert max_lengths(lengths, options, torch.device("cpu")).tolist() == expected
