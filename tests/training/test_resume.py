"""Resume from a bundle the pre-split trainer wrote (tests/fixtures/bundle-v1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from nmt.checkpoint import WEIGHTS_FILE, verify_bundle
from nmt.data.dataset import manifest_hash
from nmt.training.trainer import train
from nmt.translator import load_translator
from tests.training.test_trainer import small_config

OLD_BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundle-v1"
OLD_STEP_2 = OLD_BUNDLES / "step-0000002"
OLD_STEP_4_WEIGHTS = OLD_BUNDLES / "step-0000004.model.safetensors"
# The settings the old code was run with (see tests/fixtures/bundle-v1/README.md).
OLD_RUN_SETTINGS = (
    "model.embedding_dim=8",
    "model.hidden_dim=16",
    "model.attention_dim=8",
    "train.max_steps=4",
    "train.valid_every=2",
)


def test_an_old_bundle_verifies_and_translates() -> None:
    metadata = verify_bundle(OLD_STEP_2)
    assert metadata["format_version"] == 1 and metadata["step"] == 2
    translator = load_translator(OLD_STEP_2, device="cpu")
    out = translator.translate(["I see the cat.", ""])
    assert isinstance(out[0].text, str) and out[1].text == ""


def test_an_old_bundle_resumes_to_the_weights_the_old_code_reached(
    prepared_dir: Path, tmp_path: Path
) -> None:
    saved = json.loads((OLD_STEP_2 / "metadata.json").read_text())["data_manifest_hash"]
    assert manifest_hash(prepared_dir) == saved, "the test corpus changed; the fixture needs it"
    run = tmp_path / "run"
    shutil.copytree(OLD_STEP_2, run / "checkpoints" / OLD_STEP_2.name)
    config = small_config(prepared_dir, *OLD_RUN_SETTINGS)
    result = train(config, prepared_dir, run, resume=True, progress_bar=False)
    assert result.step == 4 and result.stopped_because == "max_steps"
    assert verify_bundle(run / "last")["step"] == 4
    expected = load_file(str(OLD_STEP_4_WEIGHTS))
    actual = load_file(str(run / "last" / WEIGHTS_FILE))
    assert expected.keys() == actual.keys()
    for name in expected:  # bit-identical on the machine that wrote it; tolerance for others
        torch.testing.assert_close(actual[name], expected[name], atol=2e-5, rtol=1e-4, msg=name)
