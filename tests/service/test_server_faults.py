"""`nmt serve` as a real process under faults: SIGTERM mid-request, bad model at start-up."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import torch

from nmt.checkpoint import WEIGHTS_FILE
from nmt.training.trainer import train
from tests.service.conftest import free_port
from tests.training.test_trainer import small_config

REPO = Path(__file__).resolve().parents[2]
# 128 texts (the default max_texts) of long sentences at beam 16: seconds on the test model.
HEAVY = {
    "text": ["I see the cat and the dog in the house of the city. " * 5] * 128,
    "beam_size": 16,
}


@pytest.fixture(scope="module")
def checkpoint(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) bundle of the test-size model."""
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("serve-faults") / "run"
    config = small_config(prepared_dir, "train.max_steps=2", "train.valid_every=2")
    train(config, prepared_dir, run, progress_bar=False)
    return (run / "best").resolve()


def serve_command(checkpoint: Path, port: int, *extra: str) -> list[str]:
    """`nmt serve` on loopback, CPU."""
    command = [sys.executable, "-m", "nmt", "serve", "--checkpoint", str(checkpoint)]
    return command + ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu", *extra]


def server_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@contextmanager
def running_server(
    checkpoint: Path, log: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start `nmt serve` (stderr to `log`), wait for /ready; always stop it afterwards."""
    port = free_port()
    with open(log, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            serve_command(checkpoint, port, *extra),
            env=server_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not is_ready(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def is_ready(url: str) -> bool:
    try:
        return httpx.get(url + "/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def refuses_connections(url: str) -> bool:
    try:
        httpx.get(url + "/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def timed_post(url: str, body: dict) -> tuple[httpx.Response, float]:
    """POST and return the response with the monotonic time it completed."""
    response = httpx.post(url, json=body, timeout=120)
    return response, time.monotonic()


def wait_for_model_call(url: str, beyond_warmup: int, timeout: float = 60.0) -> None:
    """Poll /metrics until the model has been called `beyond_warmup` times after warm-up.

    A fixed sleep raced on a loaded machine: the request had sometimes not connected yet.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
            if line.startswith("nmt_model_calls_total ") and float(line.split()[1]) > beyond_warmup:
                return
        time.sleep(0.05)
    raise AssertionError("the request never reached the model")


def test_sigterm_drains_in_flight_requests_and_refuses_new_ones(
    checkpoint: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with running_server(checkpoint, log) as (process, url), ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(timed_post, url + "/v1/translate", HEAVY)
        wait_for_model_call(url, beyond_warmup=1)  # the heavy request is in the model now
        assert not in_flight.done(), "the heavy request finished too soon to test draining"
        terminated_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        refused = refuses_connections(url)
        refused_at = time.monotonic()
        response, finished_at = in_flight.result(timeout=120)
        assert response.status_code == 200, response.text
        assert len(response.json()["translations"]) == len(HEAVY["text"])
        assert finished_at > terminated_at, "the request was not in flight at SIGTERM"
        assert refused, "a new connection was accepted after SIGTERM"
        assert refused_at < finished_at, "could not check refusal while draining"
        # 0, or killed by the SIGTERM that uvicorn (>= 0.29) re-raises after a clean shutdown
        assert process.wait(timeout=20) in (0, -signal.SIGTERM), log.read_text()[-2000:]
        assert "Application shutdown complete" in log.read_text()
        assert refuses_connections(url)


def test_missing_checkpoint_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        serve_command(tmp_path / "missing", free_port()),
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("nmt: error: ") and done.stderr.count("\n") == 1
    assert "not found" in done.stderr and "Traceback" not in done.stderr


def corrupt_copy(checkpoint: Path, tmp_path: Path) -> Path:
    bad = Path(shutil.copytree(checkpoint, tmp_path / "bad"))
    data = (bad / WEIGHTS_FILE).read_bytes()
    (bad / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    return bad


def assert_refused_to_start(checkpoint: Path, *extra: str) -> subprocess.CompletedProcess:
    """The server exits non-zero naming the corruption, and never answers /ready meanwhile."""
    port = free_port()
    process = subprocess.Popen(
        serve_command(checkpoint, port, *extra),
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            assert not is_ready(f"http://127.0.0.1:{port}"), "a corrupt model became ready"
            time.sleep(0.1)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0, f"exit 0 with a corrupt model:\n{err[-2000:]}"
    assert "model.safetensors is corrupt" in err
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_corrupt_checkpoint_refuses_to_start(checkpoint: Path, tmp_path: Path) -> None:
    assert_refused_to_start(corrupt_copy(checkpoint, tmp_path))


def test_corrupt_checkpoint_with_workers_exits_non_zero(checkpoint: Path, tmp_path: Path) -> None:
    assert_refused_to_start(corrupt_copy(checkpoint, tmp_path), "--workers", "2")


def test_port_in_use_is_one_line_naming_it_and_exit_1(checkpoint: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            serve_command(checkpoint, port),
            env=server_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr == f"nmt: error: port {port} is already in use on 127.0.0.1: " + (
        "stop what holds it or pass --port\n"
    )
