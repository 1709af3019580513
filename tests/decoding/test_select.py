"""best_continuations against the plain add + topk over every candidate."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from nmt.decoding.select import best_continuations, chunk_width


def _plain(total: Tensor, log_probs: Tensor, count: int) -> tuple[Tensor, Tensor]:
    n, k = total.shape
    flat = (total.reshape(-1, 1) + log_probs).view(n, k * log_probs.size(1))
    scores, index = flat.topk(count, dim=1)
    return scores, index


def _inputs(n: int, k: int, vocab: int, seed: int, ties: bool) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(n * k, vocab, generator=generator).mul(3).log_softmax(-1)
    total = -torch.rand(n, k, generator=generator) * 20
    if ties:  # few distinct values: many exact ties inside and across chunks and beams
        log_probs, total = log_probs.mul(2).round().div(2), total.round()
    log_probs[:, [0, 2]] = float("-inf")  # banned ids
    total[0, 1:] = float("-inf")  # a first step: only beam 0 is live
    return total, log_probs


@pytest.mark.parametrize("vocab", [8000, 24, 10, 7])
@pytest.mark.parametrize("ties", [False, True])
def test_same_scores_as_a_full_topk(vocab: int, ties: bool) -> None:
    n, k = 6, 5
    total, log_probs = _inputs(n, k, vocab, seed=vocab, ties=ties)
    scores, index = best_continuations(total, log_probs, 2 * k)
    expected_scores, expected_index = _plain(total, log_probs, 2 * k)
    assert torch.equal(scores, expected_scores)  # bit-identical, best first
    flat = (total.reshape(-1, 1) + log_probs).view(n, -1)
    assert torch.equal(flat.gather(1, index), scores)  # each index names its own score
    assert all(len(set(row)) == 2 * k for row in index.tolist())  # no candidate twice
    if not ties:  # distinct finite scores: the same candidates in the same order
        finite = scores.isfinite()
        assert torch.equal(index[finite], expected_index[finite])


def test_chunk_width_divides_and_leaves_enough_chunks() -> None:
    assert chunk_width(8000, 5, 10) == 64
    assert chunk_width(24, 5, 10) == 8
    assert chunk_width(10, 5, 10) == 2
    assert chunk_width(7, 5, 10) == 0  # odd vocabulary: the plain path
    assert chunk_width(4, 1, 2) == 2
    assert chunk_width(2, 1, 2) == 0  # one chunk of 2 cannot give 2 chunks
