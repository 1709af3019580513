"""The data part of the GPU kit: a copy of the prepared data and the peer's pack.

    python bench/gpu/kit.py --data data/prepared/fra-eng --out .gpu

writes OUT/data.tar.gz (what training and evaluation read, byte for byte as prepared:
manifest, sentencepiece model(s), token ids of every split, valid/test text and reference
groups; not the 11 MB of training text; gzip halves the ids, which np.savez leaves raw)
and OUT/peer-pack.tar.gz, the pack that ../shared/peers/opennmt_rnn.sh reads: train.sp.en
train.sp.fr valid.sp.en valid.sp.fr test.sp.en test.en test.fr spm.model, the pieces made
from our own token ids (so the peer sees exactly our segmentation), joined by spaces, one
sentence per line in split order. build_kit.sh calls this; the dry-run test too.
On the way back, `split_file` cuts the trained bundle's tar into parts that each fit what
the device machine returns.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nmt.data.dataset import ParallelIds, load_manifest, load_token_ids, read_split_text
from nmt.data.tokenizer import Tokenizer
from nmt.errors import NmtError

PACK_NAME = "peer-pack.tar.gz"
DATA_NAME = "data.tar.gz"


def prepared_files(data_dir: Path) -> list[str]:
    """Names of the files of a prepared directory that the GPU run reads."""
    manifest = load_manifest(data_dir)
    languages = manifest["languages"]
    joint = manifest["tokenizer"].get("joint", True)
    names = ["manifest.json", *(["spm.model"] if joint else ["spm.src.model", "spm.tgt.model"])]
    names += [f"{split}.ids.npz" for split in ("train", "valid", "test")]
    for split in ("valid", "test"):
        names += [f"{split}.{languages['src']}", f"{split}.{languages['tgt']}"]
        names.append(f"{split}.groups.jsonl")
    return names


def pack_prepared(data_dir: Path, archive: Path) -> Path:
    """A gzipped tar of the files the GPU run reads from `data_dir` (names at the top)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name in prepared_files(data_dir):
            source = data_dir / name
            if not source.is_file():
                raise NmtError(f"{data_dir} lacks {name}: prepare the data again")
            tar.add(source, arcname=name)
    return archive


def unpack_prepared(archive: Path, dest: Path) -> Path:
    """Extract a pack_prepared archive into dest (created); returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile() or "/" in member.name or member.name.startswith("."):
                raise NmtError(f"{archive}: unexpected member {member.name!r}")
            source = tar.extractfile(member)
            assert source is not None
            (dest / member.name).write_bytes(source.read())
    return dest


def _piece_lines(ids: ParallelIds, tokenizer: Tokenizer, side: str) -> Iterator[str]:
    """One line of space-joined pieces per example; the source's final eos is left out."""
    data, offsets = (ids.src, ids.src_offsets) if side == "src" else (ids.tgt, ids.tgt_offsets)
    eos = tokenizer.eos_id
    for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        row = data[start:end].tolist()
        if side == "src" and row and row[-1] == eos:
            row = row[:-1]
        yield " ".join(tokenizer.id_to_piece(row))


def _add_text(archive: tarfile.TarFile, name: str, lines: Iterator[str] | list[str]) -> None:
    payload = "".join(line + "\n" for line in lines).encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(payload))


def make_peer_pack(data_dir: Path, pack: Path) -> Path:
    """Write the peer's pack (see the module docstring) from a prepared directory."""
    manifest = load_manifest(data_dir)
    if not manifest["tokenizer"].get("joint", True):
        raise NmtError("the peer recipe needs one joint sentencepiece model (spm.model)")
    src_lang, tgt_lang = manifest["languages"]["src"], manifest["languages"]["tgt"]
    tokenizer = Tokenizer.load(data_dir / "spm.model")
    pack.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(pack, "w:gz") as archive:
        for split, sides in (("train", "src tgt"), ("valid", "src tgt"), ("test", "src")):
            ids = load_token_ids(data_dir, split)
            for side in sides.split():
                lang = src_lang if side == "src" else tgt_lang
                _add_text(archive, f"{split}.sp.{lang}", _piece_lines(ids, tokenizer, side))
        sources, targets = read_split_text(data_dir, "test")
        _add_text(archive, f"test.{src_lang}", sources)
        _add_text(archive, f"test.{tgt_lang}", targets)
        archive.add(data_dir / "spm.model", arcname="spm.model")
    return pack


def build(data_dir: Path, out: Path) -> dict[str, Path]:
    """Write OUT/data.tar.gz and OUT/peer-pack.tar.gz from a prepared directory."""
    return {
        "data": pack_prepared(data_dir, out / DATA_NAME),
        "pack": make_peer_pack(data_dir, out / PACK_NAME),
    }


def tar_directory(directory: Path, archive: Path) -> Path:
    """directory as an uncompressed tar (weights do not compress), members under its name."""
    with tarfile.open(archive, "w") as tar:
        tar.add(directory, arcname=directory.name)
    return archive


def split_file(path: Path, out_dir: Path, part_bytes: int, max_parts: int) -> dict[str, Any]:
    """Cut `path` into out_dir/NAME.part-00, -01, ... of at most part_bytes each."""
    size = path.stat().st_size
    count = max(1, math.ceil(size / part_bytes))
    if count > max_parts:
        raise ValueError(f"{path.name} ({size} bytes) needs {count} parts; {max_parts} may return")
    digest = hashlib.sha256()
    parts = []
    with open(path, "rb") as source:
        for index in range(count):
            chunk = source.read(part_bytes)
            digest.update(chunk)
            part = out_dir / f"{path.name}.part-{index:02d}"
            part.write_bytes(chunk)
            parts.append({"name": part.name, "bytes": len(chunk)})
    return {
        "parts": parts,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "reassemble": f"cat {path.name}.part-* > {path.name} && tar -xf {path.name}",
    }


def main(argv: list[str] | None = None) -> int:
    """Build the data part of the kit; print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/prepared/fra-eng"))
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    args = parser.parse_args(argv)
    try:
        written = build(args.data, args.out)
    except NmtError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
