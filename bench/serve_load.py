"""Load test of the translation service on loopback, printed as JSON.

    python bench/serve_load.py --checkpoint runs/tiny/best [--requests 64]
        [--concurrency 1,8,32] [--beams 1,5] [--batching on,off] [--max-seconds 20]
    python bench/serve_load.py --url http://127.0.0.1:8000     # an already running server

With --checkpoint, each batching mode gets its own server subprocess
(`nmt serve --checkpoint X --port P`, plus `--max-batch 1` for "off"), started on a free
loopback port and stopped afterwards. Every cell (mode x beam x concurrency) sends at
most --requests single-sentence `POST /v1/translate` requests and stops early after
--max-seconds; it reports requests/s and p50/p95/p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from _server import free_port, wait_ready  # bench/ is on sys.path when run as a script

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SENTENCES = [
    "Hello.",
    "How are you today?",
    "I would like a cup of coffee, please.",
    "The train leaves at eight o'clock.",
    "She has been living in Paris for three years.",
    "We should go to the beach tomorrow if it does not rain.",
    "Can you tell me where the nearest station is?",
    "Tom didn't want to talk about what happened yesterday.",
    "This book is much more interesting than the one I read last week.",
    "I'm tired.",
    "They bought a new house near the river.",
    "Please close the window before you leave.",
]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def run_cell(
    url: str, beam: int, concurrency: int, requests: int, max_seconds: float
) -> dict[str, Any]:
    """Send up to `requests` requests, `concurrency` at a time; latency stats in ms."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + max_seconds
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for index in counter:
            if time.perf_counter() > deadline:
                return
            body = {"text": SENTENCES[index % len(SENTENCES)], "beam_size": beam}
            start = time.perf_counter()
            response = await client.post("/v1/translate", json=body)
            latencies.append((time.perf_counter() - start) * 1000.0)
            errors += response.status_code != 200

    async with httpx.AsyncClient(base_url=url, timeout=120.0, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "beam": beam,
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 2) if elapsed else None,
        "latency_ms": {f"p{q}": round(percentile(latencies, q), 2) for q in (50, 95, 99)},
    }


@contextmanager
def serve(checkpoint: Path, batching: bool, device: str) -> Iterator[str]:
    """`nmt serve` in a subprocess on a free loopback port; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "nmt", "serve", "--checkpoint", str(checkpoint)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", device]
    if not batching:
        command += ["--max-batch", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, timeout=180.0)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def bench_server(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """All beam x concurrency cells against one server."""
    cells = []
    for beam in args.beams:
        asyncio.run(run_cell(url, beam, 1, 2, args.max_seconds))  # warm this beam size
        for concurrency in args.concurrency:
            cell = asyncio.run(run_cell(url, beam, concurrency, args.requests, args.max_seconds))
            cells.append(cell)
    return cells


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--checkpoint", type=Path, help="bundle to serve (starts servers)")
    target.add_argument("--url", help="a running server on loopback")
    parser.add_argument("--requests", type=int, default=64, help="max requests per cell")
    parser.add_argument("--concurrency", type=ints, default=[1, 8, 32])
    parser.add_argument("--beams", type=ints, default=[1, 5])
    parser.add_argument("--batching", default="on,off", help="modes to start (with --checkpoint)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time limit per cell")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args(argv)
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at a loopback address (127.0.0.1, localhost, ::1)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one JSON document."""
    args = parse_args(argv)
    report: dict[str, Any] = {"requests_per_cell": args.requests, "max_seconds": args.max_seconds}
    if args.url:
        wait_ready(args.url.rstrip("/"), None, timeout=30.0)
        report["runs"] = [{"batching": "unknown", "url": args.url}]
        report["runs"][0]["cells"] = bench_server(args.url.rstrip("/"), args)
    else:
        report["checkpoint"] = str(args.checkpoint)
        report["runs"] = []
        for mode in [m.strip() for m in args.batching.split(",") if m.strip()]:
            with serve(args.checkpoint, mode == "on", args.device) as url:
                cells = bench_server(url, args)
            report["runs"].append({"batching": mode, "cells": cells})
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
