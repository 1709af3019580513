"""Output tokens of a translation and the source characters each one translates.

A sentencepiece model with identity normalisation spells a normalised text exactly:
its pieces, "▁" read as a space, are " " + text. That gives each source piece its
character range; each target token (a run of word characters or one other character)
sums the attention rows of the pieces it overlaps, and its source is the piece it
attends to most (the usual attention-as-alignment reading, as in Bahdanau et al.,
2015, section 5.2.2). Without attention, tokens are aligned by relative position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SPACE_PIECE = "▁"
UNKNOWN_PIECE = "<unk>"
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class Unit:
    """One output token: its text, whether a space precedes it, and its alignment."""

    text: str
    space_before: bool
    source: tuple[int, int] | None  # aligned source characters (the model input's)
    weights: list[float] | None = None  # attention mass per source piece (eos excluded)
    span: int | None = None  # index of the protected span it carries verbatim


def piece_ranges(text: str, surfaces: Sequence[str]) -> list[tuple[int, int]] | None:
    """[start, end) in `text` of each piece surface, or None if they do not spell `text`."""
    spelled = " " + text
    position, ranges = 0, []
    for surface in surfaces:
        chunk = surface.replace(SPACE_PIECE, " ")
        if spelled[position : position + len(chunk)] != chunk:
            return None
        start = position - 1 + (1 if chunk.startswith(" ") else 0)  # without its space
        ranges.append((max(start, 0), max(position - 1 + len(chunk), 0)))
        position += len(chunk)
    if position != len(spelled) and spelled[position:].strip():
        return None
    return ranges


def _tokens(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, space before) of each token of an output text."""
    return [
        (match.start(), match.end(), match.start() > 0 and text[match.start() - 1].isspace())
        for match in _TOKEN.finditer(text)
    ]


def spell_target(pieces: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The text target pieces spell (unknown pieces give nothing) and each piece's range."""
    out, ranges, position = [], [], 0
    for piece in pieces:
        chunk = "" if piece == UNKNOWN_PIECE else piece.replace(SPACE_PIECE, " ")
        ranges.append((position, position + len(chunk)))
        out.append(chunk)
        position += len(chunk)
    text = "".join(out)
    shift = len(text) - len(text.lstrip())
    return text.strip(), [(max(a - shift, 0), max(b - shift, 0)) for a, b in ranges]


def attention_units(
    target_pieces: Sequence[str],
    attention: Sequence[Sequence[float]],
    source_ranges: Sequence[tuple[int, int]],
) -> list[Unit]:
    """Tokens of the spelled target pieces (eos excluded), aligned by attention."""
    width = len(source_ranges)
    text, ranges = spell_target(target_pieces)
    tokens = _tokens(text)
    weights = [[0.0] * width for _ in tokens]
    for row, (a, b) in zip(attention, ranges, strict=False):
        for index, (start, end, _) in enumerate(tokens):
            if start >= b:
                break
            if a < end:
                unit_weights = weights[index]
                for column in range(width):
                    unit_weights[column] += float(row[column])
    units = []
    for (start, end, space), unit_weights in zip(tokens, weights, strict=True):
        best = max(range(width), key=unit_weights.__getitem__) if any(unit_weights) else None
        source = None if best is None else source_ranges[best]
        units.append(Unit(text[start:end], space, source, unit_weights))
    return units


def proportional_units(text: str, source_length: int) -> list[Unit]:
    """Tokens of a text with no attention: each aligned to the same relative position."""
    units = []
    length = max(len(text), 1)
    for start, end, space in _tokens(text):
        at = min(source_length, round((start + end) / 2 / length * source_length))
        units.append(Unit(text[start:end], space, (at, at)))
    return units


def spell_units(units: Sequence[Unit]) -> tuple[str, list[tuple[int, int]]]:
    """The text of units (a space where one precedes a unit) and each unit's range in it."""
    out, ranges, position = [], [], 0
    for index, unit in enumerate(units):
        if unit.space_before and index > 0:
            out.append(" ")
            position += 1
        ranges.append((position, position + len(unit.text)))
        out.append(unit.text)
        position += len(unit.text)
    return "".join(out), ranges
