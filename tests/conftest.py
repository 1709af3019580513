"""Shared fixtures: a small synthetic English-French corpus, prepared once per session."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from nmt.data.prepare import PrepareOptions, prepare_data

# Timing belongs to bench/, not to tests: on a loaded 2-core machine one example overran
# hypothesis's default 200 ms deadline and failed a property that holds.
settings.register_profile("nmt", deadline=None)
settings.load_profile("nmt")

REPO = Path(__file__).resolve().parents[1]
SHARED_ZIP = REPO.parent / "shared" / "data" / "tatoeba" / "fra-eng.zip"

_SUBJECTS = [
    ("I", "Je", 0),
    ("You", "Tu", 1),
    ("We", "Nous", 2),
    ("They", "Ils", 3),
    ("Tom", "Tom", 4),
]
_VERBS = [
    ("see", ["vois", "vois", "voyons", "voient", "voit"]),
    ("like", ["aime", "aimes", "aimons", "aiment", "aime"]),
    ("want", ["veux", "veux", "voulons", "veulent", "veut"]),
]
_OBJECTS = [
    ("the cat", "le chat"),
    ("the dog", "le chien"),
    ("a book", "un livre"),
    ("the house", "la maison"),
    ("an apple", "une pomme"),
    ("the car", "la voiture"),
    ("the city", "la ville"),
    ("a bird", "un oiseau"),
]
_ENDINGS = [(".", "."), ("!", " !")]


def synthetic_pairs() -> list[tuple[str, str]]:
    """About 480 regular en-fr pairs: subject x verb x object x ending."""
    pairs = []
    for (s_en, s_fr, person), (v_en, v_fr), (o_en, o_fr), (e_en, e_fr) in itertools.product(
        _SUBJECTS, _VERBS, _OBJECTS, _ENDINGS
    ):
        verb = v_en + "s" if s_en == "Tom" else v_en
        pairs.append((f"{s_en} {verb} {o_en}{e_en}", f"{s_fr} {v_fr[person]} {o_fr}{e_fr}"))
    return pairs


def write_corpus(path: Path, pairs: list[tuple[str, str]] | None = None) -> Path:
    """Write pairs as a manythings-style tab-separated file (with an attribution column)."""
    rows = pairs if pairs is not None else synthetic_pairs()
    path.write_text(
        "".join(f"{en}\t{fr}\tCC-BY 2.0 (France) test\n" for en, fr in rows), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    """The shipped inference bundle (models/en-fr-base); tests using it skip without it.

    Tests on it assert what holds for any decent model (counts, statuses, verbatim spans),
    never exact wording.
    """
    path = REPO / "models" / "en-fr-base"
    if not (path / "config.json").exists():
        pytest.skip(f"no shipped model at {path}")
    return path


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared-data directory (joint unigram sentencepiece, 96 pieces) of the corpus."""
    root = tmp_path_factory.mktemp("prepared")
    corpus = write_corpus(root / "pairs.txt")
    options = PrepareOptions(source=str(corpus), out=root / "data", vocab_size=96)
    return prepare_data(options, progress=False).out_dir


@pytest.fixture(autouse=True)
def _single_thread() -> None:
    """Two cores are shared by everything; one thread keeps tests predictable."""
    torch.set_num_threads(1)
