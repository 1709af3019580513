"""Ensemble bundles (`nmt export --ensemble`): two runs' weights side by side in one bundle,
loaded as one translator that decodes by the mean of their probabilities."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from nmt.checkpoint import WEIGHTS_FILE, load_bundle, verify_bundle
from nmt.cli import main
from nmt.decoding import search
from nmt.errors import CheckpointError, NmtError
from nmt.model.ensemble import Ensemble
from nmt.training.average import export_bundle, export_ensemble, extract_member
from nmt.training.setup import setup_run
from nmt.training.trainer import train
from nmt.training.warm_start import load_initial_weights
from nmt.translator import load_translator

from .test_trainer import small_config

SENTENCES = ["I see the cat.", "Where is the station?", "The dog is big and the cat is small."]


@pytest.fixture(scope="module")
def runs(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The best bundles of two short runs that differ only in their seed."""
    root = tmp_path_factory.mktemp("ensemble")
    bundles = []
    for seed in (1, 2):
        config = small_config(prepared_dir, "train.max_steps=4", f"train.seed={seed}")
        train(config, prepared_dir, root / f"seed{seed}", progress_bar=False)
        bundles.append((root / f"seed{seed}" / "best").resolve())
    return bundles


def test_an_ensemble_bundle_translates_as_the_mean_of_its_members(
    runs: list[Path], tmp_path: Path
) -> None:
    out = export_ensemble(runs, tmp_path / "ensemble", dtype="float32", name="pair")
    metadata = verify_bundle(out)
    members = metadata["ensemble"]
    assert [m["seed"] for m in members] == [1, 2] and all(m["train_seconds"] for m in members)
    assert "train_seconds" not in metadata and "best" not in metadata
    for member, run in zip(members, runs, strict=True):
        assert member["weights_sha256"] == verify_bundle(run)["files"][WEIGHTS_FILE]
    assert metadata["name"] == "pair" and metadata["scores"] == {}
    assert metadata["target_shortlist"] == verify_bundle(runs[0])["target_shortlist"]

    translator = load_translator(out, "cpu")
    singles = [load_translator(run, "cpu") for run in runs]
    assert translator.description.ensemble == 2 and singles[0].description.ensemble == 1
    assert translator.description.parameters == sum(s.description.parameters for s in singles)
    assert translator.description.output_vocabulary == singles[0].description.output_vocabulary
    # the bundle decodes exactly as an Ensemble of the two runs' models built in memory
    in_memory = Ensemble([s.model for s in singles]).eval()
    src, lengths = _batch(translator, SENTENCES)
    options = translator.default_options
    expected = search(in_memory, src, lengths, options)
    found = search(translator.model, src, lengths, options)
    assert [h[0].tokens for h in found] == [h[0].tokens for h in expected]
    assert [h[0].score for h in found] == pytest.approx([h[0].score for h in expected], abs=1e-5)
    translations = translator.translate_segments(SENTENCES, options)
    assert all(t.attention is not None for t in translations)  # the text boundary aligns on it
    assert [t.text for t in translations] == [
        translator.tgt_tokenizer.decode(_vocabulary_ids(translator, h[0].tokens)) for h in found
    ]


