"""Locating and downloading the corpus (nmt.data.download), against a local HTTP server."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nmt.data.download import DEFAULT_URL, download, fetch_source, resolve_source
from nmt.errors import DataError

PAYLOAD = bytes(range(256)) * 400


class _Handler(BaseHTTPRequestHandler):
    honour_range = True
    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        header = self.headers.get("Range")
        type(self).ranges.append(header)
        start = int(header[len("bytes=") : -1]) if header and self.honour_range else 0
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.ranges = []
    _Handler.honour_range = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/fra-eng.zip"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_hash_and_renames(server: str, tmp_path: Path) -> None:
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = download(server, tmp_path, sha256=digest, progress=False)
    assert path == tmp_path / "fra-eng.zip"
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "fra-eng.zip.part").exists()
    assert download(server, tmp_path, sha256=digest, progress=False) == path
    assert _Handler.ranges == [None]  # the verified file was reused, not fetched again


def test_download_resumes_a_part_file(server: str, tmp_path: Path) -> None:
    (tmp_path / "fra-eng.zip.part").write_bytes(PAYLOAD[:1000])
    path = download(server, tmp_path, sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.ranges == ["bytes=1000-"]


def test_download_restarts_when_range_is_ignored(server: str, tmp_path: Path) -> None:
    _Handler.honour_range = False
    (tmp_path / "fra-eng.zip.part").write_bytes(b"stale bytes")
    assert download(server, tmp_path, progress=False).read_bytes() == PAYLOAD


def test_checksum_mismatch_is_a_data_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="checksum mismatch"):
        download(server, tmp_path, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_is_a_clear_data_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match="offline.*--source"):
        download(f"http://127.0.0.1:{port}/fra-eng.zip", tmp_path, progress=False, timeout=5)


def test_source_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NMT_DATA", raising=False)
    assert resolve_source(None) == DEFAULT_URL
    monkeypatch.setenv("NMT_DATA", "/from/env.zip")
    assert resolve_source(None) == "/from/env.zip"
    assert resolve_source("given.txt") == "given.txt"
    local = tmp_path / "pairs.txt"
    local.write_text("Hi.\tSalut.\n")
    assert fetch_source(str(local), tmp_path / "raw") == local
    with pytest.raises(DataError, match="not found"):
        fetch_source(str(tmp_path / "nope.zip"), tmp_path / "raw")
