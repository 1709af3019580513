"""The n-best contract: every hypothesis scored, the same count from every API and the page.

`n_best` N (v1, the page) and LibreTranslate's `alternatives` N - 1 give the translation
plus the same N - 1 distinct alternatives, each with a score; fewer only when the search
finds fewer distinct texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nmt.decoding.types import SearchOptions
from nmt.translator import Alternative, Translation, load_translator
from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator

LT = {"source": "en", "target": "fr"}


def _hypotheses(client: TestClient, text: str, n_best: int) -> tuple[dict, list[str]]:
    """The v1 item for n_best, and LibreTranslate's alternatives for n_best - 1."""
    v1 = client.post("/v1/translate", json={"text": text, "n_best": n_best, "beam_size": 5})
    assert v1.status_code == 200, v1.text
    lt = client.post("/translate", json={"q": text, **LT, "alternatives": n_best - 1})
    assert lt.status_code == 200, lt.text
    return v1.json()["translations"][0], lt.json().get("alternatives", [])


@pytest.mark.parametrize("n_best", [1, 2, 3, 5])
def test_every_hypothesis_is_scored_and_counts_agree(client: TestClient, n_best: int) -> None:
    item, lt_alternatives = _hypotheses(client, "Hello world. The cat is black.", n_best)
    assert isinstance(item["score"], float)
    assert len(item["alternatives"]) == n_best - 1
    assert all(isinstance(a["score"], float) for a in item["alternatives"])
    assert [a["text"] for a in item["alternatives"]] == lt_alternatives


@pytest.mark.parametrize("n_best", [2, 3])
def test_n_best_2_gives_one_alternative_on_v1(client: TestClient, n_best: int) -> None:
    item = client.post("/v1/translate", json={"text": "Hello.", "n_best": n_best}).json()
    assert len(item["translations"][0]["alternatives"]) == n_best - 1


class _SameTextAlternatives(FakeTranslator):
    """Alternatives whose pieces differ but whose text repeats the best or each other."""

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        return [
            dataclasses.replace(
                best,
                alternatives=[
                    Alternative(best.text, best.score - 0.5),  # the best's text again
                    Alternative("autre", best.score - 1),
                    Alternative("autre", -9.0),
                ],
            )
            for best in super().translate(texts, options)
        ]


def test_alternatives_repeating_a_text_are_left_out(settings: ServiceSettings) -> None:
    with TestClient(create_app(settings, translator=_SameTextAlternatives())) as client:
        item, lt_alternatives = _hypotheses(client, "Hello.", 4)
    assert [(a["text"], a["score"]) for a in item["alternatives"]] == [("autre", -1.1)]
    assert lt_alternatives == ["autre"]


def test_real_model_n_best_contract(shipped_model_dir: Path) -> None:
    translator = load_translator(shipped_model_dir, "cpu")
    with TestClient(create_app(ServiceSettings(), translator=translator)) as client:
        for text in ("Where is the station?", "I like the cat. The dog is asleep."):
            item, lt_alternatives = _hypotheses(client, text, 3)
            scores = [item["score"]] + [a["score"] for a in item["alternatives"]]
            texts = [item["text"]] + [a["text"] for a in item["alternatives"]]
            assert all(isinstance(score, float) for score in scores)
            assert len(item["alternatives"]) == 2, texts  # beam 5 finds 3 distinct texts
            assert len(set(texts)) == 3
            assert [a["text"] for a in item["alternatives"]] == lt_alternatives
            if item["sentences"] == 1:  # one sentence: ranked by its own score
                assert scores == sorted(scores, reverse=True)
