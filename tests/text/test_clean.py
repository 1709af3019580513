"""Cleaning: any string or bytes in, deterministic model-ready text out, origins kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt.data.corpus import normalize
from nmt.text import clean
from nmt.text.clean import decode_utf8, has_letters, is_clean, sanitize, tidy
from nmt.text.lines import one_line

NASTY = (
    "\ud83d\udc00\ud83d\x00\x07\x1b\x7f\x85\u200b\u200c\u200d\u200e\u200f\u202a\u202e"
    "\u2066\u2069\ufeff\u00ad\u2028\u2029\r\n\t\x0b\x0c\xa0\u202f\ufffd"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Hello \ud83d world.", "Hello world."),
        ("He is\rhere.", "He is here."),
        ("zero\u200bwidth \u202eevil\u202c", "zerowidth evil"),
        ("  a\u2028b\u2029c\x85d \t e  ", "a b c d e"),
        ("cafe\u0301", "café"),
        ("\ufeffBOM\x00 and\x07 bell", "BOM and bell"),
        ("pair \ud83d\ude00 joined", "pair \U0001f600 joined"),
        ("", ""),
    ],
)
def test_sanitize_examples(raw: str, clean: str) -> None:
    assert sanitize(raw).text == clean


def test_origins_point_back_at_the_caller_text() -> None:
    raw = "  Caf\u200be\u0301  \u202eat\r\n9:30"
    edited = sanitize(raw)
    assert edited.text == "Café at 9:30"
    start = edited.text.index("9:30")
    a, b = edited.origin(start, start + 4)
    assert raw[a:b] == "9:30"
    a, b = edited.origin(0, 4)
    assert raw[a:b] == "Caf\u200be\u0301"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None) | st.sampled_from(list(NASTY)), max_size=60))
def test_sanitize_is_total_and_model_ready(raw: str) -> None:
    edited = sanitize(raw)
    text = edited.text
    assert normalize(text) == text  # what the training data looked like
    text.encode("utf-8")  # no lone surrogates left
    assert one_line(text) == text
    assert len(edited.starts) == len(text) == len(edited.ends)
    assert all(0 <= a <= b <= len(raw) for a, b in zip(edited.starts, edited.ends, strict=True))
    assert sanitize(raw).text == text  # deterministic
    kept = tidy(raw)
    kept.encode("utf-8")
    assert one_line(kept) == kept and kept == kept.strip()


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec=None)
        | st.sampled_from([*NASTY, " ", "e", "\u0301", "\u0b47", "\u0b3e", "\u1100", "\u1161"]),
        max_size=40,
    )
)
def test_a_clean_text_takes_the_short_way_to_the_same_result(raw: str) -> None:
    """`is_clean` texts skip the character pass: the pass would give the same text, and
    each character then comes from itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clean, "is_clean", lambda text: False)
        slow = sanitize(raw)
    if is_clean(raw):
        assert slow.text == raw
        fast = sanitize(raw)
        assert fast.text == raw and fast.origin(0, len(raw)) == (0, len(raw))
        assert fast.starts == tuple(range(len(raw)))
    else:
        assert sanitize(raw) == slow


@pytest.mark.parametrize(
    "text",
    [
        "I see the cat.",
        "Où est la gare ?",
        'He said: "Don\'t!" — 3.5 km, 10:30, 🐈.',
        "",
    ],
)
def test_ordinary_sentences_are_clean(text: str) -> None:
    assert is_clean(text) and sanitize(text) == clean.Edited.identity(text)


@pytest.mark.parametrize(
    "text", ["two  spaces", " lead", "trail ", "tab\there", "nbsp\xa0here", "cafe\u0301", "\ufffd"]
)
def test_texts_to_clean_are_not_clean(text: str) -> None:
    assert not is_clean(text)


def test_tidy_keeps_what_is_visible() -> None:
    assert tidy(" 👨\u200d👩\u200d👧 \r\n") == "👨\u200d👩\u200d👧"
    assert tidy("\ud83d?") == "\ufffd?"


def test_decode_utf8_replaces_invalid_bytes() -> None:
    assert decode_utf8(b"Hello \xff\xfe world.") == "Hello \ufffd\ufffd world."
    assert decode_utf8(b"caf\xc3\xa9") == "café"


def test_has_letters() -> None:
    assert not has_letters("😀 . 12 € ⁇ <>")
    assert has_letters("é") and has_letters("你")
