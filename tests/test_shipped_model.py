"""The bundle shipped under models/: its file contract, and that it still translates.

The fixed outputs below check the file (weights, tokenizer and decoding wired as shipped),
not quality: they were produced by this bundle at its default beam and are correct French.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors import safe_open

from nmt.checkpoint import verify_bundle
from nmt.cli import main
from nmt.storage import INT8_SCALE_SUFFIX
from nmt.translator import load_translator, shipped_model_dir
from service.app import create_app
from service.settings import ServiceSettings

MAX_BUNDLE_BYTES = 25_000_000
# Only data formats: nothing in the bundle can execute code when loaded.
ALLOWED_FILES = {"model.safetensors", "config.json", "metadata.json", "spm.model", "MODEL_CARD.md"}
EVERYDAY = {
    "Where is the station?": "Où est la gare ?",
    "I love you.": "Je t'aime.",
    "Tom is my friend.": "Tom est mon ami.",
    "Do you speak French?": "Parlez-vous français ?",
    "How much does this cost?": "Combien ça coûte ?",
    "It's raining today.": "Il pleut aujourd'hui.",
}


@pytest.fixture(scope="module")
def bundle() -> Path:
    path = shipped_model_dir()
    assert (path / "metadata.json").is_file(), f"the shipped model is missing: {path}"
    return path


def test_the_bundle_is_small_safe_and_hash_checked(bundle: Path) -> None:
    files = {p.name: p.stat().st_size for p in bundle.iterdir()}
    assert set(files) <= ALLOWED_FILES, set(files) - ALLOWED_FILES
    assert sum(files.values()) <= MAX_BUNDLE_BYTES
    metadata = verify_bundle(bundle)  # raises on any file whose SHA-256 differs
    assert set(metadata["files"]) == set(files) - {"MODEL_CARD.md", "metadata.json"}
    assert metadata["data_manifest_hash"] and metadata["seed"] is not None
    with safe_open(str(bundle / "model.safetensors"), framework="pt") as weights:
        stored = {name: weights.get_tensor(name) for name in weights.keys()}  # noqa: SIM118
    # int8 matrices with their float32 row scales, float16 vectors (nmt export --dtype int8)
    assert metadata["weights_dtype"] == "int8"
    for name, tensor in stored.items():
        if name.endswith(INT8_SCALE_SUFFIX):
            assert tensor.dtype == torch.float32 and name.removesuffix(INT8_SCALE_SUFFIX) in stored
        else:
            assert tensor.dtype == (torch.int8 if tensor.dim() >= 2 else torch.float16), name
    assert json.loads((bundle / "config.json").read_text())["name"] == "base"


def test_a_changed_byte_is_refused(bundle: Path, tmp_path: Path) -> None:
    from nmt.errors import CheckpointError

    copy = tmp_path / "copy"
    copy.mkdir()
    for path in bundle.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    data = bytearray((copy / "spm.model").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "spm.model").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="spm.model is corrupt"):
        load_translator(copy, "cpu")


def test_everyday_sentences_translate_to_their_fixed_outputs(bundle: Path) -> None:
    translator = load_translator(bundle, "cpu")
    outputs = [t.text for t in translator.translate(list(EVERYDAY))]
    assert dict(zip(EVERYDAY, outputs, strict=True)) == EVERYDAY


def test_nmt_translate_uses_the_shipped_model_by_default(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Where is the station?\n\nI love you.\n"))
    assert main(["translate", "--device", "cpu"]) == 0
    assert capsys.readouterr().out == "Où est la gare ?\n\nJe t'aime.\n"


def test_the_service_serves_the_shipped_model(bundle: Path) -> None:
    settings = ServiceSettings(checkpoint=bundle, device="cpu")
    with TestClient(create_app(settings)) as client:
        model = client.get("/v1/model").json()
        assert model["name"] == "en-fr-base"
        v1 = client.post("/v1/translate", json={"text": "I love you."})
        assert v1.status_code == 200 and v1.json()["translations"][0]["text"] == "Je t'aime."
        libre = client.post(
            "/translate", json={"q": "Where is the station?", "source": "en", "target": "fr"}
        )
        assert libre.json() == {"translatedText": "Où est la gare ?"}