def _batch(translator, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    ids = [translator.src_tokenizer.encode(t) + [translator.src_tokenizer.eos_id] for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    src = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, sentence in enumerate(ids):
        src[row, : len(sentence)] = torch.tensor(sentence)
    return src, lengths


def _vocabulary_ids(translator, tokens: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    output_ids = translator.model.output_ids
    return tokens if output_ids is None else [int(output_ids[t]) for t in tokens]


def test_the_cli_exports_an_ensemble_in_half_precision_that_int8_serves(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "pair"
    assert main(["export", *map(str, runs), "--ensemble", "--out", str(out)]) == 0
    assert "an ensemble of 2" in capsys.readouterr().err
    with safe_open(str(out / WEIGHTS_FILE), framework="pt") as weights:
        names = list(weights.keys())
        dtypes = {weights.get_tensor(name).dtype for name in names}
    assert dtypes == {torch.float16}
    assert {name.split(".")[:2][1] for name in names} == {"0", "1"}
    assert all(name.startswith("members.") for name in names)
    for path in out.iterdir():  # a bundle is a shared file: readable beyond its owner
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path.name
    float_texts = [t.text for t in load_translator(out, "cpu").translate(SENTENCES)]
    int8 = load_translator(out, "cpu", quantize="int8")
    assert int8.description.quantize == "int8" and int8.description.ensemble == 2
    assert all(isinstance(t.text, str) for t in int8.translate(SENTENCES))
    assert len(float_texts) == len(SENTENCES)
    png = tmp_path / "attention.png"
    assert main(["attention", SENTENCES[0], "--checkpoint", str(out), "--output", str(png)]) == 0
    assert "the mean of its 2 models' attention" in capsys.readouterr().err
    assert main(["export", str(out), "--out", str(tmp_path / "again")]) == 0  # a re-export
    assert f"exported {out} to" in capsys.readouterr().err  # not "the mean of 1"


def test_what_cannot_be_an_ensemble_is_refused_and_nothing_is_written(
    runs: list[Path], prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "refused"
    with pytest.raises(CheckpointError, match="at least two"):
        export_ensemble(runs[:1], out)
    pair = export_ensemble(runs, tmp_path / "pair")
    with pytest.raises(CheckpointError, match="is an ensemble already"):
        export_ensemble([pair, runs[0]], out)
    wider = tmp_path / "wider"
    config = small_config(prepared_dir, "train.max_steps=1", "model.hidden_dim=24")
    train(config, prepared_dir, wider, progress_bar=False)
    with pytest.raises(CheckpointError, match=r"model shape differs .*\(model.hidden_dim\)"):
        export_ensemble([runs[0], wider / "best"], out)
    with pytest.raises(CheckpointError, match="same weights are given twice"):
        export_ensemble([runs[0], runs[0]], out)
    assert not out.exists()
    with pytest.raises(CheckpointError, match="cannot be averaged"):  # no KeyError
        export_bundle([pair, runs[0]], out)
    copy = Path(shutil.copytree(runs[0], tmp_path / "copy"))
    for write in (export_bundle, export_ensemble):
        with pytest.raises(CheckpointError, match="is one of the input bundles"):
            write([copy, runs[1]], copy)
    assert (copy / "training_state.pt").is_file()  # the input is untouched
    assert not out.exists()
    assert main(["export", str(runs[0]), "--ensemble", "--out", str(out)]) == 1
    assert "at least two bundles" in capsys.readouterr().err and not out.exists()


def test_averaging_two_runs_is_refused_naming_what_makes_them_two(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(
        CheckpointError, match=r"train.seed differs from .*nmt export A B --ensemble"
    ):
        export_bundle(runs, tmp_path / "mean")
    assert main(["average", *map(str, runs), "--out", str(tmp_path / "mean")]) == 1
    assert "train.seed differs" in capsys.readouterr().err
    assert not (tmp_path / "mean").exists()


def test_checkpoints_on_both_sides_of_a_resume_with_new_settings_average(
    prepared_dir: Path, tmp_path: Path
) -> None:
    """A resumed run may change e.g. train.max_steps: its checkpoints are still one run's,
    and the average records the latest one's settings."""
    run = tmp_path / "run"
    steps = ("train.valid_every=2", "train.keep_last=4")
    train(
        small_config(prepared_dir, "train.max_steps=2", *steps),
        prepared_dir,
        run,
        progress_bar=False,
    )
    longer = small_config(prepared_dir, "train.max_steps=4", *steps)
    train(longer, prepared_dir, run, resume=True, progress_bar=False)
    checkpoints = sorted((run / "checkpoints").iterdir())
    assert [path.name for path in checkpoints] == ["step-0000002", "step-0000004"]
    assert load_bundle(checkpoints[0]).config.train.max_steps == 2
    mean = export_bundle(checkpoints, tmp_path / "mean")
    assert load_bundle(mean).config == longer
    assert verify_bundle(mean)["step"] == 4


def test_members_trained_on_other_data_keep_their_own_record_and_shortlist(
    runs: list[Path], tmp_path: Path
) -> None:
    """A student distilled from the others, or a fine-tuned run, is still a member: same
    shape and tokenizer; the output may hold what any member's training targets used."""
    shortlist = load_bundle(runs[0]).meta.target_shortlist or []
    half = len(shortlist) // 2
    assert half > 4
    first, second = (Path(shutil.copytree(r, tmp_path / f"m{i}")) for i, r in enumerate(runs))
    for bundle, data_hash, ids in (
        (first, None, shortlist[: half + 1]),
        (second, "0" * 64, shortlist[half:]),
    ):
        metadata = json.loads((bundle / "metadata.json").read_text())
        metadata["data_manifest_hash"] = data_hash or metadata["data_manifest_hash"]
        metadata["target_shortlist"] = ids  # metadata.json is not among the hashed files
        (bundle / "metadata.json").write_text(json.dumps(metadata))
    pair = load_bundle(export_ensemble([first, second], tmp_path / "pair"))
    hashes = [member["data_manifest_hash"] for member in pair.meta.ensemble or []]
    assert hashes == [load_bundle(runs[0]).meta.data_manifest_hash, "0" * 64]
    assert pair.meta.data_manifest_hash == hashes[0]
    assert pair.meta.target_shortlist == shortlist  # the union of the two halves


def test_a_warm_start_from_an_ensemble_names_its_members(
    runs: list[Path], prepared_dir: Path, tmp_path: Path
) -> None:
    pair = export_ensemble(runs, tmp_path / "pair")
    config = small_config(prepared_dir, f"train.init_from={pair}")
    model = load_translator(runs[0], "cpu").model
    hashes = dict(load_bundle(runs[0]).meta.tokenizer_sha256)
    with pytest.raises(NmtError, match="is an ensemble of 2 models; start from one") as err:
        load_initial_weights(model, config, hashes)
    assert "--member 0" in str(err.value)  # how to take one out


def test_a_member_taken_out_of_an_ensemble_is_that_run_again(
    runs: list[Path], prepared_dir: Path, tmp_path: Path
) -> None:
    pair = export_ensemble(runs, tmp_path / "pair", dtype="float32")
    second = extract_member(pair, 1, tmp_path / "second", dtype="float32")
    original, taken = load_bundle(runs[1]), load_bundle(second)
    assert taken.state_dict.keys() == original.state_dict.keys()
    for key, tensor in original.state_dict.items():
        assert torch.equal(taken.state_dict[key], tensor), key
    assert taken.meta.ensemble is None and taken.metadata["seed"] == 2
    assert taken.config == original.config  # its own, as the ensemble's record holds it
    assert (taken.meta.name, taken.meta.step) == (original.meta.name, original.meta.step)
    assert taken.meta.data_manifest_hash == original.meta.data_manifest_hash
    pair_hash = verify_bundle(pair)["files"][WEIGHTS_FILE]
    assert taken.metadata["extracted_from"] == {
        "path": str(pair.resolve()),
        "member": 1,
        "weights_sha256": pair_hash,
    }
    expected = [t.text for t in load_translator(runs[1], "cpu").translate(SENTENCES)]
    assert [t.text for t in load_translator(second, "cpu").translate(SENTENCES)] == expected
    # ... and a run can start from it, as from the run itself
    config = small_config(prepared_dir, f"train.init_from={second}", "train.seed=7")
    run = setup_run(config, prepared_dir, tmp_path / "warm", resume=False)
    for key, tensor in run.model.state_dict().items():
        torch.testing.assert_close(tensor, original.state_dict[key].to(tensor.dtype), msg=key)


def test_a_member_of_an_ensemble_without_configs_gets_the_first_ones_with_its_seed(
    runs: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ensembles exported before member records held their config (the shipped pair)."""
    pair = export_ensemble(runs, tmp_path / "pair")
    metadata = json.loads((pair / "metadata.json").read_text())
    for record in metadata["ensemble"]:
        del record["config"]
    (pair / "metadata.json").write_text(json.dumps(metadata))
    taken = load_bundle(extract_member(pair, 1, tmp_path / "second"))
    first = load_bundle(runs[0]).config
    assert taken.config.train.seed == 2 and taken.config.train.init_from is None
    assert taken.config.model == first.model and taken.config.data == first.data
    # said where it is written down and where it is shown
    assert "first member's" in taken.metadata["config_from"]
    assert "member 1's config.json: the ensemble's first member's" in caplog.text
    fresh = load_bundle(extract_member(export_ensemble(runs, tmp_path / "new"), 1, tmp_path / "b"))
    assert "config_from" not in fresh.metadata


def test_taking_a_member_out_refuses_what_is_not_one(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pair = export_ensemble(runs, tmp_path / "pair")
    out = tmp_path / "member"
    with pytest.raises(CheckpointError, match=r"has 2 members \(0 to 1\); no member 2"):
        extract_member(pair, 2, out)
    with pytest.raises(CheckpointError, match="single model, not an ensemble .*without --member"):
        extract_member(runs[0], 0, out)
    with pytest.raises(CheckpointError, match="is one of the input bundles"):
        extract_member(pair, 0, pair)
    assert not out.exists()
    with pytest.raises(SystemExit) as usage:
        main(["export", str(pair), "--member", "-1", "--out", str(out)])
    assert usage.value.code == 2 and "must be at least 0" in capsys.readouterr().err
    refusals = {
        "exactly one ensemble bundle, not 2": [str(runs[0])],
        "drop --ensemble": ["--ensemble"],
    }
    for message, extra in refusals.items():
        with pytest.raises(SystemExit) as usage:
            main(["export", str(pair), *extra, "--member", "0", "--out", str(out)])
        assert usage.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()
    assert main(["export", str(pair), "--member", "1", "--out", str(out)]) == 0
    assert f"exported member 1 of {pair}" in capsys.readouterr().err
    assert load_bundle(out).metadata["weights_dtype"] == "float16"


def test_the_service_serves_an_ensemble_bundle_and_says_so(
    runs: list[Path], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import ServiceSettings

    pair = export_ensemble(runs, tmp_path / "pair", name="pair")
    settings = ServiceSettings(checkpoint=pair, device="cpu", gc_freeze=False)
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/model").json()
        reply = client.post("/v1/translate", json={"text": "I see the cat. Where is the dog?"})
        libre_request = {"q": ["I see the cat."], "source": "en", "target": "fr"}
        libre = client.post("/translate", json=libre_request)
    assert (info["name"], info["ensemble"]) == ("pair", 2)
    assert reply.status_code == 200 and len(reply.json()["translations"]) == 1
    assert libre.status_code == 200 and len(libre.json()["translatedText"]) == 1
