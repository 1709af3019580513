"""Diagnostics and language detection: pure functions (segmentation moved to tests/text/)."""

from __future__ import annotations

import pytest

from service.diagnostics import finite, has_repetition, untranslated_pieces


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["le", "chat", "est", "noir"], False),
        (["le", "le", "le"], True),
        (["a", "b", "c", "x", "a", "b", "c"], True),
        (["a", "b", "a", "b"], False),
        ([], False),
    ],
)
def test_repetition_rule(pieces: list[str], expected: bool) -> None:
    assert has_repetition(pieces) is expected


def test_untranslated_pieces_uses_column_sums() -> None:
    attention = [[0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.0, 0.0, 1.0]]  # (T + 1, S + 1)
    assert untranslated_pieces(attention, ["a", "b"], threshold=0.5) == ["b"]
    assert untranslated_pieces(attention, ["a", "b"], threshold=0.1) == []


def test_finite_clamps_non_json_floats() -> None:
    assert finite(float("-inf")) == -1e9
    assert finite(float("nan")) == -1e9
    assert finite(-1.5) == -1.5
