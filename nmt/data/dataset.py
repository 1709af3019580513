"""Read (and write) the files of a prepared-data directory; the layout is in data/README.md."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nmt.errors import DataError
from nmt.text.lines import split_lines
from nmt.text.names import count_words

MANIFEST = "manifest.json"
SPLITS = ("train", "valid", "test")
_REQUIRED_KEYS = ("source", "languages", "splits", "tokenizer", "files")


def _prepare_hint(data_dir: Path) -> str:
    return f"run `nmt data prepare --out {data_dir}` first"


def load_manifest(data_dir: str | Path) -> dict:
    """The parsed manifest.json of a prepared directory (DataError when missing or invalid)."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST
    if not path.is_file():
        raise DataError(
            f"no prepared data in {data_dir} (missing {MANIFEST}); " + _prepare_hint(data_dir)
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable {path} ({exc}); " + _prepare_hint(data_dir)) from exc
    missing = [k for k in _REQUIRED_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; " + _prepare_hint(data_dir))
    return manifest


def derived_from(manifest: dict) -> str | None:
    """The manifest hash of the data a distilled directory was built from (its valid and
    test splits are that data's, byte for byte); None for data prepared from a corpus."""
    distillation = manifest.get("distillation") or {}
    return (distillation.get("from_data") or {}).get("manifest_hash")


# What identifies prepared data: its content, not where or when it was built.
_FINGERPRINT_KEYS = (
    "languages",
    "splits",
    "rejected",
    "split_rule",
    "normalisation",
    "tokenizer",
    "files",
)


def manifest_hash(data_dir: str | Path) -> str:
    """SHA-256 fingerprint of the prepared data's content (source hash, files, settings).

    Paths, creation time and package version are left out, so preparing the same corpus
    with the same settings twice, anywhere, gives the same fingerprint.
    """
    manifest = load_manifest(data_dir)
    content = {key: manifest.get(key) for key in _FINGERPRINT_KEYS}
    content["source_sha256"] = manifest.get("source", {}).get("sha256")
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"missing {path}; " + _prepare_hint(path.parent))
    return split_lines(path.read_bytes())  # lines end at "\n" only, as they were written


def read_split_text(data_dir: str | Path, split: str) -> tuple[list[str], list[str]]:
    """Source and target sentences of a split, parallel and in file order."""
    _check_split(split)
    data_dir = Path(data_dir)
    languages = load_manifest(data_dir)["languages"]
    src = _read_lines(data_dir / f"{split}.{languages['src']}")
    tgt = _read_lines(data_dir / f"{split}.{languages['tgt']}")
    if len(src) != len(tgt):
        raise DataError(f"{data_dir}: {split} has {len(src)} source but {len(tgt)} target lines")
    return src, tgt


def source_word_counts(data_dir: str | Path) -> dict[str, int]:
    """Lower-cased word counts of the training source (`nmt.text.names.count_words`): what
    a bundle records as `source_words` so the text boundary can keep rare names.

    Distilled data (`nmt data distill`) counts its human pairs only, the lines after the
    teacher's, so a student keeps the same names as a model trained on the original data
    (with `--no-references` every line counts: each source once, bar untranslated ones).
    Raises DataError for a missing or inconsistent prepared split.
    """
    lines = read_split_text(data_dir, "train")[0]
    distillation = load_manifest(data_dir).get("distillation")
    if distillation and distillation.get("keep_references"):
        lines = lines[distillation["pairs"]["teacher_pairs"] :]
    return count_words(lines)


def write_lines(path: Path, lines: Sequence[str]) -> None:
    """Write one sentence per line (UTF-8, \\n endings)."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(line + "\n" for line in lines)


@dataclass
class ReferenceGroup:
    """One unique source sentence with all its references (and pair indices) in a split."""

    source: str
    references: list[str]
    pair_indices: list[int]


def build_groups(src: Sequence[str], tgt: Sequence[str]) -> list[ReferenceGroup]:
    """Group pairs by exact source string, in order of first appearance."""
    groups: dict[str, ReferenceGroup] = {}
    for index, (source, target) in enumerate(zip(src, tgt, strict=True)):
        group = groups.setdefault(source, ReferenceGroup(source, [], []))
        group.references.append(target)
        group.pair_indices.append(index)
    return list(groups.values())


def write_groups(path: Path, groups: Sequence[ReferenceGroup]) -> None:
    """Write groups as JSON lines."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for group in groups:
            handle.write(json.dumps(asdict(group), ensure_ascii=False) + "\n")


def read_groups(data_dir: str | Path, split: str) -> list[ReferenceGroup]:
    """The multi-reference groups of the valid or test split."""
    _check_split(split)
    path = Path(data_dir) / f"{split}.groups.jsonl"
    try:
        return [ReferenceGroup(**json.loads(line)) for line in _read_lines(path)]
    except (json.JSONDecodeError, TypeError) as exc:
        raise DataError(f"corrupt {path} ({exc}); " + _prepare_hint(Path(data_dir))) from exc


@dataclass
class ParallelIds:
    """Token ids of a split, concatenated, with offsets: example i is data[off[i]:off[i+1]].

    Source ids end with eos; target ids have no bos/eos (batching adds them).
    """

    src: np.ndarray  # (N_src_tokens,) int16/int32
    src_offsets: np.ndarray  # (n + 1,) int64
    tgt: np.ndarray
    tgt_offsets: np.ndarray

    def __post_init__(self) -> None:
        if len(self.src_offsets) != len(self.tgt_offsets) or len(self.src_offsets) == 0:
            raise DataError("source and target id offsets differ in length")

    def __len__(self) -> int:
        return len(self.src_offsets) - 1

    @property
    def src_lengths(self) -> np.ndarray:
        """(n,) int64 source lengths (eos included)."""
        return np.diff(self.src_offsets)

    @property
    def tgt_lengths(self) -> np.ndarray:
        """(n,) int64 target lengths (pieces only)."""
        return np.diff(self.tgt_offsets)

    def source(self, i: int) -> np.ndarray:
        """Source ids of example i."""
        return self.src[self.src_offsets[i] : self.src_offsets[i + 1]]

    def target(self, i: int) -> np.ndarray:
        """Target ids of example i."""
        return self.tgt[self.tgt_offsets[i] : self.tgt_offsets[i + 1]]

    @classmethod
    def from_lists(
        cls, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], vocab_size: int = 1 << 15
    ) -> ParallelIds:
        """Pack per-example id lists (int16 when vocab_size < 32768, else int32)."""
        if len(src) != len(tgt):
            raise ValueError(f"{len(src)} source but {len(tgt)} target sequences")
        src_data, src_off = _pack(src, vocab_size)
        tgt_data, tgt_off = _pack(tgt, vocab_size)
        return cls(src_data, src_off, tgt_data, tgt_off)


