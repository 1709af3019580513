"""Optimiser, learning-rate schedule and teacher-forcing schedule from the TrainConfig."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from nmt.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> Optimizer:
    """Adam (Kingma & Ba, 2015) or AdamW (decoupled weight decay, Loshchilov & Hutter, 2019)
    over all trainable parameters (fused kernels on CUDA)."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = all(p.is_cuda for p in params)
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(
        params,
        lr=config.learning_rate,
        betas=config.betas,
        weight_decay=config.weight_decay,
        fused=fused or None,
    )


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the base learning rate after `step` optimizer updates.

    Linear warm-up over `warmup_steps`, then: "inverse_sqrt" sqrt(warmup / step) (Vaswani
    et al., 2017); "cosine" half a cosine from 1 down to min_learning_rate / learning_rate
    at max_steps, without restarts (Loshchilov & Hutter, 2017); otherwise 1.
    """
    warmup = config.warmup_steps
    if warmup and step < warmup:
        return (step + 1) / warmup
    if config.lr_schedule == "inverse_sqrt":
        return math.sqrt(max(warmup, 1) / max(step, 1))
    if config.lr_schedule == "cosine":
        span = max(1, config.max_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        floor = config.min_learning_rate / config.learning_rate
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def build_scheduler(optimizer: Optimizer, config: TrainConfig) -> LRScheduler | ReduceLROnPlateau:
    """A per-step LambdaLR, or ReduceLROnPlateau on validation BLEU for 'plateau'."""
    if config.lr_schedule == "plateau":
        return ReduceLROnPlateau(
            optimizer,
            mode="max",
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_learning_rate,
        )
    return LambdaLR(optimizer, lambda step: lr_factor(step, config))


def teacher_forcing_ratio(step: int, config: TrainConfig) -> float:
    """Linear decay from 1.0 to config.teacher_forcing over teacher_forcing_decay_steps:
    scheduled sampling's linear schedule (Bengio et al., 2015)."""
    if config.teacher_forcing >= 1.0:
        return 1.0
    if config.teacher_forcing_decay_steps == 0:
        return config.teacher_forcing
    progress = min(1.0, step / config.teacher_forcing_decay_steps)
    return 1.0 - progress * (1.0 - config.teacher_forcing)
