"""Cleaning: any string or bytes in, deterministic model-ready text out, origins kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt.data.corpus import normalize
from nmt.text.clean import decode_utf8, has_letters, sanitize, tidy
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


def test_tidy_keeps_what_is_visible() -> None:
    assert tidy(" 👨\u200d👩\u200d👧 \r\n") == "👨\u200d👩\u200d👧"
    assert tidy("\ud83d?") == "\ufffd?"


def test_decode_utf8_replaces_invalid_bytes() -> None:
    assert decode_utf8(b"Hello \xff\xfe world.") == "Hello \ufffd\ufffd world."
    assert decode_utf8(b"caf\xc3\xa9") == "café"


def test_has_letters() -> None:
    assert not has_letters("😀 . 12 € ⁇ <>")
    assert has_letters("é") and has_letters("你")
