"""`nmt data distill`: sequence-level knowledge distillation data (Kim & Rush, 2016).

A teacher bundle (an ensemble, typically) translates every unique source sentence of a
prepared training split with beam search; its translations become training targets for a
student, alongside the human references unless `keep_references` is off. The student
learns the teacher's single most likely translation instead of the spread of references,
which is how a single network comes close to an ensemble (Kim & Rush, "Sequence-Level
Knowledge Distillation", EMNLP 2016; Freitag et al., 2017).

The output is an ordinary prepared-data directory: the same sentencepiece model, the same
valid and test splits (byte for byte), a new train split, and a manifest whose
`distillation` section names the teacher (by the SHA-256 of its weights), the search and
the counts. It is built in a temporary directory and renamed into place at the end, as
`nmt data prepare` does, so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import nmt
from nmt.data.dataset import (
    MANIFEST,
    load_manifest,
    manifest_hash,
    read_split_text,
    save_token_ids,
    write_lines,
)
from nmt.data.prepare import check_replaceable, encode_pairs, install_directory
from nmt.data.tokenizer import load_tokenizers
from nmt.errors import DataError
from nmt.fileio import sha256_file, write_json_atomic

if TYPE_CHECKING:
    from nmt.translator import ModelDescription

# Unique sources per call to the teacher: large enough for full, length-sorted batches,
# small enough for a progress line every few seconds.
_CHUNK = 2048


@dataclass(frozen=True)
class DistillOptions:
    """Who teaches, on what data, with which search, and where the result goes.

    `quantize` and `shortlist` are `nmt.translator.load_translator`'s; the default
    ("auto", shortlist on) is how `nmt serve` runs the teacher. `limit` translates only the
    first N unique sources (a quick trial; the rest keep their references only).
    """

    teacher: Path
    data: Path
    out: Path
    beam_size: int = 5
    batch_size: int = 64
    keep_references: bool = True
    quantize: str = "auto"
    shortlist: bool = True
    device: str = "auto"
    limit: int | None = None

    def validate(self) -> None:
        """Raise DataError for an unusable combination of options."""
        if Path(self.out).resolve() == Path(self.data).resolve():
            raise DataError(f"--out {self.out} is the input data; choose another directory")
        if self.batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise DataError(f"limit must be at least 1, got {self.limit}")


@dataclass
class DistillResult:
    """Where the distilled data is, its manifest and a summary for people."""

    out_dir: Path
    manifest: dict
    seconds: float
    summary: str


def distill_data(options: DistillOptions, progress: bool = True) -> DistillResult:
    """Translate the training sources with the teacher and write a prepared-data directory.

    Raises DataError for missing or inconsistent prepared data, an unusable `out` or
    a teacher of another language pair; CheckpointError (from the translator) for a
    missing or corrupt teacher bundle; NmtError for an unknown device or quantization.
    """
    from nmt.translator import load_translator  # torch and the model: only when needed

    started = time.perf_counter()
    options.validate()
    data, out = Path(options.data), Path(options.out)
    manifest = load_manifest(data)
    if "distillation" in manifest:
        origin = manifest["distillation"]["from_data"]["path"]
        raise DataError(
            f"{data} is distilled data already; distil the data it came from ({origin})"
        )
    languages = manifest["languages"]
    src, tgt = read_split_text(data, "train")
    teacher = load_translator(
        options.teacher, options.device, options.quantize, options.batch_size, options.shortlist
    )
    described = teacher.description
    if (described.src_lang, described.tgt_lang) != (languages["src"], languages["tgt"]):
        raise DataError(
            f"the teacher translates {described.src_lang}->{described.tgt_lang} but {data} "
            f"holds {languages['src']}->{languages['tgt']}"
        )
    check_replaceable(out)

    sources = list(dict.fromkeys(src))  # unique, in order of first appearance
    chosen = sources if options.limit is None else sources[: options.limit]
    search = described.search_defaults.merged(beam_size=options.beam_size)

    def translate(texts: list[str]) -> list[str]:
        return [t.text for t in teacher.translate(texts, search)]

    say = _progress_printer(progress, len(chosen))
    translations = translate_sorted(chosen, translate, say)
    pairs = distilled_pairs(src, tgt, chosen, translations, options.keep_references)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        new_manifest = _write(tmp, data, manifest, pairs, options, described, started)
        new_manifest["distillation"]["pairs"]["teacher_translations"] = len(chosen)
        write_json_atomic(tmp / MANIFEST, new_manifest)
        install_directory(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - started
    summary = (
        f"teacher {options.teacher} ({described.ensemble} model(s), beam {options.beam_size}) "
        f"translated {len(chosen):,} unique training sources\n"
        f"train: {len(pairs.src):,} pairs ({pairs.teacher_pairs:,} from the teacher, then "
        f"{pairs.human_pairs:,} human ones)\n"
        f"wrote {out} in {seconds:.1f} s"
    )
    return DistillResult(out, new_manifest, seconds, summary)


def translate_sorted(
    sources: list[str],
    translate: Callable[[list[str]], list[str]],
    report: Callable[[int], None] = lambda done: None,
) -> list[str]:
    """`translate` over `sources` in chunks of similar length; results in input order.

    Sorting by length keeps each batch's padding small (the translator then batches
    within a chunk); `report` is called with the number done after each chunk.
    """
    order = sorted(range(len(sources)), key=lambda i: (len(sources[i]), i))
    results: list[str] = [""] * len(sources)
    for start in range(0, len(order), _CHUNK):
        chunk = order[start : start + _CHUNK]
        for i, text in zip(chunk, translate([sources[i] for i in chunk]), strict=True):
            results[i] = text
        report(min(start + _CHUNK, len(order)))
    return results


@dataclass
class DistilledPairs:
    """The new training split: the teacher's pairs first, then the human ones."""

    src: list[str]
    tgt: list[str]
    teacher_pairs: int  # the first `teacher_pairs` lines are the teacher's

    @property
    def human_pairs(self) -> int:
        return len(self.src) - self.teacher_pairs


