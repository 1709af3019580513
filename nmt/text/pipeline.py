"""The text boundary around a model: any strings in, one translation per string out.

`translate_texts` is what `NeuralTranslator.translate` runs. For each text:
1. clean it (`clean.sanitize`): never fails, whatever the string; take out paired double
   quotes (`quotes`: the model translates the words better without them); read a lone "&"
   between words as "and";
2. find protected spans: URLs, e-mails, entities, phone numbers, times, prices, numbers,
   over-long tokens (`spans.find_spans`), names the training source held at most once
   (`names`, when the model gives its `source_word_counts`) and runs of characters the
   tokenizer lacks;
3. nothing to translate (no letter outside those spans: punctuation, emoji, symbols,
   numbers) -> the text comes back as it is (`clean.tidy`), the model is not called;
4. ALL-CAPS / Title-Case -> the model sees sentence case (`casing`);
5. every protected span -> a placeholder word the model copies well (`PLACEHOLDERS`); a
   count from 1 to 20 -> its English word, which the model translates (`numbers`);
6. split into sentences (`sentences`; a line break ends one too), and a sentence over
   `model.max_source_pieces` pieces into parts (`chunks`), never cut: each part is one
   model input; a sentence ending in a letter or digit gets a full stop for the model,
   taken off its translation again;
7. after decoding: spans restored verbatim by alignment (`restore`), the case pattern put
   back, parts joined, and `Translation.alignment` given in the caller's characters;
8. the source's pairs of double quotes put back, as French guillemets (`quotes`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from nmt.text.align import Unit, attention_units, piece_ranges, proportional_units, spell_units
from nmt.text.casing import CasePattern, apply_case, detect_case, to_sentence_case
from nmt.text.chunks import Cut, split_to_fit
from nmt.text.clean import has_letters, sanitize, tidy
from nmt.text.edits import EditBuilder, Edited
from nmt.text.merge import merge_parts
from nmt.text.names import find_name_spans, sentence_initial
from nmt.text.numbers import counts_plural, reads_as_count, spoken_number
from nmt.text.quotes import french_quotes, without_quotes
from nmt.text.restore import ChunkSpan, restore_spans
from nmt.text.sentences import sentence_ranges
from nmt.text.spans import Span, find_spans, merge_spans, outside_spans
from nmt.translation import EOS_PIECE, Link, Translation

if TYPE_CHECKING:
    from nmt.decoding.types import SearchOptions

# Words that stand in for protected spans: names the model copies. In the training pairs
# (Tatoeba en-fr) the French side repeats "Tom" in 99.5 % of 14,114 pairs, "Boston" 99.8 %,
# "Tokyo" 99.2 %, "John" 93.7 %, "Jackson" 100 %, "Paris" 98.5 %, "Osaka" 100 %, "Kyoto"
# 91.5 %. On the probe set (bench/probe_spans.py) the model wrote the placeholder back
# for 74-98 % of spans; it never copied a number it was shown as digits.
PLACEHOLDERS = ("Tom", "John", "Boston", "Tokyo", "Jackson", "Paris", "Osaka", "Kyoto")
_WORDS = re.compile(r"\w+")
_LONE_AMPERSAND = re.compile(r"(?<= )&(?= )")  # cleaned text: single spaces


class SegmentModel(Protocol):
    """What the boundary needs from a model: its tokenizer's view and plain translation."""

    max_source_pieces: int
    source_word_counts: Mapping[str, int] | None  # None: names are left to the model

    def piece_surfaces(self, text: str) -> list[tuple[str, bool]]:
        """(surface, is unknown) of each source piece of a normalised text (eos excluded)."""
        ...

    def translate_segments(self, texts: Sequence[str], options: SearchOptions) -> list[Translation]:
        """Translate normalised, within-limit texts as they are (one model call each).

        Each translation carries its attention whatever `options.return_attention` says:
        the boundary places words and spans with it, then drops it unless asked for.
        """
        ...


@dataclass(frozen=True)
class Part:
    """One model input: its text (origin: the caller's text) and its protected spans."""

    edited: Edited
    spans: list[ChunkSpan]
    stopped: bool = False  # a full stop was added for the model: the sentence had no end


@dataclass(frozen=True)
class Prepared:
    """A caller's text ready for the model: parts to translate, or a result already."""

    source: str
    parts: list[Part]
    case: CasePattern = "none"
    kept: str | None = None  # the answer when the model is not needed


def _unknown_spans(model: SegmentModel, text: str) -> list[Span]:
    """Runs of characters the tokenizer maps to the unknown piece."""
    surfaces = model.piece_surfaces(text)
    ranges = piece_ranges(text, [surface for surface, _ in surfaces])
    if ranges is None:
        return []
    spans: list[Span] = []
    for (start, end), (_, unknown) in zip(ranges, surfaces, strict=True):
        if not unknown or start >= end:
            continue
        if spans and spans[-1].end == start:
            spans[-1] = Span(spans[-1].start, end, "unknown")
        else:
            spans.append(Span(start, end, "unknown"))
    return spans


