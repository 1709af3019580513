"""Paragraphs into sentences, and translations back into the paragraph.

A `Template` holds the fixed text around each sentence; `fill` puts translations in
their places, so whitespace survives exactly.

Sentence rule: a boundary is one or more of `.!?…`, optionally followed by closing
quotes/brackets, then whitespace, then an opening quote/bracket or an uppercase letter
or digit — unless the word before the full stop is a known abbreviation ("Mr.", "e.g."),
a single letter or an initialism ("U.S.").
Line breaks ("\\n") always separate sentences. The whitespace between sentences is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_BOUNDARY = re.compile(
    r"(?P<end>[.!?…]+[\"'»”’)\]]*)(?P<gap>\s+)(?=[\"'«“‘(\[¿¡]?[A-ZÀ-ÖØ-Ý0-9])"
    r"|(?P<newline>[ \t]*\n\s*)"
)
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof st sr jr vs etc e.g i.e no fig mt jan feb mar apr jun jul aug sep "
    "sept oct nov dec m mme mlle"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "U.S.", "a.m.", "Ph.D." without its last "."


class HasText(Protocol):
    """A translation result: anything with the translated `text`."""

    @property
    def text(self) -> str: ...


def text_of(item: str | HasText) -> str:
    """The translated text of a plain string or of a translation result."""
    return item if isinstance(item, str) else item.text


@dataclass
class Template:
    """Fixed text around sentences: parts[0] s[0] parts[1] ... s[-1] parts[-1]."""

    parts: list[str]
    sentences: list[str]

    def fill(self, translations: Sequence[str | HasText]) -> str:
        """The original text with each sentence replaced by its translation.

        Raises ValueError when the number of translations is not the number of sentences.
        """
        if len(translations) != len(self.sentences):
            raise ValueError(f"{len(translations)} translations for {len(self.sentences)}")
        out = [self.parts[0]]
        for translated, part in zip(translations, self.parts[1:], strict=True):
            out.append(text_of(translated))
            out.append(part)
        return "".join(out)


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the word ending at `end` (a full stop) is a known abbreviation."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].lower().lstrip("(\"'«“")
    return (
        word in _ABBREVIATIONS
        or (len(word) == 1 and word.isalpha())
        or bool(_INITIALISM.fullmatch(word))
    )


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    """[start, end) without the whitespace at its ends; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def sentence_ranges(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of a paragraph, without surrounding whitespace."""
    ranges: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group("newline") is not None:
            sentence_end, gap_end = match.start(), match.end()
        else:
            if text[match.start("end")] == "." and _is_abbreviation(text, match.start("end")):
                continue
            sentence_end, gap_end = match.end("end"), match.end()
        found = _stripped(text, start, sentence_end)
        if found:
            ranges.append(found)
        start = gap_end
    found = _stripped(text, start, len(text))
    if found:
        ranges.append(found)
    return ranges


def split_sentences(text: str) -> Template:
    """Split a paragraph into sentences; the template restores the exact whitespace."""
    ranges = sentence_ranges(text)
    parts, sentences, previous = [], [], 0
    for start, end in ranges:
        parts.append(text[previous:start])
        sentences.append(text[start:end])
        previous = end
    parts.append(text[previous:])
    return Template(parts=parts, sentences=sentences)
