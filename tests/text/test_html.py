"""HTML: blocks and inline tags, fixed markup kept exactly, tags placed by alignment."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt.text.html import ATOM_BASE, split_html
from nmt.translation import Link, Translation

HTML = (
    '<!DOCTYPE html>\n<p class="x">Tom &amp; Jerry. They run!</p>'
    '<script>var s = "Do not. Translate";</script><style>p { color: red }</style>'
    "<!-- a comment --><br/><b>Bold</b> &lt;tag&gt; &nbsp;<code>x = 1</code>"
)


def test_split_html_translates_text_nodes_only() -> None:
    template = split_html(HTML)
    # inline <b> and <code> no longer split a sentence: "Bold <tag>" is one, the code
    # element travels inside it as one stand-in character
    code = chr(ATOM_BASE)
    assert template.sentences == ["Tom & Jerry.", "They run!", f"Bold <tag> \xa0{code}"]
    assert template.fill(template.sentences) == HTML
    filled = template.fill([s.upper() for s in template.sentences])
    assert filled == HTML.replace(
        "Tom &amp; Jerry. They run!", "TOM &amp; JERRY. THEY RUN!"
    ).replace("<b>Bold</b> &lt;tag&gt;", "<b>BOLD</b> &lt;TAG&gt;")


def test_split_html_escapes_translations() -> None:
    template = split_html("<i>a</i>")
    assert template.fill(["x < y & z"]) == "<i>x &lt; y &amp; z</i>"


def test_inline_tags_do_not_split_sentences() -> None:
    template = split_html("<p>Hello <b>world</b>.</p>")
    assert template.sentences == ["Hello world."]
    template = split_html("<p>Click <a href='/x?a=1&amp;b=2'>here</a> to <em>see it</em>.</p>")
    assert template.sentences == ["Click here to see it."]
    template = split_html("<ul><li>One thing</li><li>Another <i>thing</i></li></ul>")
    assert template.sentences == ["One thing", "Another thing"]


def _aligned(source: str, text: str, links: list[tuple[str, str]]) -> Translation:
    """A translation whose alignment links each (source word, target word) pair."""
    alignment = []
    for src, tgt in links:
        s, t = source.index(src), text.index(tgt)
        alignment.append(Link(s, s + len(src), t, t + len(tgt)))
    return Translation(source, text, 0.0, [], [], [], alignment=alignment)


def test_tags_follow_the_alignment_not_the_position() -> None:
    template = split_html('<p>The <b class="c">red</b> car is <i>here</i>.</p>')
    [source] = template.sentences
    translation = _aligned(
        source,
        "La voiture rouge est ici.",
        [("The", "La"), ("car", "voiture"), ("red", "rouge"), ("is", "est"), ("here", "ici")],
    )
    assert (
        template.fill([translation]) == '<p>La voiture <b class="c">rouge</b> est <i>ici</i>.</p>'
    )


def test_nested_and_crossing_alignments_stay_well_formed() -> None:
    template = split_html("<p><em>Big <b>red</b></em> cars <u>go</u> fast.</p>")
    [source] = template.sentences
    # the alignment would make <b> cross <u>: the output must still nest properly
    translation = _aligned(
        source,
        "Les grosses voitures rouges roulent vite.",
        [("Big", "grosses"), ("red", "roulent"), ("cars", "voitures"), ("go", "rouges")],
    )
    out = template.fill([translation])
    assert _well_formed(out)
    assert out.replace("<em>", "").replace("</em>", "").count("<b>") == 1


def test_lone_closing_tag_and_verbatim_elements() -> None:
    text = "<b>One. Two</b> three. <pre>Keep. This</pre><p>Run <code>ls -l</code> now.</p>"
    template = split_html(text)
    assert template.sentences[:2] == ["One.", "Two three."]
    assert template.fill(template.sentences) == text
    out = template.fill(["Un.", "Deux trois.", "Lance maintenant."])
    assert "<pre>Keep. This</pre>" in out and "<code>ls -l</code>" in out
    assert out.count("</b>") == 1 and _well_formed(out)


def _well_formed(markup: str) -> bool:
    """Whether every inline end tag closes the innermost open one."""
    stack: list[str] = []
    ok = True

    class Check(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in ("br", "img", "p"):
                stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            nonlocal ok
            if tag == "p":
                return
            ok = ok and bool(stack) and stack.pop() == tag

    Check().feed(markup)
    return ok and not stack


@pytest.mark.parametrize(
    "text", ["<p>&lt;</p>", "a &amp b", "<p>x</p><!-- c --><p>y</p>", "<code>only</code>"]
)
def test_fill_with_sentences_gives_the_document_back(text: str) -> None:
    template = split_html(text)
    filled = template.fill(template.sentences)
    assert split_html(filled).sentences == template.sentences


CHUNKS = [
    "<p>", "</p>", "<b x='1'>", "</b>", "<i>", "</i>", "<br/>", "<script>", "</script>",
    "<code>", "</code>", "&amp;", "&nbsp;", "&", "<", ">", "<!--", "-->", "Hi.", " ", "\n",
    "\r\n", "Ok! ", "é", "<!DOCTYPE x>", "&#1;", "<a href='u'>", "</a>",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CHUNKS) | st.text(max_size=5), max_size=12))
def test_templates_survive_any_input(chunks: list[str]) -> None:
    text = "".join(chunks)
    marked = split_html(text)
    assert len(marked.parts) == len(marked.sentences) + 1
    marked.fill(["x y z"] * len(marked.sentences))  # never fails, whatever the markup
    marked.fill(marked.sentences)
