"""Lines end at "\\n" only, in every reader and writer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nmt.text.lines import format_lines, read_lines, split_lines


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"\n", [""]),
        (b"a\nb", ["a", "b"]),
        (b"a\r\nb\r\n", ["a", "b"]),
        (b"He is\rhere.\nGood night.\n", ["He is\rhere.", "Good night."]),
        ("x\u2028y\x85z\x0bw\nv\n".encode(), ["x\u2028y\x85z\x0bw", "v"]),
        (b"Hello \xff\xfe world.\nGood night.\n", ["Hello \ufffd\ufffd world.", "Good night."]),
    ],
)
def test_split_lines(data: bytes, lines: list[str]) -> None:
    assert split_lines(data) == lines
    assert split_lines(data.decode("utf-8", "replace")) == lines


def test_written_rows_are_lines_for_any_reader() -> None:
    rows = ["a\rb", "c\u2028d\ne", "", "f\x85"]
    data = format_lines(rows)
    assert data.count(b"\n") == 4
    text = data.decode("utf-8")
    assert len(text.splitlines()) == 4 and len(io.StringIO(text, newline=None).readlines()) == 4


def test_stdin_and_file_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"Hello \xff\xfe world.\r\nHe is\rhere.\n\nlast"
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    stdin = io.TextIOWrapper(io.BytesIO(data))
    monkeypatch.setattr("sys.stdin", stdin)
    assert read_lines(None) == read_lines(path) == split_lines(data)
    assert len(read_lines(path)) == 4
