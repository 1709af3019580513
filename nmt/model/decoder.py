"""Attentional GRU/LSTM decoder, `luong` placement: RNN first, then attention.

At step t, with e_t = emb(y_{t-1}) and the previous context ctx_{t-1}:
    s_t   = RNN([e_t; ctx_{t-1}], s_{t-1})          (input feeding; ctx_0 = 0)
    a_t   = attention(s_t^top, H [, c_t])            (c_t = sum of a_<t, coverage only)
    ctx_t = sum_j a_tj h_j
    o_t   = dropout(tanh(W_p [s_t^top; ctx_t; e_t]))  (pre-output, size E)
This is the ordering of Luong et al. (2015, sections 3 and 3.3) and See et al. (2017),
here with the additive score. The `bahdanau` placement (bahdanau_decoder.py) reuses
every parameter of this class and only reorders `step`.
The output projection (and the copy mixture) turn o_t into the distribution; they
live in Seq2Seq so the teacher-forced path can apply them once over all T steps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nmt.config import ModelConfig
from nmt.model.activations import tanh_scratch
from nmt.model.attention import BahdanauAttention, attend
from nmt.model.cells import StackedCell
from nmt.model.coverage import Coverage, advance_coverage
from nmt.model.state import DecoderState, EncoderMemory


class Bridge(nn.Module):
    """Initial decoder state from the encoder's final states, one Linear per decoder layer.

    Decoder layer l reads encoder layer max(0, Le - Ld + l): the top layers are aligned
    and extra decoder layers below reuse encoder layer 0. Hidden = tanh(Linear(h_enc));
    the LSTM cell = Linear(c_enc) (cells are unbounded).
    """

    def __init__(self, config: ModelConfig, encoder_dim: int):
        super().__init__()
        n_enc, n_dec = config.encoder_layers, config.decoder_layers
        self.layer_map = [max(0, n_enc - n_dec + i) for i in range(n_dec)]
        self.hidden = nn.ModuleList(nn.Linear(encoder_dim, config.hidden_dim) for _ in range(n_dec))
        self.cell = (
            nn.ModuleList(nn.Linear(encoder_dim, config.hidden_dim) for _ in range(n_dec))
            if config.rnn_type == "lstm"
            else None
        )

    def forward(self, enc_hidden: Tensor, enc_cell: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """(Le, B, He) final encoder states -> (Ld, B, H) hidden and cell (or None), fp32."""
        hidden = torch.stack(
            [
                torch.tanh(lin(enc_hidden[j]))
                for lin, j in zip(self.hidden, self.layer_map, strict=True)
            ]
        ).float()
        if self.cell is None or enc_cell is None:
            return hidden, None
        cell = torch.stack(
            [lin(enc_cell[j]) for lin, j in zip(self.cell, self.layer_map, strict=True)]
        )
        return hidden, cell.float()


class Decoder(nn.Module):
    """The recurrent part of the decoder: cells, attention, coverage and pre-output.

    `step` is the luong placement; BahdanauDecoder overrides only `step`.
    """

    def __init__(self, config: ModelConfig, encoder_dim: int):
        super().__init__()
        self.embedding_dim = config.embedding_dim
        self.hidden_dim = config.hidden_dim
        self.num_layers = config.decoder_layers
        self.recurrent_dropout = config.recurrent_dropout
        self.bridge = Bridge(config, encoder_dim)
        self.cells = StackedCell(
            config.rnn_type,
            config.embedding_dim + encoder_dim,
            config.hidden_dim,
            config.decoder_layers,
            config.dropout,
        )
        self.attention = BahdanauAttention(config.hidden_dim, encoder_dim, config.attention_dim)
        self.coverage = Coverage(config.attention_dim) if config.coverage.enabled else None
        self.pre_output = nn.Linear(
            config.hidden_dim + encoder_dim + config.embedding_dim, config.embedding_dim
        )
        self.dropout = nn.Dropout(config.dropout)

    def init_state(
        self, enc_hidden: Tensor, enc_cell: Tensor | None, memory: EncoderMemory
    ) -> DecoderState:
        """Bridged hidden/cell, zero context, zero coverage (B, S) when coverage is on."""
        hidden, cell = self.bridge(enc_hidden, enc_cell)
        batch, src_len, enc_dim = memory.states.shape
        zeros = memory.states.new_zeros
        return DecoderState(
            hidden=hidden,
            cell=cell,
            context=zeros(batch, enc_dim, dtype=torch.float32),
            coverage=None if self.coverage is None else zeros(batch, src_len, dtype=torch.float32),
        )

    def sample_hidden_mask(self, batch: int, device: torch.device) -> Tensor | None:
        """One variational dropout mask (L, B, H) per sequence, or None outside training."""
        if not self.training or self.recurrent_dropout == 0.0:
            return None
        keep = 1.0 - self.recurrent_dropout
        shape = (self.num_layers, batch, self.hidden_dim)
        return torch.empty(shape, device=device).bernoulli_(keep) / keep

    def embedding_gates(self, embedded: Tensor) -> Tensor:
        """Layer 0's input gates from e_t (+ bias), (..., E) -> (..., G); hoisted out of loops."""
        return self.cells.layers[0].input_gates(embedded, slice(0, self.embedding_dim))

    def step(
        self,
        embedding_gates: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        hidden_mask: Tensor | None = None,
    ) -> tuple[DecoderState, Tensor, Tensor | None]:
        """One step from e_t's gates (B, G): (new state, attention (B, S), coverage loss (B,))."""
        context_gates = self.cells.layers[0].input_gates(
            state.context, slice(self.embedding_dim, None), bias=False
        )
        hidden, cell = self.cells(
            embedding_gates + context_gates, state.hidden, state.cell, hidden_mask
        )
        features = None if self.coverage is None else self.coverage(state.coverage)
        attention = self.attention(hidden[-1], memory.keys, memory.mask, features)  # (B, S)
        context = attend(attention, memory.states).float()  # (B, He)
        coverage, cov_loss = advance_coverage(state.coverage, attention)
        return DecoderState(hidden, cell, context, coverage), attention, cov_loss

    def output_features(self, top: Tensor, context: Tensor, embedded: Tensor) -> Tensor:
        """o = dropout(tanh(W_p [s; ctx; e])): (..., H), (..., He), (..., E) -> (..., E)."""
        features = torch.cat([top, context.to(top.dtype), embedded.to(top.dtype)], dim=-1)
        return self.dropout(tanh_scratch(self.pre_output(features)))
