"""bench/langdetect_accuracy.py: right answers counted per language and length."""

from __future__ import annotations

from pathlib import Path

import pytest

from .scripts import bench_script


def test_counts_right_answers_per_language_and_for_short_texts(tmp_path: Path) -> None:
    (tmp_path / "valid.en").write_text("The cat is on the table.\nHello\nWhere is it?\n")
    (tmp_path / "valid.fr").write_text("Le chat est sur la table.\nBonne nuit\n")
    with bench_script("langdetect_accuracy.py", "langdetect_bench") as bench:
        report = bench.measure(tmp_path, "valid")
    assert report["results"]["en"] == {"texts": 3, "right": 3, "short_texts": 2, "short_right": 2}
    assert report["results"]["fr"] == {"texts": 2, "right": 2, "short_texts": 1, "short_right": 1}
    assert report["ms_per_text"] > 0 and report["detector"] == "py3langid"


def test_missing_data_is_a_message_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with bench_script("langdetect_accuracy.py", "langdetect_bench") as bench:
        assert bench.main(["--data", str(tmp_path / "absent")]) == 1
    assert "nmt data prepare" in capsys.readouterr().err
