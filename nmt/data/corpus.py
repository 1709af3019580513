"""Read Tatoeba pair files, normalise sentences and make the canonical group split.

The rule is specified in the design note DATA_SPLIT.md; the functions here are pure
(input in, output out) so each step can be tested on its own.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from nmt.errors import DataError

SPLIT_RULE = (
    "tatoeba-group-sha256-v1: union-find over casefolded English and French sentences; "
    "key = smallest casefolded English sentence; bucket = sha256(key)[:8] big-endian % 100; "
    "0-1 test, 2-3 valid, else train; file order kept"
)
NORMALISATION = "nfc-space-v1"
SPLITS = ("train", "valid", "test")

_SPACE_LIKE = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; the tab is the separator.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class Pair(NamedTuple):
    """One sentence pair: column 1 (English) and column 2 (French)."""

    en: str
    fr: str


@dataclass
class CorpusReadResult:
    """The accepted pairs of a pair file, in file order, and what was skipped."""

    pairs: list[Pair]
    rejected: Counter[str] = field(default_factory=Counter)
    total_lines: int = 0
    member: str | None = None  # the zip member read, None for a plain text file


def normalize(text: str) -> str:
    """NFC; no-break and thin spaces become spaces; whitespace runs become one space; strip."""
    return " ".join(unicodedata.normalize("NFC", text).translate(_SPACE_LIKE).split())


def parse_line(raw: bytes) -> Pair | str:
    """Parse one raw line (without its newline) into a normalised Pair, or a rejection kind.

    Kinds: "blank_line", "invalid_utf8", "no_tab", "control_chars", "empty_side".
    Columns after the second (attribution) are ignored.
    """
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw.strip():
        return "blank_line"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    columns = line.split("\t")
    if len(columns) < 2:
        return "no_tab"
    en, fr = columns[0], columns[1]
    if _CONTROL.search(en) or _CONTROL.search(fr):
        return "control_chars"
    en, fr = normalize(en), normalize(fr)
    if not en or not fr:
        return "empty_side"
    return Pair(en, fr)


def iter_raw_lines(data: bytes) -> Iterator[bytes]:
    """Split file bytes on b"\\n"; a final newline does not make an extra empty line."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    yield from lines


def parse_lines(raw_lines: Iterable[bytes]) -> CorpusReadResult:
    """Parse raw lines, skipping malformed ones and exact duplicate pairs (counted by kind)."""
    result = CorpusReadResult(pairs=[])
    seen: set[Pair] = set()
    for raw in raw_lines:
        result.total_lines += 1
        parsed = parse_line(raw)
        if isinstance(parsed, str):
            result.rejected[parsed] += 1
        elif parsed in seen:
            result.rejected["duplicate"] += 1
        else:
            seen.add(parsed)
            result.pairs.append(parsed)
    return result


def find_pair_member(names: Iterable[str]) -> str:
    """Pick the pair file inside a manythings zip: the one .txt that is not _about.txt or junk."""
    candidates = []
    for name in names:
        base = name.rsplit("/", 1)[-1]
        if name.startswith("__MACOSX/") or base.startswith("._") or name.endswith("/"):
            continue
        if base.lower().endswith(".txt") and not base.startswith("_about"):
            candidates.append(name)
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise DataError(f"expected exactly one sentence-pair .txt in the zip, found: {found}")
    return candidates[0]


# a damaged member surfaces as zlib/EOF/unsupported-method errors, not only BadZipFile
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, zlib.error, EOFError, NotImplementedError, RuntimeError)


def read_source_bytes(path: Path) -> tuple[bytes, str | None]:
    """Return the pair-file bytes of a .zip (and the member name) or of a plain text file."""
    if not path.is_file():
        raise DataError(f"corpus file not found: {path}")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                member = find_pair_member(archive.namelist())
                return archive.read(member), member
        except _ZIP_ERRORS as exc:
            raise DataError(f"cannot read zip {path}: {exc}") from exc
    if path.suffix.lower() == ".zip":
        raise DataError(f"{path} is not a valid zip file (truncated download?)")
    return path.read_bytes(), None


def read_corpus(path: str | Path) -> CorpusReadResult:
    """Read a .zip or tab-separated .txt pair file into normalised, de-duplicated pairs."""
    data, member = read_source_bytes(Path(path))
    result = parse_lines(iter_raw_lines(data))
    result.member = member
    return result


def bucket_of(key: str) -> int:
    """The split bucket (0-99) of a group key: sha256(key)[:8] as a big-endian int, mod 100."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 100


def split_of_bucket(bucket: int) -> str:
    """Buckets 0-1 are test, 2-3 valid, the rest train."""
    if bucket < 2:
        return "test"
    return "valid" if bucket < 4 else "train"


def group_ids(pairs: list[Pair]) -> list[int]:
    """Connected-component id of each pair, linking equal casefolded English or French sides."""
    parent: list[int] = []
    nodes: dict[tuple[str, str], int] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def node(kind: str, text: str) -> int:
        key = (kind, text.casefold())
        if key not in nodes:
            nodes[key] = len(parent)
            parent.append(len(parent))
        return nodes[key]

    ends = [(node("en", p.en), node("fr", p.fr)) for p in pairs]
    for a, b in ends:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    return [find(a) for a, _ in ends]


def group_keys(pairs: list[Pair]) -> list[str]:
    """Group key of each pair: the smallest casefolded English sentence in its component."""
    roots = group_ids(pairs)
    smallest: dict[int, str] = {}
    for root, pair in zip(roots, pairs, strict=True):
        en = pair.en.casefold()
        if root not in smallest or en < smallest[root]:
            smallest[root] = en
    return [smallest[root] for root in roots]


def split_pairs(pairs: list[Pair]) -> dict[str, list[Pair]]:
    """The canonical train/valid/test split of normalised, de-duplicated pairs (file order)."""
    out: dict[str, list[Pair]] = {name: [] for name in SPLITS}
    bucket_cache: dict[str, str] = {}
    for key, pair in zip(group_keys(pairs), pairs, strict=True):
        if key not in bucket_cache:
            bucket_cache[key] = split_of_bucket(bucket_of(key))
        out[bucket_cache[key]].append(pair)
    return out


@dataclass
class GroupStats:
    """Size of the sentence graph: number of components and pairs in the largest one."""

    count: int
    largest: int


def group_stats(pairs: list[Pair]) -> GroupStats:
    """Count the connected components of the pairs and the size of the largest."""
    sizes = Counter(group_ids(pairs))
    return GroupStats(count=len(sizes), largest=max(sizes.values(), default=0))
