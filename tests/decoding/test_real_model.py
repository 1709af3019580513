"""The searches on a tiny randomly initialised real model (GRU/LSTM, coverage, copy)."""

from __future__ import annotations

import pytest
import torch

from nmt.config import CopyConfig, CoverageConfig, ModelConfig
from nmt.decoding import beam_search, greedy_search, search
from nmt.decoding.types import SearchOptions
from nmt.model import Seq2Seq, build_model

from .fakes import pad_batch

VOCAB = 24
SOURCES = [[5, 9, 14, 7, 3], [11, 3], [6, 6, 20, 3], [17, 8, 3]]
OPTIONS = SearchOptions(
    max_length_a=3.0,
    max_length_b=1.0,
    length_penalty=0.6,
    coverage_penalty=0.2,
    return_attention=True,
)


def _model(rnn_type: str, coverage: bool, copy: bool, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    config = ModelConfig(
        rnn_type=rnn_type,
        embedding_dim=8,
        hidden_dim=16,
        attention_dim=8,
        encoder_layers=1,
        decoder_layers=2,
        coverage=CoverageConfig(enabled=coverage),
        copy=CopyConfig(enabled=copy),
    )
    return build_model(config, VOCAB, VOCAB, pad_id=0).eval()


VARIANTS = [
    ("gru", False, False),
    ("lstm", True, False),
    ("gru", False, True),
    ("lstm", True, True),
]


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
def test_beam_one_is_greedy(rnn_type: str, coverage: bool, copy: bool) -> None:
    model = _model(rnn_type, coverage, copy)
    src, lengths = pad_batch(SOURCES)
    greedy = greedy_search(model, src, lengths, OPTIONS)
    beam = beam_search(model, src, lengths, OPTIONS)
    for [g], [b] in zip(greedy, beam, strict=True):
        assert (b.tokens, b.log_prob) == (g.tokens, g.log_prob)
        assert b.score == pytest.approx(g.score, abs=1e-6)
        assert (b.p_gen is None) == (not copy)
        assert g.attention is not None and g.attention.shape[0] == len(g.token_log_probs)


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
def test_batched_equals_one_by_one(rnn_type: str, coverage: bool, copy: bool) -> None:
    model = _model(rnn_type, coverage, copy)
    src, lengths = pad_batch(SOURCES)
    for options in (OPTIONS, SearchOptions(**{**vars(OPTIONS), "beam_size": 3, "n_best": 2})):
        batched = search(model, src, lengths, options)
        for source, hyps in zip(SOURCES, batched, strict=True):
            one_src, one_len = pad_batch([source])
            alone = search(model, one_src, one_len, options)[0]
            assert [h.tokens for h in alone] == [h.tokens for h in hyps]
            assert [h.score for h in alone] == pytest.approx([h.score for h in hyps], abs=1e-4)
            assert alone[0].attention.shape[1] == len(source)


def _full_topk(total: torch.Tensor, log_probs: torch.Tensor, count: int):
    n, k = total.shape
    flat = (total.reshape(-1, 1) + log_probs).view(n, k * log_probs.size(1))
    return flat.topk(count, dim=1)


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
def test_chunked_selection_finds_what_a_full_topk_finds(
    rnn_type: str, coverage: bool, copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(rnn_type, coverage, copy)
    src, lengths = pad_batch(SOURCES)
    options = SearchOptions(**{**vars(OPTIONS), "beam_size": 4, "n_best": 3})
    fast = beam_search(model, src, lengths, options)
    monkeypatch.setattr("nmt.decoding.beam.best_continuations", _full_topk)
    plain = beam_search(model, src, lengths, options)
    for fast_hyps, plain_hyps in zip(fast, plain, strict=True):
        assert [h.tokens for h in fast_hyps] == [h.tokens for h in plain_hyps]
        assert [h.score for h in fast_hyps] == [h.score for h in plain_hyps]  # bit for bit
        assert [h.token_log_probs for h in fast_hyps] == [h.token_log_probs for h in plain_hyps]
