"""Every variant memorises a small fixed batch and greedy decoding reproduces it."""

from __future__ import annotations

import pytest
import torch

from nmt.model import build_model
from nmt.training.loss import coverage_penalty_loss, sequence_loss

BOS, EOS, PAD = 1, 2, 0
VARIANTS = [
    pytest.param(rnn, coverage, copy, id=f"{rnn}-cov{int(coverage)}-copy{int(copy)}")
    for rnn in ("gru", "lstm")
    for coverage in (False, True)
    for copy in (False, True)
]


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """6 random pairs, sources of length 5-7 (eos included), targets of length 4-6."""
    gen = torch.Generator().manual_seed(11)
    src_lengths = torch.tensor([7, 5, 6, 7, 5, 6])
    tgt_lengths = torch.tensor([5, 4, 6, 4, 6, 5])
    src = torch.full((6, 7), PAD)
    tgt_in = torch.full((6, 7), PAD)
    tgt_out = torch.full((6, 7), PAD)
    for i in range(6):
        n, m = int(src_lengths[i]), int(tgt_lengths[i])
        src[i, : n - 1] = torch.randint(3, 24, (n - 1,), generator=gen)
        src[i, n - 1] = EOS
        words = torch.randint(3, 24, (m,), generator=gen)
        tgt_in[i, : m + 1] = torch.cat([torch.tensor([BOS]), words])
        tgt_out[i, : m + 1] = torch.cat([words, torch.tensor([EOS])])
    return src, src_lengths, tgt_in, tgt_out


def _greedy(model, src: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
    memory, state = model.encode(src, lengths)
    prev, outputs = torch.full((src.size(0),), BOS), []
    for _ in range(steps):
        out, state = model.decode_step(prev, state, memory)
        prev = out.log_probs.argmax(-1)
        outputs.append(prev)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize(("rnn", "coverage", "copy"), VARIANTS)
def test_overfit_and_greedy_decode(tiny_config, rnn: str, coverage: bool, copy: bool) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(tiny_config(rnn, coverage, copy, hidden_dim=32, attention_dim=16), 24, 24)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    src, lengths, tgt_in, tgt_out = _batch()
    model.train()
    for _ in range(300):
        out = model(src, lengths, tgt_in)
        result = sequence_loss(out.log_probs, tgt_out, PAD)
        loss = result.loss
        if coverage:
            loss = loss + 0.1 * coverage_penalty_loss(out.coverage_loss, tgt_out != PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if result.loss.item() < 0.03:
            break
    assert result.loss.item() < 0.05
    model.eval()
    with torch.no_grad():
        decoded = _greedy(model, src, lengths, tgt_out.size(1))
    mask = tgt_out != PAD
    assert torch.equal(decoded[mask], tgt_out[mask])
