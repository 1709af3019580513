"""bench/train_throughput.py: both forward paths run real steps and say which one ran."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench.scripts import bench_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with bench_script("train_throughput.py", "bench_train_throughput") as module:
        yield module


@pytest.mark.parametrize("compiled", [False, True])
def test_reports_the_path_and_tokens(bench, prepared_dir: Path, capsys, compiled: bool) -> None:
    argv = ["--config", "tiny", "--data", str(prepared_dir), "--steps", "3", "--warmup", "1"]
    argv += ["--set", "model.hidden_dim=16", "--set", "model.embedding_dim=8"]
    if compiled:
        argv += ["--compile", "--compile-backend", "aot_eager", "--chunk-steps", "4"]
    assert bench.main(argv) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    path = "compiled" if compiled else "plain"
    assert record["forward_path"].startswith(path)
    assert f"forward path: {path}" in captured.err
    assert record["steps"] == 3 and record["warmup_steps"] == 1
    assert record["tokens_per_second"] > 0 and record["sentences_per_batch"] > 0
    if compiled:
        assert record["forward_calls"] == {"compiled": 4, "plain": 0}
