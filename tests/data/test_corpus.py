"""Reading, normalising and splitting the pair file (nmt.data.corpus)."""

from __future__ import annotations

import hashlib
import random
import zipfile
from pathlib import Path

import pytest

from nmt.data.corpus import (
    Pair,
    bucket_of,
    find_pair_member,
    group_keys,
    group_stats,
    normalize,
    parse_line,
    read_corpus,
    split_of_bucket,
    split_pairs,
)
from nmt.errors import DataError

SHARED_ZIP = Path(__file__).resolve().parents[2].parent / "shared/data/tatoeba/fra-eng.zip"


def test_normalize_spaces_and_nfc() -> None:
    assert normalize("  Il\u00a0fait\u202fbeau\u2009!  ") == "Il fait beau !"
    assert normalize("a \t\n  b") == "a b"
    assert normalize("e\u0301t\u00e9") == "\u00e9t\u00e9"  # decomposed e + acute -> NFC
    assert normalize("   ") == ""
    assert normalize(normalize(" x\u00a0 y ")) == "x y"


def test_parse_line_kinds() -> None:
    assert parse_line(b"Go.\tVa !") == Pair("Go.", "Va !")
    assert parse_line(b"Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org\r") == Pair(
        "Go.", "Va !"
    )
    assert parse_line(b"no tab here") == "no_tab"
    assert parse_line(b"Go.\t   ") == "empty_side"
    assert parse_line(b"\xff\xfe\tabc") == "invalid_utf8"
    assert parse_line(b"Go\x07.\tVa !") == "control_chars"
    assert parse_line(b"Go\xc2\x85.\tVa !") == "control_chars"  # U+0085 is Cc too
    assert parse_line(b"  ") == "blank_line"


def test_malformed_file_is_summarised_not_fatal(tmp_path: Path) -> None:
    lines = [
        b"Hello.\tBonjour.",
        b"\x80\x81\x82 garbage",
        b"Hello.\tBonjour.",
        b"only one column",
        b"\tVide",
        b"Bell\x07\tCloche",
        b"Bye.\tSalut.\tattribution",
        bytes(range(128, 256)),
        b"",
    ]
    path = tmp_path / "pairs.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = read_corpus(path)
    assert result.pairs == [Pair("Hello.", "Bonjour."), Pair("Bye.", "Salut.")]
    assert result.total_lines == len(lines)
    assert dict(result.rejected) == {
        "invalid_utf8": 2,
        "duplicate": 1,
        "no_tab": 1,
        "empty_side": 1,
        "control_chars": 1,
        "blank_line": 1,
    }
    assert sum(result.rejected.values()) + len(result.pairs) == result.total_lines


def test_zip_with_macosx_junk(tmp_path: Path) -> None:
    path = tmp_path / "fra-eng.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__MACOSX/fra-eng/._fra.txt", b"\x00\x05\x16\x07junk")
        archive.writestr("fra-eng/_about.txt", "About this file")
        archive.writestr("fra-eng/fra.txt", "Run!\tCours !\nRun!\tCourez !\tCC-BY\n")
        archive.writestr("__MACOSX/._fra-eng", b"junk")
    result = read_corpus(path)
    assert result.member == "fra-eng/fra.txt"
    assert result.pairs == [Pair("Run!", "Cours !"), Pair("Run!", "Courez !")]


def test_find_pair_member_needs_exactly_one() -> None:
    assert find_pair_member(["deu.txt", "_about.txt", "__MACOSX/._deu.txt"]) == "deu.txt"
    with pytest.raises(DataError, match="exactly one"):
        find_pair_member(["a.txt", "b.txt"])
    with pytest.raises(DataError):
        find_pair_member(["_about.txt"])


def test_missing_and_broken_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_corpus(tmp_path / "absent.zip")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="zip"):
        read_corpus(broken)


def test_bucket_matches_hand_computation() -> None:
    # sha256("go.") starts with 45fa8e4a2508ee22; as a big-endian integer, mod 100 -> 22.
    assert hashlib.sha256(b"go.").hexdigest()[:16] == "45fa8e4a2508ee22"
    assert int("45fa8e4a2508ee22", 16) % 100 == 22
    assert bucket_of("go.") == 22
    for key in ["key 5", "key 79", "key 3", "key 131", "key 10", "élève"]:
        assert bucket_of(key) == int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % 100
    assert [split_of_bucket(b) for b in range(6)] == ["test"] * 2 + ["valid"] * 2 + ["train"] * 2
    assert split_of_bucket(99) == "train"


def test_group_keys_link_by_casefold_and_keep_node_kinds_apart() -> None:
    pairs = [
        Pair("Run!", "Cours !"),
        Pair("run.", "cours !"),  # linked through casefolded French
        Pair("Hello", "Bonjour"),
        Pair("Bonjour", "Salut"),  # English "Bonjour" is not French "Bonjour"
    ]
    assert group_keys(pairs) == ["run!", "run!", "hello", "bonjour"]
    assert group_stats(pairs).count == 3
    assert group_stats(pairs).largest == 2


def _random_pairs(n: int, seed: int) -> list[Pair]:
    """n distinct pairs over pools large enough to give many small groups."""
    rng = random.Random(seed)
    pairs: dict[Pair, None] = {}
    while len(pairs) < n:
        fr = f"Phrase {rng.randrange(n)}."
        pairs[Pair(f"Sentence {rng.randrange(n)}.", fr.upper() if rng.random() < 0.2 else fr)] = (
            None
        )
    return list(pairs)


def test_split_keeps_groups_whole_and_is_deterministic() -> None:
    pairs = _random_pairs(1000, seed=0)
    splits = split_pairs(pairs)
    assert split_pairs(list(pairs)) == splits
    assert sum(len(v) for v in splits.values()) == len(pairs)
    assert all(splits.values()), "the seed should give pairs in every split"
    for side in ("en", "fr"):
        owner: dict[str, str] = {}
        for name, members in splits.items():
            for pair in members:
                text = getattr(pair, side).casefold()
                assert owner.setdefault(text, name) == name, f"{text!r} in two splits"
    for members in splits.values():  # file order kept
        positions = [pairs.index(p) for p in members]
        assert positions == sorted(positions)


def test_split_of_a_group_follows_its_key() -> None:
    pairs = [Pair("key 5", "a"), Pair("zzz", "a"), Pair("key 3", "b"), Pair("key 10", "c")]
    splits = split_pairs(pairs)
    assert splits["test"] == pairs[:2]  # bucket("key 5") == 0 decides for "zzz" too
    assert splits["valid"] == [pairs[2]]
    assert splits["train"] == [pairs[3]]


@pytest.mark.skipif(not SHARED_ZIP.is_file(), reason=f"shared corpus not found at {SHARED_ZIP}")
def test_full_corpus_gives_the_published_counts() -> None:
    result = read_corpus(SHARED_ZIP)
    assert result.total_lines == 167_130
    assert len(result.pairs) == 166_979
    splits = split_pairs(result.pairs)
    counts = {name: (len(v), len({p.en for p in v})) for name, v in splits.items()}
    assert counts == {
        "train": (160_600, 112_386),
        "valid": (3_205, 2_189),
        "test": (3_174, 2_255),
    }
    stats = group_stats(result.pairs)
    assert (stats.count, stats.largest) == (109_688, 56)
