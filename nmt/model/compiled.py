"""The compiled teacher-forced training forward: the decoder loop unrolled and compiled.

The plain path (`Seq2Seq.forward`) runs `unroll_decoder` step by step from Python; on a
GPU every step is a few dozen small kernels forward and more backward, so a training step
is bound by kernel launches, not by arithmetic. Here the same `unroll_decoder` is traced by
`torch.compile` over a fixed number of steps K (a chunk): the target is padded up to the
bucket length T_b = ceil(T / K) * K and the compiled chunk runs T_b / K times, carrying the
decoder state. One graph serves every bucket (compiling a graph per bucket length would
cost minutes of compile time), the batch and source dimensions are dynamic and padded up to
multiples (`batch_multiple`, `source_multiple`) so that few distinct shapes occur, and on
CUDA mode="reduce-overhead" replays each chunk forward and backward as CUDA graphs. What
does not depend on the step stays hoisted as in the plain path (source keys, target
embeddings and their input gates), and the output projection and loss run once over all
(B, T) positions, outside the compiled region.

Equality with the plain path: padded steps come after the real ones and the recurrence is
causal; padded source positions get attention weight exactly 0; padded batch rows are
independent of the real ones. Their outputs are cut off before the output layer, so they
get no gradient. The loss and gradients therefore match the plain path up to float
rounding (tests/model/test_compiled.py). Dropout inside the compiled region draws from
the compiler's random stream, so with dropout on, the masks (not the distribution) differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt.model.decoder import Decoder
from nmt.model.seq2seq import DecoderRun, ForwardOutput, Seq2Seq, unroll_decoder
from nmt.model.state import DecoderState, EncoderMemory


@dataclass(frozen=True)
class CompileSettings:
    """How the decoder loop is cut, padded and compiled."""

    chunk_steps: int = 4  # K: steps per compiled graph; T is padded to a multiple of K
    batch_multiple: int = 32  # B padded up to a multiple of this (fewer distinct shapes)
    source_multiple: int = 8  # S padded up to a multiple of this
    mode: str | None = None  # torch.compile mode; None: "reduce-overhead" on CUDA, else default
    backend: str = "inductor"  # "aot_eager" traces without code generation (cheap checks)


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= value."""
    return -(-value // multiple) * multiple


def _chunk(
    decoder: Decoder,
    gates: Tensor,
    hidden: Tensor,
    cell: Tensor | None,
    context: Tensor,
    coverage: Tensor | None,
    keys: Tensor,
    states: Tensor,
    mask: Tensor,
    hidden_mask: Tensor | None,
) -> tuple[Tensor, ...]:
    """K decoder steps over plain tensors (what torch.compile traces); see unroll_decoder."""
    memory = EncoderMemory(states=states, keys=keys, mask=mask, source_ids=mask)  # ids unused
    run = unroll_decoder(
        decoder, gates, DecoderState(hidden, cell, context, coverage), memory, hidden_mask
    )
    final = run.final
    assert final is not None
    return (
        run.tops,
        run.contexts,
        run.attention,
        run.coverage_loss,
        final.hidden,
        final.cell,
        final.context,
        final.coverage,
    )  # type: ignore[return-value]


def _raise_recompile_limit(at_least: int) -> None:
    """Let Dynamo keep this many graphs per function (renamed across torch versions)."""
    config: Any = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name) and getattr(config, name) < at_least:
            setattr(config, name, at_least)


def _contiguous(tensor: Tensor | None) -> Tensor | None:
    return None if tensor is None else tensor.contiguous()


def _carried(tensor: Tensor | None) -> Tensor | None:
    """A state tensor as every chunk sees it: contiguous and, when training, requiring grad.

    The first chunk's zero context/coverage would otherwise differ from later chunks' in
    requires_grad, and Dynamo would compile a second graph for it.
    """
    if tensor is None:
        return None
    tensor = tensor.contiguous()
    if torch.is_grad_enabled() and not tensor.requires_grad:
        tensor = tensor.detach().requires_grad_()
    return tensor


def _pad_dim(tensor: Tensor | None, dim: int, size: int, value: float = 0.0) -> Tensor | None:
    """Pad `tensor` with `value` at the end of `dim` up to `size`."""
    if tensor is None or tensor.size(dim) == size:
        return tensor
    pad = [0, 0] * (tensor.dim() - dim - 1) + [0, size - tensor.size(dim)]
    return F.pad(tensor, pad, value=value)


