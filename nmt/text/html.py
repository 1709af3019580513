"""HTML fragments into sentences to translate, and translations back into the markup.

What is translated: the text of each block (a paragraph, a list item, a cell...), split
into sentences by `sentences.sentence_ranges`. Inline elements (<b>, <i>, <a>, <span>,
<em>, <strong>...) do not split a sentence: the sentence goes to the model whole, and
`MarkupTemplate.fill` puts each inline tag back around the target words aligned to the source
words it wrapped (`markup.place_marks`). Inline <code>, <kbd>, <samp>, <var> and <img>
travel inside the sentence as one opaque character and come back verbatim. Everything
else stays exactly as written: block tags and their attributes, comments, doctype,
entities between sentences, and the content of <script>, <style>, <pre>, <textarea>,
<noscript> and block-level <code>. Translations are escaped for a text node.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from nmt.text.markup import Mark, place_marks, sentence_marks
from nmt.text.sentences import HasText, sentence_ranges, text_of

_VERBATIM_BLOCKS = frozenset({"script", "style", "pre", "textarea", "noscript"})
_INLINE = frozenset(
    {
        *("a", "abbr", "b", "bdi", "bdo", "big", "cite", "data", "del", "dfn", "em", "font"),
        *("i", "ins", "mark", "q", "s", "small", "span", "strike", "strong", "sub", "sup"),
        *("time", "tt", "u"),
    }
)
_ATOMS = frozenset({"code", "kbd", "samp", "var"})  # inline, content kept verbatim
_VOID_ATOMS = frozenset({"img", "wbr"})
ATOM_BASE = 0xF0000  # plane-15 private use: one character per opaque inline element


def escape_text(text: str) -> str:
    """Escape a translation for an HTML text node (quotes need no escaping there)."""
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


class _Tokens(HTMLParser):
    """Each token's start position, kind and tag name (entities kept as their own tokens)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[tuple[tuple[int, int], str, str]] = []  # (line, column), kind, tag

    def _add(self, kind: str, tag: str = "") -> None:
        self.tokens.append((self.getpos(), kind, tag))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("void", tag)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("text")

    def handle_entityref(self, name: str) -> None:
        self._add("text")

    def handle_charref(self, name: str) -> None:
        self._add("text")

    def handle_comment(self, data: str) -> None:
        self._add("other")

    def handle_decl(self, decl: str) -> None:
        self._add("other")

    def handle_pi(self, data: str) -> None:
        self._add("other")

    def unknown_decl(self, data: str) -> None:
        self._add("other")


@dataclass(frozen=True)
class _Item:
    """A raw stretch of the document: text (raw and decoded), an inline mark, or fixed."""

    kind: str  # "text", "mark", "atom" or "fixed"
    raw: str
    decoded: str = ""
    tag: str = ""
    opening: bool = False


