"""Counts from 1 to 20 reach the model as English words and come back as their digits."""

from __future__ import annotations

import re

import pytest

from nmt.data.tokenizer import Tokenizer
from nmt.decoding.types import SearchOptions
from nmt.text.align import Unit, spell_units
from nmt.text.elision import elided, unelided
from nmt.text.numbers import SPOKEN, STAND_INS, counts_plural, reads_as_count, spoken_number
from nmt.text.pipeline import translate_texts
from nmt.text.restore import ChunkSpan, restore_spans

from .conftest import ScriptedModel, babble, echo


def test_counts_from_one_to_twenty_are_spoken() -> None:
    assert list(SPOKEN) == list(range(1, 21))
    seven = spoken_number("7")
    assert seven is not None and seven.word == "seven" and "sept" in seven.renderings
    seventeen = spoken_number("17")
    assert seventeen is not None and seventeen.renderings[:2] == ("dix-sept", "Dix-sept")
    one = spoken_number("1")
    assert one is not None and {"un", "une", "Un", "Une"} <= set(one.renderings)


@pytest.mark.parametrize("text", ["0", "07", "2024", "1234", "٣", "12%", "7.5.1", "seven", ""])
def test_other_numbers_keep_their_placeholder(text: str) -> None:
    assert spoken_number(text) is None


@pytest.mark.parametrize("text", ["21", "35", "100", "999", "2.5", "3,5", "1,000", "12,500,000"])
def test_larger_amounts_get_a_stand_in_count(text: str) -> None:
    thirty = spoken_number(text)
    assert thirty is not None and thirty.word == "thirty" and thirty.stand_in
    assert {"trente", "30"} <= set(thirty.renderings)
    fifty = spoken_number(text, frozenset({"thirty"}))
    assert fifty is not None and fifty.word == "fifty" and "cinquante" in fifty.renderings
    for taken in ("trente", "30"):
        other = spoken_number(text, frozenset({taken}))
        assert other is not None and other.word == "fifty"
    every = frozenset(word for stand_in in STAND_INS for word in stand_in)
    assert spoken_number(text, every) is None


@pytest.mark.parametrize(
    ("text", "plural"),
    [
        ("35 years old", True), ("2.5 euros", True), ("100 people", True), ("40 sheep", True),
        ("35 of them", False), ("35 came", False), ("85 kg", False), ("2.0 is out", False),
        ("35 was", False), ("35", False), ("35 Days", False),
    ],
)  # fmt: skip
def test_an_amount_gets_a_stand_in_only_before_a_plural_noun(text: str, plural: bool) -> None:
    number = text.split(" ")[0]
    assert counts_plural(text, len(number)) is plural


