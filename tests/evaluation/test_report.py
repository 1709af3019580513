"""Tests for nmt.evaluation.report: atomic JSON reports and Markdown tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nmt.errors import NmtError
from nmt.evaluation.report import (
    by_length_table,
    compare_table,
    markdown_table,
    read_report,
    write_report,
)

SIG_MULTI = "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
SIG_SINGLE = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
CHRF_MULTI = "nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"


def make_report(checkpoint: str, bleu: float) -> dict[str, Any]:
    def result(beam: int, delta: float) -> dict[str, Any]:
        return {
            "beam": beam,
            "multi_reference": {
                "bleu": bleu + delta,
                "chrf": 61.234,
                "signature": SIG_MULTI,
                "chrf_signature": CHRF_MULTI,
            },
            "single_reference": {"bleu": 20.5, "chrf": 50.0, "signature": SIG_SINGLE},
            "sentences_per_second": 123.456,
            "by_length": [{"bucket": "1-5", "sentences": 3, "bleu": 40.0 + delta}],
        }

    return {
        "checkpoint": checkpoint,
        "split": "test",
        "sentences": 4,
        "pairs": 7,
        "results": [result(1, 0.0), result(5, 1.5)],
    }


def test_markdown_table_holds_the_numbers_and_signatures() -> None:
    table = markdown_table(make_report("runs/gru/best", 34.567))
    lines = table.splitlines()
    assert "| beam | BLEU multi | chrF multi | BLEU single | chrF single | sent/s |" in lines
    assert "| 1 | 34.57 | 61.23 | 20.50 | 50.00 | 123.5 |" in lines
    assert "| 5 | 36.07 | 61.23 | 20.50 | 50.00 | 123.5 |" in lines
    assert table.count(SIG_MULTI) == 1 and SIG_SINGLE in table and CHRF_MULTI in table
    assert "runs/gru/best" in table


def test_markdown_table_of_a_hypothesis_file_report() -> None:
    report = make_report("", 10.0)
    report["results"] = report["results"][:1]
    report["results"][0].update(beam=None, sentences_per_second=None)
    assert "| file | 10.00 | 61.23 | 20.50 | 50.00 | - |" in markdown_table(report)


def test_by_length_table_has_one_column_per_beam() -> None:
    table = by_length_table(make_report("a", 30.0))
    assert "| 1-5 | 3 | 40.00 | 41.50 |" in table.splitlines()


def test_compare_table_puts_checkpoints_side_by_side() -> None:
    table = compare_table([make_report("runs/gru", 30.0), make_report("runs/lstm", 32.0)])
    lines = table.splitlines()
    assert lines[0].startswith("| checkpoint | beam | BLEU multi")
    assert "| runs/gru | 1 | 30.00 | 61.23 | 20.50 | 50.00 | 123.5 |" in lines
    assert "| runs/lstm | 5 | 33.50 | 61.23 | 20.50 | 50.00 | 123.5 |" in lines
    assert table.count(SIG_MULTI) == 1  # identical signatures listed once


def test_write_report_round_trips_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "eval.json"
    write_report(make_report("a", 1.0), path)
    write_report(make_report("b", 2.0), path)
    assert json.loads(path.read_text(encoding="utf-8"))["checkpoint"] == "b"
    assert read_report(path) == make_report("b", 2.0)
    assert [p.name for p in path.parent.iterdir()] == ["eval.json"]  # no temp file left


def test_failed_write_keeps_the_old_report(tmp_path: Path) -> None:
    path = tmp_path / "eval.json"
    write_report(make_report("old", 1.0), path)
    broken = make_report("new", 2.0)
    broken["results"][0]["beam"] = object()  # not JSON-serialisable
    with pytest.raises(TypeError):
        write_report(broken, path)
    assert read_report(path)["checkpoint"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_read_report_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(NmtError, match="not an evaluation report"):
        read_report(path)
    with pytest.raises(NmtError, match="cannot read"):
        read_report(tmp_path / "missing.json")
