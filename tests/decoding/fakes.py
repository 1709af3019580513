"""A deterministic fake model for the search tests: next-token scores are a Python function.

The decoder state stores the whole token history (bos included) in `hidden`, so a wrong
beam reordering feeds the wrong prefix to the function and changes the output. Everything
depends only on the real source tokens, so padding never changes results.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch
from torch import Tensor

from nmt.model.state import DecoderState, EncoderMemory, StepOutput

PAD, UNK, BOS, EOS = 0, 1, 2, 3

Prefix = tuple[int, ...]
NextLogProbs = Callable[[Prefix, Prefix], list[float]]  # (emitted prefix, source) -> (V,)


def log_softmax(logits: list[float]) -> list[float]:
    """Python log-softmax."""
    top = max(logits)
    norm = top + math.log(sum(math.exp(x - top) for x in logits))
    return [x - norm for x in logits]


def random_table(vocab: int = 12, seed: int = 0, eos_growth: float = 0.4) -> NextLogProbs:
    """Pseudo-random distributions keyed by (prefix, source); eos gets likelier with length."""

    def next_log_probs(prefix: Prefix, source: Prefix) -> list[float]:
        rng = random.Random(f"{seed}|{prefix}|{source}")
        logits = [rng.gauss(0.0, 1.5) for _ in range(vocab)]
        logits[EOS] += eos_growth * len(prefix) - 1.0
        return log_softmax(logits)

    return next_log_probs


def table(vocab: int, rules: dict[Prefix, dict[int, float]]) -> NextLogProbs:
    """Hand-made distributions: rules[prefix] gives some probabilities, the rest is shared.

    Prefixes without a rule put almost all mass on eos.
    """

    def next_log_probs(prefix: Prefix, source: Prefix) -> list[float]:
        given = rules.get(prefix, {EOS: 0.99})
        rest = (1.0 - sum(given.values())) / (vocab - len(given))
        return [math.log(given.get(token, rest)) for token in range(vocab)]

    return next_log_probs


def uniform_attention(prefix: Prefix, source: Prefix) -> list[float]:
    """Equal weight on every real source position."""
    return [1.0 / len(source)] * len(source)


class FakeModel:
    """Implements `encode()` / `decode_step()` on top of a next-token function."""

    def __init__(
        self,
        next_log_probs: NextLogProbs,
        vocab: int,
        attention: NextLogProbs = uniform_attention,
        with_p_gen: bool = False,
    ) -> None:
        self.next_log_probs = next_log_probs
        self.attention = attention
        self.with_p_gen = with_p_gen
        self.tgt_vocab_size = vocab
        self.pad_id = PAD
        self.batch_sizes: list[int] = []  # rows seen by each decode_step call

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[EncoderMemory, DecoderState]:
        """Memory holds the source ids and mask; the state an empty history."""
        batch, src_len = src.shape
        mask = torch.arange(src_len).unsqueeze(0) < src_lengths.unsqueeze(1)  # (B, S)
        states = src.float().unsqueeze(-1)  # (B, S, 1)
        memory = EncoderMemory(states=states, keys=states, mask=mask, source_ids=src)
        state = DecoderState(
            hidden=torch.zeros(1, batch, 0, dtype=torch.long),
            cell=None,
            context=torch.zeros(batch, 1),
            coverage=torch.zeros(batch, src_len),
        )
        return memory, state

    def decode_step(
        self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[StepOutput, DecoderState]:
        """Append prev_tokens to each row's stored history and score the next token."""
        self.batch_sizes.append(prev_tokens.size(0))
        beams = prev_tokens.size(0) // memory.mask.size(0)  # rows per memory row (sentence)
        assert beams * memory.mask.size(0) == prev_tokens.size(0), "rows must share memory evenly"
        hidden = torch.cat([state.hidden, prev_tokens.view(1, -1, 1)], dim=2)  # (1, B, t+1)
        log_probs, attention = [], torch.zeros(prev_tokens.size(0), memory.mask.size(1))
        for row, history in enumerate(hidden[0].tolist()):
            assert history[0] == BOS, "state reordered wrongly: history lost its bos"
            prefix = tuple(history[1:])
            sentence = row // beams
            source = tuple(memory.source_ids[sentence][memory.mask[sentence]].tolist())
            log_probs.append(self.next_log_probs(prefix, source))
            attention[row, : len(source)] = torch.tensor(self.attention(prefix, source))
        p_gen = None
        if self.with_p_gen:
            p_gen = 1.0 / (1.0 + hidden.size(2) + hidden[0, :, -1].float())  # (B,)
        out = StepOutput(log_probs=torch.tensor(log_probs), attention=attention, p_gen=p_gen)
        new_state = DecoderState(hidden, None, state.context, state.coverage + attention)
        return out, new_state


def pad_batch(sources: list[list[int]]) -> tuple[Tensor, Tensor]:
    """Right-padded (B, S) long tensor and lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sources])
    src = torch.full((len(sources), int(lengths.max())), PAD, dtype=torch.long)
    for row, tokens in enumerate(sources):
        src[row, : len(tokens)] = torch.tensor(tokens)
    return src, lengths
