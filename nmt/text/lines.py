"""Line-oriented files and streams: one rule for every reader and writer of `nmt`.

A line ends at "\\n" and nowhere else: a carriage return, U+2028, U+0085... inside a
line are part of it (as `sacrebleu` and `wc -l` see it). One "\\r" right before the
"\\n" (a CRLF file) is dropped. A final newline does not make an extra empty line.
Bytes are decoded as UTF-8, each invalid sequence becoming U+FFFD, so reading never
fails on content. Written lines are UTF-8 with "\\n" endings, and a row's own line
breaks become spaces, so N rows are always N lines for any reader.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from nmt.text.clean import decode_utf8

STDIO = (None, "-")
# every character str.splitlines() or a text-mode reader may take as a line end
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{LINE_BREAKS}]")


def split_lines(data: bytes | str) -> list[str]:
    """The lines of file contents (rule in the module docstring)."""
    text = decode_utf8(data) if isinstance(data, bytes) else data
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: str | Path | None) -> list[str]:
    """The lines of a file, or of stdin for None or "-" (raises OSError for a bad path)."""
    if path in STDIO:
        binary = getattr(sys.stdin, "buffer", None)  # absent when stdin was replaced by text
        return split_lines(binary.read() if binary is not None else sys.stdin.read())
    return split_lines(Path(path).read_bytes())


def one_line(text: str) -> str:
    """`text` with every line break (any reader's) replaced by a space."""
    return _LINE_BREAK.sub(" ", text)


def format_lines(rows: Sequence[str]) -> bytes:
    """Rows as UTF-8 lines ending in "\\n"; a row's own line breaks become spaces."""
    text = "".join(one_line(row) + "\n" for row in rows)
    return text.encode("utf-8", errors="replace")


def write_lines(path: str | Path | None, rows: Sequence[str]) -> None:
    """Write rows as lines to a file (atomically) or to stdout for None or "-"."""
    data = format_lines(rows)
    if path in STDIO:
        binary = getattr(sys.stdout, "buffer", None)
        sys.stdout.flush()
        if binary is None:  # stdout replaced by a text stream
            sys.stdout.write(data.decode("utf-8"))
        else:
            binary.write(data)
            binary.flush()
        return
    from nmt.fileio import write_bytes_atomic

    write_bytes_atomic(Path(path), data)
