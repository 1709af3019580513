"""`nmt data distill`: a teacher's translations of the training sources as training data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nmt.checkpoint import load_bundle
from nmt.cli import main
from nmt.data.dataset import (
    load_manifest,
    load_token_ids,
    manifest_hash,
    read_split_text,
    source_word_counts,
)
from nmt.data.distill import DistillOptions, distill_data, distilled_pairs, translate_sorted
from nmt.data.prepare import PrepareOptions, prepare_data
from nmt.data.tokenizer import load_tokenizers
from nmt.errors import DataError
from nmt.evaluation.evaluate import evaluate_translator
from nmt.fileio import sha256_file
from nmt.training.average import add_data_derived_from
from nmt.training.trainer import train
from nmt.translator import load_translator

from ..conftest import synthetic_pairs, write_corpus
from ..training.test_trainer import small_config


@pytest.fixture(scope="module")
def teacher(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best bundle of a short real run on the shared prepared data."""
    root = tmp_path_factory.mktemp("teacher")
    train(small_config(prepared_dir, "train.max_steps=4"), prepared_dir, root, progress_bar=False)
    return (root / "best").resolve()


@pytest.fixture(scope="module")
def distilled(teacher: Path, prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("distilled") / "kd"
    options = DistillOptions(teacher, prepared_dir, out, beam_size=2, quantize="none")
    return distill_data(options, progress=False).out_dir


def test_the_teacher_pairs_come_first_then_every_human_pair() -> None:
    src = ["a", "a", "b", "c"]
    tgt = ["A1", "A2", "B", "C"]
    pairs = distilled_pairs(src, tgt, ["a", "b", "c"], ["A2", "Bt", ""], keep_references=True)
    # an empty translation ("c") is dropped; a reference equal to the teacher's stays
    assert list(zip(pairs.src, pairs.tgt, strict=True)) == [
        ("a", "A2"),
        ("b", "Bt"),
        *zip(src, tgt, strict=True),
    ]
    assert (pairs.teacher_pairs, pairs.human_pairs) == (2, 4)


def test_without_references_only_untranslated_sources_keep_theirs() -> None:
    src, tgt = ["a", "a", "b", "c"], ["A1", "A2", "B", "C"]
    pairs = distilled_pairs(src, tgt, ["a", "b"], ["At", ""], keep_references=False)
    assert list(zip(pairs.src, pairs.tgt, strict=True)) == [("a", "At"), ("b", "B"), ("c", "C")]
    assert (pairs.teacher_pairs, pairs.human_pairs) == (1, 2)


def test_translate_sorted_batches_by_length_and_returns_input_order() -> None:
    sources = [f"{'x' * n}" for n in (5, 1, 3000 % 7, 9, 2)] * 900  # 4,500 over 3 chunks
    calls: list[list[str]] = []

    def translate(texts: list[str]) -> list[str]:
        calls.append(texts)
        return [t.upper() for t in texts]

    done: list[int] = []
    assert translate_sorted(sources, translate, done.append) == [s.upper() for s in sources]
    lengths = [len(t) for chunk in calls for t in chunk]
    assert lengths == sorted(lengths)
    assert done == [2048, 4096, 4500]


def test_distilled_data_is_prepared_data_with_the_teachers_translations(
    distilled: Path, prepared_dir: Path, teacher: Path
) -> None:
    manifest = load_manifest(distilled)
    for name in ("spm.model", "valid.en", "valid.fr", "test.fr", "test.groups.jsonl"):
        assert sha256_file(distilled / name) == sha256_file(prepared_dir / name)
    for name, digest in manifest["files"].items():
        assert sha256_file(distilled / name) == digest, name

    src, tgt = read_split_text(distilled, "train")
    old_src, old_tgt = read_split_text(prepared_dir, "train")
    unique = list(dict.fromkeys(old_src))
    record = manifest["distillation"]
    assert record["pairs"]["teacher_translations"] == len(unique)
    assert record["pairs"]["train_pairs"] == len(src) == manifest["splits"]["train"]["pairs"]
    assert record["teacher"]["weights_sha256"] == sha256_file(teacher / "model.safetensors")
    assert record["from_data"]["manifest_hash"] == manifest_hash(prepared_dir)
    assert manifest_hash(distilled) != manifest_hash(prepared_dir)
    # the first pairs are the teacher's beam-2 translations, as its translator gives them
    # (in float: int8's dynamic activation scales depend on what else is in the batch)
    teacher_translator = load_translator(teacher, "cpu", "none")
    options = teacher_translator.default_options.merged(beam_size=2)
    translations = [t.text for t in teacher_translator.translate(unique, options)]
    expected = [(s, t) for s, t in zip(unique, translations, strict=True) if t.strip()]
    assert expected, "the teacher translated nothing"
    assert list(zip(src, tgt, strict=True))[: len(expected)] == expected
    # then every human pair, in order; their word counts are the student's
    human = record["pairs"]["teacher_pairs"]
    assert (src[human:], tgt[human:]) == (old_src, old_tgt)
    assert source_word_counts(distilled) == source_word_counts(prepared_dir)
    # ids are the tokenizer's encoding of the text
    ids = load_token_ids(distilled, "train")
    src_tok, tgt_tok = load_tokenizers(distilled)
    for i in (0, len(src) // 2, len(src) - 1):
        assert ids.target(i).tolist() == tgt_tok.encode(tgt[i])
        assert ids.source(i).tolist() == src_tok.encode(src[i]) + [src_tok.eos_id]


def test_a_student_warm_starts_from_the_teacher_on_distilled_data(
    distilled: Path, teacher: Path, prepared_dir: Path, tmp_path: Path
) -> None:
    config = small_config(distilled, "train.max_steps=2", f"train.init_from={teacher}")
    train(config, distilled, tmp_path / "student", progress_bar=False)
    meta = load_bundle(tmp_path / "student" / "last").meta
    assert meta.data_manifest_hash == manifest_hash(distilled)
    assert meta.data_derived_from == manifest_hash(prepared_dir)
    assert meta.source_words == source_word_counts(prepared_dir)  # the same rare names
    # its valid and test splits are the original data's: scored on either, no warning,
    # and the same for the teacher (trained on the original data)
    for model in (teacher, tmp_path / "student" / "last"):
        translator = load_translator(model, "cpu")
        for data in (prepared_dir, distilled):
            report = evaluate_translator(translator, data, "valid", beams=(1,), progress=False)
            assert "warnings" not in report
    # data from another corpus is another matter
    corpus = write_corpus(tmp_path / "other.txt", synthetic_pairs()[::2])
    options = PrepareOptions(source=str(corpus), out=tmp_path / "other", vocab_size=96)
    other = prepare_data(options, progress=False).out_dir
    report = evaluate_translator(translator, other, "test", beams=(1,), progress=False)
    assert report["warnings"] == [
        "the model was trained on different prepared data than this split"
    ]


def test_a_bundle_saved_before_runs_recorded_the_origin_learns_it(
    distilled: Path, prepared_dir: Path, teacher: Path, tmp_path: Path
) -> None:
    config = small_config(distilled, "train.max_steps=1")
    train(config, distilled, tmp_path / "run", progress_bar=False)
    bundle = tmp_path / "run" / "last"
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    del metadata["data_derived_from"]
    (bundle / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    assert load_bundle(bundle).meta.data_derived_from is None
    assert add_data_derived_from(bundle, distilled) == manifest_hash(prepared_dir)
    assert load_bundle(bundle).meta.data_derived_from == manifest_hash(prepared_dir)
    with pytest.raises(DataError, match="is not the prepared data"):
        add_data_derived_from(teacher, distilled)


def test_distilled_data_is_neither_distilled_again_nor_reused_by_prepare(
    distilled: Path, teacher: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="is distilled data already; distil the data it came"):
        distill_data(DistillOptions(teacher, distilled, tmp_path / "again"), progress=False)
    record = load_manifest(distilled)["settings"]
    assert record["out"] == str(distilled)
    copy = Path(shutil.copytree(distilled, tmp_path / "kd"))
    corpus = write_corpus(tmp_path / "pairs.txt")
    options = PrepareOptions(source=str(corpus), out=copy, vocab_size=96)
    result = prepare_data(options, progress=False)  # same corpus and settings, yet rebuilt
    assert not result.reused and "distillation" not in load_manifest(copy)


def test_the_cli_distils_a_trial_of_the_first_sources(
    teacher: Path, prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trial"
    argv = ["data", "distill", "--teacher", str(teacher), "--data", str(prepared_dir)]
    code = main([*argv, "--out", str(out), "--limit", "3", "--beam", "1", "--no-references"])
    assert code == 0
    assert "translated 3 unique training sources" in capsys.readouterr().err
    record = load_manifest(out)["distillation"]
    assert (record["limit"], record["keep_references"], record["search"]) == (
        3,
        False,
        {"beam_size": 1},
    )
    src, _ = read_split_text(out, "train")
    assert set(src) == set(read_split_text(prepared_dir, "train")[0])  # no source lost


def test_refusals_write_nothing(
    teacher: Path, prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["data", "distill", "--teacher", str(teacher), "--data", str(prepared_dir)]
    # the input itself as output
    assert main([*base, "--out", str(prepared_dir)]) == 1
    assert "is the input data" in capsys.readouterr().err
    # a directory that is not prepared data keeps its files
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine", encoding="utf-8")
    assert main([*base, "--out", str(keep), "--limit", "2"]) == 1
    assert "not a prepared-data directory" in capsys.readouterr().err
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]
    # a missing teacher
    missing = ["data", "distill", "--teacher", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    assert main([*missing, "--data", str(prepared_dir)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary directory left


def test_a_teacher_of_the_other_direction_is_refused(teacher: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "pairs.txt")
    options = PrepareOptions(
        source=str(corpus), out=tmp_path / "fr-en", src_lang="fr", tgt_lang="en", vocab_size=96
    )
    fr_en = prepare_data(options, progress=False).out_dir
    with pytest.raises(DataError, match="translates en->fr but .* holds fr->en"):
        distill_data(DistillOptions(teacher=teacher, data=fr_en, out=tmp_path / "x"), False)
    assert not (tmp_path / "x").exists()


def test_an_interrupted_build_leaves_the_old_output_whole(
    teacher: Path, prepared_dir: Path, distilled: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "kd"
    distill_data(DistillOptions(teacher, prepared_dir, out, beam_size=1, limit=2), False)
    before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr("nmt.data.distill.save_token_ids", broken)
    with pytest.raises(KeyboardInterrupt):
        distill_data(DistillOptions(teacher, prepared_dir, out, beam_size=1, limit=3), False)
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kd"]


@pytest.mark.parametrize("flag", [["--beam", "0"], ["--beam", "1000"], ["--limit", "0"]])
def test_bad_numbers_are_usage_errors(flag: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["data", "distill", "--teacher", "t", "--out", str(tmp_path / "o"), *flag])
    assert stopped.value.code == 2
    assert not (tmp_path / "o").exists()
