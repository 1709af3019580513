"""The text boundary around scripted models: its promises hold whatever the model writes."""

from __future__ import annotations

import pytest

from nmt.data.tokenizer import Tokenizer
from nmt.decoding.types import SearchOptions
from nmt.text.html import split_html
from nmt.text.pipeline import translate_texts
from nmt.text.spans import find_spans

from .conftest import ScriptedModel, babble, drop_symbols, echo, reverse_words

OPTIONS = SearchOptions()
SCRIPTS = [echo, reverse_words, drop_symbols, babble]
SPANNED = [
    "Please send the report to john.smith@example.com.",
    "Visit https://example.org/a?b=1 for details.",
    "She bought 3 apples and 12 oranges.",
    "The meeting starts at 9:30 tomorrow, Tom.",
    "It costs $12.50 and 1,000 at www.example.org, John.",
    "Say 你好 to my 猫 at 7.",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("text", SPANNED)
def test_spans_come_out_verbatim_once_whatever_the_model(
    tokenizer: Tokenizer, script: object, text: str
) -> None:
    model = ScriptedModel(tokenizer, script)  # type: ignore[arg-type]
    [result] = translate_texts(model, [text], OPTIONS)
    for span in find_spans(text):
        assert result.text.count(text[span.start : span.end]) == 1, (result.text, span)
    for unknown in ("你好", "猫"):
        assert result.text.count(unknown) == text.count(unknown)
    assert "\n" not in result.text


def test_spans_are_linked_to_their_source(tokenizer: Tokenizer) -> None:
    text = "Visit https://example.org for 3 days."
    [result] = translate_texts(ScriptedModel(tokenizer, reverse_words), [text], OPTIONS)
    links = {result.text[k.target_start : k.target_end]: k for k in result.alignment or []}
    for span in ("https://example.org", "3"):
        link = links[span]
        assert text[link.source_start : link.source_end] == span


def test_placeholders_are_what_the_model_sees(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    text = "Mail tom@example.com at 9:30 or visit https://x.org now."
    translate_texts(model, [text], OPTIONS)
    [[seen]] = model.calls
    assert "@" not in seen and "https" not in seen and "9:30" not in seen
    stand_ins = set(seen.rstrip(".").split()) - set(text.rstrip(".").split())
    assert len(stand_ins) == 3 and not any(word.lower() in text.lower() for word in stand_ins)


@pytest.mark.parametrize(
    "text",
    ["😀", ".", "?!", "12", "9:30 - 10:45", "$5", "https://x.org", "&lt;", "你好", " \u200b "],
)
def test_nothing_to_translate_comes_back_unchanged(tokenizer: Tokenizer, text: str) -> None:
    model = ScriptedModel(tokenizer, babble)
    [result] = translate_texts(model, [text], OPTIONS)
    assert result.text == text.strip().replace("\u200b", "") and model.calls == []


def test_all_caps_and_title_case_keep_their_pattern(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    upper, title, plain = translate_texts(
        model, ["SEE THE CAT AT 9:30.", "See The Dog And The House", "see the cat."], OPTIONS
    )
    assert model.calls == [["See the cat at Tom.", "See the dog and the house.", "see the cat."]]
    assert upper.text == "SEE THE CAT AT 9:30." and title.text == "See The Dog And The House"
    assert plain.text == "see the cat."


def test_long_texts_are_split_and_nothing_is_lost(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo, max_source_pieces=12)
    text = "the cat see the dog, the dog see the house; " * 6 + "x" * 40 + " at 9:30."
    [result] = translate_texts(model, [text], OPTIONS)
    assert result.parts > 3 and all(len(model.piece_surfaces(t)) <= 12 for t in model.calls[0])
    assert result.text.replace(" ", "") == text.replace(" ", "")
    assert (
        len(result.source_pieces) == sum(len(model.piece_surfaces(t)) for t in model.calls[0]) + 1
    )


def test_each_sentence_is_one_model_input(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, reverse_words)
    text = 'Wait here, Mr. Smith. Is it 9:30? "Yes!" she said.  Go'
    [result] = translate_texts(model, [text], OPTIONS)
    assert model.calls == [["Wait here, Mr. Smith.", "Is it Tom?", "Yes! she said.", "Go."]]
    assert result.parts == 4 and result.text.count("9:30") == 1 and result.text.endswith("Go")
    assert "« Yes! »" in result.text  # quotes are not the model's (test_quotes.py)


def test_sentences_are_joined_by_one_space_and_keep_their_links(tokenizer: Tokenizer) -> None:
    text = "See the cat.   See the dog at 9:30!"
    [result] = translate_texts(ScriptedModel(tokenizer, echo), [text], OPTIONS)
    assert result.text == "See the cat. See the dog at 9:30!"
    links = {result.text[k.target_start : k.target_end]: k for k in result.alignment or []}
    assert text[links["9:30"].source_start : links["9:30"].source_end] == "9:30"
    assert text[links["dog"].source_start : links["dog"].source_end] == "dog"


def test_any_string_gives_one_translation_each(tokenizer: Tokenizer) -> None:
    texts = ["Hello \ud83d world.", "", "a\rb\u2028c\nd", "\x00\x07", "\u202eevil", "😀 cat"]
    results = translate_texts(ScriptedModel(tokenizer, reverse_words), texts, OPTIONS)
    assert [r.source for r in results] == texts
    for result in results:
        result.text.encode("utf-8")
        assert not any(c in result.text for c in "\n\r\u2028\x00")


def test_attention_only_when_asked(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    [plain] = translate_texts(model, ["see the cat"], OPTIONS)
    [shown] = translate_texts(model, ["see the cat"], SearchOptions(return_attention=True))
    assert plain.attention is None and shown.attention is not None
    assert plain.alignment and shown.alignment  # the alignment is always given


def test_alternatives_get_the_same_treatment(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, drop_symbols)
    [result] = translate_texts(
        model, ["SEND 3 CATS TO tom@x.org"], SearchOptions(beam_size=2, n_best=2)
    )
    [alternative] = result.alternatives
    for text in (result.text, alternative.text):
        assert text.count("3") == 1 and text.count("tom@x.org") == 1
        rest = text.replace("tom@x.org", "")
        assert rest == rest.upper()


def test_markup_is_placed_through_the_boundary(tokenizer: Tokenizer) -> None:
    template = split_html("<p>Visit <a href='https://x.org'>my house</a> at 9:30, <b>Tom</b>.</p>")
    model = ScriptedModel(tokenizer, reverse_words)
    translations = translate_texts(model, template.sentences, OPTIONS)
    out = template.fill(translations)
    assert out.count("<a href='https://x.org'>") == 1 and out.count("</a>") == 1
    anchored = out.split("<a href='https://x.org'>")[1].split("</a>")[0]
    assert set(anchored.split()) == {"my", "house"}
    assert "<b>Tom</b>" in out and out.count("9:30") == 1


def test_without_attention_positions_are_proportional(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, drop_symbols, with_attention=False)
    [result] = translate_texts(model, ["see 3 cats at https://x.org today"], OPTIONS)
    assert result.text.count("3") == 1 and result.text.count("https://x.org") == 1


def test_capitals_opening_sentences_make_no_title_and_title_sentences_still_split(
    tokenizer: Tokenizer,
) -> None:
    model = ScriptedModel(tokenizer, echo)
    plain, title = translate_texts(model, ["See. Go. Sit.", "See The Cat. See The Dog."], OPTIONS)
    assert model.calls == [["See.", "Go.", "Sit.", "See the cat.", "See the dog."]]
    assert plain.text == "See. Go. Sit." and title.text == "See The Cat. See The Dog."


def test_a_line_break_ends_a_model_input_and_the_output_stays_one_line(
    tokenizer: Tokenizer,
) -> None:
    model = ScriptedModel(tokenizer, echo)
    [result] = translate_texts(model, ["see the cat\r\n\nthe dog see\rthe house"], OPTIONS)
    assert model.calls == [["see the cat.", "the dog see the house."]]  # a lone "\r": no break
    assert result.text == "see the cat the dog see the house"


def test_a_sentence_without_an_end_gets_a_full_stop_the_output_does_not(
    tokenizer: Tokenizer,
) -> None:
    model = ScriptedModel(tokenizer, echo)
    texts = ["see the cat", "see the cat,", "See the cat at 9:30", "see the cat?"]
    results = translate_texts(model, texts, OPTIONS)
    assert model.calls == [["see the cat.", "see the cat,", "See the cat at Tom.", "see the cat?"]]
    assert [r.text for r in results] == texts
    links = results[2].alignment or []
    assert all(link.target_end <= len(results[2].text) for link in links)


def test_a_lone_ampersand_is_read_as_and_and_traced_to_the_ampersand(tokenizer: Tokenizer) -> None:
    model = ScriptedModel(tokenizer, echo)
    texts = ["Salt & pepper.", "SALT & PEPPER", "AT&T & R&D.", "a &b & c"]
    results = translate_texts(model, texts, OPTIONS)
    seen = [call for batch in model.calls for call in batch]
    assert seen[:2] == ["Salt and pepper."] * 2  # upper case: "AND", seen in sentence case
    assert results[1].text == "SALT AND PEPPER"
    assert seen[2] == "Tom and John."  # AT&T and R&D are spans, behind placeholders
    assert seen[3].endswith(" and c.")  # "&b" is no lone ampersand
    assert results[2].text.count("AT&T") == 1 and results[2].text.count("R&D") == 1
    link = next(
        k
        for k in results[0].alignment or []
        if results[0].text[k.target_start : k.target_end] == "and"
    )
    assert texts[0][link.source_start : link.source_end] == "&"
