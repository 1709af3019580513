"""Arbitrary Unicode through every text path: no exception, no traceback, lines in = lines out.

The alphabet mixes any code point (lone surrogates included) with the characters that
broke translators before: controls, zero-width and bidi marks, every kind of newline,
and long tokens. Model paths use the real model with few examples (CI-sized).
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmt.cli import main
from nmt.data.dataset import read_groups
from nmt.text.clean import sanitize, tidy
from nmt.text.html import split_html
from nmt.text.lines import LINE_BREAKS, format_lines, split_lines
from nmt.text.sentences import split_sentences
from nmt.translator import NeuralTranslator, load_translator

NASTY = list(
    "\ud83d\udc00\udfff\x00\x07\x1b\x7f\x85\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066"
    "\u2069\ufeff\u00ad\u2028\u2029\r\n\t\x0b\x0c\xa0\u202f\ufffd<>&;é😀你"
)
WORDS = ["Hello", "world", "the", "cat", "is", "HERE", "9:30", "a@b.org", "http://x.org", ".", "?"]
CHAR = st.characters(exclude_categories=()) | st.sampled_from(NASTY)
ANY_TEXT = st.lists(
    st.text(CHAR, max_size=8)
    | st.sampled_from(WORDS)
    | st.text(st.sampled_from("ab"), min_size=40, max_size=120),
    max_size=6,
).map(" ".join)
LONG_TOKEN = st.integers(300, 700).map(lambda n: "x" * n)


def _no_line_break(text: str) -> bool:
    return not any(char in LINE_BREAKS for char in text)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_pure_text_functions_accept_anything(text: str) -> None:
    sanitize(text).text.encode("utf-8")
    assert _no_line_break(tidy(text))
    template = split_sentences(text)
    assert template.fill(template.sentences) == text
    marked = split_html(text)
    marked.fill(marked.sentences)
    data = format_lines(text.split("\n"))
    assert len(split_lines(data)) == len(text.split("\n"))


@pytest.fixture(scope="module")
def translator(shipped_model_dir: Path) -> NeuralTranslator:
    return load_translator(shipped_model_dir, "cpu")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ANY_TEXT | LONG_TOKEN, min_size=1, max_size=4))
def test_translator_survives_any_strings(translator: NeuralTranslator, texts: list[str]) -> None:
    options = dataclasses.replace(
        translator.description.search_defaults, beam_size=1, max_length_a=5.0, max_length_b=1.2
    )
    results = translator.translate(texts, options)
    assert [r.source for r in results] == texts
    for result in results:
        result.text.encode("utf-8")
        assert _no_line_break(result.text)


def _run_cli(argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, str]:
    """main() with stdin/stdout/stderr as byte streams: (exit code, stdout bytes, stderr)."""
    out, err = io.BytesIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stdin, sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO(stdin)), stdout, err
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        stdout.flush()
        written = out.getvalue()
        stdout.detach()  # the BytesIO must outlive the wrapper
        sys.stdin, sys.stdout, sys.stderr = saved
    return code, written, err.getvalue()


LINES = st.lists(
    ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")) | st.binary(max_size=20), max_size=5
)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(LINES, st.booleans())
def test_nmt_translate_keeps_the_line_count(
    shipped_model_dir: Path, tmp_path: Path, lines: list[bytes], final_newline: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    source = tmp_path / "input.txt"
    source.write_bytes(data)
    args = ["translate", "--checkpoint", str(shipped_model_dir), "--beam", "1", "--device", "cpu"]
    expected = len(split_lines(data))
    for argv, stdin in ((args, data), ([*args, "--input", str(source), "--quiet"], b"")):
        code, out, err = _run_cli(argv, stdin)
        assert code == 0 and "Traceback" not in err, err
        assert out.count(b"\n") == expected and len(split_lines(out)) == expected


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_nmt_evaluate_reads_any_hypotheses(
    prepared_dir: Path, tmp_path: Path, data: st.DataObject
) -> None:
    count = len(read_groups(prepared_dir, "test"))
    lines = data.draw(st.lists(LINES.map(b" ".join), min_size=count, max_size=count))
    hyps = tmp_path / "hyps.txt"
    hyps.write_bytes(b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines))
    code, _, err = _run_cli(["evaluate", "--hyps", str(hyps), "--data", str(prepared_dir)])
    assert code == 0 and "Traceback" not in err, err
