"""The `search` dispatcher."""

from __future__ import annotations

import pytest

from nmt.decoding import beam_search, greedy_search, search
from nmt.decoding.types import SearchOptions

from .fakes import FakeModel, pad_batch, random_table

V = 10


def test_dispatches_on_beam_size_and_n_best() -> None:
    model = FakeModel(random_table(V, seed=9), V)
    src, lengths = pad_batch([[4, 5, 6], [7]])
    one = search(model, src, lengths, SearchOptions())
    assert [[h.tokens for h in r] for r in one] == [
        [h.tokens for h in r] for r in greedy_search(model, src, lengths, SearchOptions())
    ]
    wide = SearchOptions(beam_size=1, n_best=3)  # n_best widens the beam to 3
    results = search(model, src, lengths, wide)
    assert [len(r) for r in results] == [3, 3]
    expected = beam_search(model, src, lengths, SearchOptions(beam_size=3, n_best=3))
    assert [[h.tokens for h in r] for r in results] == [[h.tokens for h in r] for r in expected]


@pytest.mark.parametrize(("beam", "n_best"), [(0, 1), (2, 0)])
def test_rejects_empty_beams(beam: int, n_best: int) -> None:
    src, lengths = pad_batch([[4]])
    with pytest.raises(ValueError, match="beam_size and n_best"):
        search(FakeModel(random_table(V), V), src, lengths, SearchOptions(beam, n_best))
