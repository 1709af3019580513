"""French elision around words the boundary puts back: "de" + "Ingrid" -> "d'Ingrid", and
"d'" + a count's digits -> "de 1" (French does not elide before digits)."""

from __future__ import annotations

_ELIDED = {"de": "d'", "que": "qu'"}
_FULL = {"d'": "de", "qu'": "que", "d’": "de", "qu’": "que"}
VOWELS = frozenset("AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")  # a name opening with one elides "de" before it


def _same_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def elided(word: str) -> str | None:
    """The elided form of "de" or "que" ("De" -> "D'"), or None for any other word."""
    form = _ELIDED.get(word.lower())
    return None if form is None else _same_case(form, word)


def unelided(word: str) -> str | None:
    """The full form of an elided "d'" or "qu'" ("Qu'" -> "Que"), or None."""
    full = _FULL.get(word.lower())
    return None if full is None else _same_case(full, word)
