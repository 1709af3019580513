"""The phases of bench/gpu/run.py after the install (this module imports torch and nmt).

Each phase function returns a dict that goes into the results (`Run.phase` records its
status); the headline figures are copied to the top level of the JSON at the end.
"""

from __future__ import annotations

import gc
import importlib
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import decode_speed
import kit
import ours
import peer
import torch

import nmt
from nmt.model.compiled import CompileSettings

HYPS_NAME = "ours-hyps.tgz"
PART_BYTES = 14 * 2**20  # every bundle part under 15 MiB
MAX_OUT_FILES = 8  # what comes back from the device machine
PATHS = ("plain", "compiled")
BEAMS = (5, 1)  # beam 5 first: the headline BLEU and decoding target
EVAL_BATCH = 64
# The headline training rate is the train phase's when it ran at least this long: by then
# every length bucket's CUDA graphs are recorded. The 30-s windows right after compilation
# still record new shapes (160k against 357k tokens/s on the H200, 2026-11-30).
STEADY_SECONDS = 60.0
VALID_SENTENCES = 500  # validation BLEU during training: nmt train's default sample
VALID_BLEU_MARKS = (40.0, 45.0, 50.0)  # "time to a fixed valid BLEU", for each of these


def run_all(run: Any) -> None:
    """peer, ours_plain, ours_compiled, ours_steady, train, bundle, ours_at_peer_time,
    evaluate; then the headline keys (run.py's docstring says what each phase does).

    The weights of the peer's shape at the peer's time are evaluated only after the BLEU
    model's bundle is written: the graph search runs on a GPU for the first time there, and
    a device error that stuck to the process must not cost the trained model."""
    results, args = run.results, run.args
    results["device"] = decode_speed.device_name("cuda" if torch.cuda.is_available() else "cpu")
    results["versions"] = versions()
    run.on_write = headline  # the top-level figures stay current if the run is cut short
    run.write()
    results["peer"] = run.phase("peer", lambda: run_peer(run))
    results["ours"] = {}
    models: dict[str, ours.Trained] = {}
    for path in PATHS:
        results["ours"][path] = run.phase(f"ours_{path}", lambda p=path: measure(run, p, models))
    held = {"model": pick_winner(models, results)}
    compiled = getattr(held["model"], "path", "plain") == "compiled"
    work = Path(tempfile.mkdtemp(prefix="nmt-gpu-"))
    hyps, at_peer_dir = work / "hyps", work / f"{args.config}-gpu-at-peer-time"
    if not args.one_model:
        results["ours"]["steady"] = run.phase(
            "ours_steady", lambda: steady(run, held, models, at_peer_dir)
        )
        held["model"] = None  # the BLEU model starts from scratch
        _quietly(run, "free the measured model", lambda: _free(models, None, reset=True))
    results["ours"]["train"] = run.phase(
        "train", lambda: train(run, held, models, args.train_config, args.train_set, compiled)
    )
    bundle_dir = work / f"{args.train_config}-gpu"
    results["ours"]["bundle"] = run.phase("bundle", lambda: bundle(run, held["model"], bundle_dir))
    if not args.one_model:
        results["ours"]["at_peer_time"] = run.phase(
            "ours_at_peer_time", lambda: evaluate_at_peer_time(run, at_peer_dir, hyps)
        )
    results["ours"]["evaluate"] = run.phase("evaluate", lambda: evaluate(run, bundle_dir, hyps))
    _quietly(run, "pack the hypotheses", lambda: pack_hypotheses(hyps, args.out / HYPS_NAME))
    shutil.rmtree(work, ignore_errors=True)


def _quietly(run: Any, what: str, action: Any) -> None:
    """Run a step between phases; a failure is recorded under `errors`, never raised."""
    try:
        action()
    except Exception as error:
        run.results.setdefault("errors", {})[what] = f"{type(error).__name__}: {error}"


