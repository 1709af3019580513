"""Training throughput: source + target non-pad tokens per second, after warm-up.

    python bench/train_throughput.py --config lstm [--data DIR] [--device auto] \
        [--steps 50 | --seconds 60] [--warmup 10] [--compile [--chunk-steps 4]] \
        [--set key=value ...]

Runs real optimizer steps (forward, fused loss, backward, clip, Adam) on the prepared
training batches and prints one JSON object: tokens/s, steps/s, peak memory, device, the
forward path that ran ("plain": Seq2Seq.forward; "compiled": nmt.model.compiled, the decoder
loop compiled per chunk of steps) and the resolved config. Nothing is written to disk.
bench/gpu/run.py reuses `build_setup`, `make_forward` and `run_steps` for its measurements
and for its timed training run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nmt.config import Config, config_to_dict, load_config
from nmt.data.batching import Batch, batch_indices, collate
from nmt.data.dataset import ParallelIds, load_token_ids, manifest_hash
from nmt.data.tokenizer import Tokenizer, load_tokenizers
from nmt.model import Seq2Seq, build_model
from nmt.model.compiled import CompiledTeacherForcing, CompileSettings
from nmt.runtime import cpu_has_native_bf16, resolve_device, seed_everything
from nmt.training.loss import coverage_penalty_loss, sequence_loss
from nmt.training.optim import build_optimizer
from nmt.training.step import mixed_precision

Forward = Callable[..., Any]  # model(src, src_lengths, tgt_in) -> ForwardOutput


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help="preset name or YAML path")
    parser.add_argument("--data", default="data/prepared/fra-eng", help="prepared-data directory")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
    parser.add_argument("--seconds", type=float, default=None, help="time budget instead of steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument(
        "--compile", action="store_true", help="the compiled decoder loop (nmt.model.compiled)"
    )
    parser.add_argument("--chunk-steps", type=int, default=CompileSettings.chunk_steps)
    parser.add_argument(
        "--compile-backend", default="inductor", help='"aot_eager": trace only (cheap on CPU)'
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return parser.parse_args(argv)


@dataclass
class Setup:
    """Everything a run of training steps needs, built once."""

    config: Config
    data_dir: Path
    device: torch.device
    model: Seq2Seq
    optimizer: torch.optim.Optimizer
    ids: ParallelIds
    src_tok: Tokenizer
    tgt_tok: Tokenizer

    @property
    def autocast(self) -> bool:
        """bf16 autocast as the trainer decides it: on CUDA with train.amp, on a CPU with
        native bf16 with train.cpu_amp."""
        if self.device.type == "cuda":
            return self.config.train.amp
        return self.config.train.cpu_amp and cpu_has_native_bf16()

    def batches(self) -> Iterator[Batch]:
        """Collated batches, epoch after epoch, in the trainer's order (seeded shuffles)."""
        cfg, tok = self.config, self.tgt_tok
        for epoch in itertools.count():
            plan = batch_indices(
                self.ids.src_lengths,
                self.ids.tgt_lengths,
                cfg.data.max_tokens,
                shuffle=True,
                seed=cfg.train.seed,
                epoch=epoch,
                max_length=cfg.data.max_length,
            )
            for indices in plan:
                yield collate(self.ids, indices, tok.pad_id, tok.bos_id, tok.eos_id)


def build_setup(
    config_name: str, data_dir: str | Path, overrides: list[str], device: str = "auto"
) -> Setup:
    """Seed, load tokenizers and training ids, build the model and its optimizer."""
    config = load_config(config_name, [*overrides, f"data.dir={data_dir}"])
    resolved = resolve_device(device if device != "auto" else config.train.device)
    seed_everything(config.train.seed)
    src_tok, tgt_tok = load_tokenizers(data_dir)
    model = build_model(
        config.model, src_tok.vocab_size, tgt_tok.vocab_size, tgt_tok.pad_id, src_tok is tgt_tok
    )
    model.to(resolved).train()
    return Setup(
        config=config,
        data_dir=Path(data_dir),
        device=resolved,
        model=model,
        optimizer=build_optimizer(model, config.train),
        ids=load_token_ids(data_dir, "train"),
        src_tok=src_tok,
        tgt_tok=tgt_tok,
    )


