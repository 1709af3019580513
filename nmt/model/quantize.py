"""Dynamic int8 quantization of the model's matrix products, for CPU inference.

torch.ao's `quantize_dynamic` swaps `nn.Linear` modules only. The decoder's recurrent
layers (`cells.RecurrentLayer`) multiply by slices of their own parameters instead (the
embedding and the context columns of W_ih separately, and W_hh), so it left them in fp32:
about a third of a decoder step's arithmetic. Here every one of those products runs in
int8 as well: `QuantizedRecurrentLayer` quantizes each weight slice once, per output row
(symmetric int8, the scale of each gate row from its own largest weight), and the
activations per call (dynamic quantization: one uint8 scale per call from the batch's
min/max, as torch.ao does). Accumulation is int32 and the result fp32 (fbgemm or oneDNN,
whichever `torch.backends.quantized.engine` picks). The gate nonlinearities, attention
softmax, embeddings and the encoder's fused nn.GRU/nn.LSTM stay fp32.

Measured on the shipped model (test split, 2,255 sources, beam 5, through the text
boundary; 2026-11-30, AMD EPYC dev machine): BLEU 54.43 in fp32, 54.51 in int8, 136
translations of 2,255 changed; single-thread CPU time of the whole split 17.9 s -> 6.9 s
(taken while other work loaded the cores: a ratio, not a throughput figure). torch.ao's
Linear-only quantization had gained 4 % at beam 5 on the tiny model. The CPU's int8
instructions (AVX-512 VNNI, AVX-VNNI) decide what it gains elsewhere.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from nmt.config import QUANTIZATIONS
from nmt.errors import NmtError
from nmt.model.attention import BahdanauAttention
from nmt.model.cells import RecurrentLayer

ModelT = TypeVar("ModelT", bound=nn.Module)

# Activations are quantized to 7 bits, as torch.ao's dynamic Linear does on x86 (fbgemm's
# AVX2 kernels add pairs of u8 x s8 products in 16 bits, which 8-bit inputs can overflow).
_REDUCE_RANGE = True


def _pack(weight: Tensor, bias: Tensor | None) -> Any:
    """Prepacked int8 weight (G, K), one symmetric scale per output row, and fp32 bias."""
    weight = weight.detach().float().contiguous()
    scales = weight.abs().amax(dim=1).clamp_min(1e-8) / 127.0  # (G,)
    zero_points = torch.zeros(weight.size(0), dtype=torch.long)
    qweight = torch.quantize_per_channel(weight, scales.double(), zero_points, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(
        qweight, None if bias is None else bias.detach().float().contiguous()
    )


def _linear(x: Tensor, packed: Any) -> Tensor:
    """x (..., K) @ W^T + b through the prepacked int8 weight; fp32 (..., G)."""
    return torch.ops.quantized.linear_dynamic(x.float(), packed, _REDUCE_RANGE)


class QuantizedRecurrentLayer(RecurrentLayer):
    """A RecurrentLayer whose input and recurrent products run in int8 (inference only).

    Same interface and gate update as the float layer; W_ih is packed once per column
    slice that `input_gates` is asked for (the decoder asks for two), W_hh once.
    """

    def __init__(self, layer: RecurrentLayer) -> None:
        nn.Module.__init__(self)  # no float parameters of its own: only packed copies
        self.rnn_type = layer.rnn_type
        self.hidden_size = layer.hidden_size
        self._weight_ih = layer.weight_ih.detach().float().clone()  # (G, I), sliced on demand
        self._bias_ih = layer.bias_ih.detach().float().clone()
        self._hidden = _pack(layer.weight_hh, layer.bias_hh)
        self._input: dict[tuple[int | None, int | None, int | None, bool], Any] = {}

    def input_gates(self, x: Tensor, columns: slice = slice(None), bias: bool = True) -> Tensor:
        """W_ih[:, columns] x (+ b_ih) in int8: (..., I') -> (..., G) fp32."""
        key = (columns.start, columns.stop, columns.step, bias)
        packed = self._input.get(key)
        if packed is None:
            packed = _pack(self._weight_ih[:, columns], self._bias_ih if bias else None)
            self._input[key] = packed
        return _linear(x, packed)

    def hidden_gates(self, h: Tensor) -> Tensor:
        """W_hh h + b_hh in int8: (B, H) -> (B, G) fp32."""
        return _linear(h, self._hidden)


def _swap_recurrent_layers(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, RecurrentLayer) and not isinstance(child, QuantizedRecurrentLayer):
            setattr(module, name, QuantizedRecurrentLayer(child))
        else:
            _swap_recurrent_layers(child)


def quantize_dynamic_int8(model: ModelT) -> ModelT:
    """A copy of an eval-mode model whose linear layers and recurrent cells run in int8.

    nn.Linear layers become torch.ao dynamic int8 Linears with per-row weight scales,
    except the attention's energy vector v (a single output: quantizing its (B, S, A)
    input costs more than the fp32 product); every RecurrentLayer becomes a
    QuantizedRecurrentLayer. CPU only; the model given
    is left unchanged. Raises RuntimeError when this PyTorch build has no int8 engine.
    """
    if torch.backends.quantized.engine == "none":
        raise RuntimeError("this PyTorch build has no quantized engine (fbgemm/onednn/x86)")
    spec: dict[Any, Any] = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
    for name, module in model.named_modules():
        if isinstance(module, BahdanauAttention):  # v: one output over B*S*A values, where
            spec[f"{name}.energy" if name else "energy"] = None  # int8 took twice fp32's time
    with warnings.catch_warnings():  # torch.ao's deprecation notice is not ours to act on
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
    _swap_recurrent_layers(quantized)
    return quantized


def resolve_quantization(quantize: str, device: torch.device) -> str:
    """ "none" or "int8" for a requested `Quantization` on `device`.

    "auto" is int8 on a CPU whose torch build has a quantized engine (fbgemm/x86, onednn,
    qnnpack) and none elsewhere. Raises NmtError for an unknown value.
    """
    if quantize not in QUANTIZATIONS:
        raise NmtError(
            f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}"
        )
    if quantize != "auto":
        return quantize
    return "int8" if device.type == "cpu" and int8_available() else "none"


def int8_available() -> bool:
    """Whether this torch build has a quantized CPU engine (fbgemm/x86, onednn, qnnpack)."""
    return bool(set(torch.backends.quantized.supported_engines) - {"none"})


def quantize_int8(model: ModelT, device: torch.device) -> ModelT:
    """`quantize_dynamic_int8` for `device`; NmtError off CPU or where int8 is unavailable."""
    if device.type != "cpu":
        raise NmtError("int8 quantization runs on CPU only (use --device cpu)")
    try:
        return quantize_dynamic_int8(model)
    except RuntimeError as err:
        raise NmtError(f"int8 quantization is not available: {err}") from None
