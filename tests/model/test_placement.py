"""model.attention_placement: the bahdanau step's order, and both placements under search.

The generic properties (forward shapes, decode_step == forward, padding, gradients) run
for both placements in test_seq2seq.py; this file checks what is specific to the
placement and what the search relies on (batch invariance, beam 1 == greedy).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt.decoding import SearchOptions, beam_search, greedy_search
from nmt.model import Seq2Seq, build_model
from nmt.model.attention import attend
from nmt.model.bahdanau_decoder import BahdanauDecoder
from nmt.model.decoder import Decoder
from nmt.training.loss import sequence_loss

from .conftest import BOS, EOS, PAD, VOCAB, _tiny_config, memorisable_batch

PLACEMENTS = ["luong", "bahdanau"]


def _model(
    tiny_config, placement: str, rnn: str = "lstm", coverage: bool = True, copy: bool = True
) -> Seq2Seq:
    config = tiny_config(rnn, coverage, copy, attention_placement=placement)
    return build_model(config, VOCAB, VOCAB).eval()


def _queries(model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor):
    """Per step: (state before, state after, attention query, attention, step output)."""
    queries: list[torch.Tensor] = []
    hook = model.decoder.attention.query_projection.register_forward_hook(
        lambda _module, inputs, _output: queries.append(inputs[0].clone())
    )
    memory, state = model.encode(src, lengths)
    steps = []
    for t in range(tgt_in.size(1)):
        out, new_state = model.decode_step(tgt_in[:, t], state, memory)
        steps.append((state, new_state, queries[-1], out))
        state = new_state
    hook.remove()
    return memory, steps


def test_build_model_picks_the_decoder_step(tiny_config) -> None:
    assert type(_model(tiny_config, "luong").decoder) is Decoder
    assert isinstance(_model(tiny_config, "bahdanau").decoder, BahdanauDecoder)


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
def test_bahdanau_attends_with_the_previous_state(tiny_config, random_batch, rnn) -> None:
    model = _model(tiny_config, "bahdanau", rnn)
    src, lengths, tgt = random_batch(batch=3, src_len=5, tgt_len=4, seed=10)
    memory, steps = _queries(model, src, lengths, tgt)
    layer0 = model.decoder.cells.layers[0]
    for t, (before, after, query, out) in enumerate(steps):
        assert out.log_probs.shape == (3, VOCAB) and out.attention.shape == (3, 5)
        assert after.hidden.shape == (2, 3, 16) and after.context.shape == (3, 16)
        torch.testing.assert_close(query, before.hidden[-1])  # a_t from s_{t-1}
        context = attend(out.attention, memory.states)
        torch.testing.assert_close(after.context, context)
        # s_t = RNN([e_t; ctx_t], s_{t-1}): this step's context, not the previous one
        embedded = model.tgt_embedding(tgt[:, t])
        gates = model.decoder.embedding_gates(embedded) + layer0.input_gates(
            context, slice(16, None), bias=False
        )
        hidden, cell = model.decoder.cells(gates, before.hidden, before.cell)
        torch.testing.assert_close(after.hidden, hidden)
        if rnn == "lstm":
            torch.testing.assert_close(after.cell, cell)


def test_luong_attends_with_the_new_state(tiny_config, random_batch) -> None:
    model = _model(tiny_config, "luong")
    src, lengths, tgt = random_batch(batch=3, src_len=5, tgt_len=4, seed=10)
    _, steps = _queries(model, src, lengths, tgt)
    for _, after, query, _ in steps:
        torch.testing.assert_close(query, after.hidden[-1])


def test_placements_share_parameters_but_not_outputs(tiny_config, random_batch) -> None:
    luong = _model(tiny_config, "luong")
    with torch.no_grad():  # peaked attention, so the query it is computed from matters
        luong.decoder.attention.energy.weight.mul_(50.0)
    bahdanau = _model(tiny_config, "bahdanau")
    bahdanau.load_state_dict(luong.state_dict(), strict=True)
    src, lengths, tgt = random_batch(seed=11)
    a, b = luong(src, lengths, tgt), bahdanau(src, lengths, tgt)
    assert a.log_probs.shape == b.log_probs.shape
    assert (a.attention - b.attention).abs().amax() > 0.01
    assert (a.log_probs - b.log_probs).abs().amax() > 0.05


@pytest.mark.parametrize(("coverage", "copy"), [(False, False), (True, False), (True, True)])
def test_teacher_forced_loss_equals_step_by_step(tiny_config, random_batch, coverage, copy):
    model = _model(tiny_config, "bahdanau", "gru", coverage, copy)
    src, lengths, tgt_in = random_batch(seed=12)
    tgt_out = torch.roll(tgt_in, -1, 1)
    tgt_out[:, -1] = EOS
    tgt_out[tgt_in == PAD] = PAD
    nll = sequence_loss(model(src, lengths, tgt_in).scores, tgt_out, PAD).nll_sum
    _, steps = _queries(model, src, lengths, tgt_in)
    step_log_probs = torch.stack([out.log_probs for *_, out in steps], 1)  # (B, T, V)
    gold = step_log_probs.gather(-1, tgt_out.unsqueeze(-1)).squeeze(-1)
    expected = -(gold * (tgt_out != PAD)).sum()
    torch.testing.assert_close(nll, expected, atol=1e-4, rtol=1e-6)


TRAINED = [
    pytest.param(("luong", "lstm", True), id="luong-lstm-cov-copy"),
    pytest.param(("bahdanau", "lstm", True), id="bahdanau-lstm-cov-copy"),
    pytest.param(("bahdanau", "gru", False), id="bahdanau-gru"),
]


@pytest.fixture(scope="module", params=TRAINED)
def trained(request: pytest.FixtureRequest) -> Seq2Seq:
    """A model fitted for 80 steps to memorisable_batch(), so that it ends with eos at
    varied lengths (the search's early-stop and batch-shrinking paths), in eval mode."""
    placement, rnn, extras = request.param
    torch.manual_seed(0)
    config = _tiny_config(rnn, extras, extras, attention_placement=placement)
    model = build_model(config, 24, 24)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    src, lengths, tgt_in, tgt_out = memorisable_batch()
    for _ in range(80):
        loss = sequence_loss(model(src, lengths, tgt_in).scores, tgt_out, PAD).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _padded_sources() -> tuple[torch.Tensor, torch.Tensor]:
    """memorisable_batch()'s sources (6, 7) with two more columns of padding: (6, 9)."""
    src, lengths, _, _ = memorisable_batch()
    return F.pad(src, (0, 2), value=PAD), lengths


@pytest.mark.parametrize(("search", "beam"), [(greedy_search, 1), (beam_search, 3)])
def test_a_sentence_decodes_alone_as_in_a_padded_batch(trained: Seq2Seq, search, beam) -> None:
    options = SearchOptions(beam_size=beam, n_best=beam, max_length_a=4.0, max_length_b=1.0)
    src, lengths = _padded_sources()
    batched = search(trained, src, lengths, options, bos_id=BOS, eos_id=EOS)
    assert len({len(hyps[0].tokens) for hyps in batched}) > 1  # sentences end at different steps
    for i, n in enumerate(lengths.tolist()):
        [alone] = search(trained, src[i : i + 1, :n], lengths[i : i + 1], options, BOS, EOS)
        assert [h.tokens for h in alone] == [h.tokens for h in batched[i]]
        assert [h.log_prob for h in alone] == pytest.approx(
            [h.log_prob for h in batched[i]], abs=1e-5
        )


def test_beam_one_equals_greedy(trained: Seq2Seq) -> None:
    options = SearchOptions(max_length_a=4.0, max_length_b=1.0, return_attention=True)
    src, lengths = _padded_sources()
    greedy = greedy_search(trained, src, lengths, options, bos_id=BOS, eos_id=EOS)
    beam = beam_search(trained, src, lengths, options, bos_id=BOS, eos_id=EOS)
    for [g], [b] in zip(greedy, beam, strict=True):
        assert b.tokens == g.tokens
        assert b.token_log_probs == pytest.approx(g.token_log_probs, abs=1e-5)
        torch.testing.assert_close(b.attention, g.attention, atol=1e-6, rtol=0)
        assert b.p_gen == g.p_gen or b.p_gen == pytest.approx(g.p_gen, abs=1e-6)
