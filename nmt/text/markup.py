"""Inline tags of a source sentence placed into its translation by word alignment.

A pair of tags wrapping source characters [a, b) wraps, in the translation, the smallest
stretch holding every target token aligned into [a, b) (`nmt.translation.Link`s: the
model's attention). Nested pairs stay nested: a pair is clamped into the one around it
and shrunk off a sibling it would cross, or left empty where nothing remains, so the
output is always well-formed. An unpaired tag goes before (opening) or after (closing)
the target token aligned nearest to its place. Without an alignment, tokens are aligned
by relative position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nmt.translation import Link

if TYPE_CHECKING:
    from nmt.text.html import _Item

MarkKind = Literal["open", "close", "atom"]
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Mark:
    """An inline tag inside a sentence, at a character offset of the sentence."""

    offset: int
    markup: str
    kind: MarkKind
    partner: int | None = None  # index of the matching tag among the sentence's marks
    char: str = ""  # atom: the stand-in character the sentence holds in its place


def _pairs(block: Sequence[_Item]) -> dict[int, int]:
    """Item index of each opening inline tag -> its closing tag (same name, innermost)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for index, item in enumerate(block):
        if item.kind != "mark":
            continue
        if item.opening:
            stack.append(index)
            continue
        for depth in range(len(stack) - 1, -1, -1):
            if block[stack[depth]].tag == item.tag:
                pairs[stack.pop(depth)] = index
                break
    return pairs


def sentence_marks(
    ranges: Sequence[tuple[int, int]], offsets: Sequence[int], block: Sequence[_Item]
) -> tuple[list[list[Mark]], set[int]]:
    """The marks inside each sentence, and the item indices they were made from.

    A pair is inside when both tags are within the sentence and it does not wrap the
    whole sentence; a lone tag when strictly within; an atom always (it is text).
    """
    pairs = _pairs(block)
    partner = {**pairs, **{close: open_ for open_, close in pairs.items()}}
    per_sentence: list[list[Mark]] = [[] for _ in ranges]
    taken: set[int] = set()
    for number, (start, end) in enumerate(ranges):
        chosen = []
        for index, item in enumerate(block):
            if item.kind not in ("mark", "atom"):
                continue
            offset = offsets[index]
            if item.kind == "atom":
                keep = start <= offset < end
            elif index in partner:
                a, b = sorted((offset, offsets[partner[index]]))
                keep = start <= a and b <= end and (a, b) != (start, end)
                keep = keep or (start < offset < end and not (start <= a and b <= end))
            else:
                keep = start < offset < end
            if keep:
                chosen.append(index)
        local = {index: position for position, index in enumerate(chosen)}
        for index in chosen:
            item = block[index]
            kind: MarkKind = "atom" if item.kind == "atom" else "open" if item.opening else "close"
            other = local.get(partner.get(index, -1))
            char = item.decoded if item.kind == "atom" else ""
            per_sentence[number].append(Mark(offsets[index] - start, item.raw, kind, other, char))
        taken.update(chosen)
    return per_sentence, taken


def proportional_links(source: str, text: str) -> list[Link]:
    """Each target token linked to the source character at the same relative position."""
    links = []
    scale = len(source) / max(len(text), 1)
    for match in _TOKEN.finditer(text):
        at = min(len(source), int((match.start() + match.end()) / 2 * scale))
        links.append(Link(at, at, match.start(), match.end()))
    return links


def _hull(links: Sequence[Link], start: int, end: int, fallback: int) -> tuple[int, int]:
    """Target stretch of the tokens aligned into source [start, end) (nearest one if none)."""
    inside = [
        link
        for link in links
        if (link.source_start < end and start < link.source_end)
        or (link.source_start == link.source_end and start <= link.source_start < end)
    ]
    if not inside and links:
        inside = [min(links, key=lambda link: (abs(link.source_start - start), link.target_start))]
    if not inside:
        return fallback, fallback
    return min(link.target_start for link in inside), max(link.target_end for link in inside)


