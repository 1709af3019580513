"""The GPU kit (bench/gpu/): its data payload, the peer-log parsing, and the whole run dry.

test_dry_run runs bench/gpu/run.py --dry-run (every phase on CPU, tiny step counts, a
tiny LSTM) on the test suite's prepared data, as the device run would on the real data,
and checks the results JSON and the bundle parts that would come back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from nmt.checkpoint import load_bundle
from nmt.data.dataset import load_token_ids, read_split_text
from nmt.data.tokenizer import Tokenizer
from nmt.model.compiled import CompiledTeacherForcing
from nmt.translator import build_translator

GPU_BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu"
HEADLINE_KEYS = (
    "peer_tokens_per_s",
    "ours_tokens_per_s",
    "peer_decode_sent_per_s",
    "ours_decode_sent_per_s",
    "ours_test_bleu_multi",
    "train_seconds",
    "device",
    "versions",
)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU_BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit_dir(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kit without wheels or peer recipe (CI has no OpenNMT-py): data and pack only."""
    out = tmp_path_factory.mktemp("kit")
    _load("kit").build(prepared_dir, out)
    return out


def test_kit_data_is_the_prepared_files_byte_for_byte(kit_dir: Path, prepared_dir: Path, tmp_path):
    kit = _load("kit")
    unpacked = kit.unpack_prepared(kit_dir / kit.DATA_NAME, tmp_path / "data")
    names = sorted(p.name for p in unpacked.iterdir())
    assert names == sorted(kit.prepared_files(prepared_dir))
    assert "train.en" not in names and "train.ids.npz" in names
    for name in names:
        assert (unpacked / name).read_bytes() == (prepared_dir / name).read_bytes(), name


def test_peer_pack_holds_our_segmentation(kit_dir: Path, prepared_dir: Path) -> None:
    with tarfile.open(kit_dir / "peer-pack.tar.gz") as pack:
        members = set(pack.getnames())
        text = {
            name: pack.extractfile(name).read().decode("utf-8").split("\n")[:-1]  # type: ignore[union-attr]
            for name in members
            if name != "spm.model"
        }
    expected = {"train.sp.en", "train.sp.fr", "valid.sp.en", "valid.sp.fr", "test.sp.en"}
    assert members == expected | {"test.en", "test.fr", "spm.model"}
    tokenizer = Tokenizer.load(prepared_dir / "spm.model")
    train = load_token_ids(prepared_dir, "train")
    assert len(text["train.sp.en"]) == len(text["train.sp.fr"]) == len(train)
    first_source = train.source(0).tolist()
    assert first_source[-1] == tokenizer.eos_id  # ours ends sources with eos; the pack does not
    assert text["train.sp.en"][0].split() == tokenizer.id_to_piece(first_source[:-1])
    assert text["train.sp.fr"][0].split() == tokenizer.id_to_piece(train.target(0).tolist())
    sources, targets = read_split_text(prepared_dir, "test")
    assert text["test.en"] == sources and text["test.fr"] == targets
    assert len(text["test.sp.en"]) == len(sources)
    assert all("</s>" not in line for line in text["test.sp.en"])


def _report(step: int, src_rate: int, tgt_rate: int, seconds: int) -> str:
    """A training report line in OpenNMT-py 3.5.1's format (onmt/utils/statistics.py)."""
    return (
        f"[2026-11-22 10:00:00,000 INFO] Step {step}/ 1000; acc: 40.1; ppl:  25.3; xent: 3.2; "
        f"lr: 0.00100; sents:    9000; bsz: 1200/1500/180; {src_rate}/{tgt_rate} tok/s; "
        f"{seconds:6d} sec;"
    )


