"""bench/serve_load.py: the wrk generator's command, its summary line, and real runs of wrk
against a stub server and against the service app (fake translator) on loopback."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, live_server

from .scripts import bench_modules

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = ("serve_load", "_wrk", "_server")
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

# What wrk 4.1.0 (Debian) printed for `-t1 -c2 -d1s --latency -s bench/wrk_translate.lua`
# against a stub answering every fifth request with 500.
CAPTURED = textwrap.dedent("""\
    Running 1s test @ http://127.0.0.1:8911/v1/translate
      1 threads and 2 connections
      Thread Stats   Avg      Stdev     Max   +/- Stdev
        Latency   388.44ms  395.92ms 923.07ms   75.00%
        Req/Sec     6.00      2.83     8.00    100.00%
      Latency Distribution
         50%  586.72ms
         75%  906.98ms
         90%  919.89ms
         99%  923.07ms
      12 requests in 1.92s, 1.99KB read
      Non-2xx or 3xx responses: 2
    Requests/sec:      6.24
    Transfer/sec:      1.04KB
    wrk-summary {"requests":12,"duration_us":1921556,"errors":{"connect":0,"read":0,"write":0,"timeout":0,"status":2,"non_2xx":2},"latency_ms":{"p50":586.721,"p95":923.065,"p99":923.065},"requests_per_second":6.245}
    """)  # noqa: E501


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The modules, imported the way the script imports them (bench/ on the path)."""
    with bench_modules(*MODULES) as modules:
        yield modules


# --- the summary line and the command ---------------------------------------------------


def test_a_captured_summary_becomes_a_cell(bench) -> None:
    cell = bench["_wrk"].parse_summary(CAPTURED, beam=5, concurrency=2)
    assert cell == {
        "beam": 5,
        "concurrency": 2,
        "requests": 12,
        "errors": 2,
        "seconds": 1.922,
        "requests_per_second": 6.25,
        "latency_ms": {"p50": 586.72, "p95": 923.07, "p99": 923.07},
        "generator": "wrk",
        "error_kinds": {
            "connect": 0,
            "read": 0,
            "write": 0,
            "timeout": 0,
            "status": 2,
            "non_2xx": 2,
        },
    }


def test_socket_errors_and_non_2xx_add_up_and_no_requests_have_no_percentiles(bench) -> None:
    line = (
        'wrk-summary {"requests":0,"duration_us":1000000,"errors":{"connect":3,"read":1,'
        '"write":0,"timeout":2,"status":0,"non_2xx":0},"latency_ms":{"p50":0,"p95":0,'
        '"p99":0},"requests_per_second":0}'
    )
    cell = bench["_wrk"].parse_summary("Running 1s test\n" + line + "\n", beam=1, concurrency=4)
    assert cell["errors"] == 6 and cell["requests"] == 0
    assert cell["latency_ms"] == {"p50": None, "p95": None, "p99": None}


def test_output_without_a_summary_is_refused(bench) -> None:
    with pytest.raises(ValueError, match="no summary line"):
        bench["_wrk"].parse_summary(CAPTURED.replace("wrk-summary", "other"), 1, 2)


def test_the_command_line(bench) -> None:
    wrk = bench["_wrk"]
    command = wrk.wrk_command("http://127.0.0.1:9/", 5, 32, 2.5, 1, ["Hi.", "I'm -t tired."])
    assert command[:7] == ["wrk", "-t1", "-c32", "-d3s", "--timeout", "8s", "--latency"]
    assert command[7] == "-s" and Path(command[8]) == BENCH / "wrk_translate.lua"
    assert Path(command[8]).is_file()
    assert command[9:] == ["http://127.0.0.1:9/v1/translate", "--", "5", "Hi.", "I'm -t tired."]
    assert wrk.wrk_command("http://h:1", 1, 2, 0.2, 4, ["x"])[1:4] == ["-t2", "-c2", "-d1s"]
    with pytest.raises(ValueError):
        wrk.wrk_command("http://h:1", 1, 0, 1.0, 1, ["x"])


# --- options ----------------------------------------------------------------------------