def _raw_tokens(text: str) -> list[tuple[str, str, str]]:
    """(kind, tag, raw text) of each token, covering the document exactly."""
    parser = _Tokens()
    parser.feed(text)
    parser.close()
    line_starts = [0, 0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    starts = [line_starts[line] + column for (line, column), _, _ in parser.tokens]
    ends = [*starts[1:], len(text)] if starts else []
    tokens = [
        (kind, tag, text[start:end])
        for (_, kind, tag), start, end in zip(parser.tokens, starts, ends, strict=True)
    ]
    if starts and starts[0] > 0:
        tokens.insert(0, ("other", "", text[: starts[0]]))
    return tokens


def _items(text: str) -> list[_Item]:
    """The document as items; verbatim elements (script, pre, inline code...) grouped."""
    items: list[_Item] = []
    tokens = _raw_tokens(text)
    index = 0
    while index < len(tokens):
        kind, tag, raw = tokens[index]
        if kind == "start" and (tag in _VERBATIM_BLOCKS or tag in _ATOMS):
            end = _closing(tokens, index, tag)
            whole = "".join(raw for _, _, raw in tokens[index : end + 1])
            items.append(_Item("atom" if tag in _ATOMS else "fixed", whole, tag=tag))
            index = end + 1
            continue
        if kind == "text":
            items.append(_Item("text", raw, html.unescape(raw)))
        elif tag in _VOID_ATOMS and kind in ("start", "void"):
            items.append(_Item("atom", raw, tag=tag))
        elif tag in _INLINE and kind in ("start", "end"):
            items.append(_Item("mark", raw, tag=tag, opening=kind == "start"))
        else:
            items.append(_Item("fixed", raw, tag=tag))
        index += 1
    return items


def _closing(tokens: list[tuple[str, str, str]], start: int, tag: str) -> int:
    """Index of the end tag closing tokens[start] (the last token if it is never closed)."""
    depth = 0
    for index in range(start, len(tokens)):
        kind, name, _ = tokens[index]
        if name == tag and kind == "start":
            depth += 1
        elif name == tag and kind == "end":
            depth -= 1
            if depth == 0:
                return index
    return len(tokens) - 1


@dataclass
class MarkupTemplate:
    """Fixed markup around sentences: parts[0] s[0] parts[1] ... s[-1] parts[-1].

    `marks[i]` are the inline tags inside sentence i, at character offsets of it.
    """

    parts: list[str]
    sentences: list[str]
    marks: list[list[Mark]] = field(default_factory=list)

    def fill(self, translations: Sequence[str | HasText]) -> str:
        """The document with each sentence replaced by its translation (escaped), tags placed.

        A translation with an `alignment` (nmt.translation.Link) has its tags placed on the
        aligned words; a plain string by relative position. Raises ValueError when the
        number of translations is not the number of sentences.
        """
        if len(translations) != len(self.sentences):
            raise ValueError(f"{len(translations)} translations for {len(self.sentences)}")
        out = [self.parts[0]]
        for index, (item, part) in enumerate(zip(translations, self.parts[1:], strict=True)):
            marks = self.marks[index] if self.marks else []
            alignment = getattr(item, "alignment", None)
            source = self.sentences[index]
            out.append(place_marks(source, text_of(item), marks, alignment, escape_text))
            out.append(part)
        return "".join(out)


def split_html(text: str) -> MarkupTemplate:
    """Sentences of the text of an HTML fragment (module docstring); fill() restores it."""
    template = MarkupTemplate(parts=[""], sentences=[], marks=[])
    block: list[_Item] = []
    for item in _items(text):
        if item.kind == "fixed":
            _flush(block, template)
            template.parts[-1] += item.raw
        else:
            block.append(item)
    _flush(block, template)
    return template


def _plain_text(block: list[_Item]) -> tuple[str, list[int]]:
    """The block's text (atoms as one private-use character each) and each item's offset.

    Atoms in `block` are replaced by copies that carry their character in `decoded`.
    """
    used = {char for item in block for char in item.decoded}
    spare = (chr(code) for code in range(ATOM_BASE, ATOM_BASE + 0xFFFE) if chr(code) not in used)
    chars: list[str] = []
    offsets = []
    for index, item in enumerate(block):
        offsets.append(len(chars))
        if item.kind == "atom":
            block[index] = dataclasses.replace(item, decoded=next(spare))
        if item.kind in ("text", "atom"):
            chars.extend(block[index].decoded)
    return "".join(chars), offsets


def _flush(block: list[_Item], template: MarkupTemplate) -> None:
    """Add one block's sentences (and the markup around them) to the template."""
    if not block:
        return
    plain, offsets = _plain_text(block)
    ranges = sentence_ranges(plain)
    marks, inside = sentence_marks(ranges, offsets, block)
    flushed = 0  # sentences already added

    def flush_until(offset: int) -> None:
        nonlocal flushed
        while flushed < len(ranges) and ranges[flushed][1] <= offset:
            start, end = ranges[flushed]
            template.sentences.append(plain[start:end])
            template.marks.append(marks[flushed])
            template.parts.append("")
            flushed += 1

    for index, item in enumerate(block):
        offset = offsets[index]
        if item.kind in ("mark", "atom"):
            if index not in inside:
                flush_until(offset)
                template.parts[-1] += item.raw
            continue
        _emit_text(item, offset, ranges, flush_until, template)
    flush_until(len(plain))
    block.clear()


def _emit_text(
    item: _Item,
    offset: int,
    ranges: list[tuple[int, int]],
    flush_until: Callable[[int], None],
    template: MarkupTemplate,
) -> None:
    """Put the characters of a text item that lie outside every sentence into the template."""
    outside = [
        not any(start <= offset + i < end for start, end in ranges)
        for i in range(len(item.decoded))
    ]
    if all(outside) and item.decoded:
        flush_until(offset)
        template.parts[-1] += item.raw
        return
    identity = item.raw == item.decoded
    i = 0
    while i < len(outside):
        if not outside[i]:
            i += 1
            continue
        j = i
        while j < len(outside) and outside[j]:
            j += 1
        flush_until(offset + i)
        piece = item.raw[i:j] if identity else escape_text(item.decoded[i:j])
        template.parts[-1] += piece
        i = j
    if not item.decoded:
        template.parts[-1] += item.raw
