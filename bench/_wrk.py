"""One load-test cell driven by `wrk` (a compiled HTTP load generator) and its summary parsed.

`wrk` runs for a whole number of seconds with a fixed number of connections, each sending
its next request as soon as the previous response arrived (a closed loop, like the httpx
generator in serve_load.py). The request bodies and the summary line come from
`bench/wrk_translate.lua`; see its header for the line's fields.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().with_name("wrk_translate.lua")
SUMMARY_PREFIX = "wrk-summary "
# wrk counts a response slower than --timeout as an error and leaves it out of its latency
# histogram, which it sizes at 8 bytes per microsecond of --timeout. No response inside a
# d-second run can take longer than d seconds, so d plus this margin loses none.
TIMEOUT_MARGIN_S = 5
SOCKET_ERROR_KINDS = ("connect", "read", "write", "timeout")


def wrk_seconds(max_seconds: float) -> int:
    """wrk's -d takes whole seconds: `max_seconds` rounded up, at least 1."""
    return max(1, math.ceil(max_seconds))


def wrk_command(
    url: str,
    beam: int,
    concurrency: int,
    max_seconds: float,
    threads: int,
    sentences: Sequence[str],
    wrk: str = "wrk",
) -> list[str]:
    """The wrk command line for one cell against `url` (the server's base URL).

    Threads are capped at `concurrency` (wrk refuses fewer connections than threads).
    Raises ValueError for a concurrency, thread count or beam below 1, or no sentences.
    """
    if concurrency < 1 or threads < 1 or beam < 1:
        raise ValueError("concurrency, threads and beam must be at least 1")
    if not sentences:
        raise ValueError("wrk needs at least one sentence to send")
    seconds = wrk_seconds(max_seconds)
    command = [wrk, f"-t{min(threads, concurrency)}", f"-c{concurrency}", f"-d{seconds}s"]
    command += ["--timeout", f"{seconds + TIMEOUT_MARGIN_S}s", "--latency", "-s", str(SCRIPT)]
    return command + [url.rstrip("/") + "/v1/translate", "--", str(beam), *sentences]


def parse_summary(output: str, beam: int, concurrency: int) -> dict[str, Any]:
    """wrk's stdout -> one cell: beam, concurrency, requests, errors, seconds,
    requests_per_second, latency_ms {p50, p95, p99} (null without requests), generator "wrk",
    error_kinds (socket errors by kind, non_2xx, and wrk's own `status`: responses > 399).

    `errors` is the socket errors plus every response outside 200..299.
    Raises ValueError when `output` holds no summary line.
    """
    lines = [line for line in output.splitlines() if line.startswith(SUMMARY_PREFIX)]
    if not lines:
        raise ValueError("wrk printed no summary line (was the script's done() run?)")
    summary = json.loads(lines[-1][len(SUMMARY_PREFIX) :])
    kinds = summary["errors"]
    requests = int(summary["requests"])
    latency = summary["latency_ms"]
    percentiles = {q: round(latency[q], 2) if requests else None for q in ("p50", "p95", "p99")}
    return {
        "beam": beam,
        "concurrency": concurrency,
        "requests": requests,
        "errors": sum(int(kinds[kind]) for kind in SOCKET_ERROR_KINDS) + int(kinds["non_2xx"]),
        "seconds": round(summary["duration_us"] / 1e6, 3),
        "requests_per_second": round(summary["requests_per_second"], 2),
        "latency_ms": percentiles,
        "generator": "wrk",
        "error_kinds": {kind: int(count) for kind, count in kinds.items()},
    }


def run_wrk_cell(
    url: str,
    beam: int,
    concurrency: int,
    max_seconds: float,
    threads: int,
    sentences: Sequence[str],
    wrk: str = "wrk",
) -> dict[str, Any]:
    """Run wrk for one cell and parse its summary (see parse_summary).

    Raises RuntimeError when wrk cannot start, fails, hangs past its duration plus a minute,
    or prints no summary; the message carries the end of its output.
    """
    command = wrk_command(url, beam, concurrency, max_seconds, threads, sentences, wrk)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=wrk_seconds(max_seconds) + 60
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"wrk did not finish: {' '.join(command[:6])} ...") from error
    except OSError as error:
        raise RuntimeError(f"could not run {wrk}: {error}") from error
    tail = (done.stdout + done.stderr)[-600:].strip()
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with code {done.returncode}: {tail}")
    try:
        return parse_summary(done.stdout, beam, concurrency)
    except (ValueError, KeyError, TypeError) as error:
        raise RuntimeError(f"could not read wrk's summary ({error}): {tail}") from error
