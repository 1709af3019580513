"""A real sentencepiece model and scripted 'models' that misbehave on purpose.

The scripted models show that the text boundary's promises (verbatim spans, case, line
count, markup) hold whatever a model writes: echo, reorder, drop or invent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from nmt.data.tokenizer import Tokenizer, train_sentencepiece
from nmt.decoding.types import SearchOptions
from nmt.translation import Alternative, Translation

_WORDS = "the a cat dog house see like want go is at to for and in on my your send visit report"
_SYMBOLS = "0 1 2 3 4 5 6 7 8 9 . , : ; ! ? @ / - $ € % ( ) ' \" &"


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    """A 200-piece unigram model over English-like words, digits and punctuation."""
    words = _WORDS.split() + [w.capitalize() for w in _WORDS.split()] + _SYMBOLS.split()
    sentences = [" ".join(combo) for combo in itertools.permutations(words[:12], 4)][:3000]
    sentences += [" ".join(words[i : i + 6]) for i in range(len(words))] * 20
    return Tokenizer(train_sentencepiece(sentences, vocab_size=200, hard_vocab_limit=False))


# a script: source pieces -> (target pieces, source piece index each one attends to)
Script = Callable[[list[str]], tuple[list[str], list[int | None]]]


def echo(pieces: list[str]) -> tuple[list[str], list[int | None]]:
    """Copies the source."""
    return list(pieces), list(range(len(pieces)))


def reverse_words(pieces: list[str]) -> tuple[list[str], list[int | None]]:
    """Copies the source words in reverse order (a worst case for position-based guesses)."""
    words: list[list[int]] = []
    for index, piece in enumerate(pieces):
        if piece.startswith("▁") or not words:
            words.append([])
        words[-1].append(index)
    order = [i for word in reversed(words) for i in word]
    out = [pieces[i] for i in order]
    out = [
        ("▁" + p.lstrip("▁")) if k == 0 or pieces[order[k]].startswith("▁") else p
        for k, p in enumerate(out)
    ]
    return out, order


def drop_symbols(pieces: list[str]) -> tuple[list[str], list[int | None]]:
    """Copies the source but loses every piece with a digit or a capital (numbers, names)."""
    kept = [i for i, p in enumerate(pieces) if not any(c.isdigit() or c.isupper() for c in p)]
    return [pieces[i] for i in kept] or ["▁the"], kept or [None]


def babble(pieces: list[str]) -> tuple[list[str], list[int | None]]:
    """Ignores the source: the same words (placeholder names twice) attending to piece 0."""
    return ["▁the", "▁cat", "▁Tom", "▁Tom", "▁John", "."], [0, 0, 0, 0, 0, 0]


@dataclass
class ScriptedModel:
    """A SegmentModel whose 'translation' is a script over the source pieces."""

    tokenizer: Tokenizer
    script: Script = echo
    max_source_pieces: int = 250
    with_attention: bool = True
    source_word_counts: Mapping[str, int] | None = None
    calls: list[list[str]] = field(default_factory=list)

    def piece_surfaces(self, text: str) -> list[tuple[str, bool]]:
        return self.tokenizer.surfaces(text)

    def translate_segments(self, texts: Sequence[str], options: SearchOptions) -> list[Translation]:
        self.calls.append(list(texts))
        return [self._one(text, options) for text in texts]

    def _one(self, text: str, options: SearchOptions) -> Translation:
        pieces = [surface for surface, _ in self.piece_surfaces(text)]
        assert len(pieces) <= self.max_source_pieces, "the boundary sent an over-long input"
        target, attends = self.script(pieces)
        width = len(pieces) + 1
        attention = []
        for source in [*attends, len(pieces)]:
            row = [0.0] * width
            if source is None:
                row = [1.0 / width] * width
            else:
                row[source] = 1.0
            attention.append(row)
        spelled = "".join(target).replace("▁", " ").strip()
        return Translation(
            source=text,
            text=spelled,
            score=-1.0,
            token_log_probs=[-0.5] * (len(target) + 1),
            source_pieces=[*pieces, "</s>"],
            target_pieces=[*target, "</s>"],
            alternatives=[Alternative(spelled + " !", -2.0)] * (options.n_best - 1),
            attention=attention if self.with_attention else None,
        )
