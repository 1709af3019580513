"""Bounded load soak of `nmt serve` on loopback; prints one JSON report.

    python bench/soak.py --checkpoint runs/tiny/best [--duration 120] [--max-requests 20000]
        [--concurrency 64] [--workers 2] [--seed 0]

Starts `nmt serve --checkpoint X --workers 2 --host 127.0.0.1 --port P`, then keeps
`--concurrency` requests in flight with a fixed mix: JSON API greedy and beam, the
LibreTranslate API as form and as JSON, `GET /health`, and malformed requests that must
get a 4xx. It stops after `--duration` seconds or `--max-requests` requests, whichever
comes first, stops the server, and reports requests/s, p50/p99 latency (ms), errors (5xx
or connection failures; a healthy server has none), answers of the wrong class, and the
resident memory of the server processes at the start and the end. Exit code 1 when
there were errors or wrong answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _server import HOST, free_port, wait_ready  # bench/ is on sys.path when run as a script

SENTENCES = [
    "Hello.",
    "I see the cat.",
    "How are you today?",
    "We want a book!",
    "Tom likes the city.",
    "The train leaves at eight o'clock.",
    "Can you tell me where the nearest station is?",
    "They bought a new house near the river.",
]


@dataclass(frozen=True)
class Probe:
    """One request of the mix and the status class it must get ("2xx" or "4xx")."""

    kind: str
    method: str
    path: str
    expect: str
    options: dict[str, Any] = field(default_factory=dict)  # httpx request keyword arguments


def good_probes(text: str) -> list[Probe]:
    """Requests a healthy server answers with 200."""
    lt = {"q": text, "source": "en", "target": "fr"}
    return [
        Probe(
            "v1_greedy", "POST", "/v1/translate", "2xx", {"json": {"text": text, "beam_size": 1}}
        ),
        Probe("v1_beam", "POST", "/v1/translate", "2xx", {"json": {"text": text, "beam_size": 4}}),
        Probe("v1_list", "POST", "/v1/translate", "2xx", {"json": {"text": [text, text[::-1]]}}),
        Probe("lt_form", "POST", "/translate", "2xx", {"data": lt}),
        Probe("lt_json", "POST", "/translate", "2xx", {"json": {**lt, "source": "auto"}}),
        Probe("health", "GET", "/health", "2xx"),
    ]


BAD_PROBES = [
    Probe("bad_type", "POST", "/v1/translate", "4xx", {"json": {"text": 5}}),
    Probe("bad_beam", "POST", "/v1/translate", "4xx", {"json": {"text": "Hi.", "beam_size": 99}}),
    Probe("bad_field", "POST", "/v1/translate", "4xx", {"json": {"text": "Hi.", "nope": 1}}),
    Probe(
        "bad_json",
        "POST",
        "/v1/translate",
        "4xx",
        {"content": b'{"text": "Hi.', "headers": {"content-type": "application/json"}},
    ),
    Probe("lt_no_q", "POST", "/translate", "4xx", {"data": {"source": "en", "target": "fr"}}),
    Probe("lt_bad_pair", "POST", "/translate", "4xx",
          {"json": {"q": "Hi", "source": "en", "target": "de"}}),
    Probe("not_found", "GET", "/no/such/path", "4xx"),
    Probe("too_big", "POST", "/v1/translate", "4xx", {"json": {"text": "a" * 1_100_000}}),
]  # fmt: skip


def pick_probe(rng: random.Random) -> Probe:
    """Mostly translations, some health checks, one in six a bad request."""
    if rng.random() < 1 / 6:
        return rng.choice(BAD_PROBES)
    return rng.choice(good_probes(rng.choice(SENTENCES)))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Tally:
    """What the soak saw."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # "kind status" -> count
    errors: int = 0  # 5xx or no answer at all
    wrong: int = 0  # an answer of the wrong class (e.g. 4xx to a good request, 2xx to a bad one)
    examples: list[str] = field(default_factory=list)

    def record(self, probe: Probe, status: int | None, elapsed_ms: float, detail: str) -> None:
        """Count one finished request."""
        self.latencies_ms.append(elapsed_ms)
        self.statuses[f"{probe.kind} {status if status is not None else 'no-answer'}"] += 1
        problem = ""
        if status is None or status >= 500:
            self.errors += 1
            problem = "error"
        elif f"{status // 100}xx" != probe.expect:
            self.wrong += 1
            problem = f"expected {probe.expect}"
        if problem and len(self.examples) < 10:
            self.examples.append(f"{probe.kind}: {status} ({problem}) {detail[:200]}")


async def soak(
    url: str, duration: float, max_requests: int, concurrency: int, seed: int
) -> tuple[Tally, float]:
    """Keep `concurrency` requests in flight until the time or request budget runs out."""
    rng = random.Random(seed)
    tally = Tally()
    budget = iter(range(max_requests))
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in budget:
            if time.perf_counter() > deadline:
                return
            probe = pick_probe(rng)
            start = time.perf_counter()
            try:
                response = await client.request(probe.method, probe.path, **probe.options)
                status, detail = response.status_code, response.text
            except httpx.HTTPError as err:
                status, detail = None, f"{type(err).__name__}: {err}"
            tally.record(probe, status, (time.perf_counter() - start) * 1000.0, detail)

    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return tally, elapsed


# ---------------------------------------------------------------------------- the server


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # field 4; the name may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def rss_kib(root: int) -> dict[str, Any]:
    """VmRSS in KiB of each process of the tree (by pid), and their total."""
    sizes: dict[str, int] = {}
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[str(pid)] = int(line.split()[1])
        except OSError:
            continue
    return {"total": sum(sizes.values()), "processes": sizes}


