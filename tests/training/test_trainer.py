"""Training loop: bundles, resume exactness, interruption, divergence, refusal of bad bundles."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nmt.checkpoint import WEIGHTS_FILE, load_training_state, verify_bundle
from nmt.config import Config, load_config
from nmt.data.dataset import load_token_ids, source_word_counts
from nmt.errors import CheckpointError, DataError, NmtError
from nmt.training import step as step_module
from nmt.training import trainer as trainer_module
from nmt.training.average import add_source_words, add_target_shortlist, export_bundle
from nmt.training.progress import Progress
from nmt.training.setup import TrainingRun
from nmt.training.trainer import train
from nmt.translator import load_translator


def small_config(data_dir: Path, *overrides: str) -> Config:
    """The tiny preset shrunk to test size, with dropout on so RNG state matters."""
    return load_config(
        "tiny",
        [
            f"data.dir={data_dir}",
            "model.embedding_dim=16",
            "model.hidden_dim=32",
            "model.attention_dim=16",
            "model.dropout=0.2",
            "data.max_tokens=300",
            "train.max_steps=8",
            "train.max_time_s=null",
            "train.valid_every=4",
            "train.log_every=2",
            "train.keep_last=2",
            *overrides,
        ],
    )


def weights(bundle: Path) -> dict[str, torch.Tensor]:
    return load_file(str(bundle / WEIGHTS_FILE))


def test_training_writes_complete_bundles(prepared_dir: Path, tmp_path: Path) -> None:
    result = train(small_config(prepared_dir), prepared_dir, tmp_path / "run", progress_bar=False)
    assert result.step == 8 and result.stopped_because == "max_steps"
    for name in ("best", "last"):
        metadata = verify_bundle(tmp_path / "run" / name)
        assert metadata["data_manifest_hash"] and metadata["tokenizer_sha256"]["src"]
    assert json.loads((tmp_path / "run" / "last" / "config.json").read_text())["name"] == "tiny"
    assert len(list((tmp_path / "run" / "checkpoints").iterdir())) <= 2  # keep_last
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert any("valid_bleu" in r for r in records) and any("train_loss" in r for r in records)
    # every record says how long training had run; log records carry gradient-norm statistics
    seconds = [r["train_seconds"] for r in records]
    assert seconds == sorted(seconds) and seconds[-1] > 0
    logged = [r for r in records if "train_loss" in r]
    assert all(0 < r["grad_norm_mean"] <= r["grad_norm_max"] for r in logged)
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0
    translator = load_translator(tmp_path / "run" / "best", device="cpu")
    out = translator.translate(["I see the cat.", ""])
    assert isinstance(out[0].text, str) and out[1].text == ""
    # the bundle records the target side's pieces, and the translator scores only those
    shortlist = verify_bundle(tmp_path / "run" / "best")["target_shortlist"]
    targets = set(np.unique(load_token_ids(prepared_dir, "train").tgt).tolist())
    assert targets <= set(shortlist) and len(shortlist) < translator.tgt_tokenizer.vocab_size
    assert translator.description.output_vocabulary == len(shortlist)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(
    prepared_dir: Path, tmp_path: Path
) -> None:
    train(small_config(prepared_dir), prepared_dir, tmp_path / "straight", progress_bar=False)
    train(
        small_config(prepared_dir, "train.max_steps=4"),
        prepared_dir,
        tmp_path / "resumed",
        progress_bar=False,
    )
    result = train(
        small_config(prepared_dir),
        prepared_dir,
        tmp_path / "resumed",
        resume=True,
        progress_bar=False,
    )
    assert result.step == 8
    straight, resumed = (
        weights(tmp_path / "straight" / "last"),
        weights(tmp_path / "resumed" / "last"),
    )
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


class _UncaughtSignal(Exception):
    """Raised by the test's own handler: a signal that training failed to catch."""


