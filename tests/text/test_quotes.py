"""Double quotes: out of the model's input, back as « » around what they quote."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmt.data.tokenizer import Tokenizer
from nmt.decoding.types import SearchOptions
from nmt.text.edits import Edited
from nmt.text.pipeline import translate_texts
from nmt.text.quotes import french_quotes, quote_pairs, without_quotes
from nmt.translation import Link

from .conftest import ScriptedModel, babble, drop_symbols, echo, reverse_words


def _links(text: str) -> list[Link]:
    """Each token of `text` linked to the same characters of a source equal to `text`."""
    tokens = re.finditer(r"[\w'-]+|[^\w\s]", text)
    return [Link(m.start(), m.end(), m.start(), m.end()) for m in tokens]


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ('He said, "I am tired."', [(9, 21)]),
        ('"Who?" "Me."', [(0, 5), (7, 11)]),
        ("« Qui ? » « Moi. »", [(0, 8), (10, 17)]),
        ("“Curly” and „low“", [(0, 6), (12, 16)]),  # „ opens, “ then closes
        ('A "quote" in "a" text', [(2, 8), (13, 15)]),
        ("No quotes at all.", []),
        ("He is 6'2\" tall.", []),  # an inch mark is no quote
        ('"Left open.', None),
        ('Closed only."', None),
    ],
)
def test_quote_pairs(text: str, pairs: list[tuple[int, int]] | None) -> None:
    assert quote_pairs(text) == pairs


def test_paired_quotes_leave_the_model_input_and_origins_stay() -> None:
    source = '"Who is it?"  "It\'s me," she said.'
    edited = without_quotes(Edited.identity(source))
    assert edited.text == "Who is it? It's me, she said."
    start = edited.text.index("she")
    assert edited.origin(start, start + 3) == (source.index("she"), source.index("she") + 3)


def test_unpaired_quotes_stay_in_the_model_input() -> None:
    for source in ("He is 6'2\" tall.", '"Left open.'):
        assert without_quotes(Edited.identity(source)).text == source


def test_the_models_pairs_are_restyled_and_links_follow() -> None:
    source = '"Who is it?" "Me."'
    text = '"Qui est-ce ? » «Moi. »'
    out, links = french_quotes(source, text, _links(text))
    assert out == "« Qui est-ce ? » « Moi. »"
    assert links is not None
    tokens = {out[link.target_start : link.target_end].strip() for link in links}
    assert tokens == {"Qui", "est-ce", "?", "Moi", ".", "«", "»"}


def test_missing_quotes_are_placed_around_the_aligned_words() -> None:
    source = 'She asked, "Where are you going?"'
    text = "Elle a demandé, où vas-tu ?"
    # "où vas-tu ?" is aligned into the quoted source words
    quoted = source.index("Where")
    links = [Link(0, 3, 0, 4), Link(4, 9, 5, 6), Link(4, 9, 7, 14), Link(9, 10, 14, 15)]
    links += [Link(quoted, quoted + 5, 16, 18), Link(quoted + 6, quoted + 19, 19, 25)]
    links += [Link(quoted + 19, quoted + 20, 26, 27)]
    out, moved = french_quotes(source, text, links)
    assert out == "Elle a demandé : « Où vas-tu ? »"
    assert moved is not None
    assert out[moved[4].target_start : moved[4].target_end] == "Où"
    assert out[moved[0].target_start : moved[0].target_end] == "Elle"


def test_a_source_without_pairs_leaves_the_translation_alone() -> None:
    for source in ("No quotes here.", 'A 12" pizza.'):
        text = 'Pas de "guillemets" ici.'
        assert french_quotes(source, text, _links(text)) == (text, _links(text))


@pytest.mark.parametrize("script", [echo, reverse_words, drop_symbols, babble])
def test_quotes_come_back_as_one_well_formed_pair_at_most_whatever_the_model(
    tokenizer: Tokenizer, script: object
) -> None:
    model = ScriptedModel(tokenizer, script)  # type: ignore[arg-type]
    texts = ['"See the cat," the dog said.', 'The cat said "see the house" at 9:30.']
    for result in translate_texts(model, texts, SearchOptions()):
        assert '"' not in " ".join(model.calls[-1])  # the model never saw them
        opened, closed = result.text.count("« "), result.text.count(" »")
        assert opened == closed <= 1 and '"' not in result.text, result.text
        if opened:
            assert result.text.index("«") < result.text.index("»")
        if script in (echo, reverse_words):  # every quoted word is in the output
            assert opened == 1, result.text


def test_side_by_side_pairs_stay_side_by_side_and_a_lost_pair_is_left_out() -> None:
    source = '"One" "two" "three" he said "".'
    text = "Un deux trois il a dit."
    links = [Link(1, 4, 0, 2), Link(7, 10, 3, 7), Link(13, 18, 8, 13), Link(20, 22, 14, 16)]
    out, _ = french_quotes(source, text, links)
    assert out == "« Un » « deux » « trois » il a dit."


def test_a_quote_never_splits_a_word() -> None:
    source = '"I am hungry," she said.'
    text = "J'ai faim, elle a dit."
    links = [Link(1, 2, 1, 4), Link(3, 5, 1, 4), Link(6, 12, 5, 9), Link(12, 13, 9, 10)]
    out, _ = french_quotes(source, text, links)
    assert out == "« J'ai faim, » elle a dit."


def test_an_inch_mark_is_no_quote() -> None:
    source = 'He said "yes" and he is 5\'10" tall.'
    assert quote_pairs(source) == [(8, 12)]
    text = "Il a dit oui et il mesure 5'10\" ."
    out, _ = french_quotes(source, text, [Link(9, 12, 9, 12)])
    assert out == "Il a dit « oui » et il mesure 5'10\" ."


_WORD = st.sampled_from(["le", "chat", "?", "Qui", ",", "dit", "«", "»", '"', "“", "”", "."])


@given(st.lists(_WORD, min_size=1, max_size=12), st.lists(_WORD, min_size=1, max_size=12))
def test_links_point_at_the_same_tokens_after_any_requoting(
    source_words: list[str], target_words: list[str]
) -> None:
    source, text = " ".join(source_words), " ".join(target_words)
    links = _links(text)
    out, moved = french_quotes(source, text, links)
    assert moved is not None and len(moved) == len(links)
    for before, after in zip(links, moved, strict=True):
        assert 0 <= after.target_start <= after.target_end <= len(out)
        token = text[before.target_start : before.target_end]
        if any(q in token for q in '"“”«»'):
            continue
        # a comma may turn into the colon opening speech, a word opening it gains a capital
        allowed = {",", ":"} if token == "," else {token, token.capitalize()}
        assert out[after.target_start : after.target_end] in allowed


def test_a_comma_after_a_space_becomes_a_colon_without_a_second_space() -> None:
    """Found by the property above: "le , le" gave "le  : « le »", two spaces."""
    out, moved = french_quotes('le , "le"', "le , le", _links("le , le"))
    assert out == "le : « le »"
    assert moved is not None and out[moved[1].target_start : moved[1].target_end] == ":"
