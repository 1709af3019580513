"""`prepare_data` end to end on a tiny corpus, and the readers in nmt.data.dataset."""

from __future__ import annotations

import hashlib
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nmt
from nmt.data.dataset import (
    load_manifest,
    load_token_ids,
    manifest_hash,
    read_groups,
    read_split_text,
)
from nmt.data.prepare import PrepareOptions, prepare_data
from nmt.data.tokenizer import load_tokenizers
from nmt.errors import DataError

EN = ["the", "a", "cat", "dog", "sees", "big", "small", "house", "runs", "eats"]
FR = ["le", "la", "chat", "chien", "voit", "grande", "petite", "maison", "court", "mange"]


def write_corpus(path: Path, n: int = 400, seed: int = 0) -> Path:
    """A zip with about n pairs (word-for-word, some with two translations), plus junk."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = rng.choices(range(len(EN)), k=rng.randint(1, 5))
        en = " ".join(EN[w] for w in words).capitalize() + "."
        fr = " ".join(FR[w] for w in words).capitalize()
        lines.append(f"{en}\t{fr} !")
        if rng.random() < 0.3:
            lines.append(f"{en}\t{fr} vraiment !\tCC-BY 2.0 (France)")
    lines += ["not a pair", "Dup.\tDup.", "Dup.\tDup."]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fra-eng/fra.txt", "\n".join(lines) + "\n")
        archive.writestr("fra-eng/_about.txt", "about")
        archive.writestr("__MACOSX/fra-eng/._fra.txt", b"\x00junk")
    return path


@pytest.fixture(scope="module")
def corpus_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("src") / "fra-eng.zip", n=1500)


def options(source: Path, out: Path, **kw: object) -> PrepareOptions:
    return PrepareOptions(source=str(source), out=out, vocab_size=60, **kw)


def test_layout_and_manifest(corpus_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    result = prepare_data(options(corpus_zip, out), progress=False)
    assert not result.reused and result.out_dir == out
    manifest = load_manifest(out)
    assert manifest == result.manifest
    assert manifest["source"]["sha256"] == hashlib.sha256(corpus_zip.read_bytes()).hexdigest()
    assert manifest["source"]["bytes"] == corpus_zip.stat().st_size
    assert manifest["languages"] == {"src": "en", "tgt": "fr"}
    assert manifest["rejected"]["no_tab"] == 1 and manifest["rejected"]["duplicate"] >= 1
    assert manifest["package_version"] == nmt.__version__
    assert manifest["tokenizer"]["special_ids"] == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert manifest["settings"]["vocab_size"] == 60
    expected = {f"{s}.{x}" for s in ("train", "valid", "test") for x in ("en", "fr", "ids.npz")}
    expected |= {"valid.groups.jsonl", "test.groups.jsonl", "spm.model", "spm.vocab"}
    assert set(manifest["files"]) == expected
    assert {p.name for p in out.iterdir()} == expected | {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert len(manifest_hash(out)) == 64
    total = sum(manifest["splits"][s]["pairs"] for s in ("train", "valid", "test"))
    assert total == manifest["pairs_after_dedup"]
    assert all(manifest["splits"][s]["pairs"] > 10 for s in ("train", "valid", "test"))
    assert manifest["splits"]["test"]["unique_sources"] < manifest["splits"]["test"]["pairs"]
    assert "train" in result.summary and "no_tab 1" in result.summary


def test_texts_groups_and_ids_agree(corpus_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    manifest = prepare_data(options(corpus_zip, out), progress=False).manifest
    src_tok, tgt_tok = load_tokenizers(out)
    assert src_tok is tgt_tok
    for split in ("train", "valid", "test"):
        src, tgt = read_split_text(out, split)
        ids = load_token_ids(out, split)
        assert len(src) == len(tgt) == len(ids) == manifest["splits"][split]["pairs"]
        assert ids.src.dtype == np.int16 and ids.src_offsets.dtype == np.int64
        for i in range(0, len(ids), 37):
            assert ids.source(i).tolist() == src_tok.encode(src[i]) + [src_tok.eos_id]
            assert ids.target(i).tolist() == tgt_tok.encode(tgt[i])
            assert tgt_tok.decode(ids.target(i)) == tgt[i]
        assert (ids.src_lengths == np.array([len(src_tok.encode(s)) + 1 for s in src])).all()
    src, tgt = read_split_text(out, "test")
    groups = read_groups(out, "test")
    assert len(groups) == manifest["splits"]["test"]["unique_sources"] == len(set(src))
    assert [g.source for g in groups] == list(dict.fromkeys(src))
    for group in groups:
        assert [tgt[i] for i in group.pair_indices] == group.references
        assert all(src[i] == group.source for i in group.pair_indices)


def test_reuse_and_force(corpus_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    first = prepare_data(options(corpus_zip, out), progress=False)
    second = prepare_data(options(corpus_zip, out), progress=False)
    assert second.reused and second.manifest == first.manifest
    assert "reused" in second.summary
    forced = prepare_data(options(corpus_zip, out, force=True), progress=False)
    assert not forced.reused
    assert forced.manifest["files"] == first.manifest["files"]  # deterministic rebuild
    changed = prepare_data(options(corpus_zip, out, spm_type="bpe"), progress=False)
    assert not changed.reused and changed.manifest["tokenizer"]["type"] == "bpe"
    (out / "train.fr").write_text("tampered\n")
    assert not prepare_data(options(corpus_zip, out, spm_type="bpe"), progress=False).reused
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_reverse_direction_and_separate_models(corpus_zip: Path, tmp_path: Path) -> None:
    forward = tmp_path / "en-fr"
    prepare_data(options(corpus_zip, forward), progress=False)
    out = tmp_path / "fr-en"
    manifest = prepare_data(
        options(corpus_zip, out, src_lang="fr", tgt_lang="en", joint=False), progress=False
    ).manifest
    assert manifest["languages"] == {"src": "fr", "tgt": "en"}
    assert {"spm.src.model", "spm.tgt.model"} <= set(manifest["files"])
    src_tok, tgt_tok = load_tokenizers(out)
    assert src_tok is not tgt_tok and src_tok.sha256 != tgt_tok.sha256
    fr_src, en_tgt = read_split_text(out, "test")
    en_fwd, fr_fwd = read_split_text(forward, "test")
    assert (fr_src, en_tgt) == (fr_fwd, en_fwd)  # same split, sides swapped
    groups = read_groups(out, "valid")
    assert len(groups) == len(set(read_split_text(out, "valid")[0]))


def test_errors(corpus_zip: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nmt data prepare"):
        load_manifest(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="nmt data prepare"):
        load_manifest(tmp_path / "bad")
    with pytest.raises(DataError, match="languages"):
        prepare_data(options(corpus_zip, tmp_path / "x", tgt_lang="de"), progress=False)
    user_dir = tmp_path / "mine"
    user_dir.mkdir()
    (user_dir / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a prepared-data directory"):
        prepare_data(options(corpus_zip, user_dir, force=True), progress=False)
    assert (user_dir / "notes.txt").read_text() == "keep me"


def test_garbage_input_reports_instead_of_crashing(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes(range(128, 256)) * 10 + b"\nno tab\n\x00\x01\tx\n")
    with pytest.raises(DataError, match="no usable sentence pairs.*invalid_utf8"):
        prepare_data(options(garbage, tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()


def test_fingerprint_ignores_where_and_when_but_not_content(tmp_path: Path) -> None:
    corpus = write_corpus_for_fingerprint(tmp_path / "pairs.txt")
    first = prepare_data(
        PrepareOptions(source=str(corpus), out=tmp_path / "a", vocab_size=60), progress=False
    )
    copy = tmp_path / "elsewhere.txt"
    copy.write_bytes(corpus.read_bytes())
    second = prepare_data(
        PrepareOptions(source=str(copy), out=tmp_path / "b", vocab_size=60), progress=False
    )
    assert manifest_hash(first.out_dir) == manifest_hash(second.out_dir)
    other = prepare_data(
        PrepareOptions(source=str(corpus), out=tmp_path / "c", vocab_size=70), progress=False
    )
    assert manifest_hash(other.out_dir) != manifest_hash(first.out_dir)


def write_corpus_for_fingerprint(path: Path) -> Path:
    """A small corpus with enough distinct pieces for a 60-70 piece vocabulary."""
    rows = [f"I see {n} cats.\tJe vois {n} chats." for n in range(200)]
    rows += [
        f"We like the {w}.\tNous aimons le {w}." for w in ("dog", "car", "bird", "house", "tree")
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
