"""Fuzzing the corpus reader and `prepare_data` with hostile input (seeded, reproducible).

Properties: no crash; every line is accounted for (kept pairs + rejections by kind ==
lines); kept pairs are clean; `prepare_data` either succeeds or raises DataError.
"""

from __future__ import annotations

import io
import random
import unicodedata
import zipfile
from pathlib import Path

import pytest

from nmt.data.corpus import CorpusReadResult, normalize, parse_lines, read_corpus
from nmt.data.dataset import load_token_ids
from nmt.data.prepare import PrepareOptions, prepare_data
from nmt.errors import DataError
from tests.conftest import synthetic_pairs

SEEDS = [0, 1, 2, 3, 4]
KINDS = {"blank_line", "invalid_utf8", "no_tab", "control_chars", "empty_side", "duplicate"}
# Characters that trip up text handling: odd spaces, NUL and other controls, bidi marks,
# combining marks, BOM, line/paragraph separators, replacement char, CJK, emoji.
NASTY = [
    "\u00a0", "\u202f", "\u2009", "\u3000", "\u2028", "\u2029", "\x00", "\x01", "\x1b",
    "\x7f", "\x85", "\r", "\u200b", "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff",
    "\u0301", "\u0308", "\u0327", "\ufffd", "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627",
    "e\u0301", "\u00e9", "\u4f60\u597d", "\U0001f600", "\U0001f1eb\U0001f1f7", " ", "  ", "\t",
]  # fmt: skip
WORDS = ["the", "cat", "Je", "vois", "le", "chien", "!", ".", "?", "Tom", "l'école", "ça"]
_CONTROL = {chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]}


def random_code_point(rng: random.Random) -> str:
    """Any code point but a surrogate (those cannot be encoded as UTF-8)."""
    while True:
        point = rng.randrange(0x110000)
        if not 0xD800 <= point <= 0xDFFF:
            return chr(point)


def random_text(rng: random.Random, max_parts: int = 8) -> str:
    """A short string mixing words, nasty characters and random code points."""
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(rng.choice(WORDS))
        elif kind < 0.75:
            parts.append(rng.choice(NASTY))
        else:
            parts.append(random_code_point(rng))
        parts.append(rng.choice([" ", "", "\u00a0"]))
    return "".join(parts)


def random_line(rng: random.Random, good: list[tuple[str, str]]) -> bytes:
    """One raw line (no b"\\n"): garbage bytes, 1-6 random columns, blank, or a good pair."""
    kind = rng.random()
    if kind < 0.15:
        line = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    elif kind < 0.7:
        columns = [random_text(rng) for _ in range(rng.randint(1, 6))]  # 0-5 tabs
        line = "\t".join(columns).encode("utf-8")
    elif kind < 0.78:
        line = rng.choice([b"", b" ", b"\t", b"\r", b" \t \r", b"\x0b\x0c"])
    else:
        en, fr = rng.choice(good)
        line = f"{en}\t{fr}\tCC-BY 2.0 (France)".encode()
    if rng.random() < 0.1:
        line += b"\r"
    return line.replace(b"\n", b"")


def random_lines(seed: int, count: int = 400) -> list[bytes]:
    """A reproducible list of hostile (and some good) lines."""
    rng = random.Random(seed)
    good = synthetic_pairs()
    return [random_line(rng, good) for _ in range(count)]


def expected_kind_counts(lines: list[bytes]) -> dict[str, int]:
    """Independent count of the rejections that depend only on bytes: blank, bad UTF-8, no tab."""
    counts = {"blank_line": 0, "invalid_utf8": 0, "no_tab": 0}
    for raw in lines:
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if not raw.strip():
            counts["blank_line"] += 1
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            counts["invalid_utf8"] += 1
            continue
        counts["no_tab"] += "\t" not in text
    return counts


def assert_accounted(result: CorpusReadResult, lines: list[bytes]) -> None:
    """Every line is either kept or rejected for a known reason; kept pairs are clean."""
    assert result.total_lines == len(lines)
    assert len(result.pairs) + sum(result.rejected.values()) == len(lines)
    assert set(result.rejected) <= KINDS
    for kind, count in expected_kind_counts(lines).items():
        assert result.rejected.get(kind, 0) == count, kind
    assert len(set(result.pairs)) == len(result.pairs)
    for pair in result.pairs:
        for side in pair:
            assert side and side == normalize(side) == side.strip()
            assert unicodedata.is_normalized("NFC", side)
            assert not (_CONTROL | {"\t", "\u00a0", "\u202f", "\u2009"}) & set(side)


@pytest.mark.parametrize("seed", SEEDS)
def test_parse_lines_accounts_for_every_random_line(seed: int) -> None:
    lines = random_lines(seed)
    result = parse_lines(lines)
    assert_accounted(result, lines)
    assert result.pairs, "the good lines mixed in must survive"


def test_random_code_point_lines_never_crash() -> None:
    rng = random.Random(7)
    lines = [
        "\t".join(
            "".join(random_code_point(rng) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 4))
        )
        .encode("utf-8")
        .replace(b"\n", b"")
        for _ in range(2000)
    ]
    assert_accounted(parse_lines(lines), lines)


