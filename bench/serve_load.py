"""Load test of the translation service on loopback, printed as JSON.

    python bench/serve_load.py --checkpoint runs/tiny/best [--concurrency 1,8,32]
        [--beams 1,5] [--batching on,off] [--rounds 1] [--max-seconds 20]
        [--warmup-seconds 3] [--load-generator wrk|httpx] [--wrk-threads 1]
        [--requests 64] [--server-arg=--quantize --server-arg=int8 ...]
    python bench/serve_load.py --url http://127.0.0.1:8000     # an already running server

With --checkpoint, each batching mode gets its own server subprocess
(`nmt serve --checkpoint X --port P`, plus `--max-batch 1` for "off", plus every
--server-arg in order), started on a free loopback port and stopped afterwards. Every cell
(mode x beam x concurrency) keeps `concurrency` single-sentence `POST /v1/translate`
requests in flight (a closed loop over the same SENTENCES) and reports requests/s and
p50/p95/p99 latency in milliseconds. Before each beam size's cells the server is warmed
with two requests and then --warmup-seconds of load at the highest concurrency (not
recorded): a fresh server's first seconds are slower (its heap and caches still grow).

--rounds N starts the modes N times in alternation (on, off, on, off, ...), each time a
fresh server, so slow drift of a shared machine reaches both modes alike. With both
modes, "summary" gives for each beam x concurrency the requests/s of every round, their
medians, each round's on/off ratio and the median of those ratios.

Load generators (the report's "load_generator", and "generator" in every cell):
- wrk (the default when `wrk` is on PATH; Debian package `wrk`): `wrk -t<wrk-threads>
  -c<concurrency> -d<max-seconds>s --latency -s bench/wrk_translate.lua`: a compiled event
  loop on --wrk-threads threads (default 1, so at most one core's share), which takes far
  less CPU from the server on a small machine than httpx does. It runs for the whole
  duration (rounded up to whole seconds); --requests does not apply. Errors are socket
  errors plus responses outside 200..299 ("error_kinds" splits them). Its percentiles
  include wrk's coordinated-omission correction, so tails may read higher than httpx's
  raw ones; requests/s are unaffected.
- httpx (Python asyncio in this process): at most --requests requests per cell, stopping
  early after --max-seconds; errors are responses other than 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from _server import free_port, wait_ready  # bench/ is on sys.path when run as a script
from _wrk import run_wrk_cell

GENERATORS = ("httpx", "wrk")
REQUEST_TIMEOUT_S = 120.0  # the httpx client's timeout per request

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

    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
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
        "generator": "httpx",
    }


def serve_command(
    checkpoint: Path, port: int, batching: bool, device: str, server_args: Sequence[str]
) -> list[str]:
    """`nmt serve` on 127.0.0.1:`port` (`--max-batch 1` without batching), then server_args."""
    command = [sys.executable, "-m", "nmt", "serve", "--checkpoint", str(checkpoint)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", device]
    if not batching:
        command += ["--max-batch", "1"]
    return command + list(server_args)


@contextmanager
def serve(
    checkpoint: Path, batching: bool, device: str, server_args: Sequence[str] = ()
) -> Iterator[str]:
    """`nmt serve` in a subprocess on a free loopback port; yields its URL.

    Its stderr goes to a temporary file (a pipe nobody reads could fill and stall the
    server); raises RuntimeError with the end of that log when it does not become ready.
    """
    port = free_port()
    command = serve_command(checkpoint, port, batching, device, server_args)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(url, process, timeout=180.0)
            except RuntimeError as error:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-800:].strip()
                raise RuntimeError(f"{error}; its log ends:\n{tail}") from None
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_cell_with(
    url: str, beam: int, concurrency: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One cell with the chosen generator (args.load_generator)."""
    if args.load_generator == "wrk":
        return run_wrk_cell(url, beam, concurrency, args.max_seconds, args.wrk_threads, SENTENCES)
    return asyncio.run(run_cell(url, beam, concurrency, args.requests, args.max_seconds))


