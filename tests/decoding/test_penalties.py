"""GNMT length and coverage penalties."""

from __future__ import annotations

import math

import pytest
import torch

from nmt.decoding.penalties import coverage_penalty, hypothesis_scores, length_penalty
from nmt.decoding.types import SearchOptions


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_length_penalty_formula(alpha: float) -> None:
    lengths = torch.tensor([1, 4, 13])
    expected = [((5 + n) / 6) ** alpha for n in (1, 4, 13)]
    assert length_penalty(lengths, alpha).tolist() == pytest.approx(expected)


def test_coverage_penalty_hand_made() -> None:
    coverage = torch.tensor([[0.5, 2.0, 0.25, 9.0], [1.0, 1.0, 0.0, 0.1]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    expected_first = 0.3 * (math.log(0.5) + 0.0 + math.log(0.25))  # padding ignored, 2.0 capped
    out = coverage_penalty(coverage, mask, 0.3)
    assert out[0].item() == pytest.approx(expected_first)
    # an unattended word costs a lot, but finitely so that hypotheses can still be ranked
    assert math.isfinite(out[1].item())
    assert out[1].item() < 0.3 * (10 * math.log(0.1) + math.log(0.1))


def test_hypothesis_scores_combine_both() -> None:
    options = SearchOptions(length_penalty=0.8, coverage_penalty=0.2)
    log_prob = torch.tensor([-3.0])
    coverage, mask = torch.tensor([[0.5, 1.5]]), torch.tensor([[True, True]])
    score = hypothesis_scores(log_prob, torch.tensor([4]), coverage, mask, options)
    expected = -3.0 / ((5 + 4) / 6) ** 0.8 + 0.2 * math.log(0.5)
    assert score.item() == pytest.approx(expected)
    plain = hypothesis_scores(log_prob, torch.tensor([4]), None, mask, SearchOptions())
    assert plain.item() == -3.0
