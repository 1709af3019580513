"""Dynamic int8 quantization (nmt.model.quantize) on tiny models: close to fp32, a copy."""

from __future__ import annotations

import pytest
import torch

from nmt.model import build_model
from nmt.model.cells import RecurrentLayer
from nmt.model.quantize import QuantizedRecurrentLayer, quantize_dynamic_int8

from .conftest import VOCAB, _random_batch, _tiny_config


def _relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx - exact).abs().max() / exact.abs().max())


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_quantized_layer_is_close_to_the_float_layer(rnn_type: str) -> None:
    layer = RecurrentLayer(rnn_type, input_size=48, hidden_size=32)
    quantized = QuantizedRecurrentLayer(layer)
    x, h = torch.randn(20, 48), torch.randn(20, 32).tanh()
    c = torch.randn(20, 32) if rnn_type == "lstm" else None
    with torch.no_grad():
        for columns, bias in [(slice(None), True), (slice(0, 16), True), (slice(16, None), False)]:
            exact = layer.input_gates(x[:, columns], columns, bias)
            approx = quantized.input_gates(x[:, columns], columns, bias)
            assert approx.shape == exact.shape
            assert _relative_error(approx, exact) < 0.03
        assert _relative_error(quantized.hidden_gates(h), layer.hidden_gates(h)) < 0.03
        gates = layer.input_gates(x)
        (h_exact, c_exact), (h_approx, c_approx) = (
            layer(gates, h, c, None),
            quantized(gates, h, c, None),
        )
        assert (h_approx - h_exact).abs().max() < 0.05
        assert (c_exact is None) == (c_approx is None) == (rnn_type == "gru")


@pytest.mark.parametrize(
    ("rnn_type", "coverage", "copy"), [("gru", False, False), ("lstm", True, True)]
)
def test_quantized_model_steps_close_to_fp32_and_leaves_the_model_alone(
    rnn_type: str, coverage: bool, copy: bool
) -> None:
    config = _tiny_config(
        rnn_type, coverage, copy, hidden_dim=64, embedding_dim=32, attention_dim=32
    )
    model = build_model(config, VOCAB, VOCAB, pad_id=0).eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    quantized = quantize_dynamic_int8(model)
    layers = [m for m in quantized.modules() if isinstance(m, RecurrentLayer)]
    assert layers and all(isinstance(m, QuantizedRecurrentLayer) for m in layers)
    linears = {name for name, m in quantized.named_modules() if type(m) is torch.nn.Linear}
    assert linears == {"decoder.attention.energy"}  # the one product int8 makes slower
    assert all(type(m) is RecurrentLayer for m in model.modules() if isinstance(m, RecurrentLayer))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    src, lengths, tgt = _random_batch(batch=4, src_len=7, tgt_len=6)
    with torch.inference_mode():
        memory, state = model.encode(src, lengths)
        q_memory, q_state = quantized.encode(src, lengths)
        for t in range(tgt.size(1)):
            out, state = model.decode_step(tgt[:, t], state, memory)
            q_out, q_state = quantized.decode_step(tgt[:, t], q_state, q_memory)
            spread = float(out.log_probs.max() - out.log_probs.min())
            error = float((q_out.log_probs - out.log_probs).abs().max())
            assert error < min(0.05, 0.1 * spread)  # measured: about 0.01 of 0.5-3
            assert (q_out.attention - out.attention).abs().max() < 0.01  # measured: < 0.002
