"""Coverage: c_0 = 0, c_t excludes a_t, the state accumulates, the loss is sum min(a, c)."""

from __future__ import annotations

import pytest
import torch

from nmt.model import build_model


@pytest.mark.parametrize("placement", ["luong", "bahdanau"])
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_coverage_accumulates_past_attention_only(
    tiny_config, random_batch, rnn_type, placement
) -> None:
    config = tiny_config(rnn_type, coverage=True, attention_placement=placement)
    model = build_model(config, 30, 30).eval()
    src, lengths, tgt = random_batch(seed=5)
    seen: list[torch.Tensor] = []
    handle = model.decoder.coverage.register_forward_hook(
        lambda _module, inputs, _output: seen.append(inputs[0].clone())
    )
    memory, state = model.encode(src, lengths)
    assert torch.count_nonzero(state.coverage) == 0
    attentions = []
    for t in range(tgt.size(1)):
        step, state = model.decode_step(tgt[:, t], state, memory)
        attentions.append(step.attention)
        torch.testing.assert_close(state.coverage, torch.stack(attentions).sum(0))
    handle.remove()
    assert len(seen) == tgt.size(1)
    assert torch.count_nonzero(seen[0]) == 0  # step 1 sees c_1 = 0
    for t in range(1, tgt.size(1)):  # step t+1 sees a_1 + ... + a_t, never its own a_t+1
        torch.testing.assert_close(seen[t], torch.stack(attentions[:t]).sum(0))


def test_forward_coverage_loss_is_sum_of_min(tiny_config, random_batch) -> None:
    model = build_model(tiny_config("gru", coverage=True), 30, 30).eval()
    src, lengths, tgt = random_batch(seed=6)
    out = model(src, lengths, tgt)
    past = torch.cumsum(out.attention, dim=1) - out.attention  # c_t = sum_{t' < t} a_t'
    expected = torch.minimum(out.attention, past).sum(-1)
    torch.testing.assert_close(out.coverage_loss, expected)
    assert out.coverage_loss[:, 1:].sum() > 0


def test_coverage_state_survives_beam_reordering(tiny_config, random_batch) -> None:
    model = build_model(tiny_config("lstm", coverage=True), 30, 30).eval()
    src, lengths, tgt = random_batch(seed=7)
    memory, state = model.encode(src, lengths)
    _, state = model.decode_step(tgt[:, 0], state, memory)
    index = torch.tensor([2, 2, 0])
    moved = state.index_select(index)
    torch.testing.assert_close(moved.coverage, state.coverage[index])
    step, _ = model.decode_step(tgt[index, 1], moved, memory.index_select(index))
    full, _ = model.decode_step(tgt[:, 1], state, memory)
    torch.testing.assert_close(step.log_probs, full.log_probs[index])
