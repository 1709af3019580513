"""Pointer-generator copy: a proper distribution, copying source-only tokens, no NaN."""

from __future__ import annotations

import torch

from nmt.model import build_model
from nmt.model.copy import CopyGenerator


def test_mixture_matches_the_probability_space_formula() -> None:
    torch.manual_seed(0)
    copy = CopyGenerator(context_dim=4, hidden_dim=3, embedding_dim=2)
    logits = torch.randn(2, 10)
    attention = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.1, 0.1, 0.8, 0.0]])
    source = torch.tensor([[4, 7, 4, 0], [1, 2, 3, 0]])
    log_probs, p_gen = copy(
        logits, attention, source, torch.randn(2, 4), torch.randn(2, 3), torch.randn(2, 2)
    )
    copy_dist = torch.zeros(2, 10)
    for b in range(2):
        for j in range(4):
            copy_dist[b, source[b, j]] += attention[b, j]
    expected = p_gen[:, None] * logits.softmax(-1) + (1 - p_gen[:, None]) * copy_dist
    torch.testing.assert_close(log_probs.exp(), expected)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2))


def _forced_copy_model(tiny_config, p_gen_bias: float):
    model = build_model(tiny_config("gru", copy=True), 30, 30).eval()
    with torch.no_grad():
        model.copy.gate.weight.zero_()
        model.copy.gate.bias.fill_(p_gen_bias)
    return model


def test_copy_puts_mass_on_a_source_only_token(tiny_config) -> None:
    model = _forced_copy_model(tiny_config, p_gen_bias=-30.0)  # p_gen ~ 1e-13
    src = torch.tensor([[5, 29, 6, 2], [7, 8, 2, 0]])
    lengths = torch.tensor([4, 3])
    tgt = torch.tensor([[1, 5, 6], [1, 7, 8]])
    out = model(src, lengths, tgt)
    probs = out.log_probs.exp()
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 3))
    # Token 29 only occurs in sentence 0's source; it gets exactly its attention mass.
    torch.testing.assert_close(probs[0, :, 29], out.attention[0, :, 1])
    assert torch.all(probs[1, :, 29] < 1e-10)
    # With p_gen ~ 0 everything outside the source is (almost) impossible.
    outside = torch.ones(30, dtype=torch.bool)
    outside[src[0]] = False
    assert probs[0][:, outside].sum() < 1e-10


def test_extreme_logits_give_no_nan(tiny_config, random_batch) -> None:
    for bias in (-1e4, 1e4):
        model = _forced_copy_model(tiny_config, p_gen_bias=bias).train()
        with torch.no_grad():
            model.generator.weight.mul_(1e4)
            model.decoder.attention.energy.weight.mul_(1e4)
        src, lengths, tgt = random_batch(seed=8)
        out = model(src, lengths, tgt)
        assert torch.isfinite(out.log_probs).all()
        out.log_probs.gather(-1, tgt.unsqueeze(-1)).sum().neg().backward()
        for name, param in model.named_parameters():
            assert param.grad is None or torch.isfinite(param.grad).all(), name
