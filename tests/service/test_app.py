"""Start-up: settings from the environment, and clear failures for bad checkpoints."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nmt.errors import CheckpointError
from service.app import ServiceStartError, app_from_env, check_address_free, create_app, run
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, free_port


def test_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    settings = ServiceSettings(
        checkpoint=tmp_path, port=9000, batching=False, api_keys=["a", "b"], max_wait_ms=0.0
    )
    assert ServiceSettings.from_env(settings.to_env()) == settings
    parsed = ServiceSettings.from_env({"NMT_API_KEYS": "x, y", "NMT_WORKERS": "2"})
    assert parsed.api_keys == ["x", "y"] and parsed.workers == 2
    flags = ServiceSettings.from_env({"NMT_PORT": "1", "NMT_MAX_CHARS": "9"}, {"port": 2})
    assert (flags.port, flags.max_chars) == (2, 9)
    with pytest.raises(ValueError):
        ServiceSettings.from_env({"NMT_PORT": "not a port"})


def test_app_from_env_reads_nmt_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMT_MAX_CHARS", "77")
    app = app_from_env()
    assert app.state.service.settings.max_chars == 77


def test_missing_or_corrupt_checkpoint_fails_start_up(tmp_path: Path) -> None:
    missing = create_app(ServiceSettings(checkpoint=tmp_path / "missing"))
    with pytest.raises(CheckpointError, match="not found"), TestClient(missing):
        pass
    with pytest.raises(CheckpointError, match="no checkpoint"), TestClient(create_app()):
        pass
    (tmp_path / "corrupt").mkdir()
    corrupt = create_app(ServiceSettings(checkpoint=tmp_path / "corrupt"))
    with pytest.raises(CheckpointError), TestClient(corrupt):
        pass
    with pytest.raises(CheckpointError, match="not found"):
        run(ServiceSettings(checkpoint=tmp_path / "missing"))


def test_failed_warm_up_fails_start_up() -> None:
    class Broken(FakeTranslator):
        def translate(self, texts, options=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("cannot translate")

    app = create_app(translator=Broken())
    with pytest.raises(RuntimeError, match="cannot translate"), TestClient(app):
        pass
    assert not app.state.service.ready


def test_server_process_exits_non_zero_on_a_corrupt_checkpoint(tmp_path: Path) -> None:
    corrupt = tmp_path / "bundle"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    code = (
        "from pathlib import Path; from service.app import run; "
        "from service.settings import ServiceSettings; "
        f"run(ServiceSettings(checkpoint=Path({str(corrupt)!r}), port={free_port()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "CheckpointError" in done.stderr or "checkpoint" in done.stderr.lower()
    assert "not a checkpoint bundle" in done.stderr
    assert "Uvicorn running" not in done.stderr  # refused before a port is ever bound


def test_a_taken_port_is_named_before_anything_loads() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServiceStartError, match=f"port {port} is already in use"):
            check_address_free("127.0.0.1", port)
    check_address_free("127.0.0.1", port)  # free again once closed