def make_forward(
    model: Seq2Seq, compiled: bool, settings: CompileSettings | None = None
) -> tuple[Forward, str]:
    """(forward, description): the plain model, or its compiled teacher-forced path."""
    if not compiled:
        return model, "plain (Seq2Seq.forward, eager)"
    forward = CompiledTeacherForcing(model, settings)
    s = forward.settings
    return forward, (
        f"compiled (nmt.model.compiled: backend {s.backend}, mode {forward.mode}, "
        f"{s.chunk_steps}-step chunks, B to a multiple of {s.batch_multiple}, "
        f"S to a multiple of {s.source_multiple})"
    )


@dataclass
class RunStats:
    """What a run of steps did; the timed part excludes the warm-up steps."""

    steps: int = 0  # timed optimizer steps
    seconds: float = 0.0  # timed wall time
    src_tokens: int = 0
    tgt_tokens: int = 0
    sentences: int = 0
    warmup_steps: int = 0
    warmup_seconds: float = 0.0  # compilation included
    warmup_tokens: int = 0  # source + target
    first_step_seconds: float = 0.0
    last_loss: float = float("nan")
    losses: list[float] = field(default_factory=list)  # every 50th step's loss

    @property
    def tokens_per_second(self) -> float:
        """Source + target non-pad tokens per second over the timed steps."""
        return (self.src_tokens + self.tgt_tokens) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        seconds = max(self.seconds, 1e-9)
        return {
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens_per_second, 1),
            "src_tokens_per_second": round(self.src_tokens / seconds, 1),
            "tgt_tokens_per_second": round(self.tgt_tokens / seconds, 1),
            "steps_per_second": round(self.steps / seconds, 3),
            "sentences_per_batch": round(self.sentences / max(self.steps, 1), 1),
            "warmup_steps": self.warmup_steps,
            "warmup_seconds": round(self.warmup_seconds, 3),
            "first_step_seconds": round(self.first_step_seconds, 3),
            "last_loss": round(self.last_loss, 4),
        }


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(setup: Setup, forward: Forward, batch: Batch) -> torch.Tensor:
    """Forward, fused label-smoothed loss (+ coverage), backward, clip, Adam; the loss."""
    cfg = setup.config
    with mixed_precision(setup.device, setup.autocast, setup.autocast):
        out = forward(batch.src, batch.src_lengths, batch.tgt_in)
        loss = sequence_loss(
            out.scores, batch.tgt_out, setup.tgt_tok.pad_id, cfg.train.label_smoothing
        ).loss
        if out.coverage_loss is not None:
            loss = loss + cfg.model.coverage.loss_weight * coverage_penalty_loss(
                out.coverage_loss, batch.tgt_mask
            )
    loss.backward()
    torch.nn.utils.clip_grad_norm_(setup.model.parameters(), cfg.train.clip_norm)
    setup.optimizer.step()
    setup.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def _to_device(batch: Batch, device: torch.device) -> Batch:
    """Pinned host memory and an asynchronous copy, so the copy overlaps GPU work."""
    if device.type != "cuda":
        return batch
    pinned = Batch(
        *(t.pin_memory() for t in (batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)),
        indices=batch.indices,
        n_src_tokens=batch.n_src_tokens,
        n_tgt_tokens=batch.n_tgt_tokens,
        pad_id=batch.pad_id,
    )
    return pinned.to(device, non_blocking=True)


