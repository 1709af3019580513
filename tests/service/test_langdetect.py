"""Language detection for `source=auto` and `/detect` (service.langdetect, py3langid)."""

from __future__ import annotations

import threading

import pytest

from service.langdetect import detect_language

FRENCH = ["Bonjour", "Merci beaucoup", "Bonne nuit", "Oui", "Le chat est sur la table.", "Où ?"]
ENGLISH = ["Hello", "Thanks a lot", "Good night", "Yes", "The cat is on the table.", "Why?"]


@pytest.mark.parametrize(
    ("text", "language"), [(t, "fr") for t in FRENCH] + [(t, "en") for t in ENGLISH]
)
def test_short_and_long_texts_get_their_language(text: str, language: str) -> None:
    ranked = detect_language(text)
    assert ranked[0][0] == language and ranked[0][1] > 50, ranked
    assert {code for code, _ in ranked} == {"en", "fr"}
    assert sum(confidence for _, confidence in ranked) == pytest.approx(100, abs=0.2)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_text_with_nothing_to_go_on_is_a_tie_that_the_first_candidate_wins(text: str) -> None:
    assert detect_language(text) == [("en", 50.0), ("fr", 50.0)]
    assert detect_language(text, ("fr", "en")) == [("fr", 50.0), ("en", 50.0)]


def test_candidates_the_detector_does_not_know_get_nothing() -> None:
    assert detect_language("Le chat dort.", ("fr", "xx")) == [("fr", 100.0), ("xx", 0.0)]
    assert detect_language("Le chat dort.", ("xx", "yy")) == [("xx", 50.0), ("yy", 50.0)]


def test_any_string_is_answered() -> None:
    for text in ["12345 😀", "\ud800 lone surrogate", "\x00\x01", "é" * 20_000, "<p>&amp;</p>"]:
        ranked = detect_language(text)
        assert [code for code, _ in ranked] in (["en", "fr"], ["fr", "en"])


def test_threads_asking_at_once_share_one_detector() -> None:
    answers: list[list[tuple[str, float]]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(detect_language("Bonne nuit", ("fr", "en"))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(answer == answers[0] for answer in answers)
    assert answers[0][0][0] == "fr"
