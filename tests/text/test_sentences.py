"""Sentence splitting: sentences found, whitespace between them kept exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt.text.sentences import sentence_ranges, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello world. How are you?  I am fine!", ["Hello world.", "How are you?", "I am fine!"]),
        ('Mr. Smith left. He said "Hi." Then', ["Mr. Smith left.", 'He said "Hi."', "Then"]),
        ("One line\nsecond line", ["One line", "second line"]),
        ("version 2.5 is out. next one soon", ["version 2.5 is out. next one soon"]),
        ("e.g. this one. And 3 more.", ["e.g. this one.", "And 3 more."]),
        ("Wait... What?! Yes.", ["Wait...", "What?!", "Yes."]),
        ("He is\rhere. Good\u2028night.", ["He is\rhere.", "Good\u2028night."]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences_finds_sentences_and_keeps_whitespace(
    text: str, sentences: list[str]
) -> None:
    template = split_sentences(text)
    assert template.sentences == sentences
    assert template.fill(template.sentences) == text
    assert [text[a:b] for a, b in sentence_ranges(text)] == sentences


def test_fill_puts_translations_in_place() -> None:
    template = split_sentences("  Hi there.\n\nBye now!  ")
    assert template.fill(["Salut.", "Au revoir !"]) == "  Salut.\n\nAu revoir !  "
    with pytest.raises(ValueError):
        template.fill(["only one"])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\r\t\u2028\xa0Mr")), max_size=40))
def test_template_reproduces_any_text(text: str) -> None:
    template = split_sentences(text)
    assert template.fill(template.sentences) == text
    assert len(template.parts) == len(template.sentences) + 1
    assert all(sentence == sentence.strip() and sentence for sentence in template.sentences)


def test_initialisms_end_no_sentence() -> None:
    text = "The U.S. Army is big. Ph.D. students work at 9 a.m. Every day."
    assert [text[a:b] for a, b in sentence_ranges(text)] == [
        "The U.S. Army is big.",
        "Ph.D. students work at 9 a.m. Every day.",
    ]
