"""train.cpu_amp: bf16 autocast in CPU training only where the CPU has native bf16."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import nmt.training.setup as run_setup
from nmt.checkpoint import WEIGHTS_FILE
from nmt.runtime import cpu_has_native_bf16
from nmt.training.setup import _cpu_bf16
from nmt.training.step import mixed_precision
from nmt.training.trainer import train
from tests.training.test_trainer import small_config

ZEN5 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
ICELAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
SAPPHIRE = "flags\t\t: avx512f amx_tile amx_bf16 amx_int8\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(ZEN5, True), (SAPPHIRE, True), (ICELAKE, False), ("", False)]
)
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo: str, native: bool) -> None:
    assert cpu_has_native_bf16(cpuinfo) is native


def test_mixed_precision_on_the_cpu_only_when_asked() -> None:
    cpu = torch.device("cpu")
    with mixed_precision(cpu, amp=True, cpu_bf16=True):
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 3) @ torch.ones(3, 2)).dtype == torch.bfloat16
    with mixed_precision(cpu, amp=True):  # `amp` alone is the CUDA switch
        assert not torch.is_autocast_enabled("cpu")


def test_the_run_decides_once(monkeypatch: pytest.MonkeyPatch, caplog, tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    asked = small_config(tmp_path, "train.cpu_amp=true")
    monkeypatch.setattr(run_setup, "cpu_has_native_bf16", lambda: True)
    assert _cpu_bf16(asked, cpu) and not _cpu_bf16(small_config(tmp_path), cpu)
    monkeypatch.setattr(run_setup, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level(logging.WARNING):
        assert not _cpu_bf16(asked, cpu)
    assert "no native bf16" in caplog.text


def test_training_under_cpu_bf16_keeps_fp32_weights(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_setup, "cpu_has_native_bf16", lambda: True)
    seen: list[bool] = []
    original = run_setup.build_model

    def build_and_watch(*args, **kwargs):  # type: ignore[no-untyped-def]
        model = original(*args, **kwargs)
        model.generator.register_forward_hook(
            lambda *_: seen.append(torch.is_autocast_enabled("cpu"))
        )
        return model

    monkeypatch.setattr(run_setup, "build_model", build_and_watch)
    config = small_config(prepared_dir, "train.cpu_amp=true", "train.max_steps=4")
    result = train(config, prepared_dir, tmp_path / "run", progress_bar=False)
    assert result.step == 4
    assert True in seen  # the training steps ran under autocast ...
    assert False in seen  # ... and validation did not
    weights = load_file(str(tmp_path / "run" / "last" / WEIGHTS_FILE))
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