def _mask(text: Edited, spans: list[Span]) -> tuple[Edited, list[ChunkSpan]]:
    """Each span replaced by a placeholder word absent from the text (a count from 1 to 20
    by its English word, a larger amount before a plural noun by a stand-in count:
    `numbers`); the spans' places."""
    taken = {word.lower() for word in _WORDS.findall(text.text)}
    spare = [name for name in PLACEHOLDERS if name.lower() not in taken]
    free = iter(spare + [f"X{i}" for i in range(1, len(spans) + 1)])
    builder = EditBuilder(len(text.text))
    chunk_spans, position = [], 0
    for span in spans:
        builder.copy(text.text[position : span.start], position)
        verbatim = text.text[span.start : span.end]
        spoken = None
        initial = sentence_initial(text.text, span.start)
        if span.kind == "number" and reads_as_count(text.text, span.start, span.end):
            spoken = spoken_number(verbatim, frozenset(taken), initial)
            if spoken and spoken.stand_in and not counts_plural(text.text, span.end):
                spoken = None
            taken.update(word.lower() for word in (spoken.renderings if spoken else ()))
        placeholder = spoken.word if spoken else next(free)
        if spoken and initial:
            placeholder = placeholder.capitalize()  # "3 people came." -> "Three people"
        start = len(builder)
        builder.put(placeholder, span.start, span.end)
        renderings = spoken.renderings if spoken else ()
        end = start + len(placeholder)
        stand_in = spoken is not None and spoken.stand_in
        chunk_spans.append(ChunkSpan(start, end, verbatim, placeholder, renderings, stand_in))
        position = span.end
    builder.copy(text.text[position:], position)
    return text.then(builder.build()), chunk_spans


def _ampersands_as_and(text: Edited) -> Edited:
    """Each "&" between two words read as "and" ("AND" in upper-case text): the training
    source holds a lone "&" once, and the model garbled it ("Salt & pepper." -> "Fais le
    poivre au poivre."; now "Sel et poivre."). "AT&T" is a span (`spans`), left alone."""
    matches = list(_LONE_AMPERSAND.finditer(text.text))
    if not matches:
        return text
    word = "AND" if text.text.isupper() else "and"
    builder, position = EditBuilder(len(text.text)), 0
    for match in matches:
        builder.copy(text.text[position : match.start()], position)
        builder.put(word, match.start(), match.end())
        position = match.end()
    builder.copy(text.text[position:], position)
    return text.then(builder.build())


def _line_breaks(text: Edited, source: str) -> list[int]:
    """Positions of the spaces of `text` that stand for whitespace holding a line break in
    `source` (cleaning makes every whitespace run one space)."""
    breaks = []
    for index, char in enumerate(text.text):
        if char != " ":
            continue
        position = text.origin(index, index + 1)[0]
        while position < len(source) and source[position].isspace():
            if source[position] == "\n":
                breaks.append(index)
                break
            position += 1
    return breaks


def _sentences(text: str, breaks: list[int]) -> list[Cut]:
    """[start, end) of each sentence of `text`, a line break ending one too."""
    ranges = []
    for start, end in sentence_ranges(text) or [(0, len(text))]:
        for cut in [b for b in breaks if start < b < end - 1]:
            ranges.append((start, cut))
            start = cut + 1
        ranges.append((start, end))
    return ranges


def _sentence_parts(
    text: str, model: SegmentModel, atoms: list[Cut], breaks: list[int]
) -> list[tuple[int, int, bool]]:
    """(start, end, whether it ends a sentence) of each model input: every sentence
    (`sentences`; a line break in the caller's text ends one too, at the spaces `breaks`),
    itself split into parts of at most `model.max_source_pieces` pieces (`chunks`);
    `atoms` are never cut.

    The model was trained on single sentences (Tatoeba's median is six words): given two at
    once it drops or merges words more often than given each alone.
    """
    parts: list[tuple[int, int, bool]] = []
    limit = model.max_source_pieces - 1  # room for a full stop (`_stopped`)
    for start, end in _sentences(text, breaks):
        inside = [(a - start, b - start) for a, b in atoms if start <= a and b <= end]
        found = split_to_fit(text[start:end], lambda t: len(model.piece_surfaces(t)), limit, inside)
        parts.extend((a + start, b + start, b + start == end) for a, b in found)
    return parts


def _stopped(part: Edited) -> Edited:
    """`part` with a full stop after its last letter or digit; its origin is the empty
    range just after it. Without one the model rambles: "I love you" -> "J'adore que tu es
    en train de t'aimer, je t'aime", "I love you." -> "Je t'aime." (Tatoeba's sentences
    end with punctuation)."""
    end = part.origin(len(part.text) - 1, len(part.text))[1]
    return Edited(part.text + ".", (*part.starts, end), (*part.ends, end), part.source_length)


