"""`nmt data prepare`: corpus -> canonical split, sentencepiece model(s), ids and manifest.

The output is built in a temporary directory beside the destination and renamed into
place at the end; manifest.json is written last, so a directory with a manifest is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import nmt
from nmt.data import corpus
from nmt.data.dataset import (
    MANIFEST,
    SPLITS,
    ParallelIds,
    build_groups,
    save_token_ids,
    write_groups,
    write_lines,
)
from nmt.data.download import fetch_source, resolve_source
from nmt.data.tokenizer import SPECIAL_IDS, Tokenizer, train_sentencepiece
from nmt.errors import DataError
from nmt.fileio import sha256_file, write_json_atomic

LANGUAGES = ("en", "fr")
# Settings that change the output; a manifest whose values match (and same source bytes) is reused.
_BUILD_KEYS = ("src_lang", "tgt_lang", "vocab_size", "spm_type", "joint", "seed")


@dataclass(frozen=True)
class PrepareOptions:
    """What to prepare and where (defaults give the project's en->fr data)."""

    source: str | None = None  # path or URL; None: $NMT_DATA, then the manythings URL
    out: Path = Path("data/prepared/fra-eng")
    src_lang: str = "en"
    tgt_lang: str = "fr"
    vocab_size: int = 8000
    spm_type: Literal["unigram", "bpe"] = "unigram"
    joint: bool = True
    force: bool = False
    seed: int = 1234
    download_dir: Path = Path("data/raw")  # where URL sources are downloaded

    def validate(self) -> None:
        """Raise DataError for an unusable combination of options."""
        if {self.src_lang, self.tgt_lang} != set(LANGUAGES):
            direction = f"{self.src_lang}->{self.tgt_lang}"
            raise DataError(f"languages must be en and fr (either direction), got {direction}")
        if self.spm_type not in ("unigram", "bpe"):
            raise DataError(f"spm_type must be unigram or bpe, got {self.spm_type!r}")
        if self.vocab_size < 16:
            raise DataError(f"vocab_size must be at least 16, got {self.vocab_size}")

    def settings(self) -> dict:
        """The options as JSON-able values (recorded in the manifest)."""
        values = asdict(self)
        values.pop("force")
        return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


@dataclass
class PrepareResult:
    """Where the data is, its manifest, and whether an existing build was reused."""

    out_dir: Path
    manifest: dict
    reused: bool
    seconds: float
    summary: str


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[nmt data] {message}", file=sys.stderr, flush=True)


def prepare_data(options: PrepareOptions, progress: bool = True) -> PrepareResult:
    """Prepare (or reuse) the split, tokenizer and ids described by options."""
    started = time.perf_counter()
    options.validate()
    source = resolve_source(options.source)
    path = fetch_source(source, options.download_dir, progress=progress)
    source_info = {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    if source != str(path):
        source_info["url"] = source
    out = Path(options.out)
    existing = (
        _reusable_manifest(out, options, source_info["sha256"]) if not options.force else None
    )
    if existing is not None:
        seconds = time.perf_counter() - started
        summary = f"reused {out} (same settings and source; --force rebuilds)\n" + summarize(
            existing
        )
        return PrepareResult(out, existing, True, seconds, summary)

    check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        manifest = _build(tmp, path, source_info, options, progress)
        install_directory(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - started
    summary = summarize(manifest) + f"\nwrote {out} in {seconds:.1f} s"
    return PrepareResult(out, manifest, False, seconds, summary)


def _build(
    tmp: Path, path: Path, source_info: dict, options: PrepareOptions, progress: bool
) -> dict:
    """Write every output file into tmp and return the manifest (written last)."""
    _say(progress, f"reading {path}")
    read = corpus.read_corpus(path)
    if not read.pairs:
        raise DataError(f"no usable sentence pairs in {path} (rejected: {dict(read.rejected)})")
    source_info["member"] = read.member
    splits = corpus.split_pairs(read.pairs)
    stats = corpus.group_stats(read.pairs)
    texts = {name: _orient(pairs, options.src_lang) for name, pairs in splits.items()}
    split_info = _write_texts(tmp, texts, options)

    _say(progress, f"training sentencepiece ({options.spm_type}, vocab {options.vocab_size})")
    src_tok, tgt_tok, tok_files = _train_tokenizers(tmp, texts["train"], options)
    _say(progress, "encoding token ids")
    for name, (src, tgt) in texts.items():
        save_token_ids(tmp / f"{name}.ids.npz", encode_pairs(src_tok, tgt_tok, src, tgt))

    manifest = {
        "source": source_info,
        "languages": {"src": options.src_lang, "tgt": options.tgt_lang},
        "splits": split_info,
        "rejected": dict(sorted(read.rejected.items())),
        "total_lines": read.total_lines,
        "pairs_after_dedup": len(read.pairs),
        "groups": stats.count,
        "largest_group_pairs": stats.largest,
        "split_rule": corpus.SPLIT_RULE,
        "normalisation": corpus.NORMALISATION,
        "tokenizer": {
            "type": options.spm_type,
            "vocab_size": options.vocab_size,
            "actual_vocab_size": {"src": src_tok.vocab_size, "tgt": tgt_tok.vocab_size},
            "joint": options.joint,
            "character_coverage": 1.0,
            "normalization_rule": "identity",
            "files": tok_files,
            "special_ids": dict(SPECIAL_IDS),
        },
        "settings": options.settings(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": nmt.__version__,
        "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST},
    }
    write_json_atomic(tmp / MANIFEST, manifest)
    return manifest


def _orient(pairs: list[corpus.Pair], src_lang: str) -> tuple[list[str], list[str]]:
    """(source sentences, target sentences) for the requested direction."""
    en = [p.en for p in pairs]
    fr = [p.fr for p in pairs]
    return (en, fr) if src_lang == "en" else (fr, en)


def _write_texts(
    tmp: Path, texts: dict[str, tuple[list[str], list[str]]], options: PrepareOptions
) -> dict:
    """Write {split}.{lang} and the valid/test groups; return per-split counts."""
    info = {}
    for name in SPLITS:
        src, tgt = texts[name]
        write_lines(tmp / f"{name}.{options.src_lang}", src)
        write_lines(tmp / f"{name}.{options.tgt_lang}", tgt)
        groups = build_groups(src, tgt)
        if name != "train":
            write_groups(tmp / f"{name}.groups.jsonl", groups)
        info[name] = {"pairs": len(src), "unique_sources": len(groups)}
    return info


def _train_tokenizers(
    tmp: Path, train: tuple[list[str], list[str]], options: PrepareOptions
) -> tuple[Tokenizer, Tokenizer, list[str]]:
    """Train the joint model (or one per side) on the train split and write .model/.vocab."""
    src, tgt = train
    corpora = {"spm": src + tgt} if options.joint else {"spm.src": src, "spm.tgt": tgt}
    tokenizers, files = [], []
    for stem, sentences in corpora.items():
        try:
            proto = train_sentencepiece(
                sentences,
                options.vocab_size,
                options.spm_type,
                options.seed,
                hard_vocab_limit=False,
            )
        except RuntimeError as exc:  # e.g. an empty train split on a tiny corpus
            raise DataError(f"sentencepiece training failed on {stem}: {exc}") from exc
        tokenizer = Tokenizer.from_bytes(proto)
        (tmp / f"{stem}.model").write_bytes(proto)
        _write_vocab(tmp / f"{stem}.vocab", tokenizer)
        tokenizers.append(tokenizer)
        files += [f"{stem}.model", f"{stem}.vocab"]
    return tokenizers[0], tokenizers[-1], files


def _write_vocab(path: Path, tokenizer: Tokenizer) -> None:
    """piece<TAB>score per line, as spm_train writes it."""
    write_lines(path, [f"{piece}\t{score:g}" for piece, score in tokenizer.vocab()])


def encode_pairs(
    src_tok: Tokenizer, tgt_tok: Tokenizer, src: list[str], tgt: list[str]
) -> ParallelIds:
    """Source pieces + [eos]; target pieces only."""
    src_ids = [ids + [src_tok.eos_id] for ids in src_tok.encode_batch(src)]
    tgt_ids = tgt_tok.encode_batch(tgt)
    return ParallelIds.from_lists(src_ids, tgt_ids, max(src_tok.vocab_size, tgt_tok.vocab_size))


def _reusable_manifest(out: Path, options: PrepareOptions, source_sha: str) -> dict | None:
    """The existing manifest when it was built from the same bytes and settings, intact."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        settings = manifest["settings"]
        if "distillation" in manifest:  # a teacher's translations: not what prepare builds
            return None
        same = manifest["source"]["sha256"] == source_sha and all(
            settings.get(k) == getattr(options, k) for k in _BUILD_KEYS
        )
        if same and manifest["split_rule"] == corpus.SPLIT_RULE:
            files = manifest["files"]
            if all(sha256_file(out / name) == digest for name, digest in files.items()):
                return manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def check_replaceable(out: Path) -> None:
    """Refuse to replace a non-empty directory that is not a prepared-data directory."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())
    ):
        raise DataError(f"{out} exists and is not a prepared-data directory; choose another --out")


def install_directory(tmp: Path, out: Path) -> None:
    """Move the finished tmp directory to out, replacing an older build."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def summarize(manifest: dict) -> str:
    """A few human-readable lines: source, rejected lines, split sizes, tokenizer."""
    src, tgt = manifest["languages"]["src"], manifest["languages"]["tgt"]
    rejected = ", ".join(f"{k} {v:,}" for k, v in manifest["rejected"].items()) or "none"
    rule = manifest["split_rule"].split(":")[0]
    lines = [
        f"source: {manifest['source']['path']} (sha256 {manifest['source']['sha256'][:12]})",
        f"lines: {manifest['total_lines']:,}; pairs kept: {manifest['pairs_after_dedup']:,}; "
        f"rejected: {rejected}",
        f"split ({rule}, {manifest['groups']:,} groups), {src}->{tgt}:",
    ]
    for name in SPLITS:
        info = manifest["splits"][name]
        lines.append(
            f"  {name:5s} {info['pairs']:>9,} pairs {info['unique_sources']:>9,} unique sources"
        )
    tok = manifest["tokenizer"]
    kind = "joint" if tok["joint"] else "separate"
    lines.append(f"tokenizer: {tok['type']} {kind}, vocab {tok['vocab_size']}")
    return "\n".join(lines)
