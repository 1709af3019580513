"""The narrow model interface the search functions rely on."""

from __future__ import annotations

from typing import Protocol, TypeVar

from torch import Tensor

from nmt.model.state import StepOutput

MemoryT = TypeVar("MemoryT", bound="SearchMemory")
StateT = TypeVar("StateT", bound="SearchState")


class SearchMemory(Protocol):
    """What the search reads of an encoding: `EncoderMemory`, or an ensemble's memories."""

    @property
    def mask(self) -> Tensor:
        """(B, S) bool, True on real source tokens."""
        ...

    def index_select(self: MemoryT, index: Tensor) -> MemoryT:
        """Rows `index` (sentences leaving the batch)."""
        ...


class SearchState(Protocol):
    """A recurrent state the search reorders: `DecoderState`, or an ensemble's states."""

    def index_select(self: StateT, index: Tensor) -> StateT:
        """Rows `index` (beam reordering)."""
        ...


class Decodable(Protocol):
    """Anything with `encode()` and `decode_step()`: the real `Seq2Seq`, an `Ensemble` of
    them (nmt.model.ensemble), or a test fake."""

    tgt_vocab_size: int
    pad_id: int

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[SearchMemory, SearchState]:
        """Encode a padded batch `src` (B, S) with true lengths (B,)."""
        ...

    def decode_step(
        self, prev_tokens: Tensor, state: SearchState, memory: SearchMemory
    ) -> tuple[StepOutput, SearchState]:
        """Predict the next token of every row from the previous one (R,).

        R = B * k state rows over B memory rows: rows i*k ... i*k + k - 1 read memory row i.

        The returned log_probs must be a tensor of its own: the search edits it in place.
        """
        ...
