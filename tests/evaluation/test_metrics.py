"""Tests for nmt.evaluation.metrics: agreement with sacreBLEU called directly."""

from __future__ import annotations

import pytest
import sacrebleu

from nmt.errors import NmtError
from nmt.evaluation.metrics import reference_streams, score_corpus

HYPS = ["the cat sat on the mat", "hello", "Il fait froid ."]
REFS = [
    ["the cat sat on the mat", "hello there my friend", "a cat was sitting on the mat"],
    ["the cat sat on a mat"],
    ["Il fait très froid .", "J'ai froid ."],
]


def test_reference_streams_transposes_and_pads_with_none() -> None:
    streams = reference_streams(REFS)
    assert streams == [
        ["the cat sat on the mat", "the cat sat on a mat", "Il fait très froid ."],
        ["hello there my friend", None, "J'ai froid ."],
        ["a cat was sitting on the mat", None, None],
    ]


def test_single_reference_matches_sacrebleu() -> None:
    refs = [refs[0] for refs in REFS]
    score = score_corpus(HYPS, [[ref] for ref in refs])
    assert score.bleu == pytest.approx(sacrebleu.corpus_bleu(HYPS, [refs]).score)
    assert score.chrf == pytest.approx(sacrebleu.corpus_chrf(HYPS, [refs]).score)
    assert "nrefs:1" in score.bleu_signature and "tok:13a" in score.bleu_signature
    assert "case:mixed" in score.bleu_signature
    assert score.chrf_signature.startswith("nrefs:1") and "nw:0" in score.chrf_signature


def test_multi_reference_matches_sacrebleu_with_none_padding() -> None:
    streams = [
        [REFS[0][0], REFS[1][0], REFS[2][0]],
        [REFS[0][1], None, REFS[2][1]],
        [REFS[0][2], None, None],
    ]
    score = score_corpus(HYPS, REFS)
    assert score.bleu == pytest.approx(sacrebleu.corpus_bleu(HYPS, streams).score)
    assert score.chrf == pytest.approx(sacrebleu.corpus_chrf(HYPS, streams).score)
    assert "nrefs:var" in score.bleu_signature
    assert "nrefs:var" in score.chrf_signature


def test_none_padding_differs_from_empty_string_padding() -> None:
    # '' is a zero-length reference: it is the closest length to "hello" and so
    # removes the brevity penalty that the real references impose.
    hyps = ["the cat sat on the mat", "hello"]
    refs = [["the cat sat on the mat", "the cat sat on a mat"], ["hello there my friend"]]
    padded_empty = [[refs[0][0], refs[1][0]], [refs[0][1], ""]]
    score = score_corpus(hyps, refs)
    assert score.bleu < 99.0
    assert sacrebleu.corpus_bleu(hyps, padded_empty).score == pytest.approx(100.0)


def test_perfect_hypotheses_score_100() -> None:
    hyps = ["Je suis très fatigué ce soir .", "Merci pour tout ce que tu as fait ."]
    refs = [["Je suis épuisé ce soir .", hyps[0]], ["Merci pour tout ce que tu as fait ."]]
    score = score_corpus(hyps, refs)
    assert score.bleu == pytest.approx(100.0)
    assert score.chrf == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("hyps", "refs"),
    [(["a"], [["a"], ["b"]]), ([], []), (["a"], [[]])],
    ids=["length-mismatch", "empty", "no-reference"],
)
def test_invalid_inputs_raise_nmt_error(hyps: list[str], refs: list[list[str]]) -> None:
    with pytest.raises(NmtError):
        score_corpus(hyps, refs)