@contextmanager
def serve(
    checkpoint: Path, workers: int, device: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`nmt serve` on a free loopback port (stderr to `log`); stopped with SIGTERM at the end."""
    port = free_port()
    command = [sys.executable, "-m", "nmt", "serve", "--checkpoint", str(checkpoint)]
    command += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    command += ["--device", device]
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_ready(url, process, timeout=180.0)
        yield process, url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, then SIGKILL after 30 s; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# ---------------------------------------------------------------------------- report
def summarize(tally: Tally, elapsed: float) -> dict[str, Any]:
    """The traffic part of the report."""
    count = len(tally.latencies_ms)
    rounded = lambda value: None if value is None else round(value, 2)  # noqa: E731
    return {
        "requests": count,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(count / elapsed, 2) if elapsed else None,
        "latency_ms": {f"p{q}": rounded(percentile(tally.latencies_ms, q)) for q in (50, 99)},
        "errors": tally.errors,
        "wrong_status_class": tally.wrong,
        "examples": tally.examples,
        "statuses": dict(sorted(tally.statuses.items())),
    }


RSS_SAMPLE_S = 5.0  # often enough that a fitted trend is not decided by a few samples


def rss_growth(series: Sequence[float], every_s: float, window_s: float) -> dict[str, Any] | None:
    """How the server's RSS moved over the last `window_s` seconds of the samples.

    `series` holds one total RSS (MiB) every `every_s` seconds. The window starts at the
    sample `window_s` before the last one (the whole series when shorter); `percent` is
    (last - first) / first of the window, `peak_percent` the highest sample over the first.
    `trend_percent` is the least-squares line's rise over the window, in percent of the
    window's mean: unlike `percent` it does not hang on two single samples, which an
    allocator that gives memory back now and then moves by a few percent either way.
    `median_percent` compares the medians of the window's first and last two minutes
    (of its first and last thirds when shorter). None when there are fewer than two samples.
    """
    if len(series) < 2:
        return None
    span = min(len(series) - 1, round(window_s / every_s))
    window = series[-span - 1 :]
    first = window[0]
    slope, _ = statistics.linear_regression(range(len(window)), window)  # MiB per sample
    edge = max(1, min(round(120.0 / every_s), len(window) // 3))
    first_median, last_median = statistics.median(window[:edge]), statistics.median(window[-edge:])
    return {
        "window_s": span * every_s,
        "first_mib": first,
        "last_mib": window[-1],
        "mean_mib": round(statistics.fmean(window), 1),
        "percent": round(100.0 * (window[-1] - first) / first, 2),
        "peak_percent": round(100.0 * (max(window) - first) / first, 2),
        "trend_percent": round(100.0 * slope * span / statistics.fmean(window), 2),
        "median_percent": round(100.0 * (last_median - first_median) / first_median, 2),
        "trend_mib_per_min": round(slope * 60.0 / every_s, 3),
    }


class RssSampler:
    """Samples the server tree's total RSS (MiB) every `every` seconds in a thread."""

    def __init__(self, pid: int, every: float) -> None:
        self.pid, self.every = pid, every
        self.series: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.series.append(round(rss_kib(self.pid)["total"] / 1024, 1))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, soak it, stop it; the report."""
    with tempfile.TemporaryDirectory(prefix="nmt-soak-") as tmp:
        log = Path(tmp) / "server.log"
        with serve(args.checkpoint, args.workers, args.device, log) as (process, url):
            rss_start = rss_kib(process.pid)
            with RssSampler(process.pid, every=RSS_SAMPLE_S) as sampler:
                tally, elapsed = asyncio.run(
                    soak(url, args.duration, args.max_requests, args.concurrency, args.seed)
                )
            rss_end = rss_kib(process.pid)
            alive = process.poll() is None
        exit_code = process.returncode
        log_tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    report = {
        "checkpoint": str(args.checkpoint),
        "workers": args.workers,
        "concurrency": args.concurrency,
        "duration_limit_s": args.duration,
        "max_requests": args.max_requests,
        "server_env": {k: v for k, v in os.environ.items() if k.startswith(("NMT_", "MALLOC_"))},
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        **summarize(tally, elapsed),
        "server_alive_at_end": alive,
        "server_exit_code": exit_code,
        "rss_kib": {"start": rss_start, "end": rss_end},
        "rss_sample_s": RSS_SAMPLE_S,
        "rss_total_mib": sampler.series,
        "rss_growth": rss_growth(sampler.series, RSS_SAMPLE_S, args.growth_window),
    }
    if tally.errors or not alive:
        report["server_log_tail"] = log_tail
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="bundle to serve")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds (default: 120)")
    parser.add_argument(
        "--max-requests", type=int, default=20000, help="request budget (default: 20000)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="in flight (default: 64)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default: 2)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    parser.add_argument(
        "--growth-window",
        type=float,
        default=1200.0,
        help="report RSS growth over the last this many seconds (default: 1200)",
    )
    args = parser.parse_args(argv)
    if not args.checkpoint.exists():
        parser.error(f"checkpoint not found: {args.checkpoint}")
    if args.duration <= 0 or args.max_requests < 1 or args.concurrency < 1:
        parser.error("--duration, --max-requests and --concurrency must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak, print the JSON report; 1 when anything went wrong."""
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # workers share the cores; no oversubscription
    report = run_soak(args)
    print(json.dumps(report, indent=2))
    healthy = report["errors"] == 0 and report["wrong_status_class"] == 0
    return 0 if healthy and report["server_alive_at_end"] else 1


if __name__ == "__main__":
    sys.exit(main())
