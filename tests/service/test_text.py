"""Sentence splitting, HTML templates and diagnostics: pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.diagnostics import finite, has_repetition, untranslated_pieces
from service.langdetect import detect_language
from service.text import split_html, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello world. How are you?  I am fine!", ["Hello world.", "How are you?", "I am fine!"]),
        ('Mr. Smith left. He said "Hi." Then', ["Mr. Smith left.", 'He said "Hi."', "Then"]),
        ("One line\nsecond line", ["One line", "second line"]),
        ("version 2.5 is out. next one soon", ["version 2.5 is out. next one soon"]),
        ("e.g. this one. And 3 more.", ["e.g. this one.", "And 3 more."]),
        ("Wait... What?! Yes.", ["Wait...", "What?!", "Yes."]),
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


def test_fill_puts_translations_in_place() -> None:
    template = split_sentences("  Hi there.\n\nBye now!  ")
    assert template.fill(["Salut.", "Au revoir !"]) == "  Salut.\n\nAu revoir !  "
    with pytest.raises(ValueError):
        template.fill(["only one"])


HTML = (
    '<!DOCTYPE html>\n<p class="x">Tom &amp; Jerry. They run!</p>'
    '<script>var s = "Do not. Translate";</script><style>p { color: red }</style>'
    "<!-- a comment --><br/><b>Bold</b> &lt;tag&gt; &nbsp;<code>x = 1</code>"
)


def test_split_html_translates_text_nodes_only() -> None:
    template = split_html(HTML)
    assert template.sentences == ["Tom & Jerry.", "They run!", "Bold", "<tag>"]
    assert template.fill(template.sentences) == HTML
    filled = template.fill([s.upper() for s in template.sentences])
    assert filled == HTML.replace(
        "Tom &amp; Jerry. They run!", "TOM &amp; JERRY. THEY RUN!"
    ).replace("<b>Bold</b> &lt;tag&gt;", "<b>BOLD</b> &lt;TAG&gt;")


def test_split_html_escapes_translations() -> None:
    template = split_html("<i>a</i>")
    assert template.fill(["x < y & z"]) == "<i>x &lt; y &amp; z</i>"


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["le", "chat", "est", "noir"], False),
        (["le", "le", "le"], True),
        (["a", "b", "c", "x", "a", "b", "c"], True),
        (["a", "b", "a", "b"], False),
        ([], False),
    ],
)
def test_repetition_rule(pieces: list[str], expected: bool) -> None:
    assert has_repetition(pieces) is expected


def test_untranslated_pieces_uses_column_sums() -> None:
    attention = [[0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.0, 0.0, 1.0]]  # (T + 1, S + 1)
    assert untranslated_pieces(attention, ["a", "b"], threshold=0.5) == ["b"]
    assert untranslated_pieces(attention, ["a", "b"], threshold=0.1) == []


def test_finite_clamps_non_json_floats() -> None:
    assert finite(float("-inf")) == -1e9
    assert finite(float("nan")) == -1e9
    assert finite(-1.5) == -1.5


def test_detector_tells_english_from_french() -> None:
    assert detect_language("The cat is on the table.")[0][0] == "en"
    assert detect_language("Le chat est sur la table.")[0][0] == "fr"
    assert detect_language("12345")[0] == ("en", 50.0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<b x='1'>",
                "<br/>",
                "<script>",
                "</script>",
                "&amp;",
                "&nbsp;",
                "&",
                "<",
                ">",
                "<!--",
                "-->",
                "Hi.",
                " ",
                "\n",
                "\r\n",
                "Ok! ",
                "é",
                "<!DOCTYPE x>",
                "&#1;",
            ]
        )
        | st.text(max_size=5),
        max_size=12,
    )
)
def test_templates_reproduce_any_input(chunks: list[str]) -> None:
    text = "".join(chunks)
    plain = split_sentences(text)
    assert plain.fill(plain.sentences) == text
    marked = split_html(text)
    assert len(marked.parts) == len(marked.sentences) + 1
    marked.fill(["x"] * len(marked.sentences))  # never fails, whatever the markup
