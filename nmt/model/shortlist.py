"""Target vocabulary shortlist: the output layer scores only pieces the target side uses.

A joint sentencepiece vocabulary holds pieces of both languages; a piece that never occurs
on the target side of the training data is never a training target, so the model learns
to give it almost no probability. Decoding then need not score it: the output layer, the
log-softmax and the beam's top-k run over the shortlist only (about 5.7k of the shipped
model's 8k pieces), which is most of a decoder step's work that grows with the batch.
This is the static form of vocabulary selection (Jean et al., 2015, "On Using Very Large
Target Vocabulary for Neural Machine Translation"; Marian's and CTranslate2's shortlists
and vocabulary maps are per-source refinements of it).

The search then works in shortlist positions: the model maps the previous tokens back to
vocabulary ids before embedding them (`Seq2Seq.restrict_output`), and the translator maps
finished hypotheses back. Special pieces (padding, unknown, bos, eos) keep their ids as
positions, so the search's bos, eos and banned ids need no mapping. Measured on the
shipped model in docs/RESULTS.md ("Target vocabulary shortlist").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

# The shortlist is padded to a multiple of this many pieces: the beam search's chunked
# top-k (nmt.decoding.select) needs a chunk width that divides the output size.
SHORTLIST_MULTIPLE = 64


def target_shortlist(
    target_ids: np.ndarray, vocab_size: int, special_ids: Iterable[int]
) -> list[int]:
    """Sorted vocabulary ids the output layer keeps: every id in `target_ids` (the
    training data's target side), every id up to the largest special one (so specials
    keep their ids as positions), padded with the lowest unused ids to a multiple of
    SHORTLIST_MULTIPLE. The whole vocabulary when that is not smaller.

    Raises ValueError for an id outside [0, vocab_size).
    """
    used = np.unique(np.asarray(target_ids, dtype=np.int64))
    if used.size and (used[0] < 0 or used[-1] >= vocab_size):
        raise ValueError(f"target ids outside the vocabulary of {vocab_size} pieces")
    keep = np.zeros(vocab_size, dtype=bool)
    keep[used] = True
    keep[: max(special_ids, default=-1) + 1] = True
    spare = np.flatnonzero(~keep)[: (-int(keep.sum())) % SHORTLIST_MULTIPLE]
    keep[spare] = True
    return np.flatnonzero(keep).tolist()


def check_shortlist(ids: Sequence[int], vocab_size: int, special_ids: Iterable[int]) -> Tensor:
    """`ids` as a (V',) long tensor; ValueError unless sorted, unique, within the
    vocabulary and holding every special id (negative ones: absent, skipped) at its own
    position."""
    tensor = torch.tensor(list(ids), dtype=torch.long)
    if tensor.numel() == 0 or tensor.min() < 0 or tensor.max() >= vocab_size:
        raise ValueError(f"a shortlist must hold ids in [0, {vocab_size})")
    if tensor.numel() > 1 and not bool((tensor[1:] > tensor[:-1]).all()):
        raise ValueError("a shortlist must be sorted without repeats")
    for special in (s for s in special_ids if s >= 0):  # -1: the tokenizer has no such piece
        if special >= tensor.numel() or int(tensor[special]) != special:
            raise ValueError(f"a shortlist must keep special id {special} at its own position")
    return tensor


def restrict_linear(layer: nn.Linear, rows: Tensor) -> nn.Linear:
    """A new float Linear with only output rows `rows` of `layer` (weights copied: a tied
    embedding keeps its full matrix)."""
    restricted = nn.Linear(layer.in_features, rows.numel(), bias=layer.bias is not None)
    with torch.no_grad():
        restricted.weight.copy_(layer.weight.index_select(0, rows))
        if layer.bias is not None:
            restricted.bias.copy_(layer.bias.index_select(0, rows))
    return restricted.to(layer.weight.device)
