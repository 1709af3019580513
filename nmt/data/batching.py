"""Length-bucketed, token-budgeted batches of padded id tensors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from nmt.data.dataset import ParallelIds


@dataclass(frozen=True)
class Batch:
    """Padded tensors of one batch.

    tgt_in is [bos] + y and tgt_out is y + [eos]; both padded with pad_id.
    """

    src: torch.Tensor  # (B, S) long
    src_lengths: torch.Tensor  # (B,) long
    tgt_in: torch.Tensor  # (B, T) long
    tgt_out: torch.Tensor  # (B, T) long
    indices: torch.Tensor  # (B,) long, example indices in the split
    n_src_tokens: int
    n_tgt_tokens: int  # non-pad tokens of tgt_out
    pad_id: int = 0

    def __len__(self) -> int:
        return self.src.shape[0]

    @property
    def tgt_mask(self) -> torch.Tensor:
        """(B, T) bool, True where tgt_out is not padding."""
        return self.tgt_out != self.pad_id

    @property
    def src_mask(self) -> torch.Tensor:
        """(B, S) bool, True where src is not padding."""
        return self.src != self.pad_id

    def to(self, device: torch.device | str, non_blocking: bool = True) -> Batch:
        """A copy with every tensor on device."""

        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device, non_blocking=non_blocking)

        return Batch(
            src=move(self.src),
            src_lengths=move(self.src_lengths),
            tgt_in=move(self.tgt_in),
            tgt_out=move(self.tgt_out),
            indices=move(self.indices),
            n_src_tokens=self.n_src_tokens,
            n_tgt_tokens=self.n_tgt_tokens,
            pad_id=self.pad_id,
        )


def keep_mask(
    src_lengths: np.ndarray, tgt_lengths: np.ndarray, max_length: int | None
) -> np.ndarray:
    """(n,) bool: examples whose source and target are both at most max_length (all if None)."""
    if max_length is None:
        return np.ones(len(src_lengths), dtype=bool)
    return (np.asarray(src_lengths) <= max_length) & (np.asarray(tgt_lengths) <= max_length)


def _chunk(
    order: np.ndarray, src_len: np.ndarray, tgt_len: np.ndarray, max_tokens: int
) -> list[np.ndarray]:
    """Greedily cut sorted indices so that B * (max_src + max_tgt + 1) <= max_tokens."""
    batches: list[np.ndarray] = []
    start, max_src, max_tgt = 0, 0, 0
    src_sorted = src_len[order].tolist()
    tgt_sorted = tgt_len[order].tolist()
    for pos, (s, t) in enumerate(zip(src_sorted, tgt_sorted, strict=True)):
        new_src, new_tgt = max(max_src, s), max(max_tgt, t)
        if pos > start and (pos - start + 1) * (new_src + new_tgt + 1) > max_tokens:
            batches.append(order[start:pos])
            start, new_src, new_tgt = pos, s, t
        max_src, max_tgt = new_src, new_tgt
    if len(order) > start:
        batches.append(order[start:])
    return batches


def batch_indices(
    src_lengths: np.ndarray,
    tgt_lengths: np.ndarray,
    max_tokens: int,
    shuffle: bool,
    seed: int,
    epoch: int,
    max_length: int | None = None,
) -> list[np.ndarray]:
    """Example indices per batch, bucketed by length under a padded token budget.

    Examples are sorted by (target length, source length) with a tie-break that is random
    (seeded by seed, epoch) when shuffle else by index; sorted runs are cut greedily so that
    B * (max source len + max target len + 1) <= max_tokens (one over-long example forms a
    batch of its own); the batch order is then shuffled by (seed, epoch) when shuffle.
    Examples longer than max_length (source or target) are left out; see keep_mask.
    Lengths and budgets count pieces. Raises ValueError for max_tokens below 1.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    src_len = np.asarray(src_lengths, dtype=np.int64)
    tgt_len = np.asarray(tgt_lengths, dtype=np.int64)
    kept = np.flatnonzero(keep_mask(src_len, tgt_len, max_length))
    rng = np.random.default_rng([seed, epoch])
    tie = rng.random(len(kept)) if shuffle else np.arange(len(kept))
    order = kept[np.lexsort((tie, src_len[kept], tgt_len[kept]))]
    batches = _chunk(order, src_len, tgt_len, max_tokens)
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def collate(ids: ParallelIds, indices: np.ndarray, pad_id: int, bos_id: int, eos_id: int) -> Batch:
    """Pad the examples at indices into a Batch (vectorised; no per-token Python loop)."""
    indices = np.asarray(indices, dtype=np.int64)
    src_len = ids.src_lengths[indices]
    tgt_len = ids.tgt_lengths[indices]
    batch_size = len(indices)
    rows = np.arange(batch_size)

    src = np.full((batch_size, int(src_len.max(initial=0))), pad_id, dtype=np.int64)  # (B, S)
    src_rows, src_cols, src_flat = _ragged_positions(ids.src_offsets[indices], src_len)
    src[src_rows, src_cols] = ids.src[src_flat]

    width = int(tgt_len.max(initial=0)) + 1
    tgt_in = np.full((batch_size, width), pad_id, dtype=np.int64)  # (B, T)
    tgt_out = np.full((batch_size, width), pad_id, dtype=np.int64)  # (B, T)
    tgt_rows, tgt_cols, tgt_flat = _ragged_positions(ids.tgt_offsets[indices], tgt_len)
    tgt_values = ids.tgt[tgt_flat]
    tgt_in[:, 0] = bos_id
    tgt_in[tgt_rows, tgt_cols + 1] = tgt_values
    tgt_out[tgt_rows, tgt_cols] = tgt_values
    tgt_out[rows, tgt_len] = eos_id

    return Batch(
        src=torch.from_numpy(src),
        src_lengths=torch.from_numpy(src_len.astype(np.int64)),
        tgt_in=torch.from_numpy(tgt_in),
        tgt_out=torch.from_numpy(tgt_out),
        indices=torch.from_numpy(indices.copy()),
        n_src_tokens=int(src_len.sum()),
        n_tgt_tokens=int(tgt_len.sum()) + batch_size,
        pad_id=pad_id,
    )


def _ragged_positions(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row, column and flat data index of every token of ragged rows."""
    rows = np.repeat(np.arange(len(lengths)), lengths)
    row_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = np.arange(int(lengths.sum())) - row_start
    return rows, cols, np.repeat(starts, lengths) + cols


def iterate_batches(
    ids: ParallelIds,
    max_tokens: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    max_length: int | None,
    pad_id: int,
    bos_id: int,
    eos_id: int,
) -> Iterator[Batch]:
    """Collated batches of one epoch, in the order of batch_indices."""
    plan = batch_indices(
        ids.src_lengths, ids.tgt_lengths, max_tokens, shuffle, seed, epoch, max_length
    )
    for indices in plan:
        yield collate(ids, indices, pad_id, bos_id, eos_id)
