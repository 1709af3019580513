"""Seq2Seq across every variant and attention placement: shapes, padding, decode_step ==
forward, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt.model import build_model
from nmt.training.loss import coverage_penalty_loss, sequence_loss

VARIANTS = [
    pytest.param(rnn, coverage, copy, id=f"{rnn}-cov{int(coverage)}-copy{int(copy)}")
    for rnn in ("gru", "lstm")
    for coverage in (False, True)
    for copy in (False, True)
]
PLACEMENTS = ["luong", "bahdanau"]


def _step_by_step(model, src, lengths, tgt_in):
    memory, state = model.encode(src, lengths)
    outputs = []
    for t in range(tgt_in.size(1)):
        out, state = model.decode_step(tgt_in[:, t], state, memory)
        outputs.append(out)
    return outputs, state


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_forward_shapes_and_normalisation(
    tiny_config, random_batch, rnn, coverage, copy, placement
) -> None:
    config = tiny_config(rnn, coverage, copy, decoder_layers=3, attention_placement=placement)
    model = build_model(config, 30, 30).eval()
    src, lengths, tgt = random_batch(batch=4, src_len=7, tgt_len=6)
    out = model(src, lengths, tgt)
    assert out.log_probs.shape == (4, 6, 30) and out.log_probs.dtype == torch.float32
    assert out.attention.shape == (4, 6, 7)
    torch.testing.assert_close(out.log_probs.exp().sum(-1), torch.ones(4, 6))
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(4, 6))
    pads = src == 0
    assert torch.all(out.attention[pads.unsqueeze(1).expand_as(out.attention)] == 0)
    assert (out.coverage_loss is not None) == coverage
    assert (out.p_gen is not None) == copy
    if coverage:
        assert out.coverage_loss.shape == (4, 6)
        assert torch.all(out.coverage_loss[:, 0] == 0)
    if copy:
        assert out.p_gen.shape == (4, 6)
        assert torch.all((out.p_gen > 0) & (out.p_gen < 1))


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_decode_step_agrees_with_forward(
    tiny_config, random_batch, rnn, coverage, copy, placement
) -> None:
    config = tiny_config(rnn, coverage, copy, attention_placement=placement)
    model = build_model(config, 30, 30).eval()
    src, lengths, tgt = random_batch(seed=1)
    out = model(src, lengths, tgt)
    steps, state = _step_by_step(model, src, lengths, tgt)
    torch.testing.assert_close(
        torch.stack([s.log_probs for s in steps], 1), out.log_probs, atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        torch.stack([s.attention for s in steps], 1), out.attention, atol=1e-6, rtol=0
    )
    if copy:
        torch.testing.assert_close(torch.stack([s.p_gen for s in steps], 1), out.p_gen)
    if coverage:
        torch.testing.assert_close(state.coverage, out.attention.sum(1))


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS[::3])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_scheduled_sampling_paths(
    tiny_config, random_batch, rnn, coverage, copy, placement
) -> None:
    config = tiny_config(rnn, coverage, copy, attention_placement=placement)
    model = build_model(config, 30, 30).eval()
    src, lengths, tgt = random_batch(seed=2)
    fast = model(src, lengths, tgt, teacher_forcing=1.0)
    # Sampling with probability 1e-12: the step-by-step path with gold inputs.
    slow = model(src, lengths, tgt, teacher_forcing=1.0 - 1e-12)
    torch.testing.assert_close(slow.log_probs, fast.log_probs, atol=1e-5, rtol=0)
    # teacher_forcing=0 always feeds the previous argmax: greedy decoding.
    sampled = model(src, lengths, tgt, teacher_forcing=0.0)
    memory, state = model.encode(src, lengths)
    prev, greedy = tgt[:, 0], []
    for _ in range(tgt.size(1)):
        step, state = model.decode_step(prev, state, memory)
        greedy.append(step.log_probs)
        prev = step.log_probs.argmax(-1)
    torch.testing.assert_close(sampled.log_probs, torch.stack(greedy, 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS[1::2])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_extra_padding_on_source_and_target(
    tiny_config, random_batch, rnn, coverage, copy, placement
) -> None:
    config = tiny_config(rnn, coverage, copy, attention_placement=placement)
    model = build_model(config, 30, 30).eval()
    src, lengths, tgt = random_batch(seed=3)
    out = model(src, lengths, tgt)
    padded = model(F.pad(src, (0, 4)), lengths, F.pad(tgt, (0, 3)))
    torch.testing.assert_close(padded.log_probs[:, :6], out.log_probs, atol=1e-5, rtol=0)
    torch.testing.assert_close(padded.attention[:, :6, :7], out.attention, atol=1e-6, rtol=0)
    assert torch.all(padded.attention[:, :, 7:] == 0)
    if coverage:
        torch.testing.assert_close(padded.coverage_loss[:, :6], out.coverage_loss)


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_gradients_reach_every_parameter(
    tiny_config, random_batch, rnn, coverage, copy, tie, placement
) -> None:
    config = tiny_config(
        rnn,
        coverage,
        copy,
        attention_placement=placement,
        tie_output=tie,
        dropout=0.2,
        embedding_dropout=0.1,
        recurrent_dropout=0.2,
    )
    model = build_model(config, 30, 30).train()
    src, lengths, tgt = random_batch(seed=4)
    out = model(src, lengths, tgt, teacher_forcing=0.7 if copy else 1.0)
    loss = sequence_loss(out.log_probs, torch.roll(tgt, -1, 1), pad_id=0, label_smoothing=0.1).loss
    if coverage:
        loss = loss + coverage_penalty_loss(out.coverage_loss, tgt != 0)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.count_nonzero(param.grad) > 0, name
        assert torch.isfinite(param.grad).all(), name


def test_embedding_sharing_and_tying(tiny_config) -> None:
    shared = build_model(tiny_config(tie_output=True), 30, 30)
    assert shared.src_embedding is shared.tgt_embedding
    assert shared.generator.weight is shared.tgt_embedding.weight
    assert shared.tgt_embedding.weight[0].abs().sum() == 0
    separate = build_model(tiny_config(share_embeddings=False), 30, 30)
    assert separate.src_embedding is not separate.tgt_embedding
    different = build_model(tiny_config(), 25, 30)
    assert different.src_embedding.num_embeddings == 25
    assert different.tgt_vocab_size == 30 and different.pad_id == 0
    # two sentencepiece models of the same size: id k means different pieces on each side
    separate_vocab = build_model(tiny_config(), 30, 30, joint_vocab=False)
    assert separate_vocab.src_embedding is not separate_vocab.tgt_embedding


def test_copy_needs_a_joint_vocabulary(tiny_config) -> None:
    with pytest.raises(ValueError, match="joint source/target vocabulary"):
        build_model(tiny_config(copy=True), 25, 30)
    with pytest.raises(ValueError, match="joint source/target vocabulary"):
        build_model(tiny_config(copy=True), 30, 30, joint_vocab=False)


def test_initialisation(tiny_config) -> None:
    model = build_model(tiny_config("lstm"), 30, 30)
    hidden = 16
    layer = model.decoder.cells.layers[0]
    block = layer.weight_hh[:hidden]
    torch.testing.assert_close(block @ block.T, torch.eye(hidden), atol=1e-5, rtol=0)
    assert torch.all(layer.bias_ih[hidden : 2 * hidden] == 1)
    enc = model.encoder.rnn.bias_ih_l1_reverse
    half = 8
    assert torch.all(enc[half : 2 * half] == 1) and torch.all(enc[:half] == 0)
    assert torch.all(model.generator.bias == 0)
