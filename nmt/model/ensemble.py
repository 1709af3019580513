"""Ensemble decoding: several models of one vocabulary search as one.

At every step each member predicts from its own recurrent state and its own encoding of
the source, and the ensemble's distribution is the mean of the members' probabilities,
p(y_t) = 1/M sum_m p_m(y_t), returned as its log (the rule of fairseq's and OpenNMT-py's
ensembles; Sutskever et al., 2014, ensembled LSTMs the same way). Attention and the copy
model's p_gen are the members' means, so the text boundary aligns on what the ensemble as
a whole looked at. The ensemble satisfies the search's `Decodable` interface: greedy and
beam search run it unchanged.

Shape alphabet: M members, B batch (state rows), S source length, V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nmt.model.seq2seq import Seq2Seq
from nmt.model.state import DecoderState, EncoderMemory, StepOutput


@dataclass(frozen=True)
class EnsembleMemory:
    """Each member's `EncoderMemory` of the same source batch (one row per sentence)."""

    members: tuple[EncoderMemory, ...]

    @property
    def mask(self) -> Tensor:
        """(B, S) bool, True on real tokens: the members share the source, hence the mask."""
        return self.members[0].mask

    def index_select(self, index: Tensor) -> EnsembleMemory:
        """Rows `index` of every member's memory."""
        return EnsembleMemory(tuple(m.index_select(index) for m in self.members))


@dataclass(frozen=True)
class EnsembleState:
    """Each member's `DecoderState`; beam search reorders them together."""

    members: tuple[DecoderState, ...]

    def index_select(self, index: Tensor) -> EnsembleState:
        """Rows `index` of every member's state."""
        return EnsembleState(tuple(s.index_select(index) for s in self.members))


class Ensemble(nn.Module):
    """M `Seq2Seq` members with one target vocabulary, decoded by the mean of their
    probabilities (see the module docstring). Inference only: it has no `forward`.

    Raises ValueError for no members, or members that differ in target vocabulary size or
    padding id (they must share the tokenizer).
    """

    def __init__(self, members: Sequence[Seq2Seq]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for index, other in enumerate(members[1:], start=1):
            if (other.tgt_vocab_size, other.pad_id) != (first.tgt_vocab_size, first.pad_id):
                raise ValueError(
                    f"member {index} has target vocabulary {other.tgt_vocab_size} and padding "
                    f"id {other.pad_id}, member 0 has {first.tgt_vocab_size} and {first.pad_id}"
                )
        self.members = nn.ModuleList(members)
        self.pad_id = first.pad_id
        self._log_size = math.log(len(members))

    def _seq2seq(self) -> list[Seq2Seq]:
        return list(self.members)  # type: ignore[arg-type]  # ModuleList of Seq2Seq

    @property
    def tgt_vocab_size(self) -> int:
        """V: output positions of every member (the shortlist's size after `restrict_output`)."""
        return self._seq2seq()[0].tgt_vocab_size

    @property
    def output_ids(self) -> Tensor | None:
        """(V',) vocabulary id of each output position after `restrict_output`; None: all."""
        return self._seq2seq()[0].output_ids

    @property
    def copy(self) -> nn.Module | None:
        """A member's copy generator, if any member copies (such models score the whole
        vocabulary, so the ensemble takes no shortlist)."""
        return next((m.copy for m in self._seq2seq() if m.copy is not None), None)

    def restrict_output(self, ids: Sequence[int], special_ids: Iterable[int]) -> None:
        """`Seq2Seq.restrict_output` on every member (they then share output positions)."""
        specials = list(special_ids)
        for member in self._seq2seq():
            member.restrict_output(ids, specials)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[EnsembleMemory, EnsembleState]:
        """Every member encodes src (B, S) long with lengths (B,) long."""
        encoded = [member.encode(src, src_lengths) for member in self._seq2seq()]
        return (
            EnsembleMemory(tuple(memory for memory, _ in encoded)),
            EnsembleState(tuple(state for _, state in encoded)),
        )

    def decode_step(
        self, prev_tokens: Tensor, state: EnsembleState, memory: EnsembleMemory
    ) -> tuple[StepOutput, EnsembleState]:
        """One step of every member from the previous tokens (R,); log of the mean of their
        probabilities (R, V) fp32, mean attention (R, S) and mean p_gen (R,) or None."""
        steps = [
            member.decode_step(prev_tokens, member_state, member_memory)
            for member, member_state, member_memory in zip(
                self._seq2seq(), state.members, memory.members, strict=True
            )
        ]
        outputs = [out for out, _ in steps]
        log_probs = torch.stack([out.log_probs.float() for out in outputs])  # (M, R, V)
        mean_log_probs = torch.logsumexp(log_probs, dim=0) - self._log_size
        attention = torch.stack([out.attention for out in outputs]).mean(dim=0)
        p_gens = [out.p_gen for out in outputs]
        p_gen = None
        if all(value is not None for value in p_gens):
            p_gen = torch.stack(p_gens).mean(dim=0)  # type: ignore[arg-type]
        output = StepOutput(log_probs=mean_log_probs, attention=attention, p_gen=p_gen)
        return output, EnsembleState(tuple(new_state for _, new_state in steps))
