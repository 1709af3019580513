"""Single-sentence translation latency in process, printed as JSON.

    python bench/latency.py [--checkpoint models/en-fr-base] [--beams 1,5] [--repeats 200]
        [--device cpu] [--threads N]

Each repeat translates one short everyday sentence (cycling through a fixed list) with
`Translator.translate([sentence])`, the call the service makes for a lone request, and
times it with `time.perf_counter`. Model loading and 10 warm-up calls per beam size are
excluded. Reports p50/p95/p99 and the mean in milliseconds. Through the service (HTTP,
batcher included), measure with `bench/serve_load.py --concurrency 1`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from nmt.translator import load_translator, resolve_checkpoint

SENTENCES = (
    "Where is the station?",
    "I love you.",
    "Tom is my friend.",
    "Do you speak French?",
    "How much does this cost?",
    "It's raining today.",
    "The cat is sleeping on the sofa.",
    "Can you help me, please?",
)
WARMUP_CALLS = 10


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(checkpoint: Path, beam: int, repeats: int, device: str) -> dict[str, object]:
    """Latency statistics (ms) of `repeats` one-sentence calls at beam size `beam`."""
    translator = load_translator(checkpoint, device)
    options = dataclasses.replace(translator.default_options, beam_size=beam, n_best=1)
    for index in range(WARMUP_CALLS):
        translator.translate([SENTENCES[index % len(SENTENCES)]], options)
    latencies = []
    for index in range(repeats):
        start = time.perf_counter()
        translator.translate([SENTENCES[index % len(SENTENCES)]], options)
        latencies.append((time.perf_counter() - start) * 1000.0)
    return {
        "beam": beam,
        "calls": repeats,
        "latency_ms": {
            **{f"p{q}": round(percentile(latencies, q), 2) for q in (50, 95, 99)},
            "mean": round(statistics.fmean(latencies), 2),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="bundle (default: the shipped model)")
    parser.add_argument("--beams", default="1,5", help="comma-separated beam sizes")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per beam size")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoint = resolve_checkpoint(args.checkpoint)
    cells = [
        measure(checkpoint, int(beam), args.repeats, args.device) for beam in args.beams.split(",")
    ]
    report = {
        "benchmark": "latency",
        "checkpoint": str(checkpoint),
        "device": args.device,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "sentences": list(SENTENCES),
        "cells": cells,
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
