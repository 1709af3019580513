"""docker/check_image.sh's argument handling (`--print-config`: nothing is built or run).

The podman build and run themselves take minutes and root, so they are not part of the
suite; docs/RESULTS.md records a run of the whole check.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "check_image.sh"


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The script with `args`, in an environment without pip's settings unless `env` adds them."""
    base = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_CERT")}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def config(*args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = run_script("--print-config", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_use_the_local_base_and_pytorch_index() -> None:
    settings = config()
    assert settings["base_image"] == "localhost/debian-bookworm-python"
    assert settings["port"] == "18000"
    assert settings["wheels"] == ""  # no local wheels: the Dockerfile's PyTorch CPU index
    assert settings["ca_bundle"] == ""
    assert settings["mirror"].startswith(("http://", "https://"))
    assert settings["skip_build"] == "0"
    assert settings["image"] == "localhost/nmt-api:check"


def test_options_are_taken(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("certificates")
    settings = config(
        "--base-image", "python:3.11-slim-bookworm", "--image", "nmt:x", "--port", "8080",
        "--mirror", "http://mirror.example/debian", "--wheels", str(tmp_path),
        "--ca-bundle", str(ca), "--ready-timeout", "30", "--stop-timeout", "5", "--skip-build",
    )  # fmt: skip
    assert settings == {
        "base_image": "python:3.11-slim-bookworm",
        "image": "nmt:x",
        "port": "8080",
        "mirror": "http://mirror.example/debian",
        "wheels": str(tmp_path),
        "ca_bundle": str(ca),
        "ready_timeout": "30",
        "stop_timeout": "5",
        "skip_build": "1",
        "cuda": "0",
    }


def test_cuda_builds_the_training_image_under_its_own_tag() -> None:
    settings = config("--cuda")
    assert settings["cuda"] == "1"
    assert settings["image"] == "localhost/nmt-train:check"
    assert config("--cuda", "--image", "mine:1")["image"] == "mine:1"


def test_pip_settings_supply_the_torch_wheel_folder_and_ca(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    ca = tmp_path / "ca.crt"
    ca.write_text("certificates")
    env = {"PIP_FIND_LINKS": str(wheels), "PIP_CERT": str(ca)}
    assert config(env=env)["wheels"] == ""  # a folder without a torch CPU wheel is not used
    (wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    settings = config(env=env)
    assert settings["wheels"] == str(wheels)
    assert settings["ca_bundle"] == str(ca)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument '--bogus'"),
        (["--port"], "--port needs a value"),
        (["--port", "0"], "--port needs a positive integer"),
        (["--port", "08"], "--port needs a positive integer"),
        (["--port", "70000"], "--port must be <= 65535"),
        (["--ready-timeout", "soon"], "--ready-timeout needs a positive integer"),
        (["--image", ""], "--image needs a value"),
        (["--wheels", "/no/such/folder"], "--wheels: no such folder"),
        (["--ca-bundle", "/no/such/file"], "--ca-bundle: no such file"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = run_script("--print-config", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "usage: docker/check_image.sh" in result.stderr
    assert result.stdout == ""


def test_help_exits_0() -> None:
    result = run_script("--help")
    assert result.returncode == 0
    assert "--skip-build" in result.stdout
