"""bench/app_overhead.py: the service's own time per request, the model answered from a cache."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from nmt import SearchOptions, load_translator

from .scripts import bench_modules


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with bench_modules("app_overhead", "serve_load") as modules:
        yield modules["app_overhead"]


class CountingTranslator:
    """Passes calls on to a real translator, counting the texts it was asked for."""

    def __init__(self, real) -> None:  # noqa: ANN001 (any Translator)
        self.real, self.asked = real, []

    @property
    def description(self):  # noqa: ANN201
        return self.real.description

    def translate(self, texts, options=None):  # noqa: ANN001, ANN201
        self.asked.extend(texts)
        return self.real.translate(texts, options)


def test_the_cache_translates_each_sentence_once_per_options(bench, shipped_model_dir) -> None:
    counting = CountingTranslator(load_translator(shipped_model_dir, "cpu", "none"))
    cached = bench.CachedTranslator(counting)
    beam5, beam1 = SearchOptions(beam_size=5), SearchOptions(beam_size=1)
    first = cached.translate(["I love you.", "Hello.", "I love you."], beam5)
    again = cached.translate(["Hello.", "I love you."], beam5)
    cached.translate(["Hello."], beam1)
    assert counting.asked == ["I love you.", "Hello.", "Hello."]
    assert [t.text for t in first] == ["Je t'aime.", again[0].text, "Je t'aime."]


def test_both_collector_modes_are_measured_and_the_freeze_undone(
    bench, shipped_model_dir: Path, capsys
) -> None:
    frozen_before = gc.get_freeze_count()
    argv = ["--checkpoint", str(shipped_model_dir), "--requests", "48", "--concurrency", "8"]
    assert bench.main([*argv, "--rounds", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["concurrency"] == 8 and report["requests_per_round"] == 48
    for mode in ("gc_freeze_off", "gc_freeze_on"):
        rounds = report[mode]["rounds"]
        assert len(rounds) == 2
        assert all(r["main_thread_cpu_us"] > 0 and r["wall_us"] > 0 for r in rounds)
    assert gc.get_freeze_count() == frozen_before


def test_a_missing_checkpoint_is_one_line_and_exit_1(bench, tmp_path: Path, capsys) -> None:
    assert bench.main(["--checkpoint", str(tmp_path / "none"), "--rounds", "1"]) == 1
    assert capsys.readouterr().err.startswith("app_overhead: ")


def test_options_must_be_positive(bench) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--rounds", "0"])
