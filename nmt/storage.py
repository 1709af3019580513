"""How a bundle's tensors are stored in model.safetensors: cast to a smaller float type,
as per-row int8 with float32 scales, and tied parameters (shared embeddings) once.

`nmt.checkpoint` writes and reads bundles through these functions; a loaded state dict is
always float (int8 comes back as float32) with every tied name present.
"""

from __future__ import annotations

import torch

from nmt.errors import CheckpointError

# A matrix stored in int8 (`weights_dtype=torch.int8`) keeps its per-row float32 scales
# under its own name plus this suffix; `dequantized` multiplies them back.
INT8_SCALE_SUFFIX = ".int8_scale"


def to_storable(
    name: str, tensor: torch.Tensor, dtype: torch.dtype | None
) -> dict[str, torch.Tensor]:
    """The safetensors entries of one tensor stored as `dtype`."""
    tensor = tensor.detach().cpu()
    if dtype is torch.int8 and tensor.is_floating_point():
        if tensor.dim() < 2:
            return {name: tensor.to(torch.float16).contiguous()}
        quantized, scales = quantize_rows(tensor)
        return {name: quantized, name + INT8_SCALE_SUFFIX: scales}
    if dtype is not None and tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return {name: tensor.contiguous()}


def quantize_rows(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 of a float tensor of shape (R, ...): q = round(w / s) with
    s = max|row| / 127, so each row's largest weight maps to ±127 (the scheme of
    `nmt.model.quantize`'s packed weights). Returns q (int8, the input's shape) and s
    (float32, (R, 1, ...) to broadcast); `dequantize_rows(q, s)` gives w back to within s/2.
    """
    rows = matrix.detach().float().reshape(matrix.size(0), -1)
    scales = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
    quantized = torch.round(rows / scales).clamp_(-127, 127).to(torch.int8)
    view = (matrix.size(0),) + (1,) * (matrix.dim() - 1)
    return quantized.reshape(matrix.shape).contiguous(), scales.reshape(view).contiguous()


def dequantize_rows(quantized: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """float32 q * s: the inverse of `quantize_rows` up to rounding."""
    return quantized.float() * scales.float()


def dequantized(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights stored in int8 back in float32; every other tensor as stored."""
    scales = {
        key.removesuffix(INT8_SCALE_SUFFIX): state_dict[key]
        for key in state_dict
        if key.endswith(INT8_SCALE_SUFFIX)
    }
    restored = {key: t for key, t in state_dict.items() if not key.endswith(INT8_SCALE_SUFFIX)}
    for key, scale in scales.items():
        if key not in restored:
            raise CheckpointError(f"int8 scales for {key}, but no weight of that name")
        weight = restored[key]
        rows = (weight.size(0),) + (1,) * (weight.dim() - 1) if weight.dim() else ()
        if weight.dtype != torch.int8 or tuple(scale.shape) != rows:
            raise CheckpointError(
                f"int8 scales {tuple(scale.shape)} do not fit {key} "
                f"({weight.dtype}, {tuple(weight.shape)})"
            )
        if scale.dtype != torch.float32 or not bool(
            torch.all(torch.isfinite(scale) & (scale >= 0))
        ):
            raise CheckpointError(f"int8 scales of {key} are not finite float32 values >= 0")
        restored[key] = dequantize_rows(weight, scale)
    unscaled = [key for key, t in restored.items() if t.dtype == torch.int8 and key not in scales]
    if unscaled:
        raise CheckpointError(f"{unscaled[0]} is stored in int8 without its {INT8_SCALE_SUFFIX}")
    return restored


def tie(state_dict: dict[str, torch.Tensor], aliases: object) -> None:
    """Point each alias of metadata.json's `tied_weights` at its owner's tensor."""
    if not isinstance(aliases, dict):
        raise CheckpointError("metadata.json: tied_weights must map names to names")
    for alias, owner in aliases.items():
        if not isinstance(alias, str) or not isinstance(owner, str) or owner not in state_dict:
            raise CheckpointError(
                f"metadata.json: tied_weights: {alias!r} -> {owner!r} names no weight"
            )
        state_dict[alias] = state_dict[owner]


def split_tied(
    state_dict: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Store tied parameters (e.g. shared embeddings) once: unique tensors + alias -> name."""
    unique: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    owners: dict[tuple[int, tuple[int, ...]], str] = {}
    for name, tensor in state_dict.items():
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if tensor.numel() and key in owners:
            aliases[name] = owners[key]
        else:
            owners[key] = name
            unique[name] = tensor
    return unique, aliases
