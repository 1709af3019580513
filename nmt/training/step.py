"""One training step: collate a micro-batch, forward and backward it, update the weights."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from nmt.data.batching import Batch, collate
from nmt.data.dataset import ParallelIds
from nmt.data.tokenizer import Tokenizer
from nmt.training.loss import coverage_penalty_loss, sequence_loss
from nmt.training.progress import Progress
from nmt.training.setup import TrainingRun


@dataclass(frozen=True)
class MicroBatchLoss:
    """What one back-propagated micro-batch adds to the training meter."""

    nll_sum: float  # summed token NLL, nats (0 for a distributed padding step)
    tgt_tokens: int
    src_tokens: float


def mixed_precision(
    device: torch.device, amp: bool, cpu_bf16: bool = False
) -> AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA when `amp` is set, on the CPU when `cpu_bf16` is set
    (`TrainingRun.cpu_bf16`: asked for and native); a no-op context otherwise."""
    if device.type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def device_batch(ids: ParallelIds, indices: Any, tgt_tok: Tokenizer, device: torch.device) -> Batch:
    """Pad the examples `indices` of `ids` into a Batch on `device` (pad/bos/eos of tgt_tok)."""
    batch = collate(ids, indices, tgt_tok.pad_id, tgt_tok.bos_id, tgt_tok.eos_id)
    return batch.to(device, non_blocking=True)


def forward_backward(
    run: TrainingRun, batch: Batch, ratio: float, weight: float = 1.0
) -> MicroBatchLoss | None:
    """Forward and backward of one micro-batch; gradients accumulate.

    `ratio` is the teacher-forcing ratio (1.0: always feed the reference token).

    The loss is label-smoothed token cross-entropy, plus `coverage.loss_weight` times the
    coverage penalty when the model has coverage, scaled by `weight / accumulation_steps`.
    `weight` 0 marks a distributed padding step: it joins the gradient all-reduce but adds
    nothing to it. Returns None, without a backward pass, when the loss is not finite on
    some rank (every rank then skips it together).
    """
    cfg = run.config
    run.model.train()
    with mixed_precision(run.device, cfg.train.amp, run.cpu_bf16):
        out = run.forward(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=ratio)
        loss = sequence_loss(
            out.scores, batch.tgt_out, run.tgt_tok.pad_id, cfg.train.label_smoothing
        )
        total = loss.loss
        if out.coverage_loss is not None:
            coverage = coverage_penalty_loss(out.coverage_loss, batch.tgt_mask)
            total = total + cfg.model.coverage.loss_weight * coverage
    if not run.dist.all_true(bool(torch.isfinite(total).item()), run.device):
        return None
    (total * (weight / cfg.train.accumulation_steps)).backward()
    if weight == 0.0:
        return MicroBatchLoss(0.0, 0, 0.0)
    return MicroBatchLoss(float(loss.nll_sum), loss.n_tokens, float(batch.n_src_tokens))


def optimizer_update(run: TrainingRun, progress: Progress) -> torch.Tensor:
    """Clip the accumulated gradients, step the optimizer (and a per-update LR schedule).

    Counts the update in `progress.step`. Returns the gradient's total L2 norm before
    clipping, as a 0-d tensor on the model's device (read it lazily: `.item()` would wait
    for the GPU).
    """
    norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.config.train.clip_norm)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    if not run.lr_follows_validation:
        run.scheduler.step()
    progress.step += 1
    return norm.detach()
