"""sequence_loss and coverage_penalty_loss against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from nmt.training.loss import coverage_penalty_loss, sequence_loss

PAD = 0


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    log_probs = torch.randn(2, 3, 5).log_softmax(-1)
    targets = torch.tensor([[3, 1, 4], [2, PAD, PAD]])
    return log_probs, targets


def test_masked_mean_equals_hand_computation() -> None:
    log_probs, targets = _inputs()
    result = sequence_loss(log_probs, targets, PAD)
    picked = [log_probs[0, 0, 3], log_probs[0, 1, 1], log_probs[0, 2, 4], log_probs[1, 0, 2]]
    nll = -sum(float(p) for p in picked)
    assert result.n_tokens == 4
    assert result.loss.item() == pytest.approx(nll / 4, rel=1e-6)
    assert result.nll_sum.item() == pytest.approx(nll, rel=1e-6)
    assert not result.nll_sum.requires_grad


def test_pad_positions_do_not_contribute() -> None:
    log_probs, targets = _inputs()
    log_probs = log_probs.clone().requires_grad_(True)
    changed = log_probs.detach().clone()
    changed[1, 1:] = -1e9  # garbage where the target is pad
    for smoothing in (0.0, 0.2):
        a = sequence_loss(log_probs, targets, PAD, smoothing)
        b = sequence_loss(changed, targets, PAD, smoothing)
        assert a.loss.item() == pytest.approx(b.loss.item(), rel=1e-6)
        a.loss.backward()
        assert torch.all(log_probs.grad[1, 1:] == 0)
        log_probs.grad = None


def test_label_smoothing() -> None:
    log_probs, targets = _inputs()
    plain = sequence_loss(log_probs, targets, PAD, 0.0)
    zero = sequence_loss(log_probs, targets, PAD, label_smoothing=0.0)
    assert zero.loss.item() == plain.loss.item() == plain.nll_sum.item() / 4
    eps = 0.1
    smoothed = sequence_loss(log_probs, targets, PAD, label_smoothing=eps)
    total = 0.0
    for b, t in [(0, 0), (0, 1), (0, 2), (1, 0)]:
        row = log_probs[b, t]
        q = torch.full((5,), eps / 4)
        q[PAD] = 0.0
        q[targets[b, t]] += 1.0 - eps
        total += -(q * row).sum().item()
    assert smoothed.loss.item() == pytest.approx(total / 4, rel=1e-6)
    assert smoothed.nll_sum.item() == pytest.approx(plain.nll_sum.item())


def test_all_pad_batch_gives_zero_not_nan() -> None:
    log_probs, _ = _inputs()
    result = sequence_loss(log_probs, torch.zeros(2, 3, dtype=torch.long), PAD, 0.1)
    assert result.n_tokens == 0 and result.loss.item() == 0.0 and not math.isnan(result.loss)


def test_coverage_penalty_is_mean_over_real_tokens() -> None:
    coverage_loss = torch.tensor([[0.0, 0.5, 1.5], [0.0, 7.0, 9.0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    assert coverage_penalty_loss(coverage_loss, mask).item() == pytest.approx(2.0 / 4)


def _reference_loss(
    logits: torch.Tensor, targets: torch.Tensor, pad: int, eps: float
) -> torch.Tensor:
    """The unfused definition: log-softmax, gold NLL and a uniform non-pad smoothing term."""
    log_probs = logits.log_softmax(-1)
    mask = targets != pad
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    smooth = -(log_probs.sum(-1) - log_probs[..., pad]) / (logits.size(-1) - 1)
    per_token = ((1 - eps) * nll + eps * smooth) * mask
    return per_token.sum() / mask.sum()


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("normalise", [False, True])
def test_fused_loss_value_and_gradient_match_the_definition(eps: float, normalise: bool) -> None:
    torch.manual_seed(0)
    logits = (torch.randn(3, 5, 11, dtype=torch.float64) * 3).requires_grad_()
    targets = torch.randint(1, 11, (3, 5))
    targets[0, 3:] = 0
    scores = logits.log_softmax(-1) if normalise else logits  # copy models pass log-probs
    fused = sequence_loss(scores, targets, pad_id=0, label_smoothing=eps).loss
    (fused_grad,) = torch.autograd.grad(fused, logits)
    reference = _reference_loss(logits, targets, 0, eps)
    (reference_grad,) = torch.autograd.grad(reference, logits)
    torch.testing.assert_close(fused, reference)
    torch.testing.assert_close(fused_grad, reference_grad)
