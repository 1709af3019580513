"""The tensors that flow between `Seq2Seq.encode()`, `decode_step()` and the search.

State is never stored on a module: the search owns it and reorders it (beam search)
with `index_select`, which every field supports, coverage included.
Shape alphabet: B batch, S source length, T target length, H hidden, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


def _select(value: Tensor | None, index: Tensor) -> Tensor | None:
    return None if value is None else value.index_select(0, index)


@dataclass(frozen=True)
class EncoderMemory:
    """What attention reads at every step; fixed for a sentence.

    One row per sentence. `decode_step` accepts k decoder-state rows per memory row
    (k consecutive rows: beam search's k beams of that sentence), so beams share it.
    """

    states: Tensor  # (B, S, He) encoder outputs (He = encoder width, both directions)
    keys: Tensor  # (B, S, A) W_h h_j, projected once per sentence
    mask: Tensor  # (B, S) bool, True on real tokens
    source_ids: Tensor  # (B, S) long, for the copy distribution

    def index_select(self, index: Tensor) -> EncoderMemory:
        """Rows `index` of every field (batch reordering / beam expansion)."""
        return EncoderMemory(
            *(
                t.index_select(0, index)
                for t in (self.states, self.keys, self.mask, self.source_ids)
            )
        )


@dataclass(frozen=True)
class DecoderState:
    """Recurrent decoder state after a step; the input to the next one."""

    hidden: Tensor  # (L, B, H)
    cell: Tensor | None  # (L, B, H) for LSTM, None for GRU
    context: Tensor  # (B, He) last step's context (fed to the next step in the luong placement)
    coverage: Tensor | None  # (B, S) sum of past attention distributions, None without coverage

    def index_select(self, index: Tensor) -> DecoderState:
        """Rows `index` of every field; batch is dim 1 for hidden/cell, dim 0 otherwise."""
        return DecoderState(
            hidden=self.hidden.index_select(1, index),
            cell=None if self.cell is None else self.cell.index_select(1, index),
            context=self.context.index_select(0, index),
            coverage=_select(self.coverage, index),
        )


@dataclass(frozen=True)
class StepOutput:
    """One decoder step's prediction."""

    log_probs: Tensor  # (B, V) final log-distribution (copy mixture included)
    attention: Tensor  # (B, S) attention weights a_t (0 on padding)
    p_gen: Tensor | None  # (B,) generation probability, copy models only

    def index_select(self, index: Tensor) -> StepOutput:
        """Rows `index` of every field (beam expansion)."""
        return StepOutput(
            self.log_probs.index_select(0, index),
            self.attention.index_select(0, index),
            _select(self.p_gen, index),
        )