def versions() -> dict[str, Any]:
    """Versions of what runs here; the GPU driver; the repository's commit."""
    found: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    found["cuda"] = torch.version.cuda
    found["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    found["nmt"] = nmt.__version__
    for name in ("triton", "pydantic", "sacrebleu", "sentencepiece", "numpy", "safetensors"):
        try:
            found[name] = importlib.import_module(name).__version__
        except Exception:
            found[name] = None
    repo = str(Path(__file__).resolve().parents[2])
    found["nmt_commit"] = _command(["git", "-C", repo, "rev-parse", "HEAD"])
    query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    found["driver"] = _command(query)
    return found


def _command(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def run_peer(run: Any) -> dict[str, Any]:
    """The peer's recipe for plan.peer_steps steps (see peer.py)."""
    plan, args = run.args.plan, run.args
    tag = {"full": "lstm", "smoke": "smoke", "dry-run": "dryrun"}[args.mode]
    return peer.run_peer(
        kit=args.kit,
        steps=plan.peer_steps,
        timeout=min(plan.peer_timeout, max(run.left() - 60, 10)),
        python=sys.executable,
        site=args.site,
        out_dir=args.out,
        tag=tag,
        cpu=plan.peer_cpu,
        batch_tokens=plan.peer_batch,
        test_limit=plan.peer_test_limit,
    )


def _settings(run: Any) -> CompileSettings:
    return CompileSettings(chunk_steps=run.args.chunk_steps, backend=run.args.plan.backend)


def measure(run: Any, path: str, models: dict[str, ours.Trained]) -> dict[str, Any]:
    """Warm-up, then plan.throughput_seconds of timed steps on a fresh model."""
    plan, args = run.args.plan, run.args
    figures, trained = ours.measure(
        args.config,
        args.data,
        args.set,
        "auto",
        compiled=path == "compiled",
        settings=_settings(run),
        warmup=plan.warmup,
        seconds=plan.throughput_seconds,
        max_steps=plan.throughput_max_steps,
    )
    models[path] = trained
    return figures


def pick_winner(models: dict[str, ours.Trained], results: dict[str, Any]) -> ours.Trained | None:
    """The measured model with the higher tokens/s (None if neither ran)."""
    rates = {
        path: (results["ours"].get(path) or {}).get("tokens_per_second", 0.0) for path in models
    }
    if not rates:
        return None
    return models[max(rates, key=lambda path: rates[path])]


def _free(models: dict[str, ours.Trained], keep: ours.Trained | None, reset: bool = False) -> None:
    """Drop every model but `keep`; with `reset`, Dynamo's compiled code and CUDA graph
    trees too (the next model is compiled afresh, not as a recompile of the last)."""
    for path in list(models):
        if models[path] is not keep:
            del models[path]
    if reset:
        torch._dynamo.reset()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _snapshot_time(run: Any) -> float | None:
    """Training seconds at which the weights are kept: --snapshot-at, the plan's, the peer's."""
    for candidate in (run.args.snapshot_at, run.args.plan.snapshot_at):
        if candidate is not None:
            return float(candidate)
    return _get(run.results.get("peer"), "train", "seconds_at_last_report")


def steady(
    run: Any, held: dict[str, Any], models: dict[str, ours.Trained], directory: Path
) -> dict[str, Any]:
    """The measured model (the peer's shape) trained on at its constant learning rate for
    plan.steady_seconds, or up to the peer's training time if that is longer: the steady
    tokens/s, past the CUDA graph recordings of the 30-s windows. Its weights when the
    training time reached the peer's (or at the end, if it did not) are saved as a bundle
    in `directory` for `evaluate_at_peer_time`."""
    trained: ours.Trained | None = held["model"]
    if trained is None:
        raise RuntimeError("no measured model (both measurements failed)")
    _free(models, trained)
    plan, peer_seconds = run.args.plan, _snapshot_time(run)
    if peer_seconds is not None and trained.seconds >= peer_seconds:  # past it already
        trained.keep_snapshot(trained.seconds, trained.steps)
    seconds = max(plan.steady_seconds, (peer_seconds or 0.0) - trained.seconds)
    seconds = min(seconds, run.left() - 3 * plan.eval_reserve)
    figures: dict[str, Any] = {"path": trained.path, "continued_from_seconds": trained.seconds}
    if seconds > 1.0:
        figures.update(ours.train_on(trained, seconds, 1.0, 0, peer_seconds))
    else:
        figures["note"] = f"no time left to train on ({seconds:.0f} s)"
    if trained.snapshot is None:  # the peer's time was not reached: the weights as they are
        trained.keep_snapshot(trained.seconds, trained.steps)
    figures["snapshot"] = trained.snapshot_figures(peer_seconds)
    extra = {"trained_by": "bench/gpu/run.py", "forward_path": trained.path}
    extra |= {"step": trained.snapshot_steps, "train_seconds": trained.snapshot_seconds}
    ours.save_trained(trained, directory, extra, trained.snapshot)
    return {**figures, **trained.totals()}


def evaluate_at_peer_time(run: Any, directory: Path, hyps: Path) -> dict[str, Any]:
    """The peer's shape at the peer's training time (the bundle `steady` saved), evaluated
    as the peer's model is: decoding speed (graph search, eager, text boundary) and test
    scores. Not sent back."""
    if not (directory / "metadata.json").is_file():
        raise RuntimeError("no bundle of the weights at the peer's time (ours_steady failed)")
    plan = run.args.plan
    results = ours.evaluate(
        directory, run.args.data, "auto", BEAMS, EVAL_BATCH, plan.eval_limit, hyps / "at-peer-time"
    )
    snapshot = _get(run.results, "ours", "steady", "snapshot") or {}
    results["steps"], results["seconds"] = snapshot.get("steps"), snapshot.get("seconds")
    return results


def train(
    run: Any,
    held: dict[str, Any],
    models: dict[str, ours.Trained],
    config: str,
    overrides: list[str],
    compiled: bool,
) -> dict[str, Any]:
    """Train held["model"] on until plan.train_seconds in all (less near the deadline).

    Without one (the BLEU model of another preset, or both measurements failed) a fresh
    `config` model starts, on the compiled path if `compiled`, with its preset's warm-up.
    """
    plan, args = run.args.plan, run.args
    warmup_steps = 0
    trained = held["model"]
    if trained is None:
        _, trained = ours.measure(
            config, args.data, overrides, "auto", compiled, _settings(run), 0, 0.0, 0
        )
        models[trained.path] = held["model"] = trained
        warmup_steps = trained.setup.config.train.warmup_steps or 100
    _free(models, trained)
    seconds = min(plan.train_seconds - trained.seconds, run.left() - plan.eval_reserve)
    figures: dict[str, Any] = {"config": config, "path": trained.path}
    figures["continued_from_seconds"] = trained.seconds
    figures["parameters"] = sum(p.numel() for p in trained.setup.model.parameters())
    figures["lr_warmup_steps"] = warmup_steps
    peer_seconds = _snapshot_time(run) if args.one_model else None
    if peer_seconds is not None and trained.seconds >= peer_seconds:  # past it already
        trained.keep_snapshot(trained.seconds, trained.steps)
    if seconds > 1.0 or plan.min_train_steps:  # a dry run's measurement may use it all
        seconds = max(seconds, 0.0)
        probe = ours.valid_bleu_probe(trained.setup, VALID_SENTENCES)

        def train_for(budget: float) -> dict[str, Any]:
            return ours.train_on(
                trained,
                budget,
                args.final_lr_fraction,
                warmup_steps,
                peer_seconds,
                probe,
                plan.valid_every,
                plan.min_train_steps,
            )

        done = train_for(seconds)
        if done.get("error") and trained.path == "compiled" and done["steps"] == 0:
            # the compiled path failed before its first step (a new shape never compiled
            # on this GPU): the eager path for the rest of the time
            figures["compiled_error"] = done.pop("error")
            trained.use_plain_path()
            figures["path"] = trained.path
            left = plan.train_seconds - trained.seconds
            done = train_for(max(min(left, run.left() - plan.eval_reserve), 0.0))
        figures.update(done)
    else:
        figures["note"] = f"no time left to train further ({seconds:.0f} s)"
    if trained.snapshot is not None:
        figures["snapshot"] = trained.snapshot_figures(peer_seconds)
    return {**figures, **trained.totals()}


def bundle(run: Any, trained: ours.Trained | None, directory: Path) -> dict[str, Any]:
    """Save the trained model as an fp16 bundle; tar it and cut it into parts in OUT."""
    if trained is None:
        raise RuntimeError("no trained model (the train phase failed before training)")
    extra = {"trained_by": "bench/gpu/run.py", "forward_path": trained.path}
    ours.save_trained(trained, directory, extra)
    if trained.snapshot is not None:  # evaluated, not sent back
        extra |= {"step": trained.snapshot_steps, "train_seconds": trained.snapshot_seconds}
        ours.save_trained(trained, snapshot_dir(directory), extra, trained.snapshot)
    archive = kit.tar_directory(directory, directory.parent / f"{directory.name}.tar")
    taken = len([p for p in run.args.out.iterdir() if p.is_file()]) + 1  # + ours-hyps.tgz
    split = kit.split_file(archive, run.args.out, PART_BYTES, MAX_OUT_FILES - taken)
    archive.unlink()
    return {"directory": directory.name, **split}


def evaluate(run: Any, bundle_dir: Path, hyps: Path) -> dict[str, Any]:
    """Translate and score the test lines with the saved bundle; hypotheses under `hyps`.

    Decoding is timed in full only for the peer's shape (one-model layout); another
    preset's speed is the scored text-boundary pass's."""
    if not (bundle_dir / "metadata.json").is_file():
        raise RuntimeError("no bundle to evaluate (the bundle phase failed)")
    args, limit = run.args, run.args.plan.eval_limit
    results = ours.evaluate(
        bundle_dir, args.data, "auto", BEAMS, EVAL_BATCH, limit, hyps / "final", args.one_model
    )
    snapshot = snapshot_dir(bundle_dir)
    if (snapshot / "metadata.json").is_file():  # the weights at the peer's training time
        results["at_peer_time"] = ours.evaluate(
            snapshot, args.data, "auto", (5,), EVAL_BATCH, limit, hyps / "at-peer-time", False
        )
    return results


def pack_hypotheses(hyps: Path, archive: Path) -> None:
    """Every hypothesis file written under `hyps` into one .tgz (one of the files sent back)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(hyps.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(hyps)))
    shutil.rmtree(hyps, ignore_errors=True)


def snapshot_dir(bundle_dir: Path) -> Path:
    """Where the bundle of the weights at the peer's training time goes."""
    return bundle_dir.parent / f"{bundle_dir.name}-at-peer-time"


def _get(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def _ratio(top: Any, bottom: Any) -> float | None:
    return round(top / bottom, 2) if top and bottom else None


def headline(results: dict[str, Any]) -> None:
    """Copy the figures the issue asks for to the top level of the JSON.

    The side-by-side figures (tokens/s, decoding speed, scores at the peer's training time)
    are the peer's shape's: `ours.steady` and `ours.at_peer_time` when the BLEU model is
    another preset, else the measured model's `train` and `evaluate`. `ours_test_bleu_*`,
    `train_seconds` and `train_steps` are the BLEU model's (`ours.train`, `ours.evaluate`)."""
    peer_result, mine = results.get("peer"), results.get("ours") or {}
    if isinstance(results.get("versions"), dict):
        results["versions"]["onmt"] = _get(peer_result, "onmt_version")
    two_models = "steady" in mine
    same_shape = mine.get("steady") if two_models else mine.get("train")
    decoded = mine.get("at_peer_time") if two_models else mine.get("evaluate")
    at_peer = decoded if two_models else _get(decoded, "at_peer_time")
    rates = [_get(mine, path, "tokens_per_second") for path in PATHS]
    window = max((r for r in rates if r), default=None)
    steady_rate = _get(same_shape, "tokens_per_second")
    if (_get(same_shape, "seconds") or 0) < STEADY_SECONDS:
        steady_rate = None
    total_tokens = _get(same_shape, "total_tokens")
    total_seconds = _get(same_shape, "total_seconds")
    results.update(
        peer_tokens_per_s=_get(peer_result, "train", "tokens_per_s"),
        peer_decode_sent_per_s=_get(peer_result, "beam5", "sentences_per_second"),
        peer_decode_sent_per_s_beam1=_get(peer_result, "beam1", "sentences_per_second"),
        peer_test_bleu_multi=_get(peer_result, "beam5", "multi_ref", "bleu"),
        peer_train_steps=_get(peer_result, "train", "last_step"),
        peer_gpu_busy_percent=_get(peer_result, "gpu_busy_percent"),
        peer_train_seconds=_get(peer_result, "train", "seconds_at_last_report"),
        ours_plain_tokens_per_s=rates[0],
        ours_compiled_tokens_per_s=rates[1],
        ours_window_tokens_per_s=window,
        ours_train_tokens_per_s=steady_rate,
        ours_tokens_per_s=steady_rate or window,
        ours_tokens_per_s_incl_compile=(
            round(total_tokens / total_seconds, 1) if total_tokens and total_seconds else None
        ),
        ours_train_gpu_busy_percent=_get(same_shape, "gpu_busy_percent"),
        ours_decode_sent_per_s=_get(decoded, "beam5", "sentences_per_second"),
        ours_decode_sent_per_s_beam1=_get(decoded, "beam1", "sentences_per_second"),
        ours_decode_sent_per_s_text=_get(decoded, "beam5", "text_boundary_sentences_per_second"),
        ours_decode_sent_per_s_eager=_get(decoded, "beam5", "eager_sentences_per_second"),
        ours_decode_sent_per_s_steady=_get(decoded, "beam5", "steady_sentences_per_second"),
        ours_decode_graphs=_get(decoded, "beam5", "cuda_graphs"),
        ours_decode_lines_differing=_get(decoded, "beam5", "graphed_vs_eager_lines_differing"),
        ours_test_bleu_multi_at_peer_time=_get(at_peer, "beam5", "multi_ref", "bleu"),
        ours_test_bleu_single_at_peer_time=_get(at_peer, "beam5", "single_ref", "bleu"),
        ours_test_chrf_multi_at_peer_time=_get(at_peer, "beam5", "multi_ref", "chrf"),
        ours_snapshot_seconds=(
            _get(at_peer, "seconds") if two_models else _get(mine, "train", "snapshot", "seconds")
        ),
        ours_train_config=_get(mine, "train", "config"),
        ours_train_path=_get(mine, "train", "path"),
        ours_train_parameters=_get(mine, "train", "parameters"),
        ours_bleu_model_tokens_per_s=_get(mine, "train", "tokens_per_second"),
        ours_bleu_model_tokens_per_s_excl_validation=_get(
            mine, "train", "tokens_per_second_excl_validation"
        ),
        train_seconds=_get(mine, "train", "total_seconds"),
        train_steps=_get(mine, "train", "total_steps"),
        ours_valid_bleu_curve=_get(mine, "train", "valid_bleu_curve"),
        ours_seconds_to_valid_bleu=seconds_to_marks(_get(mine, "train", "valid_bleu_curve")),
        ours_test_bleu_multi=_get(mine, "evaluate", "beam5", "multi_ref", "bleu"),
        ours_test_bleu_single=_get(mine, "evaluate", "beam5", "single_ref", "bleu"),
        ours_test_chrf_multi=_get(mine, "evaluate", "beam5", "multi_ref", "chrf"),
        ours_test_bleu_multi_greedy=_get(mine, "evaluate", "beam1", "multi_ref", "bleu"),
        ours_bleu_model_decode_sent_per_s_text=_get(
            mine, "evaluate", "beam5", "text_boundary_sentences_per_second"
        ),
    )
    pairs = {
        "tokens_per_s": ("ours_tokens_per_s", "peer_tokens_per_s"),
        "tokens_per_s_incl_compile": ("ours_tokens_per_s_incl_compile", "peer_tokens_per_s"),
        "decode_beam5": ("ours_decode_sent_per_s", "peer_decode_sent_per_s"),
        "decode_beam1": ("ours_decode_sent_per_s_beam1", "peer_decode_sent_per_s_beam1"),
    }
    results["ratios"] = {
        name: _ratio(results[top], results[bottom]) for name, (top, bottom) in pairs.items()
    }


def seconds_to_marks(curve: list[dict[str, float]] | None) -> dict[str, float | None] | None:
    """For each of VALID_BLEU_MARKS, the training seconds of the first validation at or
    above it (None if none reached it)."""
    if not curve:
        return None
    return {
        f"{mark:g}": next((p["seconds"] for p in curve if p["valid_bleu"] >= mark), None)
        for mark in VALID_BLEU_MARKS
    }


def summary(results: dict[str, Any]) -> str:
    """A short table for the end of the console output."""
    rows = [f"{name}: {entry.get('status')}" for name, entry in results["phases"].items()]
    keys = ("device", "peer_tokens_per_s", "ours_plain_tokens_per_s", "ours_compiled_tokens_per_s")
    keys += ("ours_tokens_per_s", "ours_tokens_per_s_incl_compile")
    keys += ("peer_decode_sent_per_s", "ours_decode_sent_per_s", "ours_decode_sent_per_s_eager")
    keys += ("ours_decode_graphs", "ours_decode_lines_differing")
    keys += ("ours_test_bleu_multi_at_peer_time", "ours_snapshot_seconds", "peer_train_seconds")
    keys += ("peer_test_bleu_multi", "ours_train_config", "ours_bleu_model_tokens_per_s")
    keys += ("ours_test_bleu_multi", "train_seconds", "train_steps", "ours_seconds_to_valid_bleu")
    keys += ("wall_seconds",)
    rows += [f"{key}: {results.get(key)}" for key in keys]
    rows.append(f"ratios: {results.get('ratios')}")
    return "\n".join(["== gpu run summary ==", *rows])
