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

A larger amount that counts the plural noun after it (21 to 999, or written with a
decimal or thousands separator: "35 years", "2.5 euros", "1,000 people"; `counts_plural`)
has no word the model knows as well, and its placeholder broke those sentences too
("J'ai les années de 21.", "Il y a 100 ici."). It goes to the model as a stand-in count
the training data spells out: "thirty" first (160 training sources, "trente" in 86 % of
their targets; on the valid amounts probe, `bench/probe_counts.py --amounts`, 43.16 BLEU
against 39.25 with "fifty" first), then "fifty" and "sixty" ("forty" came back as
"forts"). An amount that opens a sentence goes as "Three" ("Two", "Ten"), which the model
keeps there where it drops a capitalised "Thirty" (`INITIAL_STAND_INS`). A fourth amount in
one text keeps its placeholder. The stand-in's French word (or its
digits) comes back as the amount ("J'ai 21 ans.", "Il y a 100 personnes ici."); a copy
the model repeats is dropped, and so is the rest of a compound it makes ("soixante-deux").
Years (four plain digits) keep their placeholder.

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
# (English, French, digits) stand-ins for larger amounts, the best-kept first
STAND_INS = (("thirty", "trente", "30"), ("fifty", "cinquante", "50"), ("sixty", "soixante", "60"))
# ... and for an amount that opens a sentence, where a capitalised "Thirty" is rare in the
# training data and the model dropped it ("Thirty people came" -> "Les gens sont venus"):
# on 96 training sentences that open with an amount (`bench/probe_counts.py --amounts
# --initial --split train`) "Three" scored 57.60 BLEU, "Two" 56.13, "Ten" 54.94, "Thirty" 42.47
INITIAL_STAND_INS = (("three", "trois", "3"), ("two", "deux", "2"), ("ten", "dix", "10"))
_NOT_PLURAL = frozenset({
    "is", "was", "has", "does", "this", "his", "its", "us", "yes", "as", "plus", "thus", "less",
    "unless", "across", "always", "perhaps", "sometimes", "besides", "towards", "whereas",
    "hers", "ours", "yours", "theirs",
})  # fmt: skip
_IRREGULAR_PLURALS = frozenset({
    "people", "children", "men", "women", "feet", "teeth", "mice", "geese", "sheep", "fish",
})  # fmt: skip
_AMOUNT = re.compile(r"[1-9]\d{1,2}|[1-9]\d{0,2}(?:,\d{3})+|\d+[.,]\d+")
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
    stand_in: bool = False  # a stand-in count: a copy the model repeats is not the amount


def spoken_number(
    verbatim: str, taken: frozenset[str] = frozenset(), initial: bool = False
) -> SpokenNumber | None:
    """The spoken form of a protected count: its own word for plain digits in `SPOKEN`
    ("7", not "07"), a stand-in whose English and French words are not in `taken`
    (lower-case words already in use) for a larger amount ("35", "2.5", "1,000"; module
    docstring), one of `INITIAL_STAND_INS` when it opens a sentence (`initial`); None for
    any other text, or when every stand-in is taken."""
    if not verbatim.isascii():
        return None
    if verbatim.isdigit() and not verbatim.startswith("0") and int(verbatim) in SPOKEN:
        value = int(verbatim)
        english = ENGLISH_WORDS[value - SPOKEN.start]
        french = FRENCH_WORDS[value - SPOKEN.start]
        return _spoken(english, (french, "une", english) if value == 1 else (french, english))
    if not _AMOUNT.fullmatch(verbatim) or (verbatim.isdigit() and int(verbatim) in SPOKEN):
        return None
    for english, french, digits in INITIAL_STAND_INS if initial else STAND_INS:
        if not {english, french, digits} & taken:
            return _spoken(english, (french, english, digits), stand_in=True)
    return None


def _spoken(word: str, renderings: tuple[str, ...], stand_in: bool = False) -> SpokenNumber:
    """`word` for the model; each rendering as written and capitalised."""
    forms = dict.fromkeys(w for r in renderings for w in (r, r.capitalize()))
    return SpokenNumber(word, tuple(forms), stand_in)


def counts_plural(text: str, end: int) -> bool:
    """Whether the word after a number ending at `end` looks like a plural noun ("years",
    "euros", "people"): what an amount over 20 must count to get a stand-in. Not "of",
    "is", "came", "kg": a stand-in count there is read as an age ("35 ans")."""
    following = _NEXT_WORD.match(text, end)
    if following is None:
        return False
    word = following.group(1)
    if word in _IRREGULAR_PLURALS:
        return True
    return len(word) >= 3 and word.endswith("s") and word.islower() and word not in _NOT_PLURAL


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
