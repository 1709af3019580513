"""bench/train_throughput.py: both forward paths run real steps and say which one ran."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    name = "bench_train_throughput"  # registered: its dataclasses look their module up
    spec = importlib.util.spec_from_file_location(name, BENCH / "train_throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]


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
