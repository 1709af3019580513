"""RunDirectory: bundle layout, last/best links, pruning, metadata, refusal of a used RUN_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nmt.checkpoint import load_bundle, verify_bundle
from nmt.config import load_config
from nmt.errors import NmtError
from nmt.training.progress import Progress
from nmt.training.run_dir import BundleIdentity, RunDirectory

IDENTITY = BundleIdentity(
    name="tiny",
    src_lang="en",
    tgt_lang="fr",
    seed=1,
    data_manifest_hash="d" * 64,
    data_source_sha256="s" * 64,
    tokenizer_sha256={"src": "t" * 64, "tgt": "t" * 64},
    device="cpu",
)


def run_directory(path: Path) -> RunDirectory:
    config = load_config("tiny", ["train.keep_last=2"])
    return RunDirectory(path, config, IDENTITY, {"spm.model": b"not a real model"})


def save_step(directory: RunDirectory, progress: Progress, bleu: float) -> Path:
    progress.step += 1
    improved = progress.record_validation({"step": progress.step, "valid_bleu": bleu})
    weights = {"w": torch.full((2,), float(progress.step))}
    return directory.save(progress, weights, {"progress": progress.to_json()}, True, improved)


def test_keeps_the_newest_bundles_and_best_and_points_the_links(tmp_path: Path) -> None:
    directory = run_directory(tmp_path / "run")
    directory.open(resume=False, is_main=True)
    progress = Progress()
    for bleu in (5.0, 1.0, 2.0, 3.0):  # step 1 stays best
        save_step(directory, progress, bleu)
    names = sorted(p.name for p in directory.checkpoints.iterdir())
    assert names == ["step-0000001", "step-0000003", "step-0000004"]
    assert directory.last.resolve().name == "step-0000004" and directory.last_step() == 4
    assert directory.best.resolve().name == "step-0000001"
    assert [p.name for p in directory.resume_candidates()] == ["last", *reversed(names)]

    metadata = verify_bundle(directory.last)
    assert metadata["step"] == 4 and metadata["scores"] == {"valid_bleu": 3.0}
    assert metadata["best"] == {"valid_bleu": 5.0, "step": 1}
    assert metadata["data_manifest_hash"] == IDENTITY.data_manifest_hash
    assert torch.equal(load_bundle(directory.best).state_dict["w"], torch.ones(2))


def test_a_used_run_directory_needs_resume(tmp_path: Path) -> None:
    directory = run_directory(tmp_path / "run")
    directory.open(resume=False, is_main=True)
    save_step(directory, Progress(), 1.0)
    with pytest.raises(NmtError, match="--resume"):
        run_directory(tmp_path / "run").open(resume=False, is_main=True)
    run_directory(tmp_path / "run").open(resume=True, is_main=True)


def test_metrics_are_appended_as_json_lines(tmp_path: Path) -> None:
    directory = run_directory(tmp_path / "run")
    directory.open(resume=False, is_main=True)
    directory.append_metrics({"step": 1, "train_loss": 2.5})
    directory.append_metrics({"step": 2, "valid_bleu": 3.0})
    lines = (directory.path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


def test_progress_round_trips_through_json() -> None:
    progress = Progress(step=7, epoch=1, batch_in_epoch=3, train_seconds=1.5)
    assert progress.record_validation({"step": 7, "valid_bleu": 2.0})
    assert not progress.record_validation({"step": 7, "valid_bleu": 2.0})  # equal is no gain
    assert Progress.from_json(progress.to_json()) == progress
    assert progress.validations_without_gain == 1 and progress.best_step == 7
