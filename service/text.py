"""Turning real input (paragraphs, HTML) into sentences to translate, and back.

A `Template` holds the fixed text around each sentence; `fill` puts translations in
their places, so whitespace and markup survive exactly.

Sentence rule: a boundary is one or more of `.!?…`, optionally followed by closing
quotes/brackets, then whitespace, then an opening quote/bracket or an uppercase letter
or digit — unless the word before the full stop is a known abbreviation ("Mr.", "e.g.").
Line breaks always separate sentences. The whitespace between sentences is kept.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BOUNDARY = re.compile(
    r"(?P<end>[.!?…]+[\"'»”’)\]]*)(?P<gap>\s+)(?=[\"'«“‘(\[¿¡]?[A-ZÀ-ÖØ-Ý0-9])"
    r"|(?P<newline>[ \t]*\n\s*)"
)
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof st sr jr vs etc e.g i.e no fig mt jan feb mar apr jun jul aug sep "
    "sept oct nov dec m mme mlle"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_SKIPPED_TAGS = frozenset({"script", "style", "code", "pre", "textarea", "noscript"})


@dataclass
class Template:
    """Fixed text around sentences: parts[0] s[0] parts[1] ... s[-1] parts[-1]."""

    parts: list[str]
    sentences: list[str]
    escape: Callable[[str], str] | None = field(default=None, repr=False)

    def fill(self, translations: list[str]) -> str:
        """The original text with each sentence replaced by its translation."""
        if len(translations) != len(self.sentences):
            raise ValueError(f"{len(translations)} translations for {len(self.sentences)}")
        out = [self.parts[0]]
        for translated, part in zip(translations, self.parts[1:], strict=True):
            out.append(self.escape(translated) if self.escape else translated)
            out.append(part)
        return "".join(out)


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the word ending at `end` (a full stop) is a known abbreviation."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].lower().lstrip("(\"'«“")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str) -> Template:
    """Split a paragraph into sentences; the template restores the exact whitespace."""
    parts: list[str] = []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group("newline") is not None:
            sentence_end, gap_end = match.start(), match.end()
        else:
            end = match.end("end")
            if text[match.start("end")] == "." and _is_abbreviation(text, match.start("end")):
                continue
            sentence_end, gap_end = end, match.end()
        _append(text[start:sentence_end], text[sentence_end:gap_end], parts, sentences)
        start = gap_end
    _append(text[start:], "", parts, sentences)
    return Template(parts=parts or [""], sentences=sentences)


def _append(chunk: str, gap: str, parts: list[str], sentences: list[str]) -> None:
    """Add a chunk (stripped into the surrounding fixed text) and the gap after it."""
    if not parts:
        parts.append("")
    stripped = chunk.strip()
    if not stripped:
        parts[-1] += chunk + gap
        return
    lead = chunk[: len(chunk) - len(chunk.lstrip())]
    trail = chunk[len(chunk.rstrip()) :]
    parts[-1] += lead
    sentences.append(stripped)
    parts.append(trail + gap)


def _escape_text(text: str) -> str:
    """Escape a translation for an HTML text node (quotes need no escaping there)."""
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


class _TokenLocator(HTMLParser):
    """Records where each token starts and whether it is translatable text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[tuple[int, int], str | None]] = []  # (pos, text or None)
        self._skip_depth: list[str] = []

    def _mark(self, text: str | None = None) -> None:
        self.tokens.append((self.getpos(), text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark()
        if tag in _SKIPPED_TAGS:
            self._skip_depth.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark()

    def handle_endtag(self, tag: str) -> None:
        self._mark()
        if tag in self._skip_depth:
            while self._skip_depth and self._skip_depth.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self._mark(None if self._skip_depth else data)

    def handle_comment(self, data: str) -> None:
        self._mark()

    def handle_decl(self, decl: str) -> None:
        self._mark()

    def handle_pi(self, data: str) -> None:
        self._mark()

    def unknown_decl(self, data: str) -> None:
        self._mark()


def _offsets(text: str) -> list[int]:
    """Offset of the first character of each line (HTMLParser counts lines from 1)."""
    starts = [0, 0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def split_html(text: str) -> Template:
    """Sentences of the text nodes of an HTML fragment (not inside script/style/code)."""
    locator = _TokenLocator()
    locator.feed(text)
    locator.close()
    line_starts = _offsets(text)
    starts = [line_starts[line] + col for (line, col), _ in locator.tokens]
    ends = [*starts[1:], len(text)] if starts else []
    parts, sentences = [""], []
    for (_, data), start, end in zip(locator.tokens, starts, ends, strict=True):
        raw = text[start:end]
        if data is None or not data.strip():
            parts[-1] += raw
            continue
        inner = split_sentences(data)  # its parts are whitespace, escaped back (\xa0: &nbsp;)
        parts[-1] += _escape_text(inner.parts[0])
        sentences.extend(inner.sentences)
        parts.extend(_escape_text(part) for part in inner.parts[1:])
    if starts and starts[0] > 0:
        parts[0] = text[: starts[0]] + parts[0]
    return Template(parts=parts, sentences=sentences, escape=_escape_text)
