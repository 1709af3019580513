"""Sentences over the model's length limit, split into parts the model can take whole.

Nothing is ever cut off: a text whose pieces exceed the limit is split at the last clause
or sentence punctuation that keeps a part within it; a clause still too long is split at
whitespace; a single token longer than the limit (no whitespace at all) between
characters. Protected spans (`atoms`) are never split.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Counter = Callable[[str], int]
Cut = tuple[int, int]  # a part ends at the first index, the next one starts at the second

_CLAUSE = re.compile(r"(?<=[.!?…;:,)])\s+|\s+(?=[—–-]\s)|(?<=\s[—–-])\s+")
_SPACE = re.compile(r"\s+")


def _cuts(text: str, start: int, end: int, level: int, atoms: Sequence[Cut]) -> list[Cut]:
    """Where [start, end) may be cut at this level (0 clause, 1 whitespace, 2 anywhere)."""
    if level < 2:
        pattern = _CLAUSE if level == 0 else _SPACE
        found = [(m.start(), m.end()) for m in pattern.finditer(text, start, end)]
    else:
        found = [(i, i) for i in range(start + 1, end)]
    return [
        (left, right)
        for left, right in found
        if start < left and right < end and not any(a < left < b for a, b in atoms)
    ]


def split_to_fit(text: str, count: Counter, limit: int, atoms: Sequence[Cut] = ()) -> list[Cut]:
    """[start, end) parts of `text`, each of at most `limit` pieces by `count`, in order.

    Joined with single spaces the parts give back `text` (a normalised string) except at
    cuts made inside a token. `atoms` are [start, end) ranges that are never cut.
    """
    parts: list[Cut] = []
    _split(text, 0, len(text), count, limit, 0, atoms, parts)
    return parts


def _split(
    text: str,
    start: int,
    end: int,
    count: Counter,
    limit: int,
    level: int,
    atoms: Sequence[Cut],
    parts: list[Cut],
) -> None:
    if count(text[start:end]) <= limit or level > 2:
        parts.append((start, end))
        return
    cuts = _cuts(text, start, end, level, atoms)
    current = start
    while cuts and count(text[current:end]) > limit:
        fitting = _last_fitting(text, current, cuts, count, limit)
        if fitting is None:  # even the first cut leaves too much: split that part finer
            left, right = cuts[0]
            _split(text, current, left, count, limit, level + 1, atoms, parts)
            current, cuts = right, cuts[1:]
            continue
        left, right = cuts[fitting]
        parts.append((current, left))
        current, cuts = right, cuts[fitting + 1 :]
    if count(text[current:end]) <= limit:
        parts.append((current, end))
    else:
        _split(text, current, end, count, limit, level + 1, atoms, parts)


def _last_fitting(text: str, start: int, cuts: list[Cut], count: Counter, limit: int) -> int | None:
    """Index of the last cut whose left part [start, cut) fits (binary search), or None."""
    low, high, best = 0, len(cuts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if count(text[start : cuts[middle][0]]) <= limit:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best
