"""Cleaning: any Python string (or any bytes) into text the model and the terminal can take.

Rules, applied character by character so positions stay traceable (`Edited`):
- a surrogate pair held as two code points is joined; a lone surrogate is invalid text;
- C0/C1 control characters other than whitespace are removed;
- format characters (category Cf: zero-width space/joiners, bidi marks, embeddings and
  isolates, the BOM, the soft hyphen) are removed from the model's input;
- every whitespace or line/paragraph separator (tab, CR, LF, VT, FF, U+0085, U+2028,
  U+2029, no-break and thin spaces...) is a space; runs of spaces become one; ends stripped;
- NFC, as the training data (`nmt.data.corpus.normalize`, "nfc-space-v1").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from nmt.text.edits import EditBuilder, Edited

REPLACEMENT = "\ufffd"
BOM = "\ufeff"


def decode_utf8(data: bytes) -> str:
    """UTF-8 bytes to text; each invalid byte sequence becomes U+FFFD (never raises)."""
    return data.decode("utf-8", errors="replace")


def _code_points(text: str) -> Iterator[tuple[str, int, int]]:
    """(character, start, end) of each code point; surrogate pairs are joined, lone ones kept."""
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if (
            "\ud800" <= char <= "\udbff"
            and index + 1 < length
            and "\udc00" <= text[index + 1] <= "\udfff"
        ):
            joined = (((ord(char) - 0xD800) << 10) | (ord(text[index + 1]) - 0xDC00)) + 0x10000
            yield chr(joined), index, index + 2
            index += 2
        else:
            yield char, index, index + 1
            index += 1


def _kind(char: str) -> str:
    """ "space", "drop" (invisible or invalid) or "keep" for the model's input."""
    if char.isspace():
        return "space"
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs") or char == REPLACEMENT:
        return "drop"
    return "keep"


def _starts_cluster(char: str) -> bool:
    """Whether NFC can never merge `char` into the character before it."""
    return unicodedata.combining(char) == 0 and not ("\u1160" <= char <= "\u11ff")


def is_clean(text: str) -> bool:
    """Whether `sanitize` leaves `text` as it is: printable (so no control, format or
    surrogate character, and no whitespace but the ASCII space), no U+FFFD, single spaces,
    none at either end, NFC. Most inputs are; they skip the character-by-character pass."""
    return (
        text.isprintable()
        and REPLACEMENT not in text
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
        and unicodedata.is_normalized("NFC", text)
    )


def sanitize(text: str) -> Edited:
    """The model's form of any string (module rules), with each character's origin in `text`."""
    if is_clean(text):
        return Edited.identity(text)
    builder = EditBuilder(len(text))
    cluster: list[tuple[str, int, int]] = []

    def flush() -> None:
        if not cluster:
            return
        raw = "".join(char for char, _, _ in cluster)
        composed = unicodedata.normalize("NFC", raw)
        if composed == raw:
            for char, start, _ in cluster:
                builder.copy(char, start)
        else:
            builder.put(composed, cluster[0][1], cluster[-1][2])
        cluster.clear()

    for char, start, end in _code_points(text):
        kind = _kind(char)
        if kind == "drop":
            continue
        if kind == "space":
            flush()
            if builder.last_char() not in ("", " "):
                builder.put(" ", start, end)
            continue
        if _starts_cluster(char):
            flush()
        cluster.append((char, start, end))
    flush()
    if builder.last_char() == " ":
        builder.drop_last()
    edited = builder.build()
    if not unicodedata.is_normalized("NFC", edited.text):  # a rare cross-cluster composition
        whole = unicodedata.normalize("NFC", edited.text)
        coarse = EditBuilder(len(text))
        coarse.put(whole, 0, len(text))
        return coarse.build()
    return edited


def tidy(text: str) -> str:
    """Text kept as it is, made safe to return: valid Unicode, one line, NFC.

    Lone surrogates become U+FFFD, control characters and the BOM are removed, every
    whitespace or line separator run becomes one space, the ends are stripped. Other
    format characters (a zero-width joiner inside an emoji sequence) are kept.
    """
    out: list[str] = []
    for char, _, _ in _code_points(text):
        if "\ud800" <= char <= "\udfff":
            out.append(REPLACEMENT)
        elif char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        elif char != BOM and unicodedata.category(char) != "Cc":
            out.append(char)
    return unicodedata.normalize("NFC", "".join(out).strip())


def has_letters(text: str) -> bool:
    """Whether `text` holds any letter (Unicode category L*): something to translate."""
    return any(unicodedata.category(char).startswith("L") for char in text)