def test_peer_logs_are_read_leaving_the_first_report_out(tmp_path: Path) -> None:
    peer = _load("peer")
    log = "\n".join(
        [_report(50, 10_000, 12_000, 9), _report(100, 50_000, 66_000, 12)]
        + [_report(150, 52_000, 68_000, 15)]
    )
    figures = peer.parse_train_log(log)
    assert figures["reports"] == 3 and figures["last_step"] == 150
    assert figures["tokens_per_s"] == pytest.approx((116_000 + 120_000) / 2)
    assert figures["src_tokens_per_s"] == pytest.approx(51_000)
    assert figures["sentences_per_batch"] == 180
    assert peer.parse_train_log("no reports here") == {"reports": 0, "last_step": None}
    (tmp_path / "train.log").write_text(log)
    (tmp_path / "translate.b5.log").write_text("[x INFO] Total translation time (s): 2.5\n")
    (tmp_path / "gpu_monitor.csv").write_text(
        "timestamp, utilization.gpu [%], memory.used [MiB]\n"
        "2026/11/22 10:00:00.000, 10 %, 900 MiB\n2026/11/22 10:00:15.000, 20 %, 900 MiB\n"
    )
    collected = peer.collect(tmp_path, test_lines=3174)
    assert collected["beam5"]["sentences_per_second"] == pytest.approx(3174 / 2.5, abs=0.1)
    assert collected["beam1"] == {} and collected["gpu_busy_percent"] == 15.0


def test_split_file_parts_fit_and_rejoin(tmp_path: Path) -> None:
    ours_split = _load("kit").split_file
    payload = os.urandom(10_000)
    (tmp_path / "blob.tar").write_bytes(payload)
    (tmp_path / "out").mkdir()
    split = ours_split(tmp_path / "blob.tar", tmp_path / "out", 4096, 3)
    parts = [tmp_path / "out" / part["name"] for part in split["parts"]]
    assert [p.stat().st_size for p in parts] == [4096, 4096, 1808]
    assert b"".join(p.read_bytes() for p in parts) == payload
    assert split["sha256"] == hashlib.sha256(payload).hexdigest()
    with pytest.raises(ValueError, match="needs 3 parts"):
        ours_split(tmp_path / "blob.tar", tmp_path / "out", 4096, 2)


TINY = ["model.embedding_dim=16", "model.hidden_dim=16", "model.attention_dim=16"]


def _dry_run(kit_dir: Path, out: Path, *options: str) -> tuple[dict, str]:
    """bench/gpu/run.py --dry-run with a tiny lstm as the peer's shape; (results, stdout)."""
    command = [sys.executable, str(GPU_BENCH / "run.py"), "--dry-run", "--kit", str(kit_dir)]
    command += ["--out", str(out), "--config", "lstm", "--deadline", "600", *options]
    for override in [*TINY, "data.max_tokens=1500"]:
        command += ["--set", override]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "gpu-results.json").read_text())
    assert set(HEADLINE_KEYS) <= results.keys()
    status = {name: entry["status"] for name, entry in results["phases"].items()}
    assert status["install"] == "skipped"
    assert status["peer"] in {"skipped", "ok"}  # skipped: OpenNMT-py is not installed here
    if status["peer"] == "skipped":
        assert "OpenNMT-py" in results["phases"]["peer"]["reason"]
    for phase, state in status.items():
        skipped = results["phases"][phase].get("reason") == "--skip"
        if phase not in {"install", "peer"}:
            assert state == "ok" or skipped, (phase, results["phases"][phase])
    assert results["ours"]["compiled"]["forward_calls"]["compiled"] >= 3
    assert results["ours_tokens_per_s"] > 0 and results["train_seconds"] > 0
    assert results["ours_tokens_per_s_incl_compile"] > 0
    assert 0 <= results["ours_test_bleu_multi"] <= 100
    assert results["versions"]["torch"] and results["device"]
    return results, done.stdout


def _check_decoding_timings(evaluated: dict, stdout: str) -> None:
    """The peer's shape decoded as the peer's model is: graph search, eager, text boundary."""
    assert evaluated["weights"] == "float32"
    # the kit's bundles record no target shortlist: they decode the whole vocabulary, as
    # OpenNMT-py does, so the side-by-side compares like with like
    assert evaluated["output_vocabulary"] == 0
    beam5 = evaluated["beam5"]
    assert beam5["sentences_per_second"] > 0 and beam5["text_boundary_sentences_per_second"] > 0
    assert beam5["eager_sentences_per_second"] > 0 and beam5["steady_sentences_per_second"] > 0
    assert beam5["graphed_vs_eager_lines_differing"] == 0  # on CPU both are the eager search
    assert beam5["cuda_graphs"] == {"disabled": False, "captured": 0, "broken": False}
    assert "ours_decode_lines_differing: 0" in stdout  # the console summary shows it


