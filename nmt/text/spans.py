"""Spans that must come out verbatim: URLs, e-mails, entities, names joined by "&" (AT&T),
phone numbers, times, prices, numbers, and tokens too long to be words (LONG_TOKEN
characters without a space).

`find_spans` returns non-overlapping spans in text order; where two kinds overlap, the
earlier-listed kind wins (a URL holding digits is one URL). A span's trailing sentence
punctuation is left out ("Visit https://example.org." keeps the final full stop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SpanKind = Literal[
    "url", "email", "entity", "phone", "time", "price", "number", "token", "unknown", "name"
]

LONG_TOKEN = 40  # characters without a space: a hash, a path, a blob; not a word to translate
PHONE_DIGITS = 7  # a run of digit groups is a phone number from this many digits on
_TRAILING = ".,;:!?)]}'\"»”’"
_CURRENCY = r"[$€£¥₹¢]"
_NUMBER = r"\d+(?:[.,]\d+)*"
_PATTERNS: tuple[tuple[SpanKind, re.Pattern[str]], ...] = (
    ("url", re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'`]+", re.IGNORECASE)),
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("entity", re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")),
    # AT&T, R&D, H&M: a name the model cannot read ("AT&T" came out "UnTomT")
    ("token", re.compile(r"(?<![\w&])[^\W_]+(?:&[^\W_]+)+(?![\w&])")),
    ("phone", re.compile(r"(?<![\w+.,])\+?\(?\d{1,4}\)?(?:[ .-]\(?\d{1,4}\)?)+(?![\w])")),
    (
        "time",
        re.compile(r"(?<![\w:.,])\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]m\b)?(?![\w:])", re.IGNORECASE),
    ),
    (
        "price",
        re.compile(
            rf"(?<![\w.,]){_CURRENCY}\s?{_NUMBER}(?![\w])|(?<![\w.,]){_NUMBER}\s?{_CURRENCY}"
        ),
    ),
    ("number", re.compile(rf"(?<![\w.,]){_NUMBER}%?(?![\w])")),
    ("token", re.compile(rf"(?<!\S)\S{{{LONG_TOKEN},}}(?!\S)")),
)


@dataclass(frozen=True)
class Span:
    """Characters [start, end) of a text that are carried over verbatim."""

    start: int
    end: int
    kind: SpanKind


def _trim(text: str, start: int, end: int, kind: SpanKind) -> int:
    """The end of a URL/e-mail without trailing sentence punctuation (balanced ")" stays)."""
    if kind not in ("url", "email"):
        return end
    while end > start and text[end - 1] in _TRAILING:
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    return end


def find_spans(text: str) -> list[Span]:
    """The protected spans of `text`, in order, never overlapping."""
    found: list[Span] = []
    taken = [False] * len(text)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.start(), _trim(text, match.start(), match.end(), kind)
            if end <= start or any(taken[start:end]):
                continue
            if kind == "phone" and sum(c.isdigit() for c in text[start:end]) < PHONE_DIGITS:
                continue
            taken[start:end] = [True] * (end - start)
            found.append(Span(start, end, kind))
    return sorted(found, key=lambda span: span.start)


def merge_spans(first: list[Span], second: list[Span]) -> list[Span]:
    """`first` plus each span of `second` that overlaps none of them, in text order."""
    kept = list(first)
    for span in second:
        if all(span.end <= other.start or other.end <= span.start for other in first):
            kept.append(span)
    return sorted(kept, key=lambda span: span.start)


def outside_spans(text: str, spans: list[Span]) -> str:
    """The characters of `text` that no span covers (spans become spaces)."""
    chars = list(text)
    for span in spans:
        chars[span.start : span.end] = [" "] * (span.end - span.start)
    return "".join(chars)
