"""Target vocabulary shortlist (nmt.model.shortlist): which ids it keeps, and a model
restricted to it scoring exactly the kept logits, renormalised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt.decoding import beam_search
from nmt.decoding.types import SearchOptions
from nmt.model import build_model
from nmt.model.quantize import quantize_dynamic_int8
from nmt.model.shortlist import SHORTLIST_MULTIPLE, check_shortlist, target_shortlist

from .conftest import BOS, EOS, PAD, VOCAB, _random_batch, _tiny_config

SPECIALS = (PAD, 3, BOS, EOS)  # pad, unk, bos, eos of the tiny models


def test_the_shortlist_keeps_every_target_id_and_the_specials_in_place() -> None:
    targets = np.array([700, 12, 12, 5000, 64, 7999], dtype=np.int16)
    ids = target_shortlist(targets, 8000, SPECIALS)
    assert ids == sorted(set(ids)) and len(ids) % SHORTLIST_MULTIPLE == 0
    assert {12, 64, 700, 5000, 7999} <= set(ids)
    assert ids[:4] == [0, 1, 2, 3]  # each special id is its own position
    assert len(ids) == SHORTLIST_MULTIPLE  # padded with the lowest unused ids, no more


def test_a_shortlist_never_outgrows_the_vocabulary() -> None:
    assert target_shortlist(np.arange(100), 100, SPECIALS) == list(range(100))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        target_shortlist(np.array([100]), 100, SPECIALS)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([0, 1, 2, 3, 9, 8], "sorted"),
        ([0, 1, 2, 3, 3], "sorted"),
        ([0, 1, 3, 5], "special id"),
        ([0, 1, 2, 3, VOCAB], "in \\[0"),
        ([], "in \\[0"),
    ],
)
def test_a_malformed_shortlist_is_refused(ids: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_shortlist(ids, VOCAB, SPECIALS)


def _model(rnn_type: str = "gru", copy: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    config = _tiny_config(rnn_type, copy=copy, tie_output=True, share_embeddings=True)
    return build_model(config, VOCAB, VOCAB, pad_id=PAD).eval()


KEPT = [0, 1, 2, 3, 5, 8, 13, 21, 22, 29]


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_a_restricted_step_is_the_full_step_renormalised_over_the_kept_ids(rnn_type: str) -> None:
    full = _model(rnn_type)
    restricted = _model(rnn_type)
    restricted.restrict_output(KEPT, SPECIALS)
    assert restricted.tgt_vocab_size == len(KEPT)
    assert torch.equal(restricted.tgt_embedding.weight, full.tgt_embedding.weight)  # untouched
    kept = torch.tensor(KEPT)
    src, lengths, _ = _random_batch()
    with torch.inference_mode():
        memory, state = full.encode(src, lengths)
        positions = torch.tensor([4, 6, 9, 2])  # ids 5, 13, 29, bos
        out_full, next_full = full.decode_step(kept[positions], state, memory)
        out, next_state = restricted.decode_step(positions, state, memory)
    expected = out_full.log_probs[:, kept]
    expected = expected - expected.logsumexp(dim=-1, keepdim=True)
    assert out.log_probs.shape == (4, len(KEPT))
    assert torch.allclose(out.log_probs, expected, atol=1e-5)
    assert torch.allclose(next_state.hidden[-1], next_full.hidden[-1])


def test_beam_search_over_a_shortlist_keeps_the_specials_and_stays_inside() -> None:
    model = _model()
    model.restrict_output(KEPT, SPECIALS)
    model = quantize_dynamic_int8(model)  # restricting comes first; int8 works on top
    src, lengths, _ = _random_batch()
    options = SearchOptions(beam_size=3, n_best=3, max_length_a=0.0, max_length_b=6.0)
    results = beam_search(model, src, lengths, options, bos_id=BOS, eos_id=EOS)
    for nbest in results:
        for hypothesis in nbest:
            assert all(
                0 <= token < len(KEPT) and token not in (PAD, BOS) for token in hypothesis.tokens
            )


def test_a_special_piece_the_tokenizer_lacks_is_skipped() -> None:
    assert check_shortlist([0, 1, 2, 3, 7], VOCAB, (-1, 1, 2, 3)).tolist() == [0, 1, 2, 3, 7]


def test_a_restricted_model_refuses_to_train() -> None:
    model = _model()
    model.restrict_output(KEPT, SPECIALS)
    src, lengths, tgt_in = _random_batch()
    with pytest.raises(RuntimeError, match="inference only"):
        model(src, lengths, tgt_in)


def test_a_copy_model_or_a_second_restriction_is_refused() -> None:
    with pytest.raises(ValueError, match="copy"):
        _model(copy=True).restrict_output(KEPT, SPECIALS)
    model = _model()
    model.restrict_output(KEPT, SPECIALS)
    with pytest.raises(ValueError, match="already"):
        model.restrict_output(KEPT, SPECIALS)
