"""Helpers the service benchmarks share: a free loopback port and waiting for /ready."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

HOST = "127.0.0.1"  # benchmarks only ever talk to loopback


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Poll /ready until 200; fail if the server process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(url + "/ready", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} was not ready after {timeout:.0f} s")
