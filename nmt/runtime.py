"""Device selection and seeding, shared by training and inference."""

from __future__ import annotations

import random

import numpy as np
import torch

from nmt.errors import NmtError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when available, else CPU; NmtError for 'cuda' without a GPU or an
    unknown name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NmtError("device 'cuda' requested but no CUDA GPU is available (use --device cpu)")
    if name not in {"cpu"} and not name.startswith("cuda"):
        raise NmtError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16).

    Read from the `flags` line of /proc/cpuinfo (Linux; `cpuinfo` overrides the file's
    text, for tests); False where it cannot be read. Without these instructions oneDNN
    emulates bf16 matmuls and autocast makes CPU training slower, not faster.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


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
