"""Encoder: shapes, padding invariance, bridge layer mapping."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt.model import build_model


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_encoder_shapes(tiny_config, random_batch, rnn_type: str, bidirectional: bool) -> None:
    config = tiny_config(rnn_type, encoder_layers=3, decoder_layers=2, bidirectional=bidirectional)
    model = build_model(config, 30, 30).eval()
    src, lengths, _ = random_batch(batch=3, src_len=5)
    memory, state = model.encode(src, lengths)
    assert memory.states.shape == (3, 5, 16)
    assert memory.keys.shape == (3, 5, 12)
    assert memory.mask.tolist() == (torch.arange(5)[None] < lengths[:, None]).tolist()
    assert torch.equal(memory.source_ids, src)
    assert state.hidden.shape == (2, 3, 16)
    assert (state.cell is None) == (rnn_type == "gru")
    assert torch.count_nonzero(state.context) == 0
    assert state.coverage is None
    assert model.decoder.bridge.layer_map == [1, 2]


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_extra_source_padding_changes_nothing(tiny_config, random_batch, rnn_type: str) -> None:
    model = build_model(tiny_config(rnn_type, coverage=True), 30, 30).eval()
    src, lengths, _ = random_batch(batch=4, src_len=6)
    padded = F.pad(src, (0, 3), value=0)
    memory, state = model.encode(src, lengths)
    memory_p, state_p = model.encode(padded, lengths)
    torch.testing.assert_close(memory_p.states[:, :6], memory.states, atol=1e-6, rtol=0)
    assert torch.count_nonzero(memory_p.states[:, 6:]) == 0
    assert memory_p.mask[:, 6:].any().item() is False
    torch.testing.assert_close(state_p.hidden, state.hidden, atol=1e-6, rtol=0)
    if rnn_type == "lstm":
        torch.testing.assert_close(state_p.cell, state.cell, atol=1e-6, rtol=0)
    # A padded sentence must encode exactly as it does alone in a batch of one.
    short = int(lengths.argmin())
    alone, _ = model.encode(src[short : short + 1, : lengths[short]], lengths[short : short + 1])
    n = int(lengths[short])
    torch.testing.assert_close(memory.states[short, :n], alone.states[0], atol=1e-6, rtol=0)
