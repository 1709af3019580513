"""The decoder step in the original placement of Bahdanau et al. (2015): attend first.

At step t, with e_t = emb(y_{t-1}) and the previous state s_{t-1}:
    a_t = attention(s_{t-1}^top, H [, c_t])          (section 3.1; appendix A.1.2)
    ctx_t = sum_j a_tj h_j
    s_t = RNN([e_t; ctx_t], s_{t-1})                  (section 3.1: s_i = f(s_{i-1}, y_{i-1}, c_i))
    o_t = dropout(tanh(W_p [s_t^top; ctx_t; e_t]))    (section 3.1: g(y_{i-1}, s_i, c_i))
so the context a word is predicted from is computed before the state that predicts it,
and no context is carried to the next step (DecoderState.context only reports ctx_t).
The luong placement (decoder.py) instead runs the RNN first and attends with s_t.

Both placements have exactly the same parameters, so only the order of operations
differs (the ablation compares placements, nothing else). Two details stay those of
this code base rather than the paper's: the pre-output is tanh, not the paper's maxout
(appendix A.2.2, which also writes the output with s_{i-1} where section 3.1 uses s_i;
we follow section 3.1), and s_0 comes from the shared Bridge over the encoder's final
states instead of tanh(W_s h_1 backward) (appendix A.2.2). With several decoder layers
the query is the top layer of s_{t-1} and ctx_t enters layer 0, as in the luong step.
Coverage (c_t = sum of a_<t) and copy (p_gen from ctx_t, s_t, e_t) compose unchanged.
"""

from __future__ import annotations

from torch import Tensor

from nmt.model.attention import attend
from nmt.model.coverage import advance_coverage
from nmt.model.decoder import Decoder
from nmt.model.state import DecoderState, EncoderMemory


class BahdanauDecoder(Decoder):
    """A Decoder whose step attends with s_{t-1} and feeds ctx_t into the RNN."""

    def step(
        self,
        embedding_gates: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        hidden_mask: Tensor | None = None,
    ) -> tuple[DecoderState, Tensor, Tensor | None]:
        """One step from e_t's gates (B, G): (new state, attention (B, S), coverage loss (B,)).

        state.hidden/cell (L, B, H) hold s_{t-1}; state.context is not read. The returned
        state holds s_t and ctx_t (B, He), the context the prediction of y_t uses.
        """
        features = None if self.coverage is None else self.coverage(state.coverage)
        attention = self.attention(state.hidden[-1], memory.keys, memory.mask, features)  # (B, S)
        context = attend(attention, memory.states).float()  # (B, He)
        context_gates = self.cells.layers[0].input_gates(
            context, slice(self.embedding_dim, None), bias=False
        )  # (B, G)
        hidden, cell = self.cells(
            embedding_gates + context_gates, state.hidden, state.cell, hidden_mask
        )  # (L, B, H) each
        coverage, cov_loss = advance_coverage(state.coverage, attention)
        return DecoderState(hidden, cell, context, coverage), attention, cov_loss
