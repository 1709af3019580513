"""Token-budgeted batches and padding (nmt.data.batching)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt.data.batching import Batch, batch_indices, collate, iterate_batches, keep_mask
from nmt.data.dataset import ParallelIds

PAD, BOS, EOS = 0, 2, 3


def random_ids(n: int, seed: int = 0) -> ParallelIds:
    rng = np.random.default_rng(seed)
    src = [list(rng.integers(4, 50, rng.integers(1, 30))) + [EOS] for _ in range(n)]
    tgt = [list(rng.integers(4, 50, rng.integers(1, 30))) for _ in range(n)]
    return ParallelIds.from_lists(src, tgt, vocab_size=50)


def test_collate_pads_and_shifts() -> None:
    ids = ParallelIds.from_lists([[5, 6, EOS], [7, EOS]], [[8, 9, 10], [11]], vocab_size=20)
    batch = collate(ids, np.array([1, 0]), PAD, BOS, EOS)
    assert batch.src.tolist() == [[7, EOS, PAD], [5, 6, EOS]]
    assert batch.src_lengths.tolist() == [2, 3]
    assert batch.tgt_in.tolist() == [[BOS, 11, PAD, PAD], [BOS, 8, 9, 10]]
    assert batch.tgt_out.tolist() == [[11, EOS, PAD, PAD], [8, 9, 10, EOS]]
    assert batch.tgt_mask.tolist() == [[True, True, False, False], [True] * 4]
    assert batch.indices.tolist() == [1, 0]
    assert (batch.n_src_tokens, batch.n_tgt_tokens) == (5, 6)
    assert int(batch.tgt_mask.sum()) == batch.n_tgt_tokens
    assert batch.src.dtype == batch.tgt_in.dtype == torch.long
    moved = batch.to("cpu")
    assert isinstance(moved, Batch) and torch.equal(moved.tgt_out, batch.tgt_out)


def test_collate_matches_a_plain_loop() -> None:
    ids = random_ids(40)
    indices = np.array([3, 17, 0, 39, 8])
    batch = collate(ids, indices, PAD, BOS, EOS)
    for row, i in enumerate(indices):
        src, tgt = ids.source(i).tolist(), ids.target(i).tolist()
        assert batch.src[row, : len(src)].tolist() == src
        assert (batch.src[row, len(src) :] == PAD).all()
        assert batch.tgt_in[row, : len(tgt) + 1].tolist() == [BOS, *tgt]
        assert batch.tgt_out[row, : len(tgt) + 1].tolist() == [*tgt, EOS]
        assert (batch.tgt_out[row, len(tgt) + 1 :] == PAD).all()


@pytest.mark.parametrize("shuffle", [False, True])
def test_budget_and_each_example_once(shuffle: bool) -> None:
    ids = random_ids(500)
    max_tokens = 200
    plan = batch_indices(ids.src_lengths, ids.tgt_lengths, max_tokens, shuffle, seed=1, epoch=0)
    assert sorted(np.concatenate(plan).tolist()) == list(range(500))
    for indices in plan:
        cost = len(indices) * (ids.src_lengths[indices].max() + ids.tgt_lengths[indices].max() + 1)
        assert cost <= max_tokens
        batch = collate(ids, indices, PAD, BOS, EOS)
        assert batch.src.shape[0] * (batch.src.shape[1] + batch.tgt_in.shape[1]) == cost
    again = batch_indices(ids.src_lengths, ids.tgt_lengths, max_tokens, shuffle, seed=1, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(plan, again, strict=True))
    other = batch_indices(ids.src_lengths, ids.tgt_lengths, max_tokens, shuffle, seed=1, epoch=1)
    assert shuffle != all(np.array_equal(a, b) for a, b in zip(plan, other, strict=True))


def test_overlong_examples_and_max_length() -> None:
    ids = ParallelIds.from_lists([[4] * 50 + [EOS], [5, EOS], [6, EOS]], [[7] * 3, [8], [9] * 60])
    plan = batch_indices(ids.src_lengths, ids.tgt_lengths, 10, shuffle=False, seed=0, epoch=0)
    assert sorted(len(b) for b in plan) == [1, 1, 1]  # each over budget, alone in its batch
    kept = batch_indices(ids.src_lengths, ids.tgt_lengths, 10, False, 0, 0, max_length=20)
    assert np.concatenate(kept).tolist() == [1]
    assert keep_mask(ids.src_lengths, ids.tgt_lengths, 20).tolist() == [False, True, False]
    assert keep_mask(ids.src_lengths, ids.tgt_lengths, None).all()


def test_iterate_batches_covers_the_epoch() -> None:
    ids = random_ids(120, seed=3)
    seen = []
    for batch in iterate_batches(ids, 300, 7, 2, True, None, PAD, BOS, EOS):
        assert batch.src.shape[0] == batch.tgt_out.shape[0] == len(batch.indices)
        seen += batch.indices.tolist()
    assert sorted(seen) == list(range(120))
