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
            "mean_mib": 1003.8,
            "percent": 0.5,
            "peak_percent": 1.0,
            "trend_percent": 0.75,  # slope 2.5 MiB per sample x 3 samples / mean 1003.75
            "median_percent": 0.5,  # windows of one sample here: the same as "percent"
            "trend_mib_per_min": 10.0,
        }
        whole = soak.rss_growth(series, every_s=15.0, window_s=10_000.0)
        assert whole is not None and whole["window_s"] == 75.0 and whole["first_mib"] == 800.0
        assert soak.rss_growth([800.0], every_s=15.0, window_s=45.0) is None


def test_the_rss_trend_is_not_fooled_by_two_single_samples() -> None:
    with bench_script("soak.py", "soak_under_test") as soak:
        # flat with ups and downs, the first sample low and the last one high
        wobbling = [1000.0, 1040.0, 1030.0, 1010.0, 990.0, 1000.0, 1020.0, 990.0, 1040.0]
        growth = soak.rss_growth(wobbling, every_s=15.0, window_s=10_000.0)
        assert growth is not None and growth["percent"] == 4.0
        assert abs(growth["trend_percent"]) < 0.5 and abs(growth["median_percent"]) < 1.0
        rising = [1000.0 + 5.0 * i for i in range(9)]
        growth = soak.rss_growth(rising, every_s=15.0, window_s=10_000.0)
        assert growth is not None and growth["percent"] == 4.0
        assert growth["trend_percent"] == 3.92  # the same 40 MiB over the mean, 1020


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