@pytest.fixture
def signals_must_be_caught() -> Iterator[None]:
    """Outside training, SIGINT/SIGTERM raise instead of killing pytest; restored afterwards.

    Training must replace these handlers while it runs and put them back when it ends.
    """

    def uncaught(signum: int, _frame: object) -> None:
        raise _UncaughtSignal(signum)

    previous = {sig: signal.signal(sig, uncaught) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in previous.items():
        assert signal.signal(sig, handler) is uncaught, f"training left signal {sig} changed"


@pytest.mark.usefixtures("signals_must_be_caught")
def test_signal_saves_a_checkpoint_and_stops(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = trainer_module.optimizer_update

    def update_then_signal(run: TrainingRun, progress: Progress) -> torch.Tensor:
        norm = original(run, progress)
        if progress.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return norm

    monkeypatch.setattr(trainer_module, "optimizer_update", update_then_signal)
    result = train(small_config(prepared_dir), prepared_dir, tmp_path / "run", progress_bar=False)
    assert result.stopped_because == "interrupted" and result.step == 3
    progress = json.loads(load_training_state(tmp_path / "run" / "last")["progress"])
    assert progress["step"] == 3


def test_existing_run_needs_resume(prepared_dir: Path, tmp_path: Path) -> None:
    config = small_config(prepared_dir, "train.max_steps=2", "train.valid_every=2")
    train(config, prepared_dir, tmp_path / "run", progress_bar=False)
    with pytest.raises(NmtError, match="--resume"):
        train(config, prepared_dir, tmp_path / "run", progress_bar=False)


def test_repeated_non_finite_loss_stops_with_a_clear_error(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loss = step_module.sequence_loss

    def nan_loss(*args: object, **kwargs: object):  # noqa: ANN202
        result = real_loss(*args, **kwargs)
        return dataclasses.replace(result, loss=result.loss * float("nan"))

    monkeypatch.setattr(step_module, "sequence_loss", nan_loss)
    config = small_config(prepared_dir, "train.max_bad_steps=3")
    with pytest.raises(NmtError, match="diverged"):
        train(config, prepared_dir, tmp_path / "run", progress_bar=False)


@pytest.fixture(scope="module")
def bundle(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("bundle") / "run"
    train(
        small_config(prepared_dir, "train.max_steps=2", "train.valid_every=2"),
        prepared_dir,
        run,
        progress_bar=False,
    )
    return (run / "best").resolve()


def _other_data(prepared_dir: Path, tmp_path: Path) -> Path:
    """A copy of the prepared data that claims another source corpus."""
    other = Path(shutil.copytree(prepared_dir, tmp_path / "other-data"))
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["source"]["sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    return other


def test_a_bundle_without_a_shortlist_gets_the_one_of_its_data(
    bundle: Path, tmp_path: Path, prepared_dir: Path
) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "copy"))
    metadata = json.loads((copy / "metadata.json").read_text())
    recorded = metadata.pop("target_shortlist")
    (copy / "metadata.json").write_text(json.dumps(metadata))
    assert load_translator(copy, device="cpu").description.output_vocabulary == 0
    assert add_target_shortlist(copy, prepared_dir) == len(recorded)
    assert verify_bundle(copy)["target_shortlist"] == recorded
    other = _other_data(prepared_dir, tmp_path)
    with pytest.raises(DataError, match="not the prepared data"):
        add_target_shortlist(copy, other)


def test_bundles_record_the_training_source_word_counts_and_old_ones_get_them(
    bundle: Path, tmp_path: Path, prepared_dir: Path
) -> None:
    counts = source_word_counts(prepared_dir)
    assert verify_bundle(bundle)["source_words"] == counts and counts
    assert load_translator(bundle, device="cpu").source_word_counts == counts
    copy = Path(shutil.copytree(bundle, tmp_path / "copy"))
    metadata = json.loads((copy / "metadata.json").read_text())
    del metadata["source_words"]
    (copy / "metadata.json").write_text(json.dumps(metadata))
    assert load_translator(copy, device="cpu").source_word_counts is None
    assert add_source_words(copy, prepared_dir) == len(counts)
    assert load_translator(copy, device="cpu").source_word_counts == counts
    exported = export_bundle([copy], tmp_path / "exported")
    assert verify_bundle(exported)["source_words"] == counts
    other = _other_data(prepared_dir, tmp_path)
    with pytest.raises(DataError, match="not the prepared data"):
        add_source_words(copy, other)


def test_truncated_weights_are_refused(bundle: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "copy"))
    data = (copy / WEIGHTS_FILE).read_bytes()
    (copy / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_translator(copy, device="cpu")


def test_bit_flipped_weights_are_refused(bundle: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "copy"))
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-5] ^= 0x01
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_translator(copy, device="cpu")


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_translator(tmp_path / "nowhere", device="cpu")


def test_mismatched_tokenizer_is_refused(bundle: Path, tmp_path: Path, prepared_dir: Path) -> None:
    from nmt.data.prepare import PrepareOptions, prepare_data
    from nmt.fileio import sha256_file, write_json_atomic
    from tests.conftest import synthetic_pairs, write_corpus

    other_dir = tmp_path / "other"
    other_dir.mkdir()
    corpus = write_corpus(other_dir / "pairs.txt", synthetic_pairs()[::-1][:200])
    other = prepare_data(
        PrepareOptions(source=str(corpus), out=other_dir / "data", vocab_size=80), progress=False
    ).out_dir
    copy = Path(shutil.copytree(bundle, tmp_path / "copy"))
    shutil.copy(other / "spm.model", copy / "spm.model")
    metadata = json.loads((copy / "metadata.json").read_text())
    metadata["files"]["spm.model"] = sha256_file(copy / "spm.model")
    write_json_atomic(copy / "metadata.json", metadata)
    with pytest.raises(CheckpointError, match="tokenizer"):
        load_translator(copy, device="cpu")


def test_resume_refuses_a_changed_model_or_batch_plan(prepared_dir: Path, tmp_path: Path) -> None:
    config = small_config(prepared_dir, "train.max_steps=2", "train.valid_every=2")
    train(config, prepared_dir, tmp_path / "run", progress_bar=False)
    for change in ("model.hidden_dim=64", "data.max_tokens=500", "train.seed=7"):
        changed = small_config(prepared_dir, "train.max_steps=4", change)
        with pytest.raises(NmtError, match=change.split("=")[0]):
            train(changed, prepared_dir, tmp_path / "run", resume=True, progress_bar=False)
    resumed = small_config(prepared_dir, "train.max_steps=4", "train.learning_rate=0.0005")
    assert train(resumed, prepared_dir, tmp_path / "run", resume=True, progress_bar=False).step == 4


@pytest.mark.usefixtures("signals_must_be_caught")
def test_signal_during_validation_keeps_the_validated_bundle(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = trainer_module.validate

    def signal_then_validate(*args: Any, **kwargs: Any) -> dict[str, float]:
        os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "validate", signal_then_validate)
    result = train(small_config(prepared_dir), prepared_dir, tmp_path / "run", progress_bar=False)
    assert result.stopped_because == "interrupted" and result.step == 4
    scores = json.loads((tmp_path / "run" / "best" / "metadata.json").read_text())["scores"]
    assert "valid_bleu" in scores


def test_a_log_gets_one_line_per_interval_not_a_bar(
    prepared_dir: Path, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    config = small_config(prepared_dir, "train.max_steps=6", "train.log_every=2")
    with caplog.at_level(logging.INFO, logger="nmt.training.trainer"):
        train(config, prepared_dir, tmp_path / "run", progress_bar=True)  # stderr: not a tty
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2", "4", "6"]
    assert all("tok/s" in line and "loss" in line for line in lines)
    assert "\r" not in capsys.readouterr().err


def test_a_terminal_gets_the_bar_and_no_lines(
    prepared_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    config = small_config(prepared_dir, "train.max_steps=4", "train.log_every=2")
    with caplog.at_level(logging.INFO, logger="nmt.training.trainer"):
        train(config, prepared_dir, tmp_path / "run", progress_bar=True)
    assert not [r for r in caplog.records if r.getMessage().startswith("step ")]


def test_the_compiled_loop_trains_like_the_plain_one(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train.compile swaps in nmt.model.compiled; without dropout the losses match."""
    from nmt.model import compiled

    calls: list[str] = []
    original = compiled.CompiledTeacherForcing.__call__

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(self, *args, **kwargs)
        calls.append(self.path)
        return out

    monkeypatch.setattr(compiled.CompiledTeacherForcing, "__call__", spy)
    no_dropout = ("model.dropout=0", "model.embedding_dropout=0", "train.max_steps=6")
    losses = {}
    for name, extra in (("plain", ()), ("compiled", ("train.compile=true",))):
        overrides = (*no_dropout, "train.compile_backend=aot_eager", *extra)
        train(small_config(prepared_dir, *overrides), prepared_dir, tmp_path / name, False)
        records = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        losses[name] = [json.loads(r)["train_loss"] for r in records if "train_loss" in r]
    assert calls and set(calls) == {"compiled"}  # every training step took the compiled path
    assert losses["compiled"] == pytest.approx(losses["plain"], rel=1e-4)