def _pack(seqs: Sequence[Sequence[int]], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.int16 if vocab_size < 32768 else np.int32
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seqs], out=offsets[1:])
    flat = [i for s in seqs for i in s]
    return np.asarray(flat, dtype=dtype), offsets


def save_token_ids(path: Path, ids: ParallelIds) -> None:
    """Write ids as an .npz with arrays src, src_offsets, tgt, tgt_offsets."""
    with open(path, "wb") as handle:
        np.savez(
            handle,
            src=ids.src,
            src_offsets=ids.src_offsets,
            tgt=ids.tgt,
            tgt_offsets=ids.tgt_offsets,
        )


def load_token_ids(data_dir: str | Path, split: str) -> ParallelIds:
    """The cached token ids of a split."""
    _check_split(split)
    path = Path(data_dir) / f"{split}.ids.npz"
    if not path.is_file():
        raise DataError(f"missing {path}; " + _prepare_hint(Path(data_dir)))
    try:
        with np.load(path) as arrays:
            return ParallelIds(
                src=arrays["src"],
                src_offsets=arrays["src_offsets"],
                tgt=arrays["tgt"],
                tgt_offsets=arrays["tgt_offsets"],
            )
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"corrupt {path} ({exc}); " + _prepare_hint(Path(data_dir))) from exc