def bench_server(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """All beam x concurrency cells against one server, each beam size warmed first."""
    cells = []
    for beam in args.beams:
        asyncio.run(run_cell(url, beam, 1, 2, args.max_seconds))  # the first calls of this beam
        if args.warmup_seconds > 0:
            warm = argparse.Namespace(**{**vars(args), "max_seconds": args.warmup_seconds})
            run_cell_with(url, beam, max(args.concurrency), warm)
        for concurrency in args.concurrency:
            cells.append(run_cell_with(url, beam, concurrency, args))
    return cells


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per beam x concurrency: requests/s of each round per mode, medians, on/off ratios.

    A run's round is its "round" field (else its place among the runs of its mode); a ratio
    is taken within a round, only where both modes measured the cell. A cell missing from
    either mode altogether is left out.
    """
    rates: dict[tuple[int, int], dict[int, dict[str, float]]] = {}
    seen: dict[str, int] = {}
    for run in runs:
        mode = run["batching"]
        seen[mode] = seen.get(mode, 0) + 1
        round_index = run.get("round", seen[mode])
        for cell in run["cells"]:
            if cell["requests_per_second"] is not None:
                by_round = rates.setdefault((cell["beam"], cell["concurrency"]), {})
                by_round.setdefault(round_index, {})[mode] = cell["requests_per_second"]
    summary = []
    for (beam, concurrency), by_round in sorted(rates.items()):
        rounds = [by_round[index] for index in sorted(by_round)]
        on = [r["on"] for r in rounds if "on" in r]
        off = [r["off"] for r in rounds if "off" in r]
        if not on or not off:
            continue
        ratios = [round(r["on"] / r["off"], 3) for r in rounds if r.get("off") and "on" in r]
        summary.append(
            {
                "beam": beam,
                "concurrency": concurrency,
                "on_requests_per_second": on,
                "off_requests_per_second": off,
                "on_median": round(statistics.median(on), 2),
                "off_median": round(statistics.median(off), 2),
                "ratios": ratios,
                "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
            }
        )
    return summary


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; the load generator defaults to wrk when it is on PATH."""
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--checkpoint", type=Path, help="bundle to serve (starts servers)")
    target.add_argument("--url", help="a running server on loopback")
    parser.add_argument(
        "--requests",
        type=int,
        default=64,
        help="max requests per cell, httpx generator only (wrk runs for --max-seconds)",
    )
    parser.add_argument("--concurrency", type=ints, default=[1, 8, 32])
    parser.add_argument("--beams", type=ints, default=[1, 5])
    parser.add_argument("--batching", default="on,off", help="modes to start (with --checkpoint)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="start the modes this many times, alternating"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=3.0,
        help="unrecorded load before each beam size's cells (0: none)",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=20.0, help="time per cell (wrk: rounded up to 1 s)"
    )
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--load-generator",
        choices=GENERATORS,
        help="wrk (compiled, cheap) or httpx (Python); default: wrk when installed",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG on to `nmt serve` (repeatable; write --server-arg=--quantize)",
    )
    args = parser.parse_args(argv)
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at a loopback address (127.0.0.1, localhost, ::1)")
    if args.url and args.server_arg:
        parser.error("--server-arg needs --checkpoint (with --url no server is started)")
    if min([*args.concurrency, *args.beams, args.wrk_threads, args.requests, args.rounds]) < 1:
        parser.error(
            "--concurrency, --beams, --wrk-threads, --requests and --rounds must be at least 1"
        )
    if args.warmup_seconds < 0:
        parser.error("--warmup-seconds must not be negative")
    if not args.concurrency or not args.beams or not args.max_seconds > 0:
        parser.error("give at least one concurrency and beam, and --max-seconds > 0")
    if args.load_generator is None:
        args.load_generator = "wrk" if shutil.which("wrk") else "httpx"
    elif args.load_generator == "wrk" and shutil.which("wrk") is None:
        parser.error("--load-generator wrk: `wrk` is not on PATH (Debian: apt install wrk)")
    return args


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every run (one per batching mode, or the given --url) with its cells."""
    report: dict[str, Any] = {
        "load_generator": args.load_generator,
        "requests_per_cell": args.requests if args.load_generator == "httpx" else None,
        "max_seconds": args.max_seconds,
        "warmup_seconds": args.warmup_seconds,
    }
    if args.load_generator == "wrk":
        report["wrk_threads"] = args.wrk_threads
    if args.url:
        wait_ready(args.url.rstrip("/"), None, timeout=30.0)
        report["runs"] = [{"batching": "unknown", "url": args.url}]
        report["runs"][0]["cells"] = bench_server(args.url.rstrip("/"), args)
        return report
    report["checkpoint"] = str(args.checkpoint)
    report["server_args"] = args.server_arg
    report["rounds"] = args.rounds
    report["runs"] = []
    modes = [m.strip() for m in args.batching.split(",") if m.strip()]
    for round_index in range(args.rounds):
        for mode in modes:
            with serve(args.checkpoint, mode == "on", args.device, args.server_arg) as url:
                cells = bench_server(url, args)
            report["runs"].append({"batching": mode, "round": round_index + 1, "cells": cells})
    report["summary"] = summarize(report["runs"])
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one JSON document; 1 with a message if it cannot."""
    args = parse_args(argv)
    try:
        report = run_benchmark(args)
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"serve_load: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
