"""Rare capitalised words are protected; known and lower-case ones are left to the model."""

from __future__ import annotations

import pytest

from nmt.data.tokenizer import Tokenizer
from nmt.decoding.types import SearchOptions
from nmt.text.names import MIN_SOURCE_COUNT, count_words, find_name_spans
from nmt.text.pipeline import translate_texts

from .conftest import ScriptedModel, babble, drop_symbols, echo, reverse_words

COUNTS = count_words(
    ["Tom went to London yesterday.", "Yesterday Tom's cat saw London.", "jean met tom's mum"]
)


def names(text: str, counts: dict[str, int] = COUNTS) -> list[str]:
    return [text[span.start : span.end] for span in find_name_spans(text, counts)]


def test_count_words_lowercases_runs_of_letters() -> None:
    assert COUNTS["tom"] == 3 and COUNTS["london"] == 2 and COUNTS["s"] == 2
    assert count_words(["Naïve café, 3 déjà-vu!"]) == {"naïve": 1, "café": 1, "déjà": 1, "vu": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I met Ingrid yesterday.", ["Ingrid"]),
        ("Olufemi is a doctor.", ["Olufemi"]),  # sentence-initial and unseen: a name
        ("Yesterday Tom saw London.", []),  # each seen at least MIN_SOURCE_COUNT times
        ("Ingrid's cat and O'Brien's dog.", ["Ingrid", "O'Brien"]),  # no possessive 's
        ("Jean-Luc and Ljubljana", ["Jean-Luc", "Ljubljana"]),  # "luc" unseen: all of it
        ("I saw NASA.", ["NASA"]),
        ("i met ingrid and a zorblax.", []),  # lower case: never a name
        ("A B I", []),  # one letter: never a name
        ("Tom 3Ingrid Ingrid2", []),  # glued to digits: not a word
    ],
)
def test_rare_capitalised_words_are_names(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_inflected_forms_of_known_words_are_words_not_names() -> None:
    counts = count_words(
        ["a koala, a hiker, a baby", "the koala saw the hiker's baby hike", "hike"]
    )
    text = "Koalas sleep. Hikers walk. Babies cry. Hiking is fun. Koalaz run. Ravis sing."
    assert names(text, counts) == ["Koalaz", "Ravis"]
    mid = "I saw Koalas and Oliver. (Hikers walk.) «Babies cry» ... Parker sings."
    assert names(mid, count_words(["an olive, a park", "olive park"]) | counts) == [
        "Koalas",  # inside a sentence a capital says "name"
        "Oliver",  # no singular -er: not an olive
        "Parker",
    ]


def test_a_word_seen_once_is_rare_and_twice_is_known() -> None:
    assert MIN_SOURCE_COUNT == 2
    assert names("Jean came.") == ["Jean"] and names("London came.") == []
    assert find_name_spans("London came.", COUNTS, min_count=3)[0].kind == "name"


@pytest.mark.parametrize("script", [echo, reverse_words, drop_symbols, babble])
def test_names_come_out_verbatim_once_whatever_the_model(tokenizer: Tokenizer, script) -> None:
    model = ScriptedModel(tokenizer, script, source_word_counts=COUNTS)
    text = "Yesterday Ingrid and Olufemi met Tom in London."
    [result] = translate_texts(model, [text], SearchOptions())
    for name in ("Ingrid", "Olufemi"):
        assert result.text.count(name) == 1, result.text
    [[seen]] = model.calls
    assert "Ingrid" not in seen and "Olufemi" not in seen  # placeholders stood in
    assert "Tom" in seen and "London" in seen  # known: the model's to translate


def test_without_word_counts_names_are_left_to_the_model(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    translate_texts(model, ["I met Ingrid."], SearchOptions())
    assert model.calls == [["I met Ingrid."]]


def test_a_text_of_names_only_is_kept_as_it_is(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, babble, source_word_counts=COUNTS)
    [result] = translate_texts(model, ["Ingrid!"], SearchOptions())
    assert result.text == "Ingrid!" and model.calls == []


def test_rare_words_one_space_apart_are_one_name() -> None:
    text = "Kublai Khan met Ingrid Svensson and Tom Ingrid in London."
    assert names(text) == ["Kublai Khan", "Ingrid Svensson", "Ingrid"]


def test_a_title_full_stop_does_not_start_a_sentence() -> None:
    counts = dict.fromkeys(["meet", "mr", "winter", "it", "snowed", "are", "cold"], 5) | {
        "winters": 1
    }
    assert names("Meet Mr. Winters.", counts) == ["Winters"]  # inside the sentence
    assert names("It snowed. Winters are cold.", counts) == []  # a sentence start: a plural


def test_in_all_caps_every_rare_word_is_a_name_and_stays_as_written(
    tokenizer: Tokenizer,
) -> None:
    counts = dict.fromkeys(["tom", "went", "to", "in", "london"], 5)
    assert names("TOM WENT TO INGRID IN LONDON.", counts) == ["INGRID"]
    model = ScriptedModel(tokenizer, echo, source_word_counts=counts)
    [result] = translate_texts(model, ["INGRID WENT TO LONDON."], SearchOptions())
    [[seen]] = model.calls
    assert "INGRID" not in seen.upper() and seen.split()[1] == "went"  # not "Went"
    assert result.text.count("INGRID") == 1 and result.text == result.text.upper()
