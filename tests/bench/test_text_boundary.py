"""bench/text_boundary.py: the text boundary's cost per sentence, the model left out."""

from __future__ import annotations

from pathlib import Path

from .scripts import bench_script


def test_every_step_is_timed_over_every_sentence_of_the_split(prepared_dir: Path) -> None:
    with bench_script("text_boundary.py", "text_boundary_bench") as bench:
        result = bench.measure(str(prepared_dir), "test", repeats=1)
    lines = (prepared_dir / "test.en").read_text(encoding="utf-8").splitlines()
    assert result["sentences"] == len(lines) and result["parts"] >= len(lines)
    timings = result["us_per_sentence"]
    assert set(timings) == {"sanitize", "prepare", "prepare_without_names", "finish_part"}
    assert all(value > 0 for value in timings.values())
    assert timings["prepare"] > timings["sanitize"]  # prepare cleans, then does more
