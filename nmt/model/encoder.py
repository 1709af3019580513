"""Bidirectional (by default) GRU/LSTM encoder over packed sequences.

The fused cuDNN nn.GRU/nn.LSTM runs on a PackedSequence, so padding never changes
the outputs or the final states (each direction stops at the sentence's true end).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt.config import ModelConfig


class Encoder(nn.Module):
    """Embedded source (B, S, E) -> states (B, S, He) and final per-layer states."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.directions = 2 if config.bidirectional else 1
        self.output_dim = config.hidden_dim  # He: both directions together
        rnn_class = nn.GRU if config.rnn_type == "gru" else nn.LSTM
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_dim // self.directions,
            num_layers=config.encoder_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.encoder_layers > 1 else 0.0,
        )
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)

    def _merge_directions(self, final: Tensor) -> Tensor:
        # (Le * D, B, He / D) -> (Le, B, He): both directions of a layer side by side.
        layers_dirs, batch, size = final.shape
        final = final.view(layers_dirs // self.directions, self.directions, batch, size)
        return final.permute(0, 2, 1, 3).reshape(-1, batch, self.directions * size)

    def forward(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Returns states (B, S, He), final hidden (Le, B, He), final cell (Le, B, He) or None."""
        packed = pack_padded_sequence(
            self.embedding_dropout(embedded), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, final = self.rnn(packed)
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=embedded.size(1))
        hidden, cell = final if isinstance(final, tuple) else (final, None)
        merged_cell = None if cell is None else self._merge_directions(cell)
        return states, self._merge_directions(hidden), merged_cell
