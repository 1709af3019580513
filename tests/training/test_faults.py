"""Training under faults: kill -9 and resume, corrupt bundles on disk, a full disk."""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nmt import checkpoint as ckpt
from nmt import cli
from nmt.checkpoint import WEIGHTS_FILE, verify_bundle
from nmt.errors import CheckpointError, NmtError
from nmt.training.trainer import train
from nmt.translator import load_translator
from tests.training.test_trainer import small_config

REPO = Path(__file__).resolve().parents[2]
# Test-size settings shared by the subprocess runs and the in-process reference run.
KILL_SETTINGS = [
    "model.embedding_dim=16",
    "model.hidden_dim=32",
    "model.attention_dim=16",
    "model.dropout=0.2",
    "data.max_tokens=300",
    "train.max_steps=30",
    "train.max_time_s=null",
    "train.valid_every=2",
    "train.log_every=2",
    "train.keep_last=2",
]
# What a process killed at any instant may leave behind: staging/retired bundles, link temps.
LEFTOVER = re.compile(r"^\.(step-\d{7}\.(tmp|old)-.+|(last|best)\.tmp-\d+|config\.yaml\..+)$")


def train_command(data: Path, run: Path, resume: bool) -> list[str]:
    """`nmt train` with the kill-test settings, as a subprocess command line."""
    command = [sys.executable, "-m", "nmt", "train", "--config", "tiny", "--data", str(data)]
    command += ["--out", str(run), "--quiet"]
    for setting in KILL_SETTINGS:
        command += ["--set", setting]
    return command + (["--resume"] if resume else [])


def last_step(run: Path) -> int:
    """The step RUN_DIR/last points at, -1 when there is none yet."""
    link = run / "last"
    try:
        return int(os.readlink(link).rsplit("-", 1)[-1])
    except (FileNotFoundError, OSError, ValueError):
        return -1


def kill_after(
    process: subprocess.Popen[bytes], run: Path, target: int, delay: float, timeout: float = 60.0
) -> None:
    """Wait until RUN_DIR/last reaches `target`, then `delay` seconds more, then SIGKILL."""
    deadline = time.monotonic() + timeout
    while last_step(run) < target:
        assert process.poll() is None, f"training ended (code {process.returncode}) before the kill"
        assert time.monotonic() < deadline, "no checkpoint appeared in time"
        time.sleep(0.002)
    time.sleep(delay)
    assert process.poll() is None, "training finished before the random kill moment"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def bundles_and_leftovers(run: Path) -> tuple[list[Path], list[str]]:
    """Step bundles under RUN_DIR/checkpoints, and dot-named leftovers anywhere in the run."""
    checkpoints = run / "checkpoints"
    bundles = sorted(p for p in checkpoints.iterdir() if not p.name.startswith("."))
    leftovers = [p.name for d in (run, checkpoints) for p in d.iterdir() if p.name[0] == "."]
    return bundles, leftovers


def assert_no_half_written_bundle(run: Path, strict: bool = True) -> list[str]:
    """Every bundle that training may still use verifies; return the (allowed) leftovers.

    With strict=False a bundle that pruning was deleting at the kill may be incomplete
    (it is never used again and the next prune removes it); it is reported as a leftover.
    """
    bundles, leftovers = bundles_and_leftovers(run)
    assert bundles, "no checkpoint at all"
    unexpected = [name for name in leftovers if not LEFTOVER.match(name)]
    assert not unexpected, unexpected
    links = {(run / name).resolve() for name in ("last", "best")}
    assert (run / "last").resolve() in {b.resolve() for b in bundles}
    for bundle in bundles:
        try:
            verify_bundle(bundle)
        except CheckpointError:
            if strict or bundle in bundles[-2:] or bundle.resolve() in links:
                raise
            leftovers.append(f"{bundle.name} (half-deleted by pruning)")
    return leftovers


