"""The decoder's recurrent cell stack, written out so the input projection can be split.

nn.GRUCell/nn.LSTMCell take the whole input at once; here each layer keeps PyTorch's
parameter layout (weight_ih, weight_hh, bias_ih, bias_hh, same gate order) but takes
precomputed input gates, so the decoder projects the target embeddings for all T
steps in one matmul outside the time loop and only adds the context part per step.
The gate update runs in fp32 so a bf16 autocast does not erode the state over time.
Variational recurrent dropout (Gal & Ghahramani, 2016) multiplies h_{t-1} by one mask
per sequence before W_hh.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt.model.activations import tanh_scratch
from nmt.model.init import init_recurrent_


class RecurrentLayer(nn.Module):
    """One GRU or LSTM layer: parameters in PyTorch layout and the one-step update."""

    def __init__(self, rnn_type: Literal["gru", "lstm"], input_size: int, hidden_size: int):
        super().__init__()
        gates = 3 if rnn_type == "gru" else 4
        self.rnn_type = rnn_type
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Orthogonal W_hh blocks, Xavier W_ih, zero biases, LSTM forget bias 1."""
        init_recurrent_(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.rnn_type)

    def input_gates(self, x: Tensor, columns: slice = slice(None), bias: bool = True) -> Tensor:
        """W_ih[:, columns] x (+ b_ih): the input's share of the gates, (..., G)."""
        return F.linear(x, self.weight_ih[:, columns], self.bias_ih if bias else None)

    def hidden_gates(self, h: Tensor) -> Tensor:
        """W_hh h + b_hh: the recurrent share of the gates, (B, H) -> (B, G)."""
        return F.linear(h, self.weight_hh, self.bias_hh)

    def forward(
        self, gates_in: Tensor, h: Tensor, c: Tensor | None, h_mask: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """One step from the input gates (B, G) and state (B, H); returns the new (h, c)."""
        h_in = h if h_mask is None else h * h_mask
        gates_h = self.hidden_gates(h_in).float()  # (B, G)
        gates_in = gates_in.float()
        if self.rnn_type == "gru":
            i_r, i_z, i_n = gates_in.chunk(3, dim=-1)
            h_r, h_z, h_n = gates_h.chunk(3, dim=-1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = tanh_scratch(i_n + r * h_n)
            return (1.0 - z) * n + z * h.float(), None
        assert c is not None
        i, f, g, o = (gates_in + gates_h).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c.float() + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class StackedCell(nn.Module):
    """`num_layers` recurrent layers run one time step at a time, dropout between layers."""

    def __init__(
        self,
        rnn_type: Literal["gru", "lstm"],
        input_size: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            RecurrentLayer(rnn_type, input_size if i == 0 else hidden_size, hidden_size)
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        first_gates: Tensor,
        hidden: Tensor,
        cell: Tensor | None,
        hidden_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """One step given layer 0's input gates (B, G); hidden/cell/mask are (L, B, H)."""
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        gates = first_gates
        for i, layer in enumerate(self.layers):
            if i > 0:
                gates = layer.input_gates(self.dropout(hs[-1]))
            h, c = layer(
                gates,
                hidden[i],
                None if cell is None else cell[i],
                None if hidden_mask is None else hidden_mask[i],
            )
            hs.append(h)
            if c is not None:
                cs.append(c)
        return torch.stack(hs), (torch.stack(cs) if cs else None)
