"""bench/probe_segments.py: several sentences on a line, and quoted speech, step on and off."""

from __future__ import annotations

from pathlib import Path

from nmt.data.dataset import ReferenceGroup
from nmt.translator import load_translator

from .scripts import bench_script


def test_balanced_counts_the_sources_pairs_as_guillemets() -> None:
    with bench_script("probe_segments.py", "probe_segments_bench") as bench:
        assert bench.balanced('"Yes," he said.', "« Oui, » dit-il.")
        assert not bench.balanced('"Yes," he said.', '"Oui, » dit-il.')
        assert not bench.balanced('"A" and "B".', "« A » et B.")
        assert bench.balanced("No quotes.", "Pas de guillemets.")


def test_each_step_is_measured_on_and_off(shipped_model_dir: Path) -> None:
    groups = [
        ReferenceGroup(
            "Winter has gone. Spring has come.", ["L'hiver est parti. Le printemps est venu."], [0]
        ),
        ReferenceGroup('"Look," she said.', ["« Regarde », dit-elle."], [1]),
        ReferenceGroup("I see.", ["Je vois."], [2]),
    ]
    translator = load_translator(shipped_model_dir, "cpu")
    with bench_script("probe_segments.py", "probe_segments_bench") as bench:
        bench.EXTRA_QUOTES = ()
        report = bench.measure(translator, groups, beam=1, every=1)
    sentences, quotes = report["sentences"], report["quotes"]
    assert sentences["probes"] == 1 and quotes["probes"] == quotes["with_references"] == 1
    assert "printemps" in sentences["outputs"][0]["per_sentence"]
    assert "printemps" not in sentences["outputs"][0]["whole_line"]  # beam 5: "C'est venu."
    assert quotes["guillemets"]["balanced"] == 1.0  # shown to the model, it may balance it too
    assert quotes["guillemets"]["balanced"] >= quotes["shown_to_model"]["balanced"]
    bare = report["unpunctuated"]
    assert bare["probes"] == 3 and bare["outputs"][2]["source"] == "I see"
    assert bare["outputs"][2]["stop_added"] == "Je vois"


def test_unpunctuated_takes_the_end_mark_off_sources_and_references() -> None:
    groups = [
        ReferenceGroup("Who?", ["Qui ?", "Qui donc ?"], [0]),
        ReferenceGroup("No end", ["Pas de fin"], [1]),
        ReferenceGroup("Stop!", ["Arrête !"], [2]),
    ]
    with bench_script("probe_segments.py", "probe_segments_bench") as bench:
        assert bench.unpunctuated(groups, 1) == [
            ("Who", ["Qui", "Qui donc"]),
            ("Stop", ["Arrête"]),
        ]
        assert bench.unpunctuated(groups, 2) == [("Who", ["Qui", "Qui donc"])]
