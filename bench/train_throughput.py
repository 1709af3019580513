"""Training throughput: source + target non-pad tokens per second, after warm-up.

    python bench/train_throughput.py --config lstm [--data DIR] [--device auto] \
        [--steps 50] [--warmup 10] [--set key=value ...]

Runs real optimizer steps (forward, fused loss, backward, clip, Adam) on the prepared
training batches and prints one JSON object: tokens/s, steps/s, peak memory, device and
the resolved config. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from nmt.config import config_to_dict, load_config
from nmt.data.batching import batch_indices, collate
from nmt.data.dataset import load_token_ids, manifest_hash
from nmt.data.tokenizer import load_tokenizers
from nmt.model import build_model
from nmt.runtime import resolve_device, seed_everything
from nmt.training.loss import coverage_penalty_loss, sequence_loss
from nmt.training.optim import build_optimizer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help="preset name or YAML path")
    parser.add_argument("--data", default="data/prepared/fra-eng", help="prepared-data directory")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return parser.parse_args(argv)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run warm-up then timed training steps; return the measurements."""
    config = load_config(args.config, [*args.set, f"data.dir={args.data}"])
    device = resolve_device(args.device if args.device != "auto" else config.train.device)
    seed_everything(config.train.seed)
    src_tok, tgt_tok = load_tokenizers(args.data)
    ids = load_token_ids(args.data, "train")
    model = build_model(
        config.model, src_tok.vocab_size, tgt_tok.vocab_size, tgt_tok.pad_id, src_tok is tgt_tok
    )
    model.to(device).train()
    optimizer = build_optimizer(model, config.train)
    batches = batch_indices(
        ids.src_lengths,
        ids.tgt_lengths,
        config.data.max_tokens,
        shuffle=True,
        seed=config.train.seed,
        epoch=0,
        max_length=config.data.max_length,
    )
    use_amp = device.type == "cuda" and config.train.amp
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext()
    tokens = 0
    started = 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started, tokens = time.perf_counter(), 0
        batch = collate(
            ids, batches[step % len(batches)], tgt_tok.pad_id, tgt_tok.bos_id, tgt_tok.eos_id
        ).to(device)
        with autocast:
            out = model(batch.src, batch.src_lengths, batch.tgt_in)
            loss = sequence_loss(
                out.scores, batch.tgt_out, tgt_tok.pad_id, config.train.label_smoothing
            ).loss
            if out.coverage_loss is not None:
                loss = loss + coverage_penalty_loss(out.coverage_loss, batch.tgt_mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.clip_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += batch.n_src_tokens + batch.n_tgt_tokens
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "benchmark": "train_throughput",
        "config": config.name,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data_manifest_hash": manifest_hash(args.data),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": args.steps,
        "seconds": round(seconds, 3),
        "tokens_per_second": round(tokens / seconds, 1),
        "steps_per_second": round(args.steps / seconds, 3),
        "peak_memory_mb": round(_peak_memory_mb(device), 1),
        "bf16_autocast": use_amp,
        "resolved_config": config_to_dict(config),
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