def test_options(bench, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parse = bench["serve_load"].parse_args
    args = parse(["--checkpoint", "m", "--server-arg=--quantize", "--server-arg", "int8"])
    assert args.server_arg == ["--quantize", "int8"] and args.wrk_threads == 1
    assert args.load_generator == ("wrk" if shutil.which("wrk") else "httpx")
    with pytest.raises(SystemExit):
        parse(["--url", "http://127.0.0.1:1", "--server-arg=--quantize"])
    with pytest.raises(SystemExit):
        parse(["--checkpoint", "m", "--concurrency", "0,4"])
    assert (args.rounds, args.warmup_seconds) == (1, 3.0)
    for bad in (["--rounds", "0"], ["--warmup-seconds", "-1"]):
        with pytest.raises(SystemExit):
            parse(["--checkpoint", "m", *bad])
    monkeypatch.setenv("PATH", str(tmp_path))  # no wrk here
    assert parse(["--checkpoint", "m"]).load_generator == "httpx"
    with pytest.raises(SystemExit):
        parse(["--checkpoint", "m", "--load-generator", "wrk"])


def _cell(beam: int, concurrency: int, rate: float | None) -> dict[str, Any]:
    return {"beam": beam, "concurrency": concurrency, "requests_per_second": rate}


def test_the_summary_pairs_rounds_in_order_and_takes_medians(bench) -> None:
    runs = [
        {"batching": "on", "cells": [_cell(5, 32, 400.0), _cell(5, 1, 90.0)]},
        {"batching": "off", "cells": [_cell(5, 32, 100.0), _cell(5, 1, 100.0)]},
        {"batching": "on", "cells": [_cell(5, 32, 330.0), _cell(5, 1, None)]},
        {"batching": "off", "cells": [_cell(5, 32, 110.0), _cell(5, 1, 95.0)]},
        {"batching": "on", "cells": [_cell(5, 32, 420.0)]},
        {"batching": "off", "cells": [_cell(5, 32, 100.0)]},
    ]
    by_cell = {
        (row["beam"], row["concurrency"]): row for row in bench["serve_load"].summarize(runs)
    }
    row = by_cell[(5, 32)]
    assert row["on_requests_per_second"] == [400.0, 330.0, 420.0]
    assert row["ratios"] == [4.0, 3.0, 4.2]
    assert (row["on_median"], row["off_median"], row["median_ratio"]) == (400.0, 100.0, 4.0)
    # a cell without a rate in one round: a ratio only where both modes measured it
    assert by_cell[(5, 1)]["ratios"] == [0.9] and by_cell[(5, 1)]["median_ratio"] == 0.9
    assert by_cell[(5, 1)]["off_requests_per_second"] == [100.0, 95.0]


def test_rounds_pair_by_their_round_field(bench) -> None:
    runs = [
        {"batching": "on", "round": 2, "cells": [_cell(5, 32, 300.0)]},
        {"batching": "off", "round": 1, "cells": [_cell(5, 32, 100.0)]},
        {"batching": "off", "round": 2, "cells": [_cell(5, 32, 150.0)]},
    ]
    (row,) = bench["serve_load"].summarize(runs)
    assert row["ratios"] == [2.0] and row["off_median"] == 125.0


def test_a_cell_measured_in_one_mode_only_has_no_summary(bench) -> None:
    runs = [{"batching": "on", "cells": [_cell(1, 8, 50.0)]}]
    assert bench["serve_load"].summarize(runs) == []


def test_rounds_alternate_the_modes_each_on_a_fresh_server(
    bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, started = bench["serve_load"], []

    @contextlib.contextmanager
    def fake_serve(checkpoint, batching, device, server_args):  # noqa: ANN001, ANN202
        started.append(batching)
        yield f"http://127.0.0.1:{len(started)}"

    def fake_bench(url: str, args: Any) -> list[dict[str, Any]]:
        return [_cell(5, 32, 400.0 if started[-1] else 100.0 + len(started))]

    monkeypatch.setattr(module, "serve", fake_serve)
    monkeypatch.setattr(module, "bench_server", fake_bench)
    args = module.parse_args(["--checkpoint", "m", "--rounds", "2", "--load-generator", "httpx"])
    report = module.run_benchmark(args)
    assert started == [True, False, True, False]
    assert [(run["batching"], run["round"]) for run in report["runs"]] == [
        ("on", 1),
        ("off", 1),
        ("on", 2),
        ("off", 2),
    ]
    assert report["summary"][0]["off_requests_per_second"] == [102.0, 104.0]
    assert report["rounds"] == 2 and report["warmup_seconds"] == 3.0


def test_server_args_follow_the_mode_flags(bench) -> None:
    command = bench["serve_load"].serve_command(
        Path("m"), 8123, False, "cpu", ["--quantize", "int8"]
    )
    assert command[-4:] == ["--max-batch", "1", "--quantize", "int8"]
    assert command[command.index("--port") + 1] == "8123"


def test_a_server_arg_reaches_nmt_serve(bench, shipped_model_dir: Path, capsys) -> None:
    """`nmt serve` refuses an unknown flag; the benchmark says so and exits 1."""
    argv = ["--checkpoint", str(shipped_model_dir), "--batching", "on"]
    assert bench["serve_load"].main([*argv, "--server-arg=--no-such-flag"]) == 1
    assert "--no-such-flag" in capsys.readouterr().err


# --- real wrk runs ----------------------------------------------------------------------


class StubHandler(BaseHTTPRequestHandler):
    """Answers POSTs with a small JSON: the first with 500, the second with 302, then 200."""

    protocol_version = "HTTP/1.1"
    bodies: list[dict[str, Any]]  # set per server by stub_server

    def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        status = {1: 500, 2: 302}.get(len(self.bodies), 200)
        payload = b'{"translatedText": "x"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    handler = type("Handler", (StubHandler,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@needs_wrk
def test_wrk_sends_the_sentences_and_counts_every_non_2xx(bench, stub_server) -> None:
    url, bodies = stub_server
    sentences = bench["serve_load"].SENTENCES
    cell = bench["_wrk"].run_wrk_cell(url, 3, 1, 1.0, 1, sentences)
    assert cell["generator"] == "wrk" and (cell["beam"], cell["concurrency"]) == (3, 1)
    assert cell["requests"] >= 2, cell
    # one connection: at most the request in flight when wrk stopped went unanswered
    assert cell["requests"] <= len(bodies) <= cell["requests"] + 1
    assert cell["errors"] == 2 and cell["error_kinds"]["non_2xx"] == 2
    assert cell["error_kinds"]["status"] == 1  # wrk itself counts only the 500
    assert cell["requests_per_second"] > 0 and 1.0 <= cell["seconds"] < 10
    assert all(body["beam_size"] == 3 and set(body) == {"text", "beam_size"} for body in bodies)
    # in order, round and round (wrk calls request() once before the run to check it,
    # so the first sentence sent is the second one)
    start = sentences.index(bodies[0]["text"])
    assert [body["text"] for body in bodies] == [
        sentences[(start + i) % len(sentences)] for i in range(len(bodies))
    ]


@pytest.mark.parametrize("generator", [pytest.param("wrk", marks=needs_wrk), "httpx"])
def test_the_benchmark_against_the_service(bench, capsys, generator: str) -> None:
    app = create_app(ServiceSettings(), translator=FakeTranslator())
    argv = ["--load-generator", generator, "--concurrency", "1,3", "--beams", "2"]
    argv += ["--max-seconds", "1", "--requests", "6", "--warmup-seconds", "1"]
    with live_server(app) as url:
        assert bench["serve_load"].main(["--url", url, *argv]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load_generator"] == generator
    assert report["requests_per_cell"] == (6 if generator == "httpx" else None)
    cells = report["runs"][0]["cells"]
    assert [(cell["beam"], cell["concurrency"]) for cell in cells] == [(2, 1), (2, 3)]
    for cell in cells:
        assert cell["generator"] == generator and cell["errors"] == 0, cell
        assert cell["requests"] > 0 and cell["latency_ms"]["p50"] > 0
        if generator == "httpx":
            assert cell["requests"] <= 6
