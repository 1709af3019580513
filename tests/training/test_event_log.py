"""TensorBoard event log: metrics.jsonl as scalars, resume without repeated steps, the switch."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from nmt import checkpoint as ckpt
from nmt.training.event_log import EventLog, scalar_tags
from nmt.training.progress import Progress
from nmt.training.trainer import train
from tests.training.test_run_dir import run_directory
from tests.training.test_trainer import small_config

TRAIN_TAGS = {"train/loss", "train/ppl", "train/lr", "train/tokens_per_s", "train/epoch"}
TRAIN_TAGS |= {"train/seconds", "train/grad_norm_mean", "train/grad_norm_max"}
VALID_TAGS = {"valid/loss", "valid/ppl", "valid/bleu", "valid/chrf"}


def event_accumulator(log_dir: Path) -> EventAccumulator:
    """Every event under `log_dir`, read as TensorBoard reads it (restarts purged)."""
    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def logged_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value), ...] in the order TensorBoard shows them."""
    accumulator = event_accumulator(log_dir)
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def metrics_by_tag(metrics: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value), ...] from metrics.jsonl.

    Within one process a tag's first value at a step is kept (the log record's
    `train_seconds`, not the validation record's); a later process (a resume) replaces it.
    """
    latest: dict[str, dict[int, float]] = {}
    seen: set[tuple[str, int]] = set()  # (tag, step) pairs of the current process
    previous_step = -1
    for line in metrics.read_text().splitlines():
        record = json.loads(line)
        if record["step"] < previous_step:  # a resumed process starts logging again
            seen.clear()
        previous_step = record["step"]
        for tag, value in scalar_tags(record).items():
            if (tag, record["step"]) not in seen:
                seen.add((tag, record["step"]))
                latest.setdefault(tag, {})[record["step"]] = value
    return {tag: sorted(steps.items()) for tag, steps in latest.items()}


def assert_same_scalars(
    logged: dict[str, list[tuple[int, float]]], expected: dict[str, list[tuple[int, float]]]
) -> None:
    assert logged.keys() == expected.keys()
    for tag, points in expected.items():
        assert [step for step, _ in logged[tag]] == [step for step, _ in points], tag
        for (step, got), (_, want) in zip(logged[tag], points, strict=True):
            assert got == pytest.approx(want, rel=1e-6, abs=1e-6), (tag, step)


def test_scalar_tags_group_fields_by_train_and_valid() -> None:
    record = {"step": 7, "epoch": 1, "lr": 1e-3, "train_loss": 2.5, "grad_norm": 0.75}
    record |= {"valid_bleu": 12.0, "note": "text", "flag": True, "missing": None}
    assert scalar_tags(record) == {
        "train/epoch": 1.0,
        "train/lr": 1e-3,
        "train/loss": 2.5,
        "train/grad_norm": 0.75,
        "valid/bleu": 12.0,
    }


def test_a_run_logs_what_metrics_jsonl_records(prepared_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(small_config(prepared_dir), prepared_dir, run, progress_bar=False)

    logged = logged_scalars(run / "tensorboard")
    assert logged.keys() == TRAIN_TAGS | VALID_TAGS
    assert [step for step, _ in logged["train/loss"]] == [2, 4, 6, 8]  # log_every=2
    assert [step for step, _ in logged["valid/bleu"]] == [4, 8]  # valid_every=4
    assert_same_scalars(logged, metrics_by_tag(run / "metrics.jsonl"))

    accumulator = event_accumulator(run / "tensorboard")
    assert "config/text_summary" in accumulator.Tags()["tensors"]
    config_text = accumulator.Tensors("config/text_summary")[0].tensor_proto.string_val[0]
    assert b"hidden_dim: 32" in config_text
    hparams = accumulator.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["model.hidden_dim"].number_value == 32
    assert start.session_start_info.hparams["model.rnn_type"].string_value


def test_a_resume_after_a_crash_appends_without_repeating_steps(
    prepared_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = small_config(prepared_dir)
    train(config, prepared_dir, run, progress_bar=False)
    # a crash after step 8 was logged but before its bundle was written: back to step 4
    step_4 = run / "checkpoints" / "step-0000004"
    for link in (run / "last", run / "best"):
        ckpt.point_link(link, step_4)
    ckpt.remove_bundle(run / "checkpoints" / "step-0000008")

    train(config, prepared_dir, run, resume=True, progress_bar=False)  # replays steps 5-8

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train_loss" in r] == [2, 4, 6, 8, 6, 8]
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    logged = logged_scalars(run / "tensorboard")
    assert [step for step, _ in logged["train/loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in logged["valid/bleu"]] == [4, 8]
    assert_same_scalars(logged, metrics_by_tag(run / "metrics.jsonl"))


def test_the_switch_off_writes_no_event_log(prepared_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = small_config(prepared_dir, "train.max_steps=2", "train.tensorboard=false")
    train(config, prepared_dir, run, progress_bar=False)
    assert (run / "metrics.jsonl").stat().st_size > 0
    assert not (run / "tensorboard").exists()


def test_without_the_tensorboard_extra_training_says_nothing_and_goes_on(
    prepared_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import -> ImportError
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        result = train(
            small_config(prepared_dir, "train.max_steps=2"), prepared_dir, run, progress_bar=False
        )
    assert result.step == 2 and (run / "metrics.jsonl").stat().st_size > 0
    assert not [r for r in caplog.records if "TensorBoard" in r.getMessage()]
    assert not (run / "tensorboard").exists()
    assert (run / "curves.png").stat().st_size > 0


def test_saving_a_bundle_flushes_the_event_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Local event files are appended by a writer thread within moments, so whether the data
    # is on disk cannot show a missing flush; a count of the flushes can.
    flushes: list[int] = []
    real_flush = EventLog.flush
    monkeypatch.setattr(EventLog, "flush", lambda log: (flushes.append(1), real_flush(log)))
    directory = run_directory(tmp_path / "run")
    directory.open(resume=False, is_main=True)
    directory.open_event_log(first_step=0)
    progress = Progress(step=3)
    directory.append_metrics({"step": 3, "valid_loss": 1.5, "valid_bleu": 9.0})
    progress.record_validation({"step": 3, "valid_bleu": 9.0})
    directory.save(progress, {"w": torch.zeros(2)}, {"progress": progress.to_json()}, True, True)
    try:  # the writer is still open
        assert flushes == [1]
        assert logged_scalars(directory.tensorboard) == {
            "valid/loss": [(3, 1.5)],
            "valid/bleu": [(3, 9.0)],
        }
    finally:
        directory.close()
