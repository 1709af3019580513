"""Paired significance tests (sacreBLEU's bootstrap and randomization) on made-up systems."""

from __future__ import annotations

import random

import pytest

from nmt.cli.evaluate import SIGNIFICANCE_TESTS
from nmt.errors import NmtError
from nmt.evaluation.metrics import score_corpus
from nmt.evaluation.significance import (
    METHOD_NAMES,
    paired_test,
    significance_table,
)

WORDS = [
    "le",
    "la",
    "un",
    "une",
    "chat",
    "chien",
    "maison",
    "rouge",
    "vert",
    "dort",
    "mange",
    "court",
    "vite",
    "lentement",
    "ici",
]


def _corpus(size: int, seed: int = 0) -> list[list[str]]:
    """`size` reference lists of one to three made-up French sentences each."""
    rng = random.Random(seed)
    return [
        [" ".join(rng.choices(WORDS, k=rng.randint(4, 9))) + " ." for _ in range(rng.randint(1, 3))]
        for _ in range(size)
    ]


def _damaged(references: list[list[str]], share: float, seed: int) -> list[str]:
    """The first reference of each entry, with `share` of them replaced by word salad."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choices(WORDS, k=6)) if rng.random() < share else refs[0]
        for refs in references
    ]


@pytest.mark.parametrize("method", ["bs", "ar"])
def test_a_clearly_better_system_is_significant(method: str) -> None:
    references = _corpus(300)
    good, bad = _damaged(references, 0.2, 1), _damaged(references, 0.6, 2)
    comparison = paired_test([("bad", bad), ("good", good)], references, method, samples=500)
    baseline, system = comparison.systems
    assert baseline.bleu.p_value is None and not baseline.bleu.significant
    assert system.bleu.score > baseline.bleu.score + 10
    assert system.bleu.p_value is not None and system.bleu.p_value < 0.01
    assert system.bleu.significant and system.chrf.significant


@pytest.mark.parametrize("method", ["bs", "ar"])
def test_identical_output_is_never_significant(method: str) -> None:
    references = _corpus(100)
    output = _damaged(references, 0.5, 3)
    comparison = paired_test([("a", output), ("b", list(output))], references, method, 200)
    same = comparison.systems[1]
    assert same.bleu.score == comparison.systems[0].bleu.score
    assert same.bleu.p_value == 1.0 and same.chrf.p_value == 1.0
    assert not same.bleu.significant


def test_two_systems_of_one_quality_are_not_significant() -> None:
    references = _corpus(300)
    first, second = _damaged(references, 0.4, 4), _damaged(references, 0.4, 5)
    comparison = paired_test([("first", first), ("second", second)], references, "bs", 1000)
    assert comparison.systems[1].bleu.p_value > 0.05


def test_scores_are_the_corpus_scores_with_a_variable_number_of_references() -> None:
    references = _corpus(80)
    systems = [("a", _damaged(references, 0.3, 6)), ("b", _damaged(references, 0.5, 7))]
    comparison = paired_test(systems, references, "bs", 100)
    for (_, hypotheses), estimate in zip(systems, comparison.systems, strict=True):
        expected = score_corpus(hypotheses, references)
        assert estimate.bleu.score == pytest.approx(expected.bleu)
        assert estimate.chrf.score == pytest.approx(expected.chrf)
        assert estimate.bleu.ci is not None and estimate.bleu.ci > 0
    assert "nrefs:var" in comparison.signatures["bleu"]
    assert "bs:100" in comparison.signatures["bleu"] and "seed:" in comparison.signatures["chrf"]


def test_the_resampling_is_seeded() -> None:
    references = _corpus(120)
    systems = [("a", _damaged(references, 0.3, 8)), ("b", _damaged(references, 0.35, 9))]
    first = paired_test(systems, references, "bs", 300)
    again = paired_test(systems, references, "bs", 300)
    assert first == again


def test_samples_default_to_sacrebleus() -> None:
    references = _corpus(30)
    systems = [("a", _damaged(references, 0.3, 10)), ("b", _damaged(references, 0.6, 11))]
    assert paired_test(systems, references, "bs").samples == 1000
    assert paired_test(systems, references, "ar").samples == 10000


def test_bad_calls_are_refused() -> None:
    references = _corpus(10)
    output = _damaged(references, 0.5, 12)
    with pytest.raises(NmtError, match="at least one system"):
        paired_test([("a", output)], references)
    with pytest.raises(NmtError, match="b: 9 hypotheses for 10 references"):
        paired_test([("a", output), ("b", output[:9])], references)
    with pytest.raises(NmtError, match="unknown significance test 'z'"):
        paired_test([("a", output), ("b", output)], references, "z")  # type: ignore[arg-type]
    with pytest.raises(NmtError, match="samples"):
        paired_test([("a", output), ("b", output)], references, "bs", -1)
    with pytest.raises(NmtError, match="at least one reference"):
        paired_test([("a", ["x"]), ("b", ["y"])], [[]])


def test_the_table_marks_the_baseline_and_significant_rows() -> None:
    references = _corpus(300)
    systems = [("bad", _damaged(references, 0.6, 13)), ("good", _damaged(references, 0.2, 14))]
    comparison = paired_test(systems, references, "bs", 200)
    table = significance_table([("beam 5", comparison)])
    rows = [line for line in table.splitlines() if line.startswith("| beam 5")]
    assert rows[0].startswith("| beam 5 | bad (baseline) |") and rows[0].count(" - |") == 2
    assert rows[1].startswith("| beam 5 | good |") and rows[1].count(" *") == 2
    assert "Paired bootstrap resampling (200 samples)" in table
    assert significance_table([]) == ""


def test_as_dict_is_json_ready_and_complete() -> None:
    references = _corpus(50)
    systems = [("a", _damaged(references, 0.3, 15)), ("b", _damaged(references, 0.5, 16))]
    entry = paired_test(systems, references, "ar", 100).as_dict()
    assert entry["method"] == "paired approximate randomization" and entry["samples"] == 100
    assert [row["name"] for row in entry["systems"]] == ["a", "b"]
    assert entry["systems"][0]["bleu"]["p_value"] is None
    assert 0 < entry["systems"][1]["chrf"]["p_value"] <= 1


def test_the_cli_offers_exactly_the_tests_there_are() -> None:
    assert set(SIGNIFICANCE_TESTS) == set(METHOD_NAMES)
