"""The encoder-decoder model and `build_model`, the single wiring point for every variant.

Shape alphabet: B batch, S source length, T target length (pieces), V output vocabulary,
E embedding, H decoder hidden, He encoder output, G gates of decoder layer 0, A attention.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nmt.config import ModelConfig
from nmt.model.bahdanau_decoder import BahdanauDecoder
from nmt.model.copy import CopyGenerator
from nmt.model.decoder import Decoder
from nmt.model.embeddings import build_embeddings, build_generator
from nmt.model.encoder import Encoder
from nmt.model.init import init_weights
from nmt.model.shortlist import check_shortlist, restrict_linear
from nmt.model.state import DecoderState, EncoderMemory, StepOutput


@dataclass(frozen=True)
class ForwardOutput:
    """A whole target sequence's predictions.

    `scores` are what the loss consumes: raw logits when the final distribution is a
    plain softmax (so the fused loss never materialises log-probabilities), or the final
    log-distribution (copy mixture) otherwise. `log_probs` always normalises.
    """

    scores: Tensor  # (B, T, V) logits, or fp32 log-probs when scores_are_log_probs
    attention: Tensor  # (B, T, S) fp32
    coverage_loss: Tensor | None  # (B, T) sum_j min(a_tj, c_tj), coverage models only
    p_gen: Tensor | None  # (B, T), copy models only
    scores_are_log_probs: bool = True

    @property
    def log_probs(self) -> Tensor:
        """(B, T, V) fp32 final log-distribution (copy mixture included)."""
        if self.scores_are_log_probs:
            return self.scores
        return self.scores.float().log_softmax(dim=-1)


@dataclass
class _Steps:
    """Per-step tensors collected in the time loop, stacked on dim 1 afterwards."""

    tops: list[Tensor]
    contexts: list[Tensor]
    attentions: list[Tensor]
    coverage_losses: list[Tensor]

    def add(self, state: DecoderState, attention: Tensor, cov_loss: Tensor | None) -> None:
        self.tops.append(state.hidden[-1])
        self.contexts.append(state.context)
        self.attentions.append(attention)
        if cov_loss is not None:
            self.coverage_losses.append(cov_loss)

    def coverage_loss(self) -> Tensor | None:
        return torch.stack(self.coverage_losses, 1) if self.coverage_losses else None


@dataclass(frozen=True)
class DecoderRun:
    """A teacher-forced run of the decoder over T steps, per-step tensors stacked on dim 1."""

    tops: Tensor  # (B, T, H) top-layer states s_t
    contexts: Tensor  # (B, T, He) fp32 contexts ctx_t
    attention: Tensor  # (B, T, S) fp32
    coverage_loss: Tensor | None  # (B, T), coverage models only
    final: DecoderState | None = None  # the state after the last step (to continue the run)


def unroll_decoder(
    decoder: Decoder,
    gates: Tensor,
    state: DecoderState,
    memory: EncoderMemory,
    hidden_mask: Tensor | None,
) -> DecoderRun:
    """Run `decoder.step` over every step of the precomputed input gates (B, T, G).

    The only loop of the teacher-forced forward; the compiled training path
    (nmt.model.compiled) traces this same function over fixed-length chunks of T.
    """
    steps = _Steps([], [], [], [])
    for t in range(gates.size(1)):
        state, attention, cov_loss = decoder.step(gates[:, t], state, memory, hidden_mask)
        steps.add(state, attention, cov_loss)
    return DecoderRun(
        tops=torch.stack(steps.tops, 1),
        contexts=torch.stack(steps.contexts, 1),
        attention=torch.stack(steps.attentions, 1),
        coverage_loss=steps.coverage_loss(),
        final=state,
    )


class Seq2Seq(nn.Module):
    """Attentional RNN encoder-decoder, optionally with coverage and copy.

    Exposes `encode()` and `decode_step()` for the search and `forward()` for training;
    the recurrent state is passed in and returned, never stored on the module.
    """

    def __init__(
        self,
        config: ModelConfig,
        src_embedding: nn.Embedding,
        tgt_embedding: nn.Embedding,
        encoder: Encoder,
        decoder: Decoder,
        generator: nn.Linear,
        copy: CopyGenerator | None,
        pad_id: int,
    ):
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.tgt_vocab_size = generator.out_features
        self.src_embedding = src_embedding
        self.tgt_embedding = tgt_embedding
        self.encoder = encoder
        self.decoder = decoder
        self.generator = generator
        self.copy = copy
        self.tgt_dropout = nn.Dropout(config.embedding_dropout)
        # (V',) vocabulary id of each output position once `restrict_output` ran; None: all
        self.output_ids: Tensor | None
        self.register_buffer("output_ids", None, persistent=False)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[EncoderMemory, DecoderState]:
        """Source ids (B, S) long and lengths (B,) long -> attention memory, initial state."""
        states, enc_hidden, enc_cell = self.encoder(self.src_embedding(src), src_lengths)
        positions = torch.arange(src.size(1), device=src.device)
        mask = positions.unsqueeze(0) < src_lengths.to(src.device).unsqueeze(1)  # (B, S)
        keys = self.decoder.attention.project_keys(states)  # (B, S, A)
        memory = EncoderMemory(states=states, keys=keys, mask=mask, source_ids=src)
        return memory, self.decoder.init_state(enc_hidden, enc_cell, memory)

    def _embed_target(self, tokens: Tensor) -> Tensor:
        return self.tgt_dropout(self.tgt_embedding(tokens))

    def restrict_output(self, ids: Sequence[int], special_ids: Iterable[int]) -> None:
        """Score only vocabulary `ids` from now on (a target shortlist, nmt.model.shortlist):
        for inference; call it before quantizing.

        `decode_step` then reads its previous tokens and writes its log-probs (.., V') in
        shortlist positions (`output_ids` maps them back to vocabulary ids); `special_ids`
        (padding, unknown, bos, eos) must sit at their own positions. The output layer gets
        its own copy of the kept rows (a tied embedding keeps its full matrix). Raises
        ValueError for a copy model (the copy mixture scores the whole vocabulary) and for
        a malformed shortlist.
        """
        if self.copy is not None:
            raise ValueError("a copy model scores the whole vocabulary: no shortlist")
        if self.output_ids is not None:
            raise ValueError("the output is restricted already")
        rows = check_shortlist(ids, self.generator.out_features, special_ids)
        rows = rows.to(self.generator.weight.device)
        self.generator = restrict_linear(self.generator, rows)
        self.output_ids = rows
        self.tgt_vocab_size = rows.numel()

    def _distribution(
        self, top: Tensor, context: Tensor, embedded: Tensor, attention: Tensor, source_ids: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Final log-probs (..., V) fp32 and p_gen (...) or None; leading dims (B,) or (B, T)."""
        logits = self.generator(self.decoder.output_features(top, context, embedded))
        if self.copy is None:
            return logits.float().log_softmax(dim=-1), None
        return self.copy(logits, attention, source_ids, context, top, embedded)

    def decode_step(
        self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[StepOutput, DecoderState]:
        """One decoder step from the previous tokens (B,); returns the prediction and new state.

        Tokens and log-probs are in shortlist positions after `restrict_output`.
        """
        if self.output_ids is not None:
            prev_tokens = self.output_ids[prev_tokens]
        embedded = self._embed_target(prev_tokens)  # (B, E)
        gates = self.decoder.embedding_gates(embedded)
        new_state, attention, _ = self.decoder.step(gates, state, memory)
        log_probs, p_gen = self._distribution(
            new_state.hidden[-1], new_state.context, embedded, attention, memory.source_ids
        )
        return StepOutput(log_probs=log_probs, attention=attention, p_gen=p_gen), new_state

    def forward(
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> ForwardOutput:
        """Predict every target position of tgt_in (B, T) (bos-prefixed, shifted targets).

        teacher_forcing < 1 is scheduled sampling (Bengio et al., 2015): per sentence and
        step, the previous step's argmax replaces the gold input with probability
        1 - teacher_forcing. Raises RuntimeError after `restrict_output` (inference only).
        """
        if self.output_ids is not None:
            raise RuntimeError("a model restricted to a shortlist is for inference only")
        memory, state = self.encode(src, src_lengths)
        hidden_mask = self.decoder.sample_hidden_mask(src.size(0), src.device)
        if teacher_forcing >= 1.0:
            return self._teacher_forced(tgt_in, state, memory, hidden_mask)
        return self._scheduled_sampling(tgt_in, state, memory, hidden_mask, teacher_forcing)

    def target_gates(self, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        """Embedded target inputs (B, T, E) and layer 0's input gates (B, T, G), for all T
        at once: hoisted out of the time loop."""
        embedded = self._embed_target(tgt_in)  # (B, T, E)
        return embedded, self.decoder.embedding_gates(embedded)

    def predict_all(self, run: DecoderRun, embedded: Tensor, source_ids: Tensor) -> ForwardOutput:
        """The output layer (and copy mixture) once over all T steps of a decoder run.

        run: per-step tensors (B, T, .); embedded (B, T, E); source_ids (B, S).
        """
        if self.copy is None:
            features = self.decoder.output_features(run.tops, run.contexts, embedded)
            return ForwardOutput(
                self.generator(features), run.attention, run.coverage_loss, None, False
            )
        log_probs, p_gen = self._distribution(
            run.tops, run.contexts, embedded, run.attention, source_ids
        )
        return ForwardOutput(log_probs, run.attention, run.coverage_loss, p_gen)

    def _teacher_forced(
        self, tgt_in: Tensor, state: DecoderState, memory: EncoderMemory, mask: Tensor | None
    ) -> ForwardOutput:
        # Embeddings and their input gates for all T at once; the loop only runs the
        # recurrence and attention; the output layer is applied once over (B, T, .).
        embedded, gates = self.target_gates(tgt_in)
        run = unroll_decoder(self.decoder, gates, state, memory, mask)
        return self.predict_all(run, embedded, memory.source_ids)

    def _scheduled_sampling(
        self,
        tgt_in: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        mask: Tensor | None,
        teacher_forcing: float,
    ) -> ForwardOutput:
        steps = _Steps([], [], [], [])
        outputs: list[Tensor] = []
        p_gens: list[Tensor] = []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            if t > 0:
                sample = torch.rand(prev.shape, device=prev.device) >= teacher_forcing
                prev = torch.where(sample, outputs[-1].detach().argmax(-1), tgt_in[:, t])
            embedded = self._embed_target(prev)  # (B, E)
            gates = self.decoder.embedding_gates(embedded)
            state, attention, cov_loss = self.decoder.step(gates, state, memory, mask)
            steps.add(state, attention, cov_loss)
            log_probs, p_gen = self._distribution(
                state.hidden[-1], state.context, embedded, attention, memory.source_ids
            )
            outputs.append(log_probs)
            if p_gen is not None:
                p_gens.append(p_gen)
        return ForwardOutput(
            scores=torch.stack(outputs, 1),
            attention=torch.stack(steps.attentions, 1),
            coverage_loss=steps.coverage_loss(),
            p_gen=torch.stack(p_gens, 1) if p_gens else None,
        )


def build_model(
    config: ModelConfig,
    src_vocab_size: int,
    tgt_vocab_size: int,
    pad_id: int = 0,
    joint_vocab: bool = True,
) -> Seq2Seq:
    """Assemble and initialise the model that `config` describes.

    `joint_vocab` says source and target ids come from one sentencepiece model; only then
    are the embedding tables shared (share_embeddings) and copying possible.
    `config.attention_placement` picks the decoder step: "luong" (decoder.py, RNN then
    attention) or "bahdanau" (bahdanau_decoder.py, attention then RNN); both have the
    same parameters and the same encode()/decode_step() contract. Raises ValueError for a
    copy model without a joint vocabulary of equal sizes.
    """
    if config.copy.enabled and not (joint_vocab and src_vocab_size == tgt_vocab_size):
        raise ValueError(
            "model.copy.enabled needs a joint source/target vocabulary (the copy distribution "
            "scatters source ids onto target ids); prepare the data without --separate-vocab "
            f"(here: joint={joint_vocab}, {src_vocab_size} source and {tgt_vocab_size} target ids)"
        )
    src_embedding, tgt_embedding = build_embeddings(
        config, src_vocab_size, tgt_vocab_size, pad_id, joint_vocab
    )
    encoder = Encoder(config)
    if config.attention_placement == "bahdanau":
        decoder: Decoder = BahdanauDecoder(config, encoder.output_dim)
    else:
        decoder = Decoder(config, encoder.output_dim)
    copy = None
    if config.copy.enabled:
        copy = CopyGenerator(encoder.output_dim, config.hidden_dim, config.embedding_dim)
    model = Seq2Seq(
        config,
        src_embedding,
        tgt_embedding,
        encoder,
        decoder,
        build_generator(config, tgt_embedding),
        copy,
        pad_id,
    )
    init_weights(model)
    return model
