"""Weight initialisation shared by every model variant.

Recurrent matrices (weight_hh) are orthogonal per gate block, every other matrix is
Xavier uniform, biases are zero except the LSTM forget gate (1, so early gradients
flow through the cell), embeddings are N(0, E^-1/2) with a zero pad row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def init_recurrent_(
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    rnn_type: str,
) -> None:
    """Initialise one GRU/LSTM layer (PyTorch gate layout) in place."""
    hidden = weight_hh.size(1)
    with torch.no_grad():
        nn.init.xavier_uniform_(weight_ih)
        for block in weight_hh.split(hidden, dim=0):
            nn.init.orthogonal_(block)
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                bias.zero_()
        if rnn_type == "lstm" and bias_ih is not None:
            bias_ih[hidden : 2 * hidden].fill_(1.0)  # gates are (input, forget, cell, output)


def _init_rnn_module_(module: nn.GRU | nn.LSTM) -> None:
    rnn_type = "lstm" if isinstance(module, nn.LSTM) else "gru"
    directions = ["", "_reverse"] if module.bidirectional else [""]
    for layer in range(module.num_layers):
        for direction in directions:
            suffix = f"_l{layer}{direction}"
            init_recurrent_(
                getattr(module, f"weight_ih{suffix}"),
                getattr(module, f"weight_hh{suffix}"),
                getattr(module, f"bias_ih{suffix}", None),
                getattr(module, f"bias_hh{suffix}", None),
                rnn_type,
            )


def init_embedding_(embedding: nn.Embedding) -> None:
    """N(0, E^-1/2) with the padding row zeroed."""
    with torch.no_grad():
        nn.init.normal_(embedding.weight, mean=0.0, std=embedding.embedding_dim**-0.5)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


def init_weights(model: nn.Module) -> None:
    """Initialise every parameter of `model` by the rules in the module docstring."""
    embeddings = []
    for module in model.modules():
        if isinstance(module, (nn.GRU, nn.LSTM)):
            _init_rnn_module_(module)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            embeddings.append(module)
        elif hasattr(module, "reset_parameters") and module is not model:
            module.reset_parameters()  # our own recurrent cells (cells.RecurrentLayer)
    # Last, so a tied output projection ends up with the embedding's initialisation.
    for embedding in embeddings:
        init_embedding_(embedding)
