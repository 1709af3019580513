"""Tests for nmt.evaluation.evaluate with a fake translator and tiny prepared data."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import sacrebleu

from nmt.decoding.types import SearchOptions
from nmt.errors import DataError, NmtError
from nmt.evaluation.evaluate import (
    evaluate_translator,
    paired_tests,
    score_hypotheses_file,
    without_hypotheses,
)
from nmt.evaluation.metrics import score_corpus
from nmt.translator import ModelDescription, Translation

LONG = "The old cat is sleeping on the red sofa in the living room."
PAIRS = [
    ("Run!", "Cours !"),
    ("Run!", "Courez !"),
    ("I am cold.", "J'ai froid."),
    ("Run!", "Fuyez !"),
    (LONG, "Le vieux chat dort sur le canapé rouge du salon."),
    ("I am cold.", "Je suis gelé."),
    ("Thank you very much for your help today.", "Merci beaucoup pour ton aide aujourd'hui."),
]
# Unique sources in order of first appearance, with their pair indices.
GROUPS = [("Run!", [0, 1, 3]), ("I am cold.", [2, 5]), (LONG, [4]), (PAIRS[6][0], [6])]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_prepared(root: Path, groups: Sequence[tuple[str, list[int]]] = GROUPS) -> Path:
    """A prepared-data directory holding only the test split (files as nmt data prepare)."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = {
        "source": {"path": "fake.zip", "sha256": "0"},
        "languages": {"src": "en", "tgt": "fr"},
        "splits": {"test": {"pairs": len(PAIRS), "unique_sources": len(groups)}},
        "tokenizer": {"type": "unigram", "vocab_size": 8},
        "files": {},
    }
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "test.en").write_text("".join(s + "\n" for s, _ in PAIRS), encoding="utf-8")
    (root / "test.fr").write_text("".join(t + "\n" for _, t in PAIRS), encoding="utf-8")
    lines = [
        json.dumps({"source": s, "references": [PAIRS[i][1] for i in idx], "pair_indices": idx})
        for s, idx in groups
    ]
    (root / "test.groups.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return root


class FakeTranslator:
    """Translates with a function of the source text and records every call."""

    def __init__(
        self, translate: Callable[[str], str], description: ModelDescription | None = None
    ):
        self._translate = translate
        self._description = description or ModelDescription("fake", config={"a": {"b": 1}})
        self.calls: list[tuple[list[str], SearchOptions | None]] = []

    @property
    def description(self) -> ModelDescription:
        return self._description

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        self.calls.append((list(texts), options))
        return [self._one(text, options) for text in texts]

    def _one(self, text: str, options: SearchOptions | None) -> Translation:
        output = self._translate(text)
        source_pieces, target_pieces = text.split(), output.split()
        attention = None
        if options is not None and options.return_attention:
            row = [1.0 / (len(source_pieces) + 1)] * (len(source_pieces) + 1)
            attention = [row] * (len(target_pieces) + 1)
        return Translation(
            source=text,
            text=output,
            score=0.0,
            token_log_probs=[0.0] * (len(target_pieces) + 1),
            source_pieces=source_pieces,
            target_pieces=target_pieces,
            attention=attention,
        )


def references_of(source: str) -> list[str]:
    return [target for s, target in PAIRS if s == source]


@pytest.mark.parametrize("pick", [0, -1], ids=["first-reference", "last-reference"])
def test_returning_any_reference_scores_100_multi_reference(tmp_path: Path, pick: int) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: references_of(source)[pick])
    report = evaluate_translator(fake, data, beams=[1], progress=False)
    multi = report["results"][0]["multi_reference"]
    assert multi["bleu"] == pytest.approx(100.0)
    assert multi["chrf"] == pytest.approx(100.0)
    assert "nrefs:var" in multi["signature"] and "nrefs:var" in multi["chrf_signature"]
    # Single-reference: every pair gets its source's one hypothesis, so "Run!" misses twice.
    single = report["results"][0]["single_reference"]
    hyps = [references_of(source)[pick] for source, _ in PAIRS]
    expected = sacrebleu.corpus_bleu(hyps, [[target for _, target in PAIRS]]).score
    assert single["bleu"] == pytest.approx(expected)
    assert single["bleu"] < 100.0
    assert "nrefs:1" in single["signature"]


