"""Text edits that remember where each character came from.

Every step of the text boundary (cleaning, case folding, placeholders, splitting) turns
one string into another; an `Edited` string keeps, for each of its characters, the
character range of the previous string it stands for, so a position in the model's
input can always be traced back to the caller's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edited:
    """A string and, per character, the [start, end) range of the text it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    source_length: int  # length of the text it came from

    @classmethod
    def identity(cls, text: str) -> Edited:
        """`text` unchanged: character i comes from character i."""
        n = len(text)
        return cls(text, tuple(range(n)), tuple(range(1, n + 1)), n)

    def origin(self, start: int, end: int) -> tuple[int, int]:
        """The range of the original text that characters [start, end) come from."""
        if start >= end:
            at = self.starts[start] if start < len(self.starts) else self.source_length
            return at, at
        return self.starts[start], self.ends[end - 1]

    def then(self, later: Edited) -> Edited:
        """Compose: `later` was made from this text; the result points at this one's origin."""
        starts, ends = [], []
        for start, end in zip(later.starts, later.ends, strict=True):
            first, last = self.origin(start, end)
            starts.append(first)
            ends.append(last)
        return Edited(later.text, tuple(starts), tuple(ends), self.source_length)

    def slice(self, start: int, end: int) -> Edited:
        """Characters [start, end) of this text, still pointing at the same origin."""
        return Edited(
            self.text[start:end], self.starts[start:end], self.ends[start:end], self.source_length
        )


@dataclass
class EditBuilder:
    """Builds an `Edited` string piece by piece from a source text of known length."""

    source_length: int
    _chars: list[str] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _ends: list[int] = field(default_factory=list)

    def copy(self, text: str, start: int) -> None:
        """Append `text`, which is the source's characters from `start` on, unchanged."""
        for offset, char in enumerate(text):
            self._chars.append(char)
            self._starts.append(start + offset)
            self._ends.append(start + offset + 1)

    def put(self, text: str, start: int, end: int) -> None:
        """Append `text`, which stands for the source range [start, end) as a whole."""
        for char in text:
            self._chars.append(char)
            self._starts.append(start)
            self._ends.append(end)

    def __len__(self) -> int:
        return len(self._chars)

    def last_char(self) -> str:
        """The last character appended ("" when nothing was)."""
        return self._chars[-1] if self._chars else ""

    def drop_last(self) -> None:
        """Remove the last character appended."""
        self._chars.pop()
        self._starts.pop()
        self._ends.pop()

    def build(self) -> Edited:
        """The finished string."""
        return Edited(
            "".join(self._chars), tuple(self._starts), tuple(self._ends), self.source_length
        )