def _check_bundle_parts(out: Path, bundle: dict, tmp_path: Path) -> Path:
    """The parts sent back rejoin into the bundle, which loads and translates."""
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and "ours-hyps.tgz" in files and "run.log" in files
    joined = b"".join((out / part["name"]).read_bytes() for part in bundle["parts"])
    assert all(part["bytes"] < 15 * 2**20 for part in bundle["parts"])
    assert hashlib.sha256(joined).hexdigest() == bundle["sha256"]
    (tmp_path / "bundle.tar").write_bytes(joined)
    with tarfile.open(tmp_path / "bundle.tar") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    directory = tmp_path / "unpacked" / bundle["directory"]
    translator = build_translator(load_bundle(directory), "cpu")
    assert len(translator.translate(["I see the cat."])) == 1
    return directory


def test_dry_run_measures_the_peer_shape_and_trains_the_bleu_model(kit_dir: Path, tmp_path):
    out = tmp_path / "out"
    options = ["--snapshot-at", "0.5", "--train-seconds", "6"]  # validations past compiling
    options += ["--skip", "ours_plain"]  # so the BLEU model trains on the compiled path
    for override in [*TINY, "data.max_tokens=1000"]:
        options += ["--train-set", override]
    results, stdout = _dry_run(kit_dir, out, *options)
    # the peer's shape trained on past its windows, its weights kept at the peer's time
    steady = results["ours"]["steady"]
    assert steady["seconds"] > 0 and steady["final_learning_rate"] == 1e-3  # constant rate
    assert steady["snapshot"]["wanted_seconds"] == 0.5
    assert 0.5 <= steady["snapshot"]["seconds"] <= steady["total_seconds"]
    assert results["ours_tokens_per_s_incl_compile"] == round(
        steady["total_tokens"] / steady["total_seconds"], 1
    )
    at_peer = results["ours"]["at_peer_time"]
    assert at_peer["steps"] == steady["snapshot"]["steps"] < steady["total_steps"]
    _check_decoding_timings(at_peer, stdout)
    assert results["ours_decode_sent_per_s"] == at_peer["beam5"]["sentences_per_second"]
    assert results["ours_test_bleu_multi_at_peer_time"] == at_peer["beam5"]["multi_ref"]["bleu"]
    assert results["ours_snapshot_seconds"] == steady["snapshot"]["seconds"]
    # the BLEU model: the base preset from scratch, with its warm-up, on the device asked
    train = results["ours"]["train"]
    assert results["ours_train_config"] == train["config"] == "base"
    assert train["path"] == "compiled" and "compiled_error" not in train
    order = list(results["phases"])  # the peer-time weights are decoded after the bundle
    assert order.index("bundle") < order.index("ours_at_peer_time") < order.index("evaluate")
    assert "errors" not in results and "headline_error" not in results
    assert train["continued_from_seconds"] < 1 and train["total_steps"] == train["steps"]
    assert train["lr_warmup_steps"] == 300  # the base preset's
    assert results["train_seconds"] == train["total_seconds"]
    assert results["ours_train_parameters"] == train["parameters"] < 100_000  # the tiny one
    assert results["plan"]["steady_seconds"] == 2
    assert "data.max_tokens=8192" in results["train_overrides"]  # then the test's 1000
    # validated every 0.5 s of its training and at the end: greedy valid BLEU by time
    curve = results["ours_valid_bleu_curve"]
    assert curve == train["valid_bleu_curve"] and len(curve) >= 2
    assert [p["steps"] for p in curve] == sorted({p["steps"] for p in curve})
    assert [p["seconds"] for p in curve] == sorted(p["seconds"] for p in curve)
    assert len(curve) <= train["total_seconds"] / 0.5 + 2
    assert curve[-1]["steps"] == train["total_steps"]
    assert all(0 <= p["valid_bleu"] <= 100 for p in curve)
    # the validations are inside its timed seconds; this rate leaves them out
    tokens = train["tokens_per_second"] * train["seconds"]
    stepping = train["seconds"] - train["validation_seconds"]
    excluded = results["ours_bleu_model_tokens_per_s_excl_validation"]
    assert excluded == train["tokens_per_second_excl_validation"]
    assert excluded == pytest.approx(tokens / stepping, rel=0.01)
    assert excluded >= results["ours_bleu_model_tokens_per_s"]  # equal once rounded if slow
    assert set(results["ours_seconds_to_valid_bleu"]) == {"40", "45", "50"}
    evaluated = results["ours"]["evaluate"]
    assert "eager_sentences_per_second" not in evaluated["beam5"]  # timed: the peer's shape
    assert results["ours_bleu_model_decode_sent_per_s_text"] > 0
    directory = _check_bundle_parts(out, results["ours"]["bundle"], tmp_path)
    assert json.loads((directory / "config.json").read_text())["model"]["rnn_type"] == "gru"
    with tarfile.open(out / "ours-hyps.tgz") as tar:
        names = set(tar.getnames())
    assert {"final/test.beam5.fr", "at-peer-time/test.beam5.fr"} <= names