class CompiledTeacherForcing:
    """Drop-in for `model(src, src_lengths, tgt_in)` in training, with the loop compiled.

    Returns the same ForwardOutput (logits (B, T, V), attention (B, T, S), coverage loss
    (B, T)). Scheduled sampling (teacher_forcing < 1) runs the plain path. `path` names
    what the last call ran; `calls` counts calls per path. The model is used, not copied:
    its parameters, train/eval mode and optimizer stay the caller's.
    """

    def __init__(self, model: Seq2Seq, settings: CompileSettings | None = None) -> None:
        self.model = model
        self.settings = settings or CompileSettings()
        if self.settings.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be at least 1, got {self.settings.chunk_steps}")
        device = next(model.parameters()).device
        mode = self.settings.mode
        if mode is None and device.type == "cuda" and self.settings.backend == "inductor":
            mode = "reduce-overhead"
        self.mode = mode or "default"
        self.uses_cuda_graphs = self.mode == "reduce-overhead"
        _raise_recompile_limit(64)
        self._compiled = torch.compile(_chunk, backend=self.settings.backend, mode=mode)
        self.path = "none"
        self.calls = {"compiled": 0, "plain": 0}

    def __call__(
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> ForwardOutput:
        """Predict every target position of tgt_in (B, T); see Seq2Seq.forward."""
        if teacher_forcing < 1.0:
            self.path, self.calls["plain"] = "plain", self.calls["plain"] + 1
            return self.model(src, src_lengths, tgt_in, teacher_forcing)
        model = self.model
        memory, state = model.encode(src, src_lengths)
        hidden_mask = model.decoder.sample_hidden_mask(src.size(0), src.device)
        embedded, gates = model.target_gates(tgt_in)  # (B, T, E), (B, T, G)
        run = self._run_padded(gates, state, memory, hidden_mask)
        self.path, self.calls["compiled"] = "compiled", self.calls["compiled"] + 1
        return model.predict_all(run, embedded, memory.source_ids)

    def _run_padded(
        self, gates: Tensor, state: DecoderState, memory: EncoderMemory, mask: Tensor | None
    ) -> DecoderRun:
        """Pad B, S and T to the grid, run the compiled chunks, cut the padding off."""
        settings = self.settings
        batch, steps, _ = gates.shape
        src_len = memory.keys.size(1)
        padded_b = round_up(batch, settings.batch_multiple)
        padded_s = round_up(src_len, settings.source_multiple)
        padded_t = round_up(steps, settings.chunk_steps)
        gates = _pad_dim(_pad_dim(gates, 1, padded_t), 0, padded_b)
        keys = _pad_dim(_pad_dim(memory.keys, 1, padded_s), 0, padded_b)
        states = _pad_dim(_pad_dim(memory.states, 1, padded_s), 0, padded_b)
        source_mask = _pad_dim(_pad_dim(memory.mask, 1, padded_s, False), 0, padded_b, True)
        hidden = _pad_dim(state.hidden, 1, padded_b)
        cell = _pad_dim(state.cell, 1, padded_b)
        context = _pad_dim(state.context, 0, padded_b)
        coverage = _pad_dim(_pad_dim(state.coverage, 1, padded_s), 0, padded_b)
        mask = _pad_dim(mask, 1, padded_b, 1.0)
        outputs: list[tuple[Tensor, ...]] = []
        if self.uses_cuda_graphs:  # a new training iteration: earlier replays' outputs are done
            torch.compiler.cudagraph_mark_step_begin()
        fixed = tuple(_contiguous(t) for t in (keys, states, source_mask, mask))
        for start in range(0, padded_t, settings.chunk_steps):
            chunk_gates = gates[:, start : start + settings.chunk_steps].contiguous()
            carried = tuple(_carried(t) for t in (hidden, cell, context, coverage))
            inputs = (chunk_gates, *carried, *fixed)  # strides fixed: no recompiles for them
            self._mark_dynamic(inputs)
            result = self._compiled(self.model.decoder, *inputs)
            outputs.append(result[:4])
            hidden, cell, context, coverage = result[4:]
        return self._cut(outputs, batch, steps, src_len)

    @staticmethod
    def _cut(outputs: list[tuple[Tensor, ...]], batch: int, steps: int, src_len: int) -> DecoderRun:
        """Concatenate the chunks' (B_b, K, .) outputs and drop the padded rows/steps/sources."""

        def joined(index: int) -> Tensor | None:
            parts = [chunk[index] for chunk in outputs]
            if parts[0] is None:
                return None
            return torch.cat(parts, dim=1)[:batch, :steps]

        tops, contexts, attention, coverage_loss = (joined(i) for i in range(4))
        assert tops is not None and contexts is not None and attention is not None
        return DecoderRun(
            tops=tops,
            contexts=contexts,
            attention=attention[..., :src_len],
            coverage_loss=coverage_loss,
        )

    @staticmethod
    def _mark_dynamic(inputs: tuple[Tensor | None, ...]) -> None:
        """Batch (and source) dims dynamic from the first call: one graph for all shapes."""
        gates, hidden, cell, context, coverage, keys, states, source_mask, mask = inputs
        batch_dims = [(gates, 0), (hidden, 1), (cell, 1), (context, 0), (coverage, 0)]
        batch_dims += [(keys, 0), (states, 0), (source_mask, 0), (mask, 1)]
        source_dims = [(coverage, 1), (keys, 1), (states, 1), (source_mask, 1)]
        for tensor, dim in batch_dims + source_dims:
            if tensor is not None:
                torch._dynamo.maybe_mark_dynamic(tensor, dim)


class CompiledForward(nn.Module):
    """`CompiledTeacherForcing` as a module around `model`, so DDP can wrap it.

    `nmt train` with `train.compile` trains through this: DDP's gradient hooks need the
    forward to go through the wrapped module. Its parameters are the model's.
    """

    def __init__(self, model: Seq2Seq, settings: CompileSettings | None = None) -> None:
        super().__init__()
        self.model = model
        self.teacher_forcing = CompiledTeacherForcing(model, settings)

    def forward(
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> ForwardOutput:
        """See `CompiledTeacherForcing.__call__` and `Seq2Seq.forward`."""
        return self.teacher_forcing(src, src_lengths, tgt_in, teacher_forcing)
