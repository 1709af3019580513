"""Protected spans, case patterns and length splitting: pure functions."""

from __future__ import annotations

import pytest

from nmt.text.casing import apply_case, detect_case, to_sentence_case
from nmt.text.chunks import split_to_fit
from nmt.text.spans import find_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Send it to john.smith@example.com.", [("john.smith@example.com", "email")]),
        ("Visit https://example.org/a?b=1 for details.", [("https://example.org/a?b=1", "url")]),
        ("See (www.example.org).", [("www.example.org", "url")]),
        ("She bought 3 apples and 12 oranges.", [("3", "number"), ("12", "number")]),
        ("It starts at 9:30 tomorrow.", [("9:30", "time")]),
        ("It costs $12.50 or 9,99 €.", [("$12.50", "price"), ("9,99 €", "price")]),
        ("Up 1,000.5% in 2013.", [("1,000.5%", "number"), ("2013", "number")]),
        ("a &lt; b &#60; c", [("&lt;", "entity"), ("&#60;", "entity")]),
        ("No numbers in mp3, A4 or 1st.", []),
        (
            "Call +33 6 12 34 56 78 or 555-1234.",
            [("+33 6 12 34 56 78", "phone"), ("555-1234", "phone")],
        ),
        ("Lists 1, 2, 3 and 4 5 6 stay numbers.", [(n, "number") for n in "123456"]),
        ("Hash " + "ab12" * 10 + " here.", [("ab12" * 10, "token")]),
        ("AT&T and R&D, not salt & pepper.", [("AT&T", "token"), ("R&D", "token")]),
        (
            "See https://x.org/?a=1&b=2 or a&amp;b.",
            [("https://x.org/?a=1&b=2", "url"), ("&amp;", "entity")],
        ),
    ],
)
def test_find_spans(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(text[s.start : s.end], s.kind) for s in find_spans(text)] == expected


@pytest.mark.parametrize(
    ("text", "pattern", "sentence_case"),
    [
        ("HELLO, HOW ARE YOU?", "upper", "Hello, how are you?"),
        ("WHERE AM I? I'M LOST.", "upper", "Where am I? I'm lost."),
        ("Where Is The Station?", "title", "Where is the station?"),
        ("I met Tom in Paris.", "none", "I met Tom in Paris."),
        ("Tom Jackson.", "none", "Tom Jackson."),
        ("SEND IT TO JOHN@EXAMPLE.COM", "upper", "Send it to JOHN@EXAMPLE.COM"),
    ],
)
def test_case_patterns(text: str, pattern: str, sentence_case: str) -> None:
    spans = find_spans(text)
    assert detect_case(text, spans) == pattern
    if pattern != "none":
        converted = to_sentence_case(text, spans)
        assert converted == sentence_case and len(converted) == len(text)


def test_apply_case() -> None:
    assert apply_case("bonjour", "upper", False) == "BONJOUR"
    assert apply_case("gare", "title", True) == "Gare"
    assert apply_case("gare", "title", False) == "gare"
    assert apply_case("gare", "none", True) == "gare"


def _words(text: str) -> int:
    return len(text.split())


def test_long_text_splits_at_clauses_then_spaces_never_dropping_text() -> None:
    text = "one two three, four five six; seven eight nine ten eleven twelve thirteen"
    parts = split_to_fit(text, _words, 4)
    pieces = [text[a:b] for a, b in parts]
    assert pieces == [
        "one two three,",
        "four five six;",
        "seven eight nine ten",
        "eleven twelve thirteen",
    ]
    assert " ".join(pieces) == text and all(_words(p) <= 4 for p in pieces)


def test_a_token_longer_than_the_limit_is_split_between_characters() -> None:
    text = "x" * 25 + " end"
    parts = split_to_fit(text, len, 10)
    assert "".join(text[a:b] for a, b in parts).replace(" ", "") == text.replace(" ", "")
    assert all(b - a <= 10 for a, b in parts)


def test_atoms_are_never_split() -> None:
    text = "aaaa bbbb cccc dddd"
    assert split_to_fit(text, len, 10) == [(0, 9), (10, 19)]
    assert split_to_fit(text, len, 10, atoms=[(5, 14)]) == [(0, 4), (5, 14), (15, 19)]
