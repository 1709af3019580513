"""Checkpoint averaging: the mean of the weights of several bundles of one model."""

from __future__ import annotations

from pathlib import Path

import torch

from nmt.errors import CheckpointError
from nmt.training.checkpoint import load_bundle, save_bundle


def average_checkpoints(checkpoints: list[Path], out: Path) -> Path:
    """Average the weights of `checkpoints` (same config and tokenizer) into a new bundle."""
    if not checkpoints:
        raise CheckpointError("no checkpoints to average")
    bundles = [load_bundle(path) for path in checkpoints]
    first = bundles[0]
    for other in bundles[1:]:
        if other.config != first.config or other.tokenizer_files != first.tokenizer_files:
            raise CheckpointError(f"{other.path}: config or tokenizer differs from {first.path}")
    averaged = {
        name: torch.stack([b.state_dict[name].float() for b in bundles]).mean(0).to(tensor.dtype)
        if tensor.is_floating_point()
        else tensor
        for name, tensor in first.state_dict.items()
    }
    metadata = {k: v for k, v in first.metadata.items() if k not in {"files", "scores"}}
    metadata["averaged_from"] = [str(b.path.resolve()) for b in bundles]
    metadata["scores"] = {}
    return save_bundle(out, averaged, first.config, metadata, first.tokenizer_files)
