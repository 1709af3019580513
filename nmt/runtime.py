"""Device selection and seeding, shared by training and inference."""

from __future__ import annotations

import random

import numpy as np
import torch

from nmt.errors import NmtError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NmtError("device 'cuda' requested but no CUDA GPU is available (use --device cpu)")
    if name not in {"cpu"} and not name.startswith("cuda"):
        raise NmtError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, object]:
    """Snapshot of the torch RNGs the training loop draws from (dropout, sampling).

    Batch order comes from generators seeded by (seed, epoch), so it needs no state.
    """
    state: dict[str, object] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, object]) -> None:
    """Restore a snapshot taken by `rng_state` (CUDA part only where a GPU is present)."""
    torch.set_rng_state(state["torch"])  # type: ignore[arg-type]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])  # type: ignore[arg-type]
