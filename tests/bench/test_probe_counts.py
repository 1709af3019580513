"""bench/probe_counts.py: counts written as digits, spoken to the model or not."""

from __future__ import annotations

from pathlib import Path

from nmt.data.dataset import ReferenceGroup
from nmt.translator import load_translator

from .scripts import bench_script


def test_probes_turn_one_spelled_count_into_digits_on_both_sides() -> None:
    groups = [
        ReferenceGroup("I have two books.", ["J'ai deux livres.", "J'ai deux bouquins."], [0, 1]),
        ReferenceGroup("Two or three?", ["Deux ou trois ?"], [2]),  # two counts
        ReferenceGroup("I have two dogs.", ["J'ai des chiens."], [3]),  # not in a reference
        ReferenceGroup("Someone ate one.", ["Quelqu'un en a mangé un."], [4]),  # 1 is not probed
    ]
    with bench_script("probe_counts.py", "probe_counts_bench") as bench:
        probes = bench.build_probes(groups)
    assert [(p["source"], p["references"], p["digits"]) for p in probes] == [
        ("I have 2 books.", ["J'ai 2 livres.", "J'ai 2 bouquins."], "2")
    ]


def test_spoken_counts_keep_the_sentence_that_placeholders_break(shipped_model_dir: Path) -> None:
    groups = [
        ReferenceGroup("I have two brothers.", ["J'ai deux frères."], [0]),
        ReferenceGroup("He is seventeen years old.", ["Il a dix-sept ans."], [1]),
    ]
    translator = load_translator(shipped_model_dir, "cpu")
    with bench_script("probe_counts.py", "probe_counts_bench") as bench:
        report = bench.measure(translator, bench.build_probes(groups), beam=1)
    assert report["probes"] == 2
    assert report["digits_spoken"]["digits_kept"] == report["digits_placeholder"]["digits_kept"]
    assert report["digits_spoken"]["bleu"] > report["digits_placeholder"]["bleu"]
    assert report["digits_spoken"]["digits_kept"] == 1.0
    spoken = [example["spoken"] for example in report["examples"]]
    assert spoken[0].count("2") == 1 and spoken[1].count("17") == 1


def test_amounts_replace_the_count_and_stand_ins_keep_the_sentence(
    shipped_model_dir: Path,
) -> None:
    groups = [
        ReferenceGroup("I have two brothers.", ["J'ai deux frères."], [0]),
        ReferenceGroup("He is seventeen years old.", ["Il a dix-sept ans."], [1]),
    ]
    translator = load_translator(shipped_model_dir, "cpu")
    with bench_script("probe_counts.py", "probe_counts_bench") as bench:
        probes = bench.build_probes(groups, amounts=True)
        assert [p["source"] for p in probes] == ["I have 21 brothers.", "He is 35 years old."]
        assert [p["references"] for p in probes] == [["J'ai 21 frères."], ["Il a 35 ans."]]
        report = bench.measure(translator, probes, beam=1)
    assert report["digits_spoken"]["digits_kept"] == 1.0
    assert report["digits_spoken"]["bleu"] > report["digits_placeholder"]["bleu"]