def test_dry_run_one_model_layout_scores_its_own_weights_at_the_peer_time(
    kit_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    options = ["--train-config", "lstm", "--snapshot-at", "0", "--train-seconds", "12"]
    results, stdout = _dry_run(kit_dir, out, *options)
    assert "ours_steady" not in results["phases"] and "steady" not in results["ours"]
    evaluated = results["ours"]["evaluate"]
    _check_decoding_timings(evaluated, stdout)
    assert results["ours_decode_sent_per_s"] == evaluated["beam5"]["sentences_per_second"]
    # --snapshot-at 0: the weights as the train phase found them were kept and scored
    train = results["ours"]["train"]
    assert train["config"] == "lstm" and train["continued_from_seconds"] > 0
    assert train["steps"] > 0 and len(train["valid_bleu_curve"]) >= 1
    assert train["snapshot"]["steps"] == train["total_steps"] - train.get("steps", 0)
    assert results["ours_snapshot_seconds"] == train["snapshot"]["seconds"] > 0
    assert 0 <= results["ours_test_bleu_multi_at_peer_time"] <= 100
    assert "sentences_per_second" not in evaluated["at_peer_time"]["beam5"]
    _check_bundle_parts(out, results["ours"]["bundle"], tmp_path)


@pytest.fixture
def phases(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/gpu/phases.py, importable with its siblings and bench/ on the path."""
    monkeypatch.syspath_prepend(str(GPU_BENCH))
    monkeypatch.syspath_prepend(str(GPU_BENCH.parent))
    return _load("phases")


@pytest.fixture
def tiny_trained(monkeypatch: pytest.MonkeyPatch, prepared_dir: Path) -> tuple[ModuleType, object]:
    """(bench/gpu/ours.py, a tiny lstm built on the test data, no steps taken yet)."""
    monkeypatch.syspath_prepend(str(GPU_BENCH))
    monkeypatch.syspath_prepend(str(GPU_BENCH.parent))
    ours = _load("ours")
    overrides = [*TINY, "data.max_tokens=600"]
    settings = ours.CompileSettings()
    _, trained = ours.measure("lstm", prepared_dir, overrides, "cpu", False, settings, 0, 0.0, 0)
    return ours, trained


def test_train_on_keeps_the_weights_as_they_were_at_the_asked_time(tiny_trained) -> None:
    ours, trained = tiny_trained
    start = trained.seconds
    figures = ours.train_on(trained, 1.5, 1.0, 0, snapshot_at=start + 0.5)
    assert "error" not in figures and figures["steps"] > 2
    assert start + 0.45 <= trained.snapshot_seconds <= trained.seconds  # kept to 0.1 s
    assert 0 < trained.snapshot_steps < trained.steps
    now = trained.setup.model.state_dict()
    changed = [name for name, value in trained.snapshot.items() if not value.equal(now[name])]
    assert changed  # a copy as it was: the later steps moved the weights, not the snapshot


def test_train_on_takes_its_minimum_steps_however_short_the_time(tiny_trained) -> None:
    """A dry run on a busy machine: the first (compiled) step may outlast the budget."""
    ours, trained = tiny_trained
    assert ours.train_on(trained, 1e-9, 1.0)["steps"] <= 1
    figures = ours.train_on(trained, 1e-9, 1.0, min_steps=3)
    assert figures["steps"] == 3 and "error" not in figures


def test_a_failing_step_ends_train_on_keeping_what_the_steps_before_did(
    tiny_trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, trained = tiny_trained
    plain_step, calls = ours.tt.train_step, []

    def step_then_fail(*args: object) -> object:
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return plain_step(*args)

    monkeypatch.setattr(ours.tt, "train_step", step_then_fail)
    figures = ours.train_on(trained, 30.0, 1.0)
    assert figures["error"].startswith("RuntimeError: CUDA error")
    assert figures["steps"] == trained.steps == 3 and trained.tokens > 0
    assert 0 < figures["seconds"] < 30 and trained.seconds > 0


def test_headline_training_rate_is_the_steady_train_phase_when_it_ran_long_enough(
    phases: ModuleType,
) -> None:
    train = {"tokens_per_second": 357_000.0, "seconds": 197.5}
    train |= {"total_tokens": 75_000_000, "total_seconds": 250.0}
    results = {
        "peer": {"train": {"tokens_per_s": 142_000.0}},
        "ours": {
            "plain": {"tokens_per_second": 124_000.0},
            "compiled": {"tokens_per_second": 160_000.0},
            "train": train,
        },
    }
    phases.headline(results)
    assert results["ours_window_tokens_per_s"] == 160_000.0
    assert results["ours_tokens_per_s"] == 357_000.0
    assert results["ours_tokens_per_s_incl_compile"] == 300_000.0
    assert results["ratios"]["tokens_per_s"] == round(357 / 142, 2)
    assert results["ratios"]["tokens_per_s_incl_compile"] == round(300 / 142, 2)
    train["seconds"] = phases.STEADY_SECONDS - 1  # too short to be past the graph recordings
    phases.headline(results)
    assert results["ours_tokens_per_s"] == 160_000.0 and results["ours_train_tokens_per_s"] is None


def test_with_two_models_the_side_by_side_figures_are_the_peer_shapes(
    phases: ModuleType,
) -> None:
    steady = {"tokens_per_second": 300_000.0, "seconds": 60.0, "gpu_busy_percent": 30.0}
    steady |= {"total_tokens": 27_000_000, "total_seconds": 100.0}
    at_peer = {"seconds": 69.5, "beam5": {"sentences_per_second": 2_900.0}}
    at_peer["beam5"] |= {"multi_ref": {"bleu": 41.0, "chrf": 60.0}}
    train = {"config": "base", "tokens_per_second": 500_000.0, "seconds": 190.0}
    train |= {"total_tokens": 90_000_000, "total_seconds": 200.0, "total_steps": 11_000}
    evaluated = {"beam5": {"multi_ref": {"bleu": 54.0, "chrf": 70.0}}}
    results = {
        "peer": {"train": {"tokens_per_s": 150_000.0}, "beam5": {"sentences_per_second": 1_400}},
        "ours": {"compiled": {"tokens_per_second": 160_000.0}, "steady": steady},
    }
    results["ours"] |= {"at_peer_time": at_peer, "train": train, "evaluate": evaluated}
    phases.headline(results)
    assert results["ours_tokens_per_s"] == 300_000.0 and results["ratios"]["tokens_per_s"] == 2.0
    assert results["ours_tokens_per_s_incl_compile"] == 270_000.0
    assert results["ours_train_gpu_busy_percent"] == 30.0
    assert results["ours_decode_sent_per_s"] == 2_900.0
    assert results["ratios"]["decode_beam5"] == round(2_900 / 1_400, 2)
    assert results["ours_test_bleu_multi_at_peer_time"] == 41.0
    assert results["ours_snapshot_seconds"] == 69.5
    assert results["ours_bleu_model_tokens_per_s"] == 500_000.0
    assert results["ours_train_config"] == "base" and results["train_seconds"] == 200.0
    assert results["ours_test_bleu_multi"] == 54.0 and results["train_steps"] == 11_000


def test_the_bleu_model_goes_on_eagerly_when_its_first_compiled_step_fails(
    phases: ModuleType, prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _load("run")
    args = runner.parse_args(["--dry-run", "--data", str(prepared_dir), "--out", str(tmp_path)])
    args.plan = dataclasses.replace(args.plan, train_seconds=2.0, valid_every=0.0)
    plain_step = phases.ours.tt.train_step

    def no_compiled_step(setup: object, forward: object, batch: object) -> object:
        if isinstance(forward, CompiledTeacherForcing):
            raise RuntimeError("inductor: compilation failed")
        return plain_step(setup, forward, batch)

    monkeypatch.setattr(phases.ours.tt, "train_step", no_compiled_step)
    held: dict = {"model": None}
    figures = phases.train(
        runner.Run(args), held, {}, "lstm", [*TINY, "data.max_tokens=600"], compiled=True
    )
    assert figures["compiled_error"] == "RuntimeError: inductor: compilation failed"
    assert figures["path"] == held["model"].path == "plain" and "error" not in figures
    assert figures["steps"] > 0 and figures["total_steps"] == figures["steps"]


def test_a_dry_run_bleu_model_past_its_training_time_still_takes_its_minimum_steps(
    phases: ModuleType, tiny_trained, prepared_dir: Path, tmp_path: Path
) -> None:
    """On a busy machine the measurement can use the whole training time (CI, 2026-12-01:
    no `steps` in the train figures); the dry run still trains and validates its model."""
    _, trained = tiny_trained
    runner = _load("run")
    args = runner.parse_args(["--dry-run", "--data", str(prepared_dir), "--out", str(tmp_path)])
    trained.seconds = args.plan.train_seconds + 5.0  # the measurement outlasted the plan
    held: dict = {"model": trained}
    figures = phases.train(runner.Run(args), held, {}, "lstm", [], compiled=False)
    assert figures["steps"] == args.plan.min_train_steps > 0 and "note" not in figures
    assert len(figures["valid_bleu_curve"]) >= 1
    args.plan = dataclasses.replace(args.plan, min_train_steps=0)  # a device run: no more time
    figures = phases.train(runner.Run(args), held, {}, "lstm", [], compiled=False)
    assert "steps" not in figures and figures["note"].startswith("no time left")


def test_time_to_a_valid_bleu_is_the_first_validation_at_or_above_it(phases: ModuleType) -> None:
    curve = [{"seconds": 20.0, "steps": 900, "valid_bleu": 38.0}]
    curve += [{"seconds": 45.0, "steps": 2000, "valid_bleu": 45.0}]
    curve += [{"seconds": 70.0, "steps": 3100, "valid_bleu": 44.5}]
    assert phases.seconds_to_marks(curve) == {"40": 45.0, "45": 45.0, "50": None}
    assert phases.seconds_to_marks(None) is None


def test_decode_diagnosis_runs_every_section_on_cpu(
    prepared_dir: Path, shipped_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "diag"
    command = [sys.executable, str(GPU_BENCH / "decode_diag.py")]
    command += ["--bundle", str(shipped_model_dir), "--data", str(prepared_dir)]
    command += ["--out", str(out), "--limit", "8", "--repeats", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    diag = json.loads((out / "diag.json").read_text())
    sections = diag["sections"]
    assert diag["lines"] == 8 and diag["device"]
    for name in ("text_b5_bs64", "model_b5_bs64", "model_b1_bs64", "model_b5_bs256"):
        assert sections[name]["sent_per_s"] > 0
        assert sections[name]["decode_step_calls_incl_warmup"] > 0
    assert sections["decode_step_micro"]["eager_ms_per_step"] > 0  # no graph section on a CPU
    assert "graph_ms_per_step" not in sections["decode_step_micro"]
    assert sections["profile_b5"]["decode_steps"] > 0
    assert sections["profile_b5"]["self_device_ms_total"] == 0  # no kernels on a CPU
    assert (out / "profile_cpu.txt").read_text().strip()
