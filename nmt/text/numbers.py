"""Small counts go to the model as English words and come back as their digits.

A protected number reaches the model as a placeholder name, which it copies, but a name
where a count belongs breaks the sentence around it: the shipped model turned "I have 2
brothers and 1 sister." into "J'ai des 2 frères frères et 1." and "He is 17 years old."
into "Il a 17 vieux.". The training data spells small counts out ("two brothers", "deux
frères"), so 1 to 20 are given to the model as English words instead, when they count
the word after them (`reads_as_count`; not "number 7.", "2-3 days", "1 of them"). Its
French word is then replaced by the original digits (`restore`): "J'ai 2 frères et 1
sœur". "un" and "une" are articles too: of several, the one that attended most to the
count is replaced, and an elision before it is undone, as French writes before digits
("d'un billet" -> "de 1 billet", not "d'1 billet"). 0 is left as it was.

The words are English in and French out: the language pair this project translates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENGLISH_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)  # fmt: skip
FRENCH_WORDS = (
    "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
    "vingt",
)  # fmt: skip
SPOKEN = range(1, 1 + len(ENGLISH_WORDS))  # the counts that are spelt out for the model
_NEXT_WORD = re.compile(r" ([^\W\d_]+(?:['’][^\W\d_]+)?)")
_TIME_WORDS = frozenset({"o'clock", "o’clock", "am", "pm", "a", "p"})  # "1 a.m."
_PRONOUN_NEXT = frozenset(
    {"of", "is", "was", "has", "had", "will", "would", "can", "could", "must", "should", "or"}
)


@dataclass(frozen=True)
class SpokenNumber:
    """How a count is shown to the model (`word`) and what may stand for it in its output
    (`renderings`: the French word, capitalised or not, and the English word copied)."""

    word: str
    renderings: tuple[str, ...]


def spoken_number(verbatim: str) -> SpokenNumber | None:
    """The spoken form of a protected number written as plain digits in `SPOKEN` ("7",
    not "07", "7.5" or "1,000"); None for any other text."""
    if not verbatim.isascii() or not verbatim.isdigit() or verbatim.startswith("0"):
        return None
    value = int(verbatim)
    if value not in SPOKEN:
        return None
    english, french = ENGLISH_WORDS[value - SPOKEN.start], FRENCH_WORDS[value - SPOKEN.start]
    words = (french, "une") if value == 1 else (french,)
    words += (english,)
    return SpokenNumber(english, tuple(w for word in words for w in (word, word.capitalize())))


def reads_as_count(text: str, start: int, end: int) -> bool:
    """Whether the number at text[start:end] counts the word after it ("2 brothers",
    "17 years"): a lower-case word follows, and no sign, range or label is attached ("-3",
    "2-3", "3/4", "number 7.", "Windows 10", "at 1.", "1 o'clock"). A 1 before "of", "is"...
    is the pronoun ("1 of them"), not a count."""
    if start > 0 and not (text[start - 1].isspace() or text[start - 1] in "\"'“‘«(["):
        return False
    following = _NEXT_WORD.match(text, end)
    if following is None or not following.group(1)[0].islower():
        return False
    word = following.group(1).lower()
    return word not in _TIME_WORDS and not (text[start:end] == "1" and word in _PRONOUN_NEXT)
