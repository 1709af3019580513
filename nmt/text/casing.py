"""ALL-CAPS and Title-Case input: translate a sentence-case form, give the output the same pattern.

A model trained on ordinary sentences derails on "HELLO, HOW ARE YOU?" (unseen pieces).
`detect_case` recognises the two patterns (letters inside protected spans do not count),
`to_sentence_case` gives the form the model knows ("Hello, how are you?", with "I" kept
as a capital), and `apply_case` puts the pattern on each output word.
"""

from __future__ import annotations

import re
from typing import Literal

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
    words = _WORD.findall(outside_spans(text, spans))
    letters = [char for word in words for char in word if char.isupper() or char.islower()]
    if len(letters) >= 2 and not any(char.islower() for char in letters):
        return "upper"
    if len(words) >= TITLE_MIN_WORDS and all(word[0].isupper() for word in words):
        return "title"
    return "none"


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
    first = next((i for i, char in enumerate(chars) if not covered[i] and char.isalpha()), None)
    opened = first is not None and any(span.start < first for span in spans)  # "OLUFEMI HAS"
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