def prepare(model: SegmentModel, source: str) -> Prepared:
    """Steps 1-6 of the module docstring for one text."""
    clean = sanitize(source)
    if not clean.text:
        return Prepared(source, [], kept="")
    clean = _ampersands_as_and(without_quotes(clean))
    spans = find_spans(clean.text)
    if model.source_word_counts is not None:  # before case folding hides what is a name
        spans = merge_spans(spans, find_name_spans(clean.text, model.source_word_counts))
    case = detect_case(clean.text, spans)
    if case != "none":
        cased = to_sentence_case(clean.text, spans)
        clean = Edited(cased, clean.starts, clean.ends, clean.source_length)
    spans = merge_spans(spans, _unknown_spans(model, clean.text))
    if not has_letters(outside_spans(clean.text, spans)):
        return Prepared(source, [], kept=tidy(source))
    masked, chunk_spans = _mask(clean, spans)
    atoms = [(span.start, span.end) for span in chunk_spans]
    parts = []
    for start, end, ends_sentence in _sentence_parts(
        masked.text, model, atoms, _line_breaks(masked, source)
    ):
        inside = [
            dataclasses.replace(span, start=span.start - start, end=span.end - start)
            for span in chunk_spans
            if start <= span.start and span.end <= end
        ]
        edited = masked.slice(start, end)
        if ends_sentence and edited.text[-1:].isalnum():
            parts.append(Part(_stopped(edited), inside, stopped=True))
        else:
            parts.append(Part(edited, inside))
    return Prepared(source, parts, case)


def _units(
    model: SegmentModel, part: Part, translation: Translation
) -> tuple[list[Unit], list[tuple[int, int]]]:
    """Output tokens of a part's translation, aligned to the part's characters."""
    text = part.edited.text
    surfaces = [surface for surface, _ in model.piece_surfaces(text)]
    ranges = piece_ranges(text, surfaces) or []
    attention = translation.attention
    if ranges and attention and len(attention[0]) == len(ranges) + 1:
        pieces = translation.target_pieces
        pieces = pieces[:-1] if pieces and pieces[-1] == EOS_PIECE else pieces
        return attention_units(pieces, attention, ranges), ranges
    return proportional_units(translation.text, len(text)), ranges


def _finish(
    units: list[Unit], part: Part, case: CasePattern, ranges: list[tuple[int, int]]
) -> tuple[str, list[Link]]:
    """Spans restored, case pattern applied: the part's final text and its links."""
    units = restore_spans(units, part.spans, ranges)
    if part.stopped and units and units[-1].span is None and units[-1].text in (".", "!"):
        units = units[:-1]  # the stop the source did not have
    for index, unit in enumerate(units):
        if unit.span is None:
            unit.text = apply_case(unit.text, case, index == 0 or unit.space_before)
    text, target_ranges = spell_units(units)
    links = []
    for unit, (start, end) in zip(units, target_ranges, strict=True):
        if unit.source is not None:
            source_start, source_end = part.edited.origin(*unit.source)
            links.append(Link(source_start, source_end, start, end))
    return text, links


def finish_part(
    model: SegmentModel, prepared: Prepared, part: Part, translation: Translation
) -> tuple[Translation, list[str]]:
    """A part's model output in the caller's terms, and its alternatives' restored texts."""
    units, ranges = _units(model, part, translation)
    text, links = _finish(units, part, prepared.case, ranges)
    alternatives = [
        _finish(
            proportional_units(alternative.text, len(part.edited.text)), part, prepared.case, ranges
        )[0]
        for alternative in translation.alternatives
    ]
    return dataclasses.replace(translation, text=text, alignment=links), alternatives


def kept_translation(source: str, text: str) -> Translation:
    """The result for a text the model is not needed for: `text`, tokens linked in order."""
    links, position = [], 0
    for match in re.finditer(r"\S+", text):
        found = source.find(match.group(), position)
        if found >= 0:
            links.append(Link(found, found + len(match.group()), match.start(), match.end()))
            position = found + len(match.group())
    return Translation(
        source=source,
        text=text,
        score=0.0,
        token_log_probs=[],
        source_pieces=[],
        target_pieces=[],
        alignment=links,
    )


def _requoted(translation: Translation) -> Translation:
    """Step 8 of the module docstring: the double quotes of the source, as guillemets."""
    text, alignment = french_quotes(translation.source, translation.text, translation.alignment)
    alternatives = [
        dataclasses.replace(alt, text=french_quotes(translation.source, alt.text, None)[0])
        for alt in translation.alternatives
    ]
    return dataclasses.replace(
        translation, text=text, alignment=alignment, alternatives=alternatives
    )


def translate_texts(
    model: SegmentModel, texts: Sequence[str], options: SearchOptions
) -> list[Translation]:
    """One Translation per text, in order, for any strings (module docstring)."""
    prepared = [prepare(model, text) for text in texts]
    inputs = [part.edited.text for item in prepared for part in item.parts]
    outputs = iter(model.translate_segments(inputs, options) if inputs else [])
    results = []
    for item in prepared:
        if item.kept is not None:
            results.append(kept_translation(item.source, item.kept))
            continue
        finished = [finish_part(model, item, part, next(outputs)) for part in item.parts]
        merged = merge_parts(item.source, [t for t, _ in finished], [alts for _, alts in finished])
        merged = _requoted(merged)
        if not options.return_attention:
            merged = dataclasses.replace(merged, attention=None)
        results.append(merged)
    return results