def test_kill_9_then_resume_matches_an_uninterrupted_run(
    prepared_dir: Path, tmp_path: Path
) -> None:
    rng = random.Random(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = tmp_path / "killed"
    seen_leftovers: list[str] = []
    for round_ in range(3):
        start = last_step(run)
        process = subprocess.Popen(
            train_command(prepared_dir, run, resume=round_ > 0),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            kill_after(process, run, max(start, 0) + 2 * rng.randint(1, 3), rng.uniform(0, 0.08))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert last_step(run) >= start  # a kill never moves `last` backwards
        seen_leftovers += assert_no_half_written_bundle(run, strict=False)

    finished = subprocess.run(
        train_command(prepared_dir, run, resume=True),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert "stopped after 30 steps (max_steps)" in finished.stderr
    assert_no_half_written_bundle(run)
    if seen_leftovers:  # leftovers are harmless: resume above worked with them present
        print(f"leftovers after kill -9: {sorted(set(seen_leftovers))}")

    torch.manual_seed(0)
    config = small_config(prepared_dir, *KILL_SETTINGS)
    straight = train(config, prepared_dir, tmp_path / "straight", progress_bar=False)
    assert straight.step == 30
    expected = load_file(str(tmp_path / "straight" / "last" / WEIGHTS_FILE))
    actual = load_file(str(run / "last" / WEIGHTS_FILE))
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


class _Crash(BaseException):
    """Stands for kill -9 at one instant: nothing after it runs."""


def test_crash_while_pruning_leaves_no_half_deleted_bundle(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    doomed: list[Path] = []

    def crash_midway(path: str | Path, ignore_errors: bool = False) -> None:
        path = Path(path)
        if path.name.startswith("step-") or (
            path.name.startswith(".step-") and ".old-" in path.name
        ):
            doomed.append(path)
            (path / WEIGHTS_FILE).unlink()  # the first file is gone, then the process dies
            raise _Crash
        shutil.rmtree(path, ignore_errors=ignore_errors)

    fake_shutil = types.SimpleNamespace(**{**vars(shutil), "rmtree": crash_midway})
    monkeypatch.setattr(ckpt, "shutil", fake_shutil)
    run = tmp_path / "run"
    config = small_config(prepared_dir, "train.max_steps=12", "train.valid_every=2")
    with pytest.raises(_Crash):  # keep_last=2: some step-* bundle is pruned
        train(config, prepared_dir, run, progress_bar=False)
    assert doomed, "pruning never ran"
    assert_no_half_written_bundle(run, strict=True)


# ------------------------------------------------------------------ corrupt bundles on disk
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, flip_bit], ids=["truncated", "bit-flipped"])
@pytest.mark.parametrize("victim", [WEIGHTS_FILE, ckpt.TRAINING_STATE_FILE])
def test_corrupt_checkpoint_is_refused_and_resume_falls_back(
    prepared_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    victim: str,
) -> None:
    torch.manual_seed(0)
    run = tmp_path / "run"
    overrides = ("train.max_steps=4", "train.valid_every=2")
    train(small_config(prepared_dir, *overrides), prepared_dir, run, progress_bar=False)
    newest = (run / "last").resolve()
    assert newest.name == "step-0000004"
    damage(newest / victim)

    with pytest.raises(CheckpointError, match="corrupt"):
        verify_bundle(run / "last")
    if victim == WEIGHTS_FILE:
        with pytest.raises(CheckpointError, match="truncated or changed"):
            load_translator(run / "last", device="cpu")
        capsys.readouterr()
        code = cli.main(["translate", "--checkpoint", str(run / "last"), "--input", os.devnull])
        err = capsys.readouterr().err
        assert code == 1
        assert err.count("\n") == 1 and err.startswith("nmt: error: ") and "corrupt" in err
        assert "Traceback" not in err

    config = small_config(prepared_dir, "train.max_steps=6", "train.valid_every=2")
    result = train(config, prepared_dir, run, resume=True, progress_bar=False)
    assert result.step == 6 and result.stopped_because == "max_steps"
    for bundle in (run / "checkpoints").glob("step-*"):
        verify_bundle(bundle)  # the corrupt step-4 was rewritten by the resumed run
    assert verify_bundle(run / "last")["step"] == 6


def test_resume_with_every_checkpoint_corrupt_is_a_clear_error(
    prepared_dir: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    run = tmp_path / "run"
    config = small_config(prepared_dir, "train.max_steps=4", "train.valid_every=2")
    train(config, prepared_dir, run, progress_bar=False)
    for bundle in (run / "checkpoints").glob("step-*"):
        truncate(bundle / WEIGHTS_FILE)
    with pytest.raises(NmtError, match="no intact checkpoint"):
        train(config, prepared_dir, run, resume=True, progress_bar=False)


# ------------------------------------------------------------------ full disk
@pytest.mark.parametrize("writer", ["save_file", "torch.save"])
def test_full_disk_keeps_previous_checkpoints_intact(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    torch.manual_seed(0)
    owner, name = (ckpt, "save_file") if writer == "save_file" else (ckpt.torch, "save")
    real = getattr(owner, name)
    calls = []

    def fills_the_disk(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:  # the first bundle is written; the disk is full afterwards
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, fills_the_disk)
    run = tmp_path / "run"
    config = small_config(prepared_dir, "train.max_steps=6", "train.valid_every=2")
    with pytest.raises(NmtError, match="cannot write checkpoint") as raised:
        train(config, prepared_dir, run, progress_bar=False)
    message = str(raised.value)
    assert "No space left on device" in message and "previous checkpoints are intact" in message
    assert "step-0000004" in message

    assert verify_bundle(run / "last")["step"] == 2
    assert verify_bundle(run / "best")["step"] == 2
    bundles, leftovers = bundles_and_leftovers(run)
    assert [b.name for b in bundles] == ["step-0000002"]
    assert leftovers == [], "a staging directory was left behind"

    monkeypatch.setattr(owner, name, real)  # space freed: the run resumes from step 2
    result = train(config, prepared_dir, run, resume=True, progress_bar=False)
    assert result.step == 6 and verify_bundle(run / "last")["step"] == 6
    shutil.rmtree(run)
