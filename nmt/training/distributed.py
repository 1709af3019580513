"""torch.distributed plumbing for data-parallel training (torchrun sets the environment).

Each epoch's global batch list is the same on every rank (seeded by seed and epoch);
rank r takes batches g + r for g = start, start + W, ... so the ranks see disjoint
batches, together exactly the epoch. Where the last round has fewer batches than ranks,
the ranks without one run a zero-weight step on a repeat so collective calls stay in step.
Progress is counted in global batches, so a run can resume on a different world size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nmt.errors import NmtError


@dataclass(frozen=True)
class DistContext:
    """Rank and world size of this process (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when there is more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone validates, logs and writes checkpoints."""
        return self.rank == 0

    def all_true(self, flag: bool, device: torch.device) -> bool:
        """True only if `flag` is true on every rank."""
        if not self.enabled:
            return flag
        value = torch.tensor([1 if flag else 0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def total(self, value: float, device: torch.device) -> float:
        """Sum of `value` over the ranks."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return float(tensor.item())

    def from_main(self, value: float, device: torch.device) -> float:
        """Rank 0's `value`, on every rank."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.enabled:
            dist.barrier()


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise NmtError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPUs")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistContext(rank, world_size, local_rank)


def close_distributed(context: DistContext) -> None:
    """Leave the process group (safe to call when not distributed).

    Every rank meets at a barrier first: a rank that tore its group down while another
    still had gloo work in flight aborted that one at exit ("terminate called without an
    active exception"). Called after a run that ended normally only, where every rank
    reaches it; a rank that raised never waits here.
    """
    if context.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_schedule(
    num_batches: int, start: int, rank: int, world_size: int
) -> Iterator[tuple[int, int, float]]:
    """(batch index, global position after the round, weight) for each of this rank's steps.

    Weight 0 marks a padding step (a repeat whose gradient must not count).
    """
    for first in range(start, num_batches, world_size):
        index = first + rank
        after = min(first + world_size, num_batches)
        if index < num_batches:
            yield index, after, 1.0
        else:
            yield first, after, 0.0