def _point(links: Sequence[Link], offset: int, opening: bool, length: int) -> int:
    """Where a lone tag goes: before the token aligned just after it (after the one before)."""
    if opening:
        after = [link for link in links if link.source_start >= offset]
        best = min(after, key=lambda link: (link.source_start, link.target_start), default=None)
        return best.target_start if best else length
    before = [link for link in links if link.source_end <= offset]
    best = max(before, key=lambda link: (link.source_end, link.target_end), default=None)
    return best.target_end if best else 0


def _crosses(x: int, y: int, other: tuple[int, int]) -> bool:
    return (x < other[0] < y < other[1]) or (other[0] < x < other[1] < y)


def _nest(pairs: list[tuple[int, int, int, int]]) -> list[tuple[int, int]]:
    """Target ranges of (source a, source b, target x, target y) pairs, made well-nested."""
    placed: list[tuple[int, int, int, int]] = []  # source a, b and the final x, y
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i][0], -pairs[i][1], i))
    result: dict[int, tuple[int, int]] = {}
    for i in order:
        a, b, x, y = pairs[i]
        ancestors = [p for p in placed if p[0] <= a and b <= p[1]]
        if ancestors:
            parent = min(ancestors, key=lambda p: p[1] - p[0])
            x, y = min(max(x, parent[2]), parent[3]), max(min(y, parent[3]), parent[2])
        for other in placed:
            if other in ancestors or not _crosses(x, y, (other[2], other[3])):
                continue
            x, y = (x, min(y, other[2])) if x < other[2] else (max(x, other[3]), y)
        if y < x or any(_crosses(x, y, (p[2], p[3])) for p in placed):
            y = x  # left empty rather than ill-formed
        placed.append((a, b, x, y))
        result[i] = (x, y)
    return [result[i] for i in range(len(pairs))]


def _insertions(
    marks: Sequence[Mark], links: Sequence[Link], text: str
) -> list[tuple[int, int, float, str]]:
    """(target position, phase, order, markup) for every mark; sorted, it nests properly."""
    events: list[tuple[int, int, float, str]] = []
    pair_ids = [
        i for i, mark in enumerate(marks) if mark.kind == "open" and mark.partner is not None
    ]
    spans = []
    for i in pair_ids:
        a, b = marks[i].offset, marks[marks[i].partner].offset  # type: ignore[index]
        x, y = _hull(links, a, b, _point(links, a, True, len(text)))
        spans.append((a, b, x, y))
    for i, (x, y) in zip(pair_ids, _nest(spans), strict=True):
        closing = marks[marks[i].partner]  # type: ignore[index]
        if x == y:
            events.append((x, 1, i, marks[i].markup + closing.markup))
        else:
            events.append((x, 2, -y + i / 1000, marks[i].markup))  # outer (later end) first
            events.append((y, 0, -x - i / 1000, closing.markup))  # inner (later start) first
    paired = set(pair_ids) | {marks[i].partner for i in pair_ids}
    for i, mark in enumerate(marks):
        if i in paired or mark.kind == "atom":
            continue
        position = _point(links, mark.offset, mark.kind == "open", len(text))
        events.append((position, 1, i, mark.markup))
    return sorted(events)


def place_marks(
    source: str,
    text: str,
    marks: Sequence[Mark],
    alignment: Sequence[Link] | None,
    escape: Callable[[str], str],
) -> str:
    """The translation `text`, escaped, with the sentence's inline tags placed (module rules)."""
    if not marks:
        return escape(text)
    links = list(alignment) if alignment else proportional_links(source, text)
    atoms = {mark.char: mark for mark in marks if mark.kind == "atom"}
    events = _insertions(marks, links, text)
    for char, mark in atoms.items():
        where = text.find(char)
        if where < 0:
            events.append((_point(links, mark.offset, True, len(text)), 1, -1.0, mark.markup))
        else:
            events.append((where, 1, -1.0, mark.markup))
    events.sort()
    out, position = [], 0
    for at, _, _, markup in events:
        out.append(escape(_without(text[position:at], atoms)))
        out.append(markup)
        position = max(position, at)
    out.append(escape(_without(text[position:], atoms)))
    return "".join(out)


def _without(text: str, atoms: dict[str, Mark]) -> str:
    """`text` without the stand-in characters of atoms (their markup is put in their place)."""
    return "".join(char for char in text if char not in atoms) if atoms else text
