"""Put protected spans back into a translation, verbatim, where the alignment says.

For each span of the model's input, in order:
1. the output already holds it (or its placeholder, or one of its renderings: "trois" for
   a 3 the model saw as "three") at token boundaries: that is it;
2. else the output tokens aligned to the span that can render it (digits or symbols:
   "3,5" for "3.5", "5 $" for "$5") are replaced by the span;
3. else the span is inserted after the word holding the token that attended to it most
   (before any sentence-final punctuation).
French elision follows the span: "de Ingrid" -> "d'Ingrid", and "d'un" -> "de 1" for a
count the model wrote as a word.
Placeholders the model repeated or invented are removed. Every span thus comes out
exactly once, whatever the model wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nmt.text.align import Unit, spell_units
from nmt.text.elision import VOWELS, elided, unelided
from nmt.text.numbers import FRENCH_WORDS

_FINAL = frozenset(".!?…:;\"'»”’)]")
_SYMBOLS = frozenset("$€£¥₹¢%@/#&+=~^*_|\\")


@dataclass(frozen=True)
class ChunkSpan:
    """A protected span of the model's input: [start, end) there, and what to output."""

    start: int
    end: int
    verbatim: str
    placeholder: str | None  # the word the model saw instead, or None (it saw the span)
    renderings: tuple[str, ...] = ()  # what the model writes for it, when not `placeholder`
    stand_in: bool = False  # renderings stand in for it: more copies of them are invented


def _covered_pieces(span: ChunkSpan, source_ranges: Sequence[tuple[int, int]]) -> list[int]:
    return [i for i, (a, b) in enumerate(source_ranges) if a < span.end and span.start < b]


def _find_text(units: list[Unit], wanted: str) -> list[tuple[int, int]]:
    """Runs [i, j) of free units whose text (with their spaces) is exactly `wanted`."""
    text, ranges = spell_units(units)
    starts = {start: i for i, (start, _) in enumerate(ranges)}
    ends = {end: i for i, (_, end) in enumerate(ranges)}
    runs, position = [], text.find(wanted)
    while position >= 0 and wanted:
        first, last = starts.get(position), ends.get(position + len(wanted))
        if (
            first is not None
            and last is not None
            and all(unit.span is None for unit in units[first : last + 1])
        ):
            runs.append((first, last + 1))
        position = text.find(wanted, position + 1)
    return runs


def _renders(unit: Unit) -> bool:
    """Whether a token can be the model's rendering of a span: it has digits or is a symbol
    (a word, a name or sentence punctuation never is: the span is inserted instead)."""
    return any(char.isdigit() for char in unit.text) or unit.text in _SYMBOLS


def _aligned_run(units: list[Unit], span: ChunkSpan) -> tuple[int, int] | None:
    """The first run of free units aligned (by their best source piece) into the span
    that can render it (`_renders`)."""
    inside = [
        unit.span is None
        and unit.source is not None
        and unit.source[0] < span.end
        and span.start < max(unit.source[1], unit.source[0] + 1)
        and _renders(unit)
        for unit in units
    ]
    if not any(inside):
        return None
    first = inside.index(True)
    last = first
    while last + 1 < len(units) and inside[last + 1]:
        last += 1
    return first, last + 1


def _insert_at(units: list[Unit], span: ChunkSpan, pieces: list[int]) -> int:
    """Where to insert a span no output token renders: after its most attentive token."""
    if not units:
        return 0
    if pieces and any(unit.weights for unit in units):
        mass = [_mass(unit.weights, pieces) for unit in units]
        position = max(range(len(units)), key=mass.__getitem__) + 1
    else:
        starts = [unit.source[0] if unit.source else 0 for unit in units]
        position = next((i for i, start in enumerate(starts) if start >= span.start), len(units))
    while position < len(units) and not units[position].space_before:
        position += 1  # not inside a word ("Qu'est-ce", "l'homme")
    while position > 0 and units[position - 1].text in _FINAL and units[position - 1].span is None:
        position -= 1
    return position


def _mass(weights: list[float] | None, pieces: list[int]) -> float:
    """Attention a token gave to the given source pieces (0 without attention)."""
    if not weights:
        return 0.0
    return sum(weights[p] for p in pieces if p < len(weights))


def _elide(unit: Unit) -> bool:
    """Elide a free "de" or "que" before a word that opens with a vowel, in place ("de" ->
    "d'"); whether it did."""
    form = elided(unit.text) if unit.span is None else None
    if form is None:
        return False
    unit.text = form
    return True


def _unelide(units: list[Unit], first: int) -> bool:
    """Undo an elision ("d" + "'") just before units[first], in place; whether it did."""
    if first < 2 or units[first - 1].text not in ("'", "’"):
        return False
    full = unelided(units[first - 2].text + units[first - 1].text)
    if full is None:
        return False
    units[first - 2].text = full
    del units[first - 1]
    return True


def restore_spans(
    units: list[Unit], spans: Sequence[ChunkSpan], source_ranges: Sequence[tuple[int, int]]
) -> list[Unit]:
    """The units with every span carried verbatim exactly once (module rules)."""
    units = list(units)
    for index, span in enumerate(spans):
        wanted = span.renderings or (span.placeholder or span.verbatim,)
        pieces = _covered_pieces(span, source_ranges)
        runs = [run for text in wanted for run in _find_text(units, text)]  # maybe twice
        run = (
            max(runs, key=lambda r: sum(_mass(u.weights, pieces) for u in units[r[0] : r[1]]))
            if runs
            else _aligned_run(units, span)
        )
        replacement = Unit(span.verbatim, True, (span.start, span.end), None, span=index)
        if run is not None:
            first, last = run
            replacement.space_before = units[first].space_before
            if span.renderings and _unelide(units, first):  # "d'un billet" -> "de 1 billet"
                first, last, replacement.space_before = first - 1, last - 1, True
            if span.stand_in:  # "soixante-deux" for "sixty": the amount is all of it
                last = _compound_end(units, last)
            units[first:last] = [replacement]
            position = first
        else:
            position = _insert_at(units, span, pieces)
            if position == 0 and units:
                units[0].space_before = True
            units.insert(position, replacement)
        if span.verbatim[:1] in VOWELS and position > 0 and _elide(units[position - 1]):
            replacement.space_before = False  # "de Ingrid" -> "d'Ingrid"
    invented = {span.placeholder for span in spans if span.placeholder and not span.renderings}
    invented |= {text for span in spans if span.stand_in for text in span.renderings}
    return [unit for unit in units if unit.span is not None or unit.text not in invented]


def _compound_end(units: list[Unit], last: int) -> int:
    """The end of a French compound number at units[last] on ("-deux", "-dix-sept")."""
    while (
        last + 1 < len(units)
        and units[last].text == "-"
        and not units[last].space_before
        and units[last + 1].text in FRENCH_WORDS
        and not units[last + 1].space_before
    ):
        last += 2
    return last
