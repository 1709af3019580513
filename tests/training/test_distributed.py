"""Data-parallel training: the rank schedule, and 2 gloo processes == 1 process on CPU."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from nmt.training.distributed import rank_schedule
from nmt.training.trainer import train
from tests.training.test_trainer import small_config

DDP_SETTINGS = ("model.dropout=0.0", "model.embedding_dropout=0.0", "train.valid_every=1000")


@pytest.mark.parametrize(
    ("batches", "start", "world"), [(10, 0, 2), (11, 0, 2), (7, 3, 3), (5, 0, 8)]
)
def test_rank_schedule_covers_every_batch_exactly_once(
    batches: int, start: int, world: int
) -> None:
    schedules = [list(rank_schedule(batches, start, rank, world)) for rank in range(world)]
    real = sorted(index for steps in schedules for index, _, weight in steps if weight > 0)
    assert real == list(range(start, batches))
    assert (
        len({len(steps) for steps in schedules}) == 1
    )  # every rank takes the same number of steps
    positions = [[after for _, after, _ in steps] for steps in schedules]
    assert all(p == positions[0] for p in positions) and positions[0][-1] == batches


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, data_dir: str, run_dir: str, steps: int = 6) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    torch.set_num_threads(1)
    config = small_config(Path(data_dir), *DDP_SETTINGS, f"train.max_steps={steps}")
    train(config, Path(data_dir), Path(run_dir), progress_bar=False)


def test_two_gloo_processes_match_one_process_on_the_same_global_batches(
    prepared_dir: Path, tmp_path: Path
) -> None:
    single = small_config(
        prepared_dir, *DDP_SETTINGS, "train.max_steps=6", "train.accumulation_steps=2"
    )
    train(single, prepared_dir, tmp_path / "single", progress_bar=False)
    mp.spawn(_worker, args=(2, _free_port(), str(prepared_dir), str(tmp_path / "ddp")), nprocs=2)
    # rank 0 alone writes the TensorBoard log: one event file, not one per process
    assert len(list((tmp_path / "ddp" / "tensorboard").glob("events.out.tfevents.*"))) == 1
    one = load_file(str(tmp_path / "single" / "last" / "model.safetensors"))
    two = load_file(str(tmp_path / "ddp" / "last" / "model.safetensors"))
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=2e-5, rtol=1e-4, msg=name)


def test_a_distributed_run_resumes_on_one_process(prepared_dir: Path, tmp_path: Path) -> None:
    single = small_config(
        prepared_dir, *DDP_SETTINGS, "train.max_steps=6", "train.accumulation_steps=2"
    )
    train(single, prepared_dir, tmp_path / "single", progress_bar=False)
    mp.spawn(_worker, args=(2, _free_port(), str(prepared_dir), str(tmp_path / "ddp"), 3), nprocs=2)
    result = train(single, prepared_dir, tmp_path / "ddp", resume=True, progress_bar=False)
    assert result.step == 6
    one = load_file(str(tmp_path / "single" / "last" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "ddp" / "last" / "model.safetensors"))
    for name in one:
        torch.testing.assert_close(resumed[name], one[name], atol=2e-5, rtol=1e-4, msg=name)
