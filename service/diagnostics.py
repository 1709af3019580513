"""Pure functions that flag translations likely to be bad.

Repetition rule: a translation repeats when some 3-gram of target pieces occurs twice
or more, or one piece occurs 3+ times in a row. Under-translation (coverage models): a
source piece whose attention, summed over all target rows, stays below a threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nmt import EOS_PIECE

REPEAT_NGRAM = 3
REPEAT_RUN = 3


def has_repetition(pieces: Sequence[str], n: int = REPEAT_NGRAM, run: int = REPEAT_RUN) -> bool:
    """Whether an n-gram of pieces repeats, or one repeats `run` times in a row (eos ignored)."""
    pieces = [piece for piece in pieces if piece != EOS_PIECE]
    streak = 1
    for index in range(1, len(pieces)):
        streak = streak + 1 if pieces[index] == pieces[index - 1] else 1
        if streak >= run:
            return True
    seen: set[tuple[str, ...]] = set()
    for start in range(len(pieces) - n + 1):
        gram = tuple(pieces[start : start + n])
        if gram in seen:
            return True
        seen.add(gram)
    return False


def untranslated_pieces(
    attention: Sequence[Sequence[float]], source_pieces: Sequence[str], threshold: float
) -> list[str]:
    """Source pieces (eos excluded) whose attention column sums to less than `threshold`.

    Rows are target steps, columns source positions; `source_pieces` may or may not end
    with EOS_PIECE (the eos column is never reported).
    """
    totals = [0.0] * len(source_pieces)
    for row in attention:
        for column in range(min(len(totals), len(row))):
            totals[column] += row[column]
    return [
        piece
        for piece, total in zip(source_pieces, totals, strict=True)
        if piece != EOS_PIECE and total < threshold
    ]


def finite(value: float, floor: float = -1e9) -> float:
    """A JSON-safe float: NaN becomes the floor, infinities are clamped."""
    if math.isnan(value):
        return floor
    return max(floor, min(-floor, value))