def test_multi_reference_grouping_follows_the_groups_file(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: f"le {source.lower()} est froid")
    report = evaluate_translator(fake, data, beams=[1], progress=False)
    groups = [json.loads(line) for line in (data / "test.groups.jsonl").read_text().splitlines()]
    hyps = [f"le {group['source'].lower()} est froid" for group in groups]
    width = max(len(group["references"]) for group in groups)
    streams = [
        [g["references"][r] if r < len(g["references"]) else None for g in groups]
        for r in range(width)
    ]
    multi = report["results"][0]["multi_reference"]
    assert multi["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score)
    assert multi["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)


def test_each_unique_source_is_translated_once_per_beam_in_length_sorted_batches(
    tmp_path: Path,
) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: references_of(source)[0])
    base = SearchOptions(length_penalty=0.6)
    report = evaluate_translator(
        fake, data, beams=[1, 3], base_options=base, batch_size=3, progress=False, checkpoint="ck"
    )
    sources = sorted((source for source, _ in GROUPS), key=len)  # batches cut by length
    for beam in (1, 3):
        calls = [(texts, options) for texts, options in fake.calls if options.beam_size == beam]
        assert [len(texts) for texts, _ in calls] == [3, 1]
        assert [text for texts, _ in calls for text in texts] == sources
        assert all(options.length_penalty == 0.6 for _, options in calls)
    assert report["checkpoint"] == "ck" and report["split"] == "test"
    assert (report["sentences"], report["pairs"]) == (4, 7)
    summary = {k: v for k, v in fake.description.as_dict().items() if k != "config"}
    assert report["model"] == summary and summary["name"] == "fake"  # nested config left out
    assert len(report["data_manifest_hash"]) == 64
    assert [result["beam"] for result in report["results"]] == [1, 3]
    result = report["results"][1]
    assert result["settings"]["beam_size"] == 3 and result["settings"]["length_penalty"] == 0.6
    assert result["sentences_per_second"] > 0 and result["seconds"] > 0
    assert [(b["bucket"], b["sentences"]) for b in result["by_length"]] == [
        ("1-5", 2),
        ("6-10", 1),
        ("11-15", 1),
    ]
    json.dumps(report)  # the report is JSON-serialisable


def test_by_length_bleu_scores_each_bucket_alone(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: "Le chat dort." if source == LONG else "Cours !")
    report = evaluate_translator(fake, data, beams=[1], progress=False)
    buckets = {b["bucket"]: b["bleu"] for b in report["results"][0]["by_length"]}
    expected = score_corpus(["Le chat dort."], [[PAIRS[4][1]]]).bleu
    assert buckets["11-15"] == pytest.approx(expected)


def test_attention_plots_for_the_first_sentences(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: references_of(source)[0])
    plot_dir = tmp_path / "plots"
    report = evaluate_translator(fake, data, beams=[1], progress=False, plots=2, plot_dir=plot_dir)
    assert sorted(p.name for p in plot_dir.iterdir()) == ["attention_000.png", "attention_001.png"]
    assert report["attention_plots"] == [
        str(plot_dir / "attention_000.png"),
        str(plot_dir / "attention_001.png"),
    ]
    assert (plot_dir / "attention_001.png").read_bytes()[:8] == PNG_MAGIC
    plot_calls = [options for _, options in fake.calls if options.return_attention]
    assert len(plot_calls) == 1


def test_attention_plots_ask_for_one_best_whatever_the_base_options_asked(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: references_of(source)[0])
    wide = SearchOptions(beam_size=4, n_best=3)  # n_best 3 is over the plots' beam 1
    report = evaluate_translator(
        fake, data, beams=[1], base_options=wide, progress=False, plots=1, plot_dir=tmp_path
    )
    assert len(report["attention_plots"]) == 1
    plot_calls = [options for _, options in fake.calls if options.return_attention]
    assert [(o.beam_size, o.n_best) for o in plot_calls] == [(1, 1)]


def test_model_trained_on_other_data_is_flagged(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda s: s, ModelDescription("x", data_manifest_hash="abc"))
    report = evaluate_translator(fake, data, beams=[1], progress=False)
    assert report["warnings"]


def test_groups_that_miss_a_pair_are_a_data_error(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data", groups=GROUPS[:-1])
    with pytest.raises(DataError, match="pair 6"):
        evaluate_translator(FakeTranslator(lambda s: s), data, beams=[1], progress=False)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_per_source_and_per_pair_hypothesis_files_agree(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    per_source = ["Courez !", "J'ai très froid.", "Le chat dort sur le canapé.", "Merci."]
    by_source = dict(zip([s for s, _ in GROUPS], per_source, strict=True))
    per_pair = [by_source[source] for source, _ in PAIRS]
    a = score_hypotheses_file(_write(tmp_path / "a.txt", per_source), data, "test")
    b = score_hypotheses_file(_write(tmp_path / "b.txt", per_pair), data, "test")
    assert (a["layout"], b["layout"]) == ("per_source", "per_pair")
    for kind in ("multi_reference", "single_reference"):
        assert a["results"][0][kind] == b["results"][0][kind]
    refs = [references_of(source) for source, _ in GROUPS]
    expected = score_corpus(per_source, refs)
    assert a["results"][0]["multi_reference"]["bleu"] == pytest.approx(expected.bleu)
    single = score_corpus(per_pair, [[t] for _, t in PAIRS])
    assert a["results"][0]["single_reference"]["chrf"] == pytest.approx(single.chrf)


def test_per_pair_file_uses_first_pair_for_multi_and_own_line_for_single(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    per_pair = [target for _, target in PAIRS]  # every pair its own reference
    report = score_hypotheses_file(_write(tmp_path / "h.txt", per_pair), data, "test")
    result = report["results"][0]
    assert result["single_reference"]["bleu"] == pytest.approx(100.0)
    assert result["multi_reference"]["bleu"] == pytest.approx(100.0)
    assert report["inconsistent_groups"] == 2  # "Run!" and "I am cold." got different lines
    first_of_group = [PAIRS[idx[0]][1] for _, idx in GROUPS]
    expected = score_corpus(first_of_group, [[t] for t in first_of_group])
    assert result["multi_reference"]["chrf"] == pytest.approx(expected.chrf)


def test_hypothesis_file_with_wrong_line_count_is_rejected(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    hyps = _write(tmp_path / "h.txt", ["one", "two", "three"])
    with pytest.raises(NmtError, match=r"3 lines; expected 4 .* or 7"):
        score_hypotheses_file(hyps, data, "test")


def test_paired_tests_pair_results_by_beam_and_files_with_every_beam(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    perfect = FakeTranslator(lambda source: references_of(source)[0])
    echo = FakeTranslator(lambda source: source)
    kept = {"beams": [1, 2], "progress": False, "keep_hypotheses": True}
    first = evaluate_translator(perfect, data, checkpoint="perfect", **kept)
    second = evaluate_translator(echo, data, checkpoint="echo", **kept)
    assert first["results"][0]["hypotheses"] == [references_of(s)[0] for s, _ in GROUPS]
    per_source = _write(tmp_path / "h.txt", [references_of(s)[-1] for s, _ in GROUPS])
    third = score_hypotheses_file(per_source, data, "test", keep_hypotheses=True)
    tests = paired_tests([first, second, third], data, "test", "bs", 50)
    assert [label for label, _ in tests] == ["beam 1", "beam 2"]
    for _, comparison in tests:
        names = [system.name for system in comparison.systems]
        assert names == ["perfect", "echo", str(per_source)]
        assert comparison.systems[0].bleu.score == pytest.approx(100.0)
        assert comparison.systems[2].bleu.score == pytest.approx(100.0)
    files_only = paired_tests([third, third], data, "test", "ar", 50)
    assert [label for label, _ in files_only] == ["file"]
    assert files_only[0][1].systems[1].bleu.p_value == 1.0


def test_paired_tests_need_two_systems_with_their_hypotheses(tmp_path: Path) -> None:
    data = write_prepared(tmp_path / "data")
    fake = FakeTranslator(lambda source: source)
    kept = evaluate_translator(fake, data, beams=[1], progress=False, keep_hypotheses=True)
    plain = evaluate_translator(fake, data, beams=[1], progress=False)
    assert "hypotheses" not in plain["results"][0]
    with pytest.raises(NmtError, match="second system"):
        paired_tests([kept], data, "test")
    with pytest.raises(NmtError, match="hypotheses"):
        paired_tests([kept, plain], data, "test")
    stripped = without_hypotheses(kept)
    assert stripped["results"][0].keys() == plain["results"][0].keys()
    assert "hypotheses" in kept["results"][0]  # the report given is left as it was
