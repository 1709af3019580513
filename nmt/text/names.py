"""Rare capitalised words (names, places, brands) carried over verbatim.

A word-piece model has seen each name of its training data a handful of times at most; a
name it never saw comes out mangled or dropped ("Olufemi is a doctor." gave "Le déjeuner
est un médecin." with the shipped model). As in the rare-word handling of Luong et al.
(2015, "Addressing the Rare Word Problem in Neural Machine Translation"), such words are
not left to the network: a capitalised word the training source holds fewer than
`MIN_SOURCE_COUNT` times (any of its parts, for "Jean-Luc"), and that is no inflected
form of a more frequent word at the start of a sentence ("Koalas", "Hikers"), becomes a
protected span ("name"), which the model sees as a placeholder it copies and the
boundary puts back verbatim (`restore`). Known names
(London -> Londres, Japanese -> japonais) are still translated by the model.

Words are runs of letters; an apostrophe or hyphen joins two runs into one name when the
second one is capitalised too ("O'Brien", "Jean-Luc"; not "Tom's"). Counts are of the
lower-cased letter runs of the training source (`count_words`), so a sentence-initial
"Yesterday" is known through "yesterday".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from nmt.text.spans import Span

MIN_SOURCE_COUNT = 2  # seen once or never: protected (1-count names were mostly mangled)
# At the start of a sentence, where a capital says nothing, an inflected form of a known
# word is a word, not a name ("Koalas", "Hikers", "Adopting"): (suffix, what replaces it)
# tried in turn. No singular "-er": "Oliver" is no olive, "Parker" no park.
_INFLECTIONS = (
    ("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
    ("ers", ""), ("ers", "e"),
)  # fmt: skip
_SENTENCE_END = frozenset(".!?…:;")
_AROUND = "\"'“”‘’«»()[]¿¡ "  # quotes, brackets and spaces between a sentence end and a word
_LETTERS = re.compile(r"[^\W\d_]+")
_NAME = re.compile(r"(?<![\w'’-])[^\W\d_]+(?:['’-][^\W\d_]+)*(?!\w)")
_JOINERS = re.compile(r"['’-]")
_TITLE = re.compile(r"(?<![^\W\d_])(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr)\.$")


def count_words(lines: Iterable[str]) -> dict[str, int]:
    """How often each lower-cased run of letters occurs in `lines` (a training source)."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(word.lower() for word in _LETTERS.findall(line))
    return dict(counts)


def _name_end(text: str, start: int, end: int) -> int:
    """Where the name starting at `start` ends: joined runs only while each is capitalised."""
    for joiner in _JOINERS.finditer(text, start, end):
        following = joiner.end()
        if following >= end or not text[following].isupper():
            return joiner.start()
    return end


def find_name_spans(
    text: str, source_counts: Mapping[str, int], min_count: int = MIN_SOURCE_COUNT
) -> list[Span]:
    """Capitalised words of `text` rarer than `min_count` in `source_counts`, as "name"
    spans in text order (module docstring: the exemption at a sentence start). Rare words
    one space apart make one span ("Kublai Khan"). One-letter words ("I", "A") never count.
    Run it before case folding: in an ALL-CAPS text every rare word counts."""
    spans = []
    for match in _NAME.finditer(text):
        start = match.start()
        if not text[start].isupper():
            continue
        end = _name_end(text, start, match.end())
        if end - start < 2:
            continue
        rare = [
            run
            for run in _LETTERS.findall(text[start:end].lower())
            if source_counts.get(run, 0) < min_count
        ]
        if rare and not (
            sentence_initial(text, start)
            and all(_inflected(run, source_counts, min_count) for run in rare)
        ):
            if spans and text[spans[-1].end : start] == " ":  # "Genghis Khan": one name
                start = spans.pop().start
            spans.append(Span(start, end, "name"))
    return spans


def sentence_initial(text: str, start: int) -> bool:
    """Whether only quotes, brackets or spaces stand between `start` and a sentence end
    (not the full stop of "Mr.", "Dr."...)."""
    position = start
    while position > 0 and text[position - 1] in _AROUND:
        position -= 1
    if position == 0:
        return True
    if text[position - 1] != "." or not _TITLE.search(text, max(0, position - 5), position):
        return text[position - 1] in _SENTENCE_END
    return False


def _inflected(word: str, source_counts: Mapping[str, int], min_count: int) -> bool:
    """Whether a lower-cased word is one of the `_INFLECTIONS` of a common word."""
    return any(
        word.endswith(suffix)
        and len(word) > len(suffix) + 2
        and source_counts.get(word[: -len(suffix)] + ending, 0) >= min_count
        for suffix, ending in _INFLECTIONS
    )
