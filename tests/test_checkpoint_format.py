"""The bundle format's version: a bundle written by a newer nmt is refused with a message
that says so, rather than read by rules it was not written for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nmt.checkpoint import FORMAT_VERSION, METADATA_FILE, save_bundle, verify_bundle
from nmt.config import load_config
from nmt.errors import CheckpointError


def _bundle_with_version(tmp_path: Path, version: object) -> Path:
    path = save_bundle(
        tmp_path / "bundle",
        {"weight": torch.ones(2, 3)},
        load_config("tiny"),
        {"step": 1},
        {"spm.model": b"not read by verify_bundle"},
    )
    metadata = json.loads((path / METADATA_FILE).read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    if version is None:
        del metadata["format_version"]
    else:
        metadata["format_version"] = version
    (path / METADATA_FILE).write_text(json.dumps(metadata))
    return path


@pytest.mark.parametrize("version", [FORMAT_VERSION, None], ids=["current", "unrecorded"])
def test_the_current_format_and_bundles_that_predate_the_field_are_read(
    tmp_path: Path, version: int | None
) -> None:
    assert verify_bundle(_bundle_with_version(tmp_path, version))["step"] == 1


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 99, "1", 1.5, True, [1]])
def test_a_newer_or_malformed_format_version_is_refused_with_what_to_do(
    tmp_path: Path, version: object
) -> None:
    path = _bundle_with_version(tmp_path, version)
    with pytest.raises(CheckpointError, match=r"format_version .*upgrade nmt") as raised:
        verify_bundle(path)
    assert str(path) in str(raised.value) and repr(version) in str(raised.value)
