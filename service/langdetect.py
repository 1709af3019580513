"""Language detection for `source=auto` and `/detect`: py3langid (a maintained langid.py,
Lui & Baldwin, 2012: naive Bayes over byte n-grams, 97 languages), restricted to the
model's languages.

On the valid split, restricted to English and French, it names all 3,205 English sources
and 3,203 of the 3,205 French references right (281 of the 283 under 20 characters; the
word-list detector it replaced: 3,121 and 240), at ~0.04 ms a text on one core
(`bench/langdetect_accuracy.py`, docs/RESULTS.md). Its model (an LZMA-compressed npz read
without pickle) takes ~1-1.6 s and ~75 MB to load, once per process: `load_detector` at
start-up, so the first `auto` request does not wait for it.
"""

from __future__ import annotations

import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}

_LOCK = threading.Lock()  # one load, even when two threads ask first
_DETECTORS: dict[tuple[str, ...], LanguageIdentifier | None] = {}


def _identifier(candidates: tuple[str, ...]) -> LanguageIdentifier | None:
    """The detector over the candidates it knows (None: it knows none of them)."""
    with _LOCK:
        if candidates not in _DETECTORS:
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            known = [code for code in candidates if code in identifier.labels]
            if known:
                identifier.set_languages(known)
            _DETECTORS[candidates] = identifier if known else None
        return _DETECTORS[candidates]


def load_detector(candidates: tuple[str, ...] = ("en", "fr")) -> None:
    """Load the detector for `candidates` now (it is loaded on first use otherwise)."""
    _identifier(candidates)


def detect_language(
    text: str, candidates: tuple[str, ...] = ("en", "fr")
) -> list[tuple[str, float]]:
    """Every candidate with a confidence in percent (one decimal), most likely first.

    Text with nothing to go on (digits, emoji, a name) gets equal shares; ties keep the
    order of `candidates`, so the first (the model's source) wins them. Candidates the
    detector does not know get 0.
    """
    identifier = _identifier(candidates)
    scores = dict(identifier.rank(text)) if identifier is not None else {}
    if not scores:
        scores = {code: 1.0 for code in candidates}
    total = sum(scores.values()) or 1.0
    shares = {code: round(100.0 * scores.get(code, 0.0) / total, 1) for code in candidates}
    return sorted(shares.items(), key=lambda item: -item[1])  # stable: ties keep order
