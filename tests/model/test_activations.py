"""tanh_scratch: torch.tanh's values, in place only where that cannot hurt."""

from __future__ import annotations

import torch

from nmt.model.activations import tanh_scratch


def _values() -> torch.Tensor:
    wide = torch.linspace(-30.0, 30.0, 20_001)
    small = torch.linspace(-1e-3, 1e-3, 2_001)
    return torch.cat([wide, small, torch.tensor([0.0, 1e-30, -1e-30, 88.0, -88.0])])


def test_matches_torch_tanh_in_place_on_a_scratch_tensor() -> None:
    x = _values()
    expected = torch.tanh(x)
    out = tanh_scratch(x)
    assert out.data_ptr() == x.data_ptr()  # in place: no new (B, S, A) tensor
    assert (out - expected).abs().max() <= 3e-7
    assert out.abs().max() <= 1.0


def test_autograd_half_and_double_get_torch_tanh() -> None:
    x = _values().requires_grad_()
    out = tanh_scratch(x)
    assert torch.equal(out, torch.tanh(x)) and out.data_ptr() != x.data_ptr()
    out.sum().backward()  # the graph is torch.tanh's
    assert x.grad is not None and torch.allclose(x.grad, 1 - torch.tanh(x.detach()) ** 2, atol=1e-6)
    for dtype in (torch.float64, torch.bfloat16):
        y = _values().to(dtype)
        before = y.clone()
        assert torch.equal(tanh_scratch(y), torch.tanh(before)) and torch.equal(y, before)