def distilled_pairs(
    src: list[str],
    tgt: list[str],
    translated: list[str],
    translations: list[str],
    keep_references: bool,
) -> DistilledPairs:
    """The teacher's pair for each translated source, then (optionally) every human pair.

    Human pairs are kept whole, in their order, even one equal to the teacher's (the two
    agree; it counts twice), so the lines after the teacher's are the original split and
    its source word counts stay those of the human data (`source_word_counts`). An empty
    teacher translation is dropped. Without `keep_references`, sources the teacher did
    not translate keep their references, so no source of the split is lost.
    """
    teacher = {s: t for s, t in zip(translated, translations, strict=True) if t.strip()}
    out_src, out_tgt = list(teacher), list(teacher.values())
    for source, target in zip(src, tgt, strict=True):
        if keep_references or source not in teacher:
            out_src.append(source)
            out_tgt.append(target)
    return DistilledPairs(out_src, out_tgt, len(teacher))


def _write(
    tmp: Path,
    data: Path,
    manifest: dict,
    pairs: DistilledPairs,
    options: DistillOptions,
    described: ModelDescription,
    started: float,
) -> dict:
    """Copy the tokenizer and valid/test files, write the new train split; the manifest."""
    languages = manifest["languages"]
    for name in manifest["files"]:
        if not name.startswith("train."):
            shutil.copy2(data / name, tmp / name)
    write_lines(tmp / f"train.{languages['src']}", pairs.src)
    write_lines(tmp / f"train.{languages['tgt']}", pairs.tgt)
    src_tok, tgt_tok = load_tokenizers(data)
    save_token_ids(tmp / "train.ids.npz", encode_pairs(src_tok, tgt_tok, pairs.src, pairs.tgt))

    new = dict(manifest)
    splits = dict(manifest["splits"])
    splits["train"] = {"pairs": len(pairs.src), "unique_sources": len(set(pairs.src))}
    new["splits"] = splits
    new["settings"] = {**manifest.get("settings", {}), "out": str(options.out)}
    new["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new["package_version"] = nmt.__version__
    teacher_meta = _teacher_record(Path(options.teacher))
    new["distillation"] = {
        "method": "sequence-level knowledge distillation (Kim & Rush, 2016)",
        "teacher": teacher_meta,
        "teacher_models": described.ensemble,
        "search": {"beam_size": options.beam_size},
        "quantize": described.quantize,
        "shortlist": options.shortlist,
        "keep_references": options.keep_references,
        "limit": options.limit,
        "from_data": {"path": str(data), "manifest_hash": manifest_hash(data)},
        "pairs": {
            "teacher_pairs": pairs.teacher_pairs,  # the first lines of train
            "human_pairs": pairs.human_pairs,
            "train_pairs": len(pairs.src),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    new["files"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST}
    return new


def _teacher_record(teacher: Path) -> dict:
    """The teacher's path, name, weights SHA-256 and steps (each member's, for an
    ensemble), from its metadata.json."""
    metadata = json.loads((teacher / "metadata.json").read_text(encoding="utf-8"))
    record = {
        "path": str(teacher),
        "name": metadata.get("name"),
        "weights_sha256": metadata.get("files", {}).get("model.safetensors"),
    }
    members = metadata.get("ensemble") or []
    if members:
        record["members"] = [
            {key: member.get(key) for key in ("name", "step", "weights_sha256")}
            for member in members
        ]
    else:
        record["step"] = metadata.get("step")
    return record


def _progress_printer(enabled: bool, total: int) -> Callable[[int], None]:
    started = time.perf_counter()

    def report(done: int) -> None:
        if enabled:
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(
                f"[nmt data] distill: {done:,}/{total:,} sources ({rate:.0f}/s)",
                file=sys.stderr,
                flush=True,
            )

    return report
