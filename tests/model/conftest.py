"""Tiny configs and batches shared by the model tests."""

from __future__ import annotations

import pytest
import torch

from nmt.config import CopyConfig, CoverageConfig, ModelConfig

VOCAB = 30
PAD = 0
BOS = 1
EOS = 2


def _tiny_config(
    rnn_type: str = "lstm", coverage: bool = False, copy: bool = False, **overrides: object
) -> ModelConfig:
    """A small model config; dropout off unless overridden."""
    values: dict[str, object] = dict(
        rnn_type=rnn_type,
        embedding_dim=16,
        hidden_dim=16,
        attention_dim=12,
        encoder_layers=2,
        decoder_layers=2,
        dropout=0.0,
        embedding_dropout=0.0,
        coverage=CoverageConfig(enabled=coverage),
        copy=CopyConfig(enabled=copy),
    )
    values.update(overrides)
    return ModelConfig(**values)


def _random_batch(
    batch: int = 4, src_len: int = 7, tgt_len: int = 6, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(src (B, S), src_lengths (B,), tgt_in (B, T)) with varied lengths and pads after them."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, src_len + 1, (batch,), generator=gen)
    lengths[0] = src_len
    src = torch.randint(3, VOCAB, (batch, src_len), generator=gen)
    src[torch.arange(src_len).unsqueeze(0) >= lengths.unsqueeze(1)] = PAD
    tgt = torch.randint(3, VOCAB, (batch, tgt_len), generator=gen)
    tgt[:, 0] = BOS
    tgt[1, tgt_len - 2 :] = PAD
    return src, lengths, tgt


def memorisable_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """6 random pairs over ids < 24 to memorise: (src, src_lengths, tgt_in, tgt_out).

    Sources have length 5-7 (eos included), targets 4-6 words plus bos/eos; widths 7.
    """
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


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_config():
    """Factory for small model configs (see _tiny_config)."""
    return _tiny_config


@pytest.fixture
def random_batch():
    """Factory for small random batches (see _random_batch)."""
    return _random_batch
