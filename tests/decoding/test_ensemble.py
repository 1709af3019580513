"""Ensembles (nmt.model.ensemble) on tiny real models: the mean of the members' probabilities,
searched by the same greedy and beam search as one model."""

from __future__ import annotations

from copy import deepcopy

import pytest
import torch

from nmt.decoding import search
from nmt.decoding.types import SearchOptions
from nmt.model import Seq2Seq, build_model
from nmt.model.ensemble import Ensemble

from .fakes import pad_batch
from .test_real_model import _model as real_model

VOCAB = 24
SOURCES = [[5, 9, 14, 7, 3], [11, 3], [6, 6, 20, 3], [17, 8, 3]]
OPTIONS = SearchOptions(max_length_a=3.0, max_length_b=1.0, return_attention=True)
BEAM = SearchOptions(**{**vars(OPTIONS), "beam_size": 4, "n_best": 2})
VARIANTS = [("gru", False, False), ("lstm", True, False), ("gru", False, True)]


def _model(seed: int, rnn_type: str = "gru", coverage: bool = False, copy: bool = False) -> Seq2Seq:
    return real_model(rnn_type, coverage, copy, seed).eval()


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
def test_a_step_is_the_mean_of_the_members_probabilities(
    rnn_type: str, coverage: bool, copy: bool
) -> None:
    members = [_model(seed, rnn_type, coverage, copy) for seed in (1, 2, 3)]
    ensemble = Ensemble(members).eval()
    src, lengths = pad_batch(SOURCES)
    prev = torch.tensor([2, 7, 9, 4])
    with torch.no_grad():
        memory, state = ensemble.encode(src, lengths)
        out, new_state = ensemble.decode_step(prev, state, memory)
        encoded = [m.encode(src, lengths) for m in members]
        alone = [m.decode_step(prev, s, mem) for m, (mem, s) in zip(members, encoded, strict=True)]
    probabilities = torch.stack([o.log_probs.exp() for o, _ in alone]).mean(0)
    torch.testing.assert_close(out.log_probs.exp(), probabilities)
    torch.testing.assert_close(out.log_probs.exp().sum(-1), torch.ones(len(SOURCES)))
    attention = torch.stack([o.attention for o, _ in alone]).mean(0)
    torch.testing.assert_close(out.attention, attention)
    if copy:
        assert out.p_gen is not None
        torch.testing.assert_close(out.p_gen, torch.stack([o.p_gen for o, _ in alone]).mean(0))
    else:
        assert out.p_gen is None
    for member_state, (_, alone_state) in zip(new_state.members, alone, strict=True):
        torch.testing.assert_close(member_state.hidden, alone_state.hidden)


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("options", [OPTIONS, BEAM], ids=["greedy", "beam"])
def test_an_ensemble_of_copies_searches_like_the_model(
    rnn_type: str, coverage: bool, copy: bool, options: SearchOptions
) -> None:
    model = _model(1, rnn_type, coverage, copy)
    ensemble = Ensemble([model, deepcopy(model)]).eval()
    src, lengths = pad_batch(SOURCES)
    alone, together = search(model, src, lengths, options), search(ensemble, src, lengths, options)
    for single, both in zip(alone, together, strict=True):
        assert [h.tokens for h in both] == [h.tokens for h in single]
        assert [h.score for h in both] == pytest.approx([h.score for h in single], abs=1e-5)
        torch.testing.assert_close(both[0].attention, single[0].attention)


def test_different_members_change_the_search_and_batching_does_not() -> None:
    ensemble = Ensemble([_model(1), _model(2)]).eval()
    src, lengths = pad_batch(SOURCES)
    batched = search(ensemble, src, lengths, BEAM)
    assert batched != search(_model(1), src, lengths, BEAM)
    for source, hypotheses in zip(SOURCES, batched, strict=True):
        alone = search(ensemble, *pad_batch([source]), BEAM)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in hypotheses]
        assert [h.score for h in alone] == pytest.approx([h.score for h in hypotheses], abs=1e-5)


def test_a_shortlist_restricts_every_member() -> None:
    ensemble = Ensemble([_model(1), _model(2)]).eval()
    shortlist = [0, 1, 2, 3, *range(5, 20)]
    ensemble.restrict_output(shortlist, (0, 1, 2, 3))
    assert ensemble.tgt_vocab_size == len(shortlist)
    assert ensemble.output_ids is not None and ensemble.output_ids.tolist() == shortlist
    for member in ensemble.members:
        assert member.output_ids is not None and member.output_ids.tolist() == shortlist
    src, lengths = pad_batch(SOURCES)
    for hypotheses in search(ensemble, src, lengths, BEAM):
        assert all(0 <= token < len(shortlist) for h in hypotheses for token in h.tokens)


def test_members_must_share_the_target_vocabulary() -> None:
    other = build_model(_model(1).config, VOCAB, VOCAB + 1, pad_id=0)
    with pytest.raises(ValueError, match="member 1 has target vocabulary 25"):
        Ensemble([_model(1), other])
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])
