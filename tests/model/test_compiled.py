"""The compiled training forward (nmt.model.compiled) against the plain path.

Same batch, same weights, dropout off: the label-smoothed loss (+ coverage loss) and every
parameter's gradient must match Seq2Seq.forward. "aot_eager" traces with Dynamo and
AOTAutograd (the graphs, the chunking and the padding are the ones inductor compiles) and
costs seconds; the inductor test generates and compiles C++ kernels, which takes over a
minute of CPU, so it is marked slow.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from nmt.config import load_config
from nmt.model import Seq2Seq, build_model
from nmt.model.compiled import CompiledTeacherForcing, CompileSettings, round_up
from nmt.training.loss import sequence_loss

from .conftest import PAD, VOCAB, _random_batch, _tiny_config


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> None:
    torch._dynamo.reset()
    counters.clear()


def _loss_and_grads(
    model: Seq2Seq, forward, batch: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    src, lengths, tgt_in = batch
    tgt_out = torch.roll(tgt_in, -1, dims=1)  # any targets will do; pads where tgt_in has them
    model.zero_grad(set_to_none=True)
    out = forward(src, lengths, tgt_in)
    loss = sequence_loss(out.scores, tgt_out, PAD, label_smoothing=0.1).loss
    if out.coverage_loss is not None:
        loss = loss + 0.5 * out.coverage_loss.mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _assert_same_training_signal(
    model: Seq2Seq, compiled: CompiledTeacherForcing, batch: tuple[torch.Tensor, ...]
) -> None:
    loss, grads = _loss_and_grads(model, model, batch)
    compiled_loss, compiled_grads = _loss_and_grads(model, compiled, batch)
    assert compiled.path == "compiled"
    torch.testing.assert_close(compiled_loss, loss, atol=1e-5, rtol=1e-5)
    assert compiled_grads.keys() == grads.keys()
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, f"{name}: no gradient, so nothing is compared"
        torch.testing.assert_close(compiled_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize(
    ("rnn", "coverage", "placement"), [("lstm", True, "luong"), ("gru", False, "bahdanau")]
)
def test_traced_chunks_match_the_plain_path(rnn: str, coverage: bool, placement: str) -> None:
    model = build_model(_tiny_config(rnn, coverage, attention_placement=placement), VOCAB, VOCAB)
    model.train()  # dropout is 0 in the tiny config: train mode changes nothing else
    settings = CompileSettings(4, batch_multiple=4, source_multiple=4, backend="aot_eager")
    compiled = CompiledTeacherForcing(model, settings)
    # T=6 pads to 8 (two chunks), B=5 to 8, S=7 to 8; then B=9 to 12, S=10 to 12 and
    # T=11 to 12 (three chunks): the same graph, dynamic in B and S, serves both
    _assert_same_training_signal(model, compiled, _random_batch(batch=5, src_len=7, tgt_len=6))
    _assert_same_training_signal(
        model, compiled, _random_batch(batch=9, src_len=10, tgt_len=11, seed=3)
    )
    assert compiled.calls == {"compiled": 2, "plain": 0}
    assert counters["stats"]["unique_graphs"] == 1


def test_the_base_presets_shape_compiles_to_the_same_training_signal() -> None:
    """The shipped shape (1-layer bidirectional GRU encoder, input feeding, embeddings
    narrower than the hidden state, shared and tied embeddings), as the GPU kit trains it."""
    base = load_config("base").model
    shape = {"encoder_layers", "decoder_layers", "bidirectional", "share_embeddings"}
    shape |= {"tie_output", "attention_placement", "rnn_type"}
    config = _tiny_config(**{name: getattr(base, name) for name in shape}, hidden_dim=24)
    assert config.tie_output and config.share_embeddings and config.embedding_dim < 24
    model = build_model(config, VOCAB, VOCAB, joint_vocab=True).train()
    settings = CompileSettings(4, batch_multiple=4, source_multiple=4, backend="aot_eager")
    compiled = CompiledTeacherForcing(model, settings)
    _assert_same_training_signal(model, compiled, _random_batch(batch=6, src_len=9, tgt_len=7))


@pytest.mark.slow
def test_inductor_code_matches_the_plain_path() -> None:
    model = build_model(_tiny_config("lstm", coverage=True), VOCAB, VOCAB).train()
    settings = CompileSettings(chunk_steps=4, batch_multiple=4, source_multiple=4)
    compiled = CompiledTeacherForcing(model, settings)
    assert compiled.mode == "default"  # CPU: no CUDA graphs
    _assert_same_training_signal(model, compiled, _random_batch(batch=5, src_len=7, tgt_len=6))


def test_scheduled_sampling_runs_the_plain_path() -> None:
    model = build_model(_tiny_config("gru"), VOCAB, VOCAB).train()
    compiled = CompiledTeacherForcing(model, CompileSettings(backend="aot_eager"))
    src, lengths, tgt_in = _random_batch()
    out = compiled(src, lengths, tgt_in, teacher_forcing=0.5)
    assert compiled.path == "plain" and compiled.calls == {"compiled": 0, "plain": 1}
    assert out.scores.shape == (*tgt_in.shape, VOCAB)


def test_settings_are_checked_and_padding_rounds_up() -> None:
    model = build_model(_tiny_config("gru"), VOCAB, VOCAB)
    with pytest.raises(ValueError, match="chunk_steps"):
        CompiledTeacherForcing(model, CompileSettings(chunk_steps=0))
    assert [round_up(n, 4) for n in (1, 4, 5, 8, 9)] == [4, 4, 8, 8, 12]