def run_steps(
    setup: Setup,
    forward: Forward,
    batches: Iterator[Batch],
    warmup: int = 0,
    steps: int | None = None,
    seconds: float | None = None,
    before_step: Callable[[int, float], None] | None = None,
    stats: RunStats | None = None,
    min_steps: int = 0,
) -> RunStats:
    """`warmup` untimed steps, then timed steps until `steps` or `seconds` (whichever first),
    but at least `min_steps` of them (a dry run on a busy machine, whose first compiled step
    can outlast `seconds`, still has several to measure).

    before_step(step, elapsed_fraction) runs before each timed step (e.g. to set the
    learning rate); elapsed_fraction is the share of `seconds` used (0 without seconds).
    `stats`, if given, is filled in place: when a step raises, it still holds what the
    steps before it did (steps, tokens, timed seconds).
    """
    if steps is None and seconds is None:
        raise ValueError("give steps, seconds or both")
    stats = RunStats() if stats is None else stats
    started = time.perf_counter()
    for index in range(warmup):
        batch = _to_device(next(batches), setup.device)
        stats.last_loss = float(train_step(setup, forward, batch))
        stats.warmup_tokens += batch.n_src_tokens + batch.n_tgt_tokens
        if index == 0:
            stats.first_step_seconds = time.perf_counter() - started
    _synchronize(setup.device)
    stats.warmup_steps, stats.warmup_seconds = warmup, time.perf_counter() - started
    started = time.perf_counter()
    try:
        limits = (steps, seconds, min_steps)
        _timed_steps(setup, forward, batches, limits, before_step, stats, started)
    finally:
        stats.seconds = time.perf_counter() - started
    return stats


def _timed_steps(
    setup: Setup,
    forward: Forward,
    batches: Iterator[Batch],
    limits: tuple[int | None, float | None, int],
    before_step: Callable[[int, float], None] | None,
    stats: RunStats,
    started: float,
) -> None:
    steps, seconds, min_steps = limits
    next_batch = _to_device(next(batches), setup.device)
    loss = None
    while (steps is None or stats.steps < steps) and (
        seconds is None or stats.steps < min_steps or time.perf_counter() - started < seconds
    ):
        if before_step is not None:
            fraction = (time.perf_counter() - started) / seconds if seconds else 0.0
            before_step(stats.steps, min(fraction, 1.0))
        batch, next_batch = next_batch, _to_device(next(batches), setup.device)
        loss = train_step(setup, forward, batch)
        if stats.steps % 50 == 0:
            stats.losses.append(round(float(loss), 4))
        stats.steps += 1
        stats.src_tokens += batch.n_src_tokens
        stats.tgt_tokens += batch.n_tgt_tokens
        stats.sentences += len(batch)
    _synchronize(setup.device)
    if loss is not None:
        stats.last_loss = float(loss)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated (CUDA) or peak resident set size (CPU), in MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def device_name(device: torch.device) -> str:
    """The GPU's name, or the processor's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run warm-up then timed training steps; return the measurements."""
    setup = build_setup(args.config, args.data, args.set, args.device)
    settings = CompileSettings(chunk_steps=args.chunk_steps, backend=args.compile_backend)
    forward, path = make_forward(setup.model, args.compile, settings)
    print(f"forward path: {path}", file=sys.stderr)
    stats = run_steps(
        setup,
        forward,
        setup.batches(),
        warmup=args.warmup,
        steps=None if args.seconds else args.steps,
        seconds=args.seconds,
    )
    calls = getattr(forward, "calls", None)
    return {
        "benchmark": "train_throughput",
        "config": setup.config.name,
        "device": str(setup.device),
        "device_name": device_name(setup.device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data_manifest_hash": manifest_hash(args.data),
        "parameters": sum(p.numel() for p in setup.model.parameters()),
        "forward_path": path,
        "forward_calls": calls,
        **stats.summary(),
        "peak_memory_mb": round(peak_memory_mb(setup.device), 1),
        "bf16_autocast": setup.autocast,
        "resolved_config": config_to_dict(setup.config),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark result as JSON."""
    args = parse_args(argv)
    if not Path(args.data, "manifest.json").is_file():
        print(f"no prepared data at {args.data}: run `nmt data prepare` first", file=sys.stderr)
        return 1
    print(json.dumps(benchmark(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
