"""Bahdanau attention and the coverage feature."""

from __future__ import annotations

import torch

from nmt.model.attention import BahdanauAttention, attend
from nmt.model.coverage import Coverage, coverage_step_loss


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    states = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    query = torch.randn(3, 6)
    return states, mask, query, torch.rand(3, 5)


def test_weights_sum_to_one_and_are_zero_on_pads() -> None:
    states, mask, query, coverage = _inputs()
    attention = BahdanauAttention(query_dim=6, key_dim=8, attention_dim=4)
    keys = attention.project_keys(states)
    for extra in (None, Coverage(4)(coverage)):
        weights = attention(query * 50, keys, mask, extra)
        assert weights.shape == (3, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3))
        assert torch.all(weights[~mask] == 0)
        assert torch.all(weights[mask] > 0)
        assert weights[2, 0].item() == 1.0


def test_attend_is_the_weighted_sum() -> None:
    states, _, _, _ = _inputs()
    weights = torch.softmax(torch.randn(3, 5), -1)
    expected = torch.stack([(weights[b, :, None] * states[b]).sum(0) for b in range(3)])
    torch.testing.assert_close(attend(weights, states), expected)


def test_coverage_changes_scores_and_loss_is_sum_of_minimum() -> None:
    states, mask, query, coverage = _inputs()
    attention = BahdanauAttention(6, 8, 4)
    keys = attention.project_keys(states)
    plain = attention(query, keys, mask)
    covered = attention(query, keys, mask, Coverage(4)(coverage))
    assert not torch.allclose(plain, covered)
    loss = coverage_step_loss(plain, coverage)
    expected = [
        sum(min(a, c) for a, c in zip(pa, cv, strict=True))
        for pa, cv in zip(plain.tolist(), coverage.tolist(), strict=True)
    ]
    torch.testing.assert_close(loss, torch.tensor(expected))
