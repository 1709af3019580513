"""bench/ablation.py: rows train and evaluate for real, results resume, the report is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench.scripts import bench_script

TINY = [
    "train.max_time_s=1",
    "train.valid_every=2",
    "train.log_every=1",
    "model.hidden_dim=16",
    "model.embedding_dim=8",
    "model.attention_dim=8",
    "data.max_tokens=256",
]


@pytest.fixture(scope="module")
def ablation() -> Iterator[ModuleType]:
    with bench_script("ablation.py", "bench_ablation") as module:
        yield module


def argv(command: str, prepared_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    paths = ["--data", str(prepared_dir), "--runs", str(tmp_path / "runs")]
    paths += ["--results", str(tmp_path / "results"), "--out", str(tmp_path / "ABLATION.md")]
    return [command, *paths, *[f"--set={o}" for o in TINY], *extra]


def test_rows_run_resume_and_report(ablation, prepared_dir: Path, tmp_path: Path) -> None:
    assert ablation.main(argv("run", prepared_dir, tmp_path, "--rows", "gru,lstm")) == 0
    results = tmp_path / "results"
    gru = json.loads((results / "gru.json").read_text())
    lstm = json.loads((results / "lstm.json").read_text())
    assert lstm["overrides"] == ["model.rnn_type=lstm"] and lstm["reference"] == "gru"
    assert lstm["parameters"] > gru["parameters"] > 0
    for record in (gru, lstm):
        assert 0 <= record["test"]["bleu_multi"] <= 100 and record["test"]["sentences"] > 0
        assert record["valid_ppl"] > 1 and record["tokens_per_s"] > 0 and record["steps"] >= 1
        assert record["curve"][-1]["train_seconds"] >= 1.0  # the budget was spent
        assert record["train_command"].startswith("nmt train --config bench/ablation/recipe.yaml")
        assert "--set train.max_time_s=1" in record["train_command"]
        assert record["data_manifest_hash"] and record["seed"] == 1234

    # a second `run` finds both results and trains nothing
    before = (results / "gru.json").stat().st_mtime_ns
    assert ablation.main(argv("run", prepared_dir, tmp_path, "--rows", "gru,lstm")) == 0
    assert (results / "gru.json").stat().st_mtime_ns == before

    assert ablation.main(argv("report", prepared_dir, tmp_path)) == 0
    page = (tmp_path / "ABLATION.md").read_text()
    table = [line for line in page.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == ["gru", "lstm"]
    delta = lstm["test"]["bleu_multi"] - gru["test"]["bleu_multi"]
    assert f"{delta:+.2f}" in table[1]
    assert "**Not run yet**" in page and "`gru-copy`" in page
    assert (tmp_path / "ablation-valid-ppl.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_row_resumes(ablation, tmp_path: Path) -> None:
    args = ablation.parse_args(["run", "--runs", str(tmp_path)])
    row = ablation.ROWS[1]
    assert "--resume" not in ablation.train_command(row, args, resume=False)
    assert ablation.train_command(row, args, resume=True)[-1] == "--resume"


def test_second_seed_row_follows_the_best(ablation, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    assert ablation.best_row(results) is None  # not every row has run
    for index, row in enumerate(ablation.ROWS):
        bleu = 40.0 + (5.0 if row.name == "gru-copy" else index * 0.1)
        record = {"row": row.name, "test": {"bleu_multi": bleu}}
        (results / f"{row.name}.json").write_text(json.dumps(record))
    rows = ablation.selected_rows("", results)
    assert rows[-1].name == ablation.SECOND_SEED_ROW and rows[-1].reference == "gru-copy"
    assert rows[-1].overrides == ("model.copy.enabled=true", "train.seed=4321")


def test_unknown_row_is_refused(ablation, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown row"):
        ablation.selected_rows("gru,nope", tmp_path)


def test_report_without_results_fails(ablation, tmp_path: Path, capsys) -> None:
    assert ablation.main(["report", "--results", str(tmp_path / "none")]) == 1
    assert "no results" in capsys.readouterr().err
