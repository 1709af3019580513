"""Every variant memorises a small fixed batch and greedy decoding reproduces it."""

from __future__ import annotations

import pytest
import torch

from nmt.model import build_model
from nmt.training.loss import coverage_penalty_loss, sequence_loss

from .conftest import BOS, PAD, memorisable_batch

VARIANTS = [
    pytest.param(rnn, coverage, copy, "luong", id=f"{rnn}-cov{int(coverage)}-copy{int(copy)}")
    for rnn in ("gru", "lstm")
    for coverage in (False, True)
    for copy in (False, True)
] + [  # the bahdanau placement: plain and with both coverage and copy
    pytest.param(rnn, both, both, "bahdanau", id=f"{rnn}-cov{int(both)}-copy{int(both)}-bahdanau")
    for rnn in ("gru", "lstm")
    for both in (False, True)
]


def _greedy(model, src: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
    memory, state = model.encode(src, lengths)
    prev, outputs = torch.full((src.size(0),), BOS), []
    for _ in range(steps):
        out, state = model.decode_step(prev, state, memory)
        prev = out.log_probs.argmax(-1)
        outputs.append(prev)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize(("rnn", "coverage", "copy", "placement"), VARIANTS)
def test_overfit_and_greedy_decode(
    tiny_config, rnn: str, coverage: bool, copy: bool, placement: str
) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = tiny_config(
        rnn, coverage, copy, hidden_dim=32, attention_dim=16, attention_placement=placement
    )
    model = build_model(config, 24, 24)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    src, lengths, tgt_in, tgt_out = memorisable_batch()
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
