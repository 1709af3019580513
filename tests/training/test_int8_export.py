"""Bundles stored in int8 (`nmt export --dtype int8`): every matrix as per-row int8 with its
float32 scales, read back to float32 by `load_bundle`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nmt.checkpoint import METADATA_FILE, WEIGHTS_FILE, load_bundle, save_bundle
from nmt.cli import main
from nmt.errors import CheckpointError
from nmt.fileio import sha256_file
from nmt.storage import INT8_SCALE_SUFFIX, dequantize_rows, quantize_rows
from nmt.translator import load_translator

from .test_ensemble_export import SENTENCES, runs  # noqa: F401 - the module's fixture

__all__ = ["runs"]


def test_quantize_rows_maps_each_rows_largest_weight_to_127_and_back_within_half_a_step() -> None:
    torch.manual_seed(0)
    matrix = torch.randn(6, 4, 3) * torch.tensor([1e-3, 1.0, 30.0, 0.5, 2.0, 1.0]).view(6, 1, 1)
    matrix[5] = 0.0  # a row of zeros stays zeros, with no division by zero
    quantized, scales = quantize_rows(matrix)
    assert quantized.dtype == torch.int8 and quantized.shape == matrix.shape
    assert scales.dtype == torch.float32 and scales.shape == (6, 1, 1)
    assert quantized[:5].abs().flatten(1).amax(dim=1).tolist() == [127] * 5
    restored = dequantize_rows(quantized, scales)
    assert restored.dtype == torch.float32
    assert torch.all((restored - matrix).abs() <= scales / 2 + 1e-7)
    assert torch.equal(restored[5], torch.zeros(4, 3))
    # the stored values quantize to themselves: serving's per-row int8 loses nothing more
    again, again_scales = quantize_rows(restored)
    assert torch.equal(again, quantized) and torch.allclose(again_scales, scales)


def test_an_int8_bundle_stores_matrices_in_int8_and_loads_them_back_in_float32(
    runs: list[Path],  # noqa: F811 - the imported fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    half, int8 = tmp_path / "half", tmp_path / "int8"
    assert main(["export", str(runs[0]), "--out", str(half)]) == 0
    assert main(["export", str(runs[0]), "--dtype", "int8", "--out", str(int8)]) == 0
    assert f"to {int8}" in capsys.readouterr().err
    with safe_open(str(int8 / WEIGHTS_FILE), framework="pt") as weights:
        stored = {name: weights.get_tensor(name) for name in weights.keys()}  # noqa: SIM118
    scales = {name for name in stored if name.endswith(INT8_SCALE_SUFFIX)}
    assert scales, "no matrix was stored in int8"
    for name, tensor in stored.items():
        if name in scales:
            assert tensor.dtype == torch.float32
        elif tensor.dim() >= 2:
            assert tensor.dtype == torch.int8 and name + INT8_SCALE_SUFFIX in scales, name
        else:
            assert tensor.dtype == torch.float16, name
    with safe_open(str(half / WEIGHTS_FILE), framework="pt") as weights:
        half_bytes = sum(_nbytes(weights.get_tensor(name)) for name in weights.keys())  # noqa: SIM118
    assert sum(map(_nbytes, stored.values())) < 0.6 * half_bytes  # the header aside

    original = load_bundle(runs[0])
    loaded = load_bundle(int8)
    assert loaded.metadata["weights_dtype"] == "int8"
    assert set(loaded.state_dict) == set(original.state_dict)
    for name, tensor in loaded.state_dict.items():
        expected = original.state_dict[name].float()
        assert tensor.shape == expected.shape, name
        step = expected.abs().max() / 127 if expected.dim() >= 2 else expected.abs().max() / 1000
        torch.testing.assert_close(tensor.float(), expected, atol=float(step), rtol=0, msg=name)

    translations = load_translator(int8, "cpu").translate(SENTENCES)
    assert [isinstance(t.text, str) for t in translations] == [True] * len(SENTENCES)
    pair = tmp_path / "pair"
    export = ["export", *map(str, runs), "--ensemble", "--dtype", "int8", "--out", str(pair)]
    assert main(export) == 0
    served = load_translator(pair, "cpu", quantize="int8")
    assert served.description.ensemble == 2 and len(served.translate(SENTENCES)) == len(SENTENCES)


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def test_int8_scales_without_their_weight_or_of_another_shape_are_a_corrupt_bundle(
    runs: list[Path],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    bundle = load_bundle(runs[0])
    weights = dict(bundle.state_dict)
    weights["stray" + INT8_SCALE_SUFFIX] = torch.ones(3, 1)
    out = save_bundle(
        tmp_path / "stray", weights, bundle.config, bundle.metadata, bundle.tokenizer_files
    )
    with pytest.raises(CheckpointError, match="int8 scales for stray, but no weight"):
        load_bundle(out)
    name = next(key for key, tensor in bundle.state_dict.items() if tensor.dim() == 2)
    weights = dict(bundle.state_dict)
    weights[name] = torch.ones_like(weights[name], dtype=torch.int8)
    weights[name + INT8_SCALE_SUFFIX] = torch.ones(3, 1)  # rows the weight does not have
    out = save_bundle(
        tmp_path / "misfit", weights, bundle.config, bundle.metadata, bundle.tokenizer_files
    )
    with pytest.raises(CheckpointError, match=f"int8 scales \\(3, 1\\) do not fit {name}"):
        load_bundle(out)


def test_an_int8_bundle_missing_a_scale_or_with_bad_scales_or_ties_is_refused(
    runs: list[Path],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    int8 = tmp_path / "int8"
    assert main(["export", str(runs[0]), "--dtype", "int8", "--out", str(int8)]) == 0
    good = load_file(str(int8 / WEIGHTS_FILE))
    name = next(key for key in good if key.endswith(INT8_SCALE_SUFFIX))
    weight = name.removesuffix(INT8_SCALE_SUFFIX)
    bad_scales = {
        "without": {k: t for k, t in good.items() if k != name},
        "not finite": good | {name: torch.full_like(good[name], float("nan"))},
        "negative": good | {name: -good[name]},
        "float16": good | {name: good[name].half()},
    }
    messages = {
        "without": f"{weight} is stored in int8 without its {INT8_SCALE_SUFFIX}",
        "not finite": "are not finite float32 values >= 0",
        "negative": "are not finite float32 values >= 0",
        "float16": "are not finite float32 values >= 0",
    }
    for case, tensors in bad_scales.items():
        copy = _with_weights(int8, tmp_path / case.replace(" ", "-"), tensors)
        with pytest.raises(CheckpointError, match=re.escape(messages[case])):
            load_bundle(copy)
    for ties in (["a", "b"], {"alias.weight": "nope.weight"}):
        copy = _with_weights(int8, tmp_path / f"ties-{type(ties).__name__}", good, ties)
        with pytest.raises(CheckpointError, match="tied_weights"):
            load_bundle(copy)


def _with_weights(
    bundle: Path, out: Path, tensors: dict[str, torch.Tensor], ties: object = None
) -> Path:
    """A copy of `bundle` holding `tensors` (and `ties`), its hashes made to match."""
    shutil.copytree(bundle, out)
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "nmt"})
    metadata = json.loads((out / METADATA_FILE).read_text())
    metadata["files"][WEIGHTS_FILE] = sha256_file(out / WEIGHTS_FILE)
    if ties is not None:
        metadata["tied_weights"] = ties
    (out / METADATA_FILE).write_text(json.dumps(metadata))
    return out


def test_averaging_int8_bundles_records_what_it_stores(
    runs: list[Path],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    parts = [tmp_path / "a", tmp_path / "b"]  # averaging needs one run's config: one run twice
    for part in parts:
        assert main(["export", str(runs[0]), "--dtype", "int8", "--out", str(part)]) == 0
    out = tmp_path / "mean"
    assert main(["average", *map(str, parts), "--out", str(out)]) == 0
    metadata = load_bundle(out).metadata
    # matrices come back from int8 as float32, the vectors stay the float16 they were stored in
    assert metadata["weights_dtype"] == "float16/float32" and "exported_from" not in metadata
    assert metadata["averaged_from"] == [str(p.resolve()) for p in parts]


def test_weights_that_do_not_fit_the_config_name_the_first_mismatch(
    runs: list[Path],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "wider"
    shutil.copytree(runs[0], bundle)
    config = json.loads((bundle / "config.json").read_text())
    config["model"]["hidden_dim"] *= 2
    (bundle / "config.json").write_text(json.dumps(config))
    metadata = json.loads((bundle / METADATA_FILE).read_text())
    metadata["files"]["config.json"] = sha256_file(bundle / "config.json")
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(CheckpointError) as refused:
        load_translator(bundle, "cpu")
    message = str(refused.value)
    assert "weights do not fit the config/vocabulary" in message
    assert "size mismatch for" in message and "Error(s) in loading" not in message
