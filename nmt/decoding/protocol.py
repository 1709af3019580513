"""The narrow model interface the search functions rely on."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor

from nmt.model.state import DecoderState, EncoderMemory, StepOutput


class Decodable(Protocol):
    """Anything with `encode()` and `decode_step()` (the real `Seq2Seq`, or a test fake)."""

    tgt_vocab_size: int
    pad_id: int

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[EncoderMemory, DecoderState]:
        """Encode a padded batch `src` (B, S) with true lengths (B,)."""
        ...

    def decode_step(
        self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[StepOutput, DecoderState]:
        """Predict the next token of every row from the previous one (R,).

        R = B * k state rows over B memory rows: rows i*k ... i*k + k - 1 read memory row i.

        The returned log_probs must be a tensor of its own: the search edits it in place.
        """
        ...
