"""ALL-CAPS and Title-Case input: translate a sentence-case form, give the output the same pattern.

A model trained on ordinary sentences derails on "HELLO, HOW ARE YOU?" (unseen pieces).
`detect_case` recognises the two patterns (letters inside protected spans do not count),
`to_sentence_case` gives the form the model knows ("Hello, how are you?", with "I" and
each sentence's first letter kept as capitals), and `apply_case` puts the pattern on each
output word. A capital opening a sentence says nothing about the pattern: "Yes. No. Maybe."
is no title.
"""

from __future__ import annotations

import re
from typing import Literal

from nmt.text.sentences import sentence_ranges
from nmt.text.spans import Span, outside_spans

CasePattern = Literal["none", "upper", "title"]
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_PRONOUN_I = re.compile(r"(?<![^\W\d_])i(?=$|[^\w]|['’](?:m|ve|ll|d)\b)")
TITLE_MIN_WORDS = 3  # two capitalised words are as often a name ("Tom Jackson") as a title


def detect_case(text: str, spans: list[Span]) -> CasePattern:
    """The input's case pattern: "upper", "title" or "none".

    "upper": at least 2 letters, none lower-case; "title": at least TITLE_MIN_WORDS
    words, each capitalised. Letters inside `spans` do not count.
    """
    outside = outside_spans(text, spans)
    matches = list(_WORD.finditer(outside))
    words = [match.group() for match in matches]
    letters = [char for word in words for char in word if char.isupper() or char.islower()]
    if len(letters) >= 2 and not any(char.islower() for char in letters):
        return "upper"
    starts = {start for start, _ in sentence_ranges(text)}
    inner = [m.group() for m in matches if not _opens_sentence(outside, m.start(), starts)]
    if len(inner) >= TITLE_MIN_WORDS - 1 and all(word[0].isupper() for word in words):
        return "title"
    return "none"


def _opens_sentence(text: str, position: int, starts: set[int]) -> bool:
    """Whether the word at `position` is the first word of a sentence (its capital says
    nothing about the text's case pattern: "Yes. No. Maybe." is no title)."""
    start = position
    while start > 0 and not text[start - 1].isspace() and not text[start - 1].isalnum():
        start -= 1  # an opening quote or bracket before it
    return start in starts


def _lower(char: str) -> str:
    """Lower-case of one character, or itself where that would change the length."""
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def to_sentence_case(text: str, spans: list[Span]) -> str:
    """Same length as `text`: lower-case outside spans, the pronoun "I" and the first letter
    upper (unless a span opens the text: it stands in the first word's place)."""
    covered = [False] * len(text)
    for span in spans:
        covered[span.start : span.end] = [True] * (span.end - span.start)
    chars = [char if covered[i] else _lower(char) for i, char in enumerate(text)]
    lowered = "".join(chars)
    for match in _PRONOUN_I.finditer(lowered):
        if not covered[match.start()]:
            chars[match.start()] = "I"
    for start, end in sentence_ranges(text):
        first = next((i for i in range(start, end) if not covered[i] and chars[i].isalpha()), None)
        # a span before the first letter stands in the first word's place ("OLUFEMI HAS")
        opened = first is not None and any(start <= s.start < first for s in spans)
        if first is not None and not opened and len(chars[first].upper()) == 1:
            chars[first] = chars[first].upper()
    return "".join(chars)


def apply_case(word: str, pattern: CasePattern, starts_word: bool) -> str:
    """One output token in the input's pattern (`starts_word`: it begins a word)."""
    if pattern == "upper":
        return word.upper()
    if pattern == "title" and starts_word and word[:1].isalpha():
        return word[:1].upper() + word[1:]
    return word
