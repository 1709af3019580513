"""The service's own time per request, without the model: printed as JSON.

    python bench/app_overhead.py [--checkpoint models/en-fr-base] [--concurrency 32]
        [--requests 3200] [--rounds 3]

The batched service spends its main thread's time between model calls, while the model
waits: each request's HTTP framework, validation, routing and response work. This
measures that work alone. It loads the model (so the process holds what a server holds:
torch, the model, FastAPI and pydantic), answers every sentence after its first
translation from a cache (the model then costs nothing), and sends `POST /v1/translate`
requests straight into the ASGI app (no sockets), `--concurrency` at a time, over the
sentences of `bench/serve_load.py` at beam 5. Rounds alternate Python's garbage collector
as `nmt serve` runs it (`gc.freeze` of everything alive once the model is warm,
service.heap) and without the freeze. Each round reports the main thread's CPU time per
request (`time.thread_time`) and the wall time per request, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serve_load import SENTENCES  # bench/ is on sys.path when run as a script

from nmt import (
    ModelDescription,
    NmtError,
    SearchOptions,
    Translation,
    Translator,
    load_translator,
)
from service.app import create_app
from service.heap import freeze_startup_objects
from service.settings import ServiceSettings

ASGIMessage = dict[str, Any]


class CachedTranslator:
    """A translator that translates each (sentence, options) once, then answers from a cache."""

    def __init__(self, inner: Translator) -> None:
        self._inner = inner
        self._cache: dict[tuple[str, SearchOptions], Translation] = {}

    @property
    def description(self) -> ModelDescription:
        return self._inner.description

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        options = options or self._inner.description.search_defaults
        missing = [text for text in dict.fromkeys(texts) if (text, options) not in self._cache]
        if missing:
            for text, result in zip(missing, self._inner.translate(missing, options), strict=True):
                self._cache[(text, options)] = result
        return [self._cache[(text, options)] for text in texts]


async def post(app: Any, body: bytes) -> int:
    """One POST /v1/translate through the ASGI app; its status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/translate",
        "raw_path": b"/v1/translate",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = asyncio.Event()
    status = 0

    async def receive() -> ASGIMessage:
        if not delivered.is_set():
            delivered.set()
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: ASGIMessage) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: Any, requests: int, concurrency: int) -> dict[str, float]:
    """Main-thread CPU and wall microseconds per request over `requests` requests."""
    bodies = [
        json.dumps({"text": SENTENCES[i % len(SENTENCES)], "beam_size": 5}).encode()
        for i in range(requests)
    ]
    wall, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, requests, concurrency):
        statuses = await asyncio.gather(
            *(post(app, b) for b in bodies[start : start + concurrency])
        )
        if any(code != 200 for code in statuses):
            raise RuntimeError(f"a request failed: statuses {sorted(set(statuses))}")
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return {
        "main_thread_cpu_us": round(1e6 * cpu / requests, 1),
        "wall_us": round(1e6 * wall / requests, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then `rounds` pairs of rounds: without the freeze, then with it."""
    translator = CachedTranslator(load_translator(args.checkpoint, "cpu", "auto"))
    app = create_app(ServiceSettings(), translator=translator)
    startup: asyncio.Queue[ASGIMessage] = asyncio.Queue()
    replies: asyncio.Queue[ASGIMessage] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get, replies.put)
    )
    if (await replies.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    rounds: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    try:
        await measure(app, min(args.requests, 10 * args.concurrency), args.concurrency)  # warm
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                if mode == "on":
                    freeze_startup_objects()
                rounds[mode].append(await measure(app, args.requests, args.concurrency))
                gc.unfreeze()
    finally:
        await startup.put({"type": "lifespan.shutdown"})
        await lifespan
    report: dict[str, Any] = {
        "checkpoint": str(args.checkpoint),
        "concurrency": args.concurrency,
        "requests_per_round": args.requests,
        "python": sys.version.split()[0],
    }
    for mode, results in rounds.items():
        report[f"gc_freeze_{mode}"] = {
            "rounds": results,
            "median_main_thread_cpu_us": statistics.median(
                r["main_thread_cpu_us"] for r in results
            ),
        }
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("models/en-fr-base"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3200, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of rounds (off, on)")
    args = parser.parse_args(argv)
    if min(args.concurrency, args.requests, args.rounds) < 1:
        parser.error("--concurrency, --requests and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; 1 with a message when the app or the model fails."""
    args = parse_args(argv)
    try:
        report = asyncio.run(run(args))
    except (NmtError, RuntimeError, OSError) as error:
        print(f"app_overhead: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
