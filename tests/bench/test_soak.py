"""bench/soak.py: the RSS-growth summary, and a short soak of the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .scripts import bench_script


def test_rss_growth_measures_the_last_window_only() -> None:
    with bench_script("soak.py", "soak_under_test") as soak:
        series = [800.0, 900.0, 1000.0, 1000.0, 1010.0, 1005.0]  # warm-up, then flat-ish
        growth = soak.rss_growth(series, every_s=15.0, window_s=45.0)
        assert growth == {
            "window_s": 45.0,
            "first_mib": 1000.0,
            "last_mib": 1005.0,
            "percent": 0.5,
            "peak_percent": 1.0,
        }
        whole = soak.rss_growth(series, every_s=15.0, window_s=10_000.0)
        assert whole is not None and whole["window_s"] == 75.0 and whole["first_mib"] == 800.0
        assert soak.rss_growth([800.0], every_s=15.0, window_s=45.0) is None


def test_a_short_soak_of_the_shipped_model_has_no_errors(
    shipped_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with bench_script("soak.py", "soak_under_test") as soak:
        argv = ["--checkpoint", str(shipped_model_dir), "--duration", "4", "--workers", "1"]
        code = soak.main([*argv, "--concurrency", "4", "--max-requests", "200"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["requests"] > 0 and report["errors"] == 0 and report["wrong_status_class"] == 0
    assert report["server_alive_at_end"] and report["rss_kib"]["end"]["total"] > 0
    classes = {key.rsplit(" ", 1)[1][0] + "xx" for key in report["statuses"]}
    assert classes == {"2xx", "4xx"}  # good requests answered, bad ones refused
