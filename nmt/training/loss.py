"""Training losses: pure functions of model outputs and targets.

Label smoothing (Szegedy et al., 2016) uses the target distribution
q = (1 - eps) onehot(y) + eps * uniform, where the uniform part spreads over the V - 1
non-pad tokens (the gold token included), since pad is never a valid prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class LossResult:
    """The loss to backpropagate plus the statistics to log."""

    loss: Tensor  # scalar: mean over non-pad tokens (smoothed if label_smoothing > 0)
    nll_sum: Tensor  # scalar fp32, detached: summed NLL of the gold tokens, no smoothing
    n_tokens: int  # number of non-pad target tokens


class _SmoothedCrossEntropy(torch.autograd.Function):
    """Fused label-smoothed cross-entropy over rows of scores (N, V).

    Works on logits or on log-probabilities alike (for normalised log-probs the
    log-sum-exp is 0 and contributes no gradient). Only the scores and one (N,) vector
    are kept for backward, which writes the gradient in three passes instead of
    materialising log-softmax, one-hot and smoothing tensors.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, scores: Tensor, targets: Tensor, pad_id: int, smoothing: float
    ) -> tuple[Tensor, Tensor]:
        vocab = scores.size(-1)
        dtype = torch.promote_types(scores.dtype, torch.float32)  # bf16 -> fp32 accumulation
        mask = (targets != pad_id).to(dtype)  # (N,)
        lse = torch.logsumexp(scores.to(dtype), dim=-1)  # (N,)
        gold = scores.gather(-1, targets.unsqueeze(-1)).squeeze(-1).to(dtype)
        nll = (lse - gold) * mask
        per_token = nll
        if smoothing > 0.0:
            non_pad_mean = (scores.sum(-1, dtype=dtype) - scores[:, pad_id].to(dtype)) / (vocab - 1)
            per_token = (1.0 - smoothing) * nll + smoothing * (lse - non_pad_mean) * mask
        ctx.save_for_backward(scores, targets, lse, mask)
        ctx.pad_id, ctx.smoothing = pad_id, smoothing
        nll_sum = nll.sum()
        ctx.mark_non_differentiable(nll_sum)
        return per_token.sum(), nll_sum

    @staticmethod
    def backward(ctx: Any, grad_loss: Tensor, _grad_nll: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        scores, targets, lse, mask = ctx.saved_tensors
        pad_id, smoothing = ctx.pad_id, ctx.smoothing
        uniform = smoothing / (scores.size(-1) - 1)
        scale = (mask * grad_loss).unsqueeze(-1)  # (N, 1)
        grad = torch.exp(scores.to(lse.dtype) - lse.unsqueeze(-1))  # softmax, (N, V)
        if uniform:
            grad.sub_(uniform)
        grad.mul_(scale)
        grad.scatter_add_(-1, targets.unsqueeze(-1), -(1.0 - smoothing) * scale)
        if uniform:
            grad[:, pad_id] += uniform * scale.squeeze(-1)
        return grad.to(scores.dtype), None, None, None


def sequence_loss(
    scores: Tensor, targets: Tensor, pad_id: int, label_smoothing: float = 0.0
) -> LossResult:
    """Token-level cross-entropy of scores (B, T, V) against targets (B, T), pads ignored.

    `scores` are logits or log-probabilities (B, T, V); both give the same loss. targets
    (B, T) long; B sentences, T target pieces, V vocabulary. `loss` is in nats per non-pad
    token, `nll_sum` in nats.
    """
    flat_scores = scores.reshape(-1, scores.size(-1))  # (B*T, V)
    flat_targets = targets.reshape(-1)
    total, nll_sum = _SmoothedCrossEntropy.apply(flat_scores, flat_targets, pad_id, label_smoothing)
    n_tokens = int((flat_targets != pad_id).sum())
    return LossResult(loss=total / max(n_tokens, 1), nll_sum=nll_sum.detach(), n_tokens=n_tokens)


def coverage_penalty_loss(coverage_loss: Tensor, mask: Tensor) -> Tensor:
    """Mean of the per-step coverage loss (B, T) over the real target tokens mask (B, T)."""
    mask = mask.to(coverage_loss.dtype)
    return (coverage_loss * mask).sum() / mask.sum().clamp_min(1.0)