def test_each_amount_has_its_own_stand_in_and_comes_back(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    texts = ["He has 25 cows and 40 sheep, thirty dogs.", "Give me 35 of them."]
    [result, kept] = translate_texts(model, texts, SearchOptions())
    assert model.calls[0][0] == "He has fifty cows and sixty sheep, thirty dogs."
    assert not {"thirty", "fifty", "sixty"} & set(model.calls[0][1].split())  # not a plural
    assert result.text == "He has 25 cows and 40 sheep, thirty dogs."


def test_an_amount_opening_a_sentence_gets_a_count_the_model_keeps_there(
    tokenizer: Tokenizer,
) -> None:
    model = ScriptedModel(tokenizer, echo)
    texts = [
        "250 families live here. They have 35 dogs.",
        "21 people ate 3 apples.",  # 3 is in the text: "three" would be ambiguous
        "2.5 euros is 3 more than 2 dollars.",
    ]
    results = translate_texts(model, texts, SearchOptions())
    seen = [text for call in model.calls for text in call]
    assert "Three families live here." in seen and "They have thirty dogs." in seen
    assert "Two people ate three apples." in seen
    assert "Ten euros is three more than two dollars." in seen
    assert [r.text for r in results] == texts
    initial = spoken_number("250", initial=True)
    assert initial is not None and initial.stand_in and initial.word == "three"
    assert {"trois", "Trois", "3"} <= set(initial.renderings)
    assert spoken_number("7", initial=True).word == "seven"  # type: ignore[union-attr]


def _stand_in_units(words: list[str]) -> list[Unit]:
    return [Unit(w.lstrip("_"), not w.startswith("_"), None) for w in words]


def test_a_repeated_stand_in_is_dropped_and_a_compound_taken_whole() -> None:
    span = ChunkSpan(8, 13, "35", "thirty", spoken_number("35").renderings, stand_in=True)  # type: ignore[union-attr]
    repeated = _stand_in_units(["J'ai", "payé", "trente", "trente", "dollars", "_."])
    assert spell_units(restore_spans(repeated, [span], []))[0] == "J'ai payé 35 dollars."
    compound = _stand_in_units(["J'ai", "trente", "_-", "_deux", "ans", "_."])
    assert spell_units(restore_spans(compound, [span], []))[0] == "J'ai 35 ans."


def test_de_and_que_elide_and_their_elided_forms_expand() -> None:
    assert unelided("d'") == "de" and unelided("Qu’") == "Que" and unelided("l'") is None
    assert elided("De") == "D'" and elided("que") == "qu'" and elided("le") is None


def _units(words: list[tuple[str, bool]], attended: int) -> list[Unit]:
    """Output units; the one at index `attended` put all its attention on source piece 2."""
    return [
        Unit(text, space, (0, 1), [0.0, 0.0, 1.0] if i == attended else [1.0, 0.0, 0.0])
        for i, (text, space) in enumerate(words)
    ]


def test_the_most_attentive_rendering_becomes_the_digits_and_the_elision_goes() -> None:
    # "I need a ticket and 1 pen" -> the model saw "one" (piece 2) and wrote two "un"
    words = [("J", False), ("'", False), ("ai", False), ("besoin", True), ("d", True)]
    words += [("'", False), ("un", False), ("billet", True), ("et", True), ("d", True)]
    words += [("'", False), ("un", False), ("stylo", True), (".", False)]
    span = ChunkSpan(10, 13, "1", "one", spoken_number("1").renderings)  # type: ignore[union-attr]
    restored = restore_spans(_units(words, attended=11), [span], [(0, 4), (5, 9), (10, 13)])
    assert spell_units(restored)[0] == "J'ai besoin d'un billet et de 1 stylo."


@pytest.mark.parametrize("script", [echo, babble])
def test_counts_come_out_as_digits_once_whatever_the_model(tokenizer: Tokenizer, script) -> None:
    model = ScriptedModel(tokenizer, script)
    text = "I have 2 cats, 17 dogs and 45 birds."
    [result] = translate_texts(model, [text], SearchOptions())
    [[seen]] = model.calls
    assert "two" in seen and "seventeen" in seen and "45" not in seen  # 45: a placeholder
    for number in ("2", "17", "45"):
        assert result.text.count(number) == 1, result.text
    assert "two" not in result.text and "seventeen" not in result.text


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("I have 2 brothers.", True),
        ("3 people came.", True),
        ("It is -3 degrees.", False),  # a sign
        ("Wait 2-3 days.", False),  # a range: neither end
        ("Add 3/4 cup.", False),
        ("He lives at number 7.", False),  # nothing after it: a label
        ("I use Windows 10 daily.", True),  # the word after it decides
        ("It's 1 o'clock.", False),
        ("1 of them is sick.", False),  # the pronoun
        ("2 of them are sick.", True),
        ("I counted 1, 2, 3.", False),
        ("I want 1 Coke.", False),  # a capitalised word: a name, not a count
    ],
)
def test_a_number_reads_as_a_count_when_a_lowercase_word_follows(text: str, count: bool) -> None:
    match = re.search(r"\d+", text)
    assert match is not None
    assert reads_as_count(text, match.start(), match.end()) is count


def test_a_count_opening_a_sentence_is_spoken_with_a_capital(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    translate_texts(model, ["3 people came. We saw 4 cats."], SearchOptions())
    assert model.calls == [["Three people came.", "We saw four cats."]]


def test_de_before_a_restored_name_opening_with_a_vowel_is_elided() -> None:
    words = [("la", True), ("voiture", True), ("de", True), ("Tom", True), (".", False)]
    units = [Unit(text, space, (0, 1)) for text, space in words]
    span = ChunkSpan(0, 3, "Ingrid", "Tom")
    assert spell_units(restore_spans(units, [span], [(0, 3)]))[0] == "la voiture d'Ingrid."
    units = [Unit(text, space, (0, 1)) for text, space in words]
    span = ChunkSpan(0, 3, "Boris", "Tom")
    assert spell_units(restore_spans(units, [span], [(0, 3)]))[0] == "la voiture de Boris."
