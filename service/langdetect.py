"""A tiny English/French detector: function words and accents, enough for `source=auto`."""

from __future__ import annotations

import re

LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}

_WORD = re.compile(r"[a-zàâäçéèêëîïôöùûüÿœæ']+")
_EN_WORDS = (
    "the a an and is are was were be of to in on that it you i he she we they with for "
    "this not have has do does what where who how my your his her at by from"
)
_FR_WORDS = (
    "le la les l' un une des du de et est sont été être que qui ne pas je tu il elle nous "
    "vous ils elles avec pour dans ce cette ces mon ma mes ton ta au aux sur où c'est "
    "j'ai suis es a ont"
)
_MARKERS = {"en": frozenset(_EN_WORDS.split()), "fr": frozenset(_FR_WORDS.split())}
_FRENCH_LETTERS = re.compile(r"[àâçéèêëîïôùûüÿœæ]")


def detect_language(
    text: str, candidates: tuple[str, ...] = ("en", "fr")
) -> list[tuple[str, float]]:
    """Candidates with a confidence in percent, most likely first (ties favour the first)."""
    words = _WORD.findall(text.lower())
    votes = {lang: 0.0 for lang in candidates}
    for word in words:
        for lang in candidates:
            markers = _MARKERS.get(lang, frozenset())
            if word in markers or word.split("'")[0] + "'" in markers:
                votes[lang] += 1.0
    if "fr" in votes:
        votes["fr"] += 0.5 * len(_FRENCH_LETTERS.findall(text.lower()))
    total = sum(votes.values())
    if total == 0:
        share = 100.0 / len(candidates)
        return [(lang, share) for lang in candidates]
    ranked = sorted(candidates, key=lambda lang: -votes[lang])  # stable: ties keep order
    return [(lang, round(100.0 * votes[lang] / total, 1)) for lang in ranked]