def test_huge_lines(tmp_path: Path) -> None:
    words = " ".join(["word"] * 200_000)  # ~1 MB
    lines = [
        f"{words}\t{words}".encode(),
        words.encode(),  # no tab
        random.Random(3).randbytes(1 << 20).replace(b"\n", b""),
        b"Hi.\tSalut.",
    ]
    result = parse_lines(lines)
    assert_accounted(result, lines)
    assert len(result.pairs) == 2 and len(result.pairs[0].en) == len(words)
    path = tmp_path / "huge.txt"
    path.write_bytes(b"\n".join(lines))  # no final newline: the last line still counts
    assert_accounted(read_corpus(path), lines)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_read_corpus_counts_lines_like_the_file(seed: int, tmp_path: Path) -> None:
    lines = random_lines(seed, 300)
    path = tmp_path / "pairs.txt"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert_accounted(read_corpus(path), lines)
    archive = tmp_path / "pairs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(path, "fra.txt")
        zipped.writestr("_about.txt", "about")
    from_zip = read_corpus(archive)
    assert from_zip.member == "fra.txt"
    assert_accounted(from_zip, lines)


def prepare_or_data_error(source: Path, out: Path, vocab_size: int = 48) -> dict | None:
    """The manifest when prepare_data succeeds, None when it raises DataError."""
    options = PrepareOptions(source=str(source), out=out, vocab_size=vocab_size)
    try:
        return prepare_data(options, progress=False).manifest
    except DataError as err:
        assert str(err)
        return None


def assert_manifest_accounts(manifest: dict, lines: list[bytes]) -> None:
    """The manifest's counts add up to the number of lines in the source."""
    assert manifest["total_lines"] == len(lines)
    kept = manifest["pairs_after_dedup"]
    assert kept + sum(manifest["rejected"].values()) == len(lines)
    assert sum(split["pairs"] for split in manifest["splits"].values()) == kept


# (lines, vocab size, with good pairs): empty, tiny, too many characters for the vocabulary,
# garbage only, and mixes that prepare with empty valid/test splits.
PREPARE_CASES = [
    (0, 48, True),
    (1, 48, True),
    (5, 2000, True),
    (300, 48, True),
    (300, 2000, True),
    (300, 2000, False),
    (60, 200, False),
    (40, 2000, True),
]


@pytest.mark.parametrize(("seed", "case"), list(enumerate(PREPARE_CASES)))
def test_prepare_data_succeeds_or_raises_data_error(
    seed: int, case: tuple[int, int, bool], tmp_path: Path
) -> None:
    count, vocab_size, with_good = case
    lines = random_lines(seed, count)
    if not with_good:
        lines = [line for line in lines if b"CC-BY" not in line]
    source = tmp_path / "pairs.txt"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    manifest = prepare_or_data_error(source, tmp_path / "out", vocab_size)
    if manifest is not None:
        assert_manifest_accounts(manifest, lines)
        for split, info in manifest["splits"].items():
            assert len(load_token_ids(tmp_path / "out", split)) == info["pairs"]


def test_prepare_data_keeps_the_good_pairs_among_garbage(tmp_path: Path) -> None:
    lines = random_lines(11, 300)
    lines += [f"{en}\t{fr}".encode() for en, fr in synthetic_pairs()]
    lines.insert(50, " ".join(["huge"] * 200_000).encode() + b"\tgrand")  # a ~1 MB line
    source = tmp_path / "pairs.txt"
    source.write_bytes(b"\n".join(lines))
    manifest = prepare_or_data_error(source, tmp_path / "out", vocab_size=400)
    assert manifest is not None, "a corpus with ~480 good pairs must prepare"
    assert_manifest_accounts(manifest, lines)
    assert manifest["pairs_after_dedup"] >= len(synthetic_pairs())


def zipped_corpus() -> bytes:
    """The synthetic corpus as a deflated manythings-style zip, in memory."""
    text = "".join(f"{en}\t{fr}\tCC-BY\n" for en, fr in synthetic_pairs())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("fra.txt", text)
    return buffer.getvalue()


def test_truncated_zip_is_a_data_error(tmp_path: Path) -> None:
    data = zipped_corpus()
    archive = tmp_path / "fra-eng.zip"
    archive.write_bytes(data[: len(data) // 2])  # an interrupted download
    assert prepare_or_data_error(archive, tmp_path / "out") is None


def test_bit_rot_in_a_zip_is_a_data_error_or_harmless(tmp_path: Path) -> None:
    original = zipped_corpus()
    archive = tmp_path / "fra-eng.zip"
    escaped: dict[str, int] = {}
    for seed in range(300):
        rng = random.Random(seed)
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        archive.write_bytes(bytes(data))
        try:
            result = read_corpus(archive)
        except DataError:
            continue
        except Exception as err:  # noqa: BLE001 - the property under test
            escaped[type(err).__name__] = escaped.get(type(err).__name__, 0) + 1
            continue
        assert result.pairs, "an undetected flip (CRC-checked data) still gives the pairs"
    assert not escaped, f"exceptions other than DataError: {escaped}"


def test_random_bytes_named_zip_is_a_data_error(tmp_path: Path) -> None:
    archive = tmp_path / "fra-eng.zip"
    archive.write_bytes(random.Random(5).randbytes(4096))
    with pytest.raises(DataError, match="not a valid zip"):
        read_corpus(archive)
