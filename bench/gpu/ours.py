"""Our side of the GPU run: throughput, the timed training run, the bundle and its evaluation.

The measuring code is bench/train_throughput.py's (build_setup, make_forward, run_steps) and
bench/decode_speed.py's (timed_translations); this module only strings them together:
- `measure`: warm-up steps (compilation included), then training steps for a time budget;
- `train_on`: more steps on the same model for a time budget, the learning rate following a
  cosine over that time (from the config's rate down to `final_lr_fraction` of it);
- `valid_bleu_probe`: the model's validation BLEU as it trains (for "time to a valid BLEU");
- `save_trained`: an inference bundle (fp16 weights, as `nmt export` writes);
- `evaluate`: every test line translated (batch 64, greedy and beam 5) and timed: the model
  path alone (`translate_segments`: normalise, sentencepiece, search, detokenise; the
  like-for-like figure beside the peer, whose input is already in pieces), with the CUDA graph
  search (first pass with its captures, then steady) and eager; and through the text
  boundary (what `nmt translate` and the service run); the latter is scored multi-reference
  (one segment per unique source, its first line's hypothesis, all its references; the peer's
  score.py does the same) and single-reference (every line). Decoding runs in float32: under
  bf16 autocast every step re-casts the weights, and the launch-bound beam step got slower
  (559 against 637 sentences/s on the H200, 2026-11-30; docs/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import decode_speed
import torch
import train_throughput as tt

from nmt.checkpoint import load_bundle, save_bundle
from nmt.data.dataset import build_groups, load_manifest, manifest_hash, read_split_text
from nmt.decoding.graphs import graph_status, set_cuda_graphs
from nmt.evaluation.metrics import score_corpus
from nmt.model.compiled import CompileSettings
from nmt.training.setup import validation_set
from nmt.training.validation import validation_bleu
from nmt.translator import build_translator


class GpuSampler:
    """Mean GPU utilization (%) over a block, sampled by NVML every `period` seconds.

    `mean` stays None on a CPU, or when NVML (nvidia-ml-py) is not there.
    """

    def __init__(self, device: torch.device, period: float = 0.5) -> None:
        self.device, self.period = device, period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.samples.append(float(torch.cuda.utilization(self.device)))
            except Exception:  # no NVML: no samples, never a failed phase
                return

    def __enter__(self) -> GpuSampler:
        if self.device.type == "cuda":
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.period)

    @property
    def mean(self) -> float | None:
        """The mean of the samples, or None without samples."""
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else None


def compile_counters() -> dict[str, Any]:
    """Dynamo's graph/recompile/graph-break counts and inductor's CUDA-graph skips."""
    from torch._dynamo.utils import counters

    picked = {f"stats.{k}": v for k, v in counters["stats"].items()}
    picked.update({f"graph_break.{k}": v for k, v in counters["graph_break"].items()})
    picked.update({f"inductor.{k}": v for k, v in counters["inductor"].items() if "cudagraph" in k})
    return picked


@dataclasses.dataclass
class Trained:
    """A model being trained, with its forward path and what it has done so far."""

    setup: tt.Setup
    forward: tt.Forward
    path: str  # "plain" or "compiled"
    batches: Any  # the batch iterator, continued by later steps
    steps: int = 0
    seconds: float = 0.0  # training wall time, warm-up and compilation included
    tokens: int = 0
    # the weights when `seconds` first reached train_on's snapshot_at (the peer's time)
    snapshot: dict[str, torch.Tensor] | None = None
    snapshot_steps: int = 0
    snapshot_seconds: float = 0.0

    def keep_snapshot(self, seconds: float, steps: int) -> None:
        """Keep a copy of the weights as they are after `steps` steps, `seconds` of training."""
        state = self.setup.model.state_dict()
        self.snapshot = {name: value.detach().clone() for name, value in state.items()}
        self.snapshot_steps, self.snapshot_seconds = steps, round(seconds, 1)

    def snapshot_figures(self, wanted_seconds: float | None) -> dict[str, Any]:
        """When the snapshot was wanted and when it was taken (training seconds, steps)."""
        return {
            "wanted_seconds": wanted_seconds,
            "seconds": self.snapshot_seconds,
            "steps": self.snapshot_steps,
        }

    def use_plain_path(self) -> None:
        """Go on with the model's eager forward (after the compiled one failed)."""
        self.forward, _ = tt.make_forward(self.setup.model, False)
        self.path = "plain"

    def totals(self) -> dict[str, Any]:
        """Steps, training seconds and source + target tokens so far."""
        return {
            "total_steps": self.steps,
            "total_seconds": round(self.seconds, 1),
            "total_tokens": self.tokens,
        }


def measure(
    config: str,
    data_dir: Path,
    overrides: list[str],
    device: str,
    compiled: bool,
    settings: CompileSettings,
    warmup: int,
    seconds: float,
    max_steps: int | None = None,
) -> tuple[dict[str, Any], Trained]:
    """Build a fresh model, warm up, then time steps for `seconds`; (figures, the model)."""
    setup = tt.build_setup(config, data_dir, overrides, device)
    forward, description = tt.make_forward(setup.model, compiled, settings)
    batches = setup.batches()
    with GpuSampler(setup.device) as sampler:
        stats = tt.run_steps(setup, forward, batches, warmup, max_steps, seconds)
    figures = {"forward_path": description, **stats.summary(), "gpu_busy_percent": sampler.mean}
    figures["forward_calls"] = getattr(forward, "calls", None)
    figures["compile_counters"] = compile_counters() if compiled else None
    figures["peak_memory_mb"] = round(tt.peak_memory_mb(setup.device), 1)
    figures["parameters"] = sum(p.numel() for p in setup.model.parameters())
    figures["bf16_autocast"] = setup.autocast
    trained = Trained(setup, forward, "compiled" if compiled else "plain", batches)
    trained.steps = stats.warmup_steps + stats.steps
    trained.seconds = stats.warmup_seconds + stats.seconds
    trained.tokens = stats.warmup_tokens + stats.src_tokens + stats.tgt_tokens
    return figures, trained


def valid_bleu_probe(setup: tt.Setup, sentences: int = 500) -> Callable[[], float]:
    """A function scoring the model as it is now: multi-reference BLEU of its greedy
    translations of `sentences` valid sources spread over the split (nmt's
    `validation_bleu`, in float32: autocast slowed decoding on the H200; eager, not the
    graph search), the model left in train mode."""
    valid = validation_set(setup.data_dir, sentences)
    # eager search: no CUDA graph captures between the compiled training step's replays
    set_cuda_graphs(setup.model, False)
    train = setup.config.train.model_copy(update={"amp": False, "valid_beam_size": 1})
    config = setup.config.model_copy(update={"train": train})

    def probe() -> float:
        setup.model.eval()
        try:
            scores = validation_bleu(
                setup.model, valid, setup.src_tok, setup.tgt_tok, config, setup.device
            )
        finally:
            setup.model.train()
        return round(scores["valid_bleu"], 2)

    return probe


def train_on(
    trained: Trained,
    seconds: float,
    final_lr_fraction: float,
    warmup_steps: int = 0,
    snapshot_at: float | None = None,
    validate: Callable[[], float] | None = None,
    validate_every: float = 0.0,
    min_steps: int = 0,
) -> dict[str, Any]:
    """Train `trained` for `seconds` more (at least `min_steps` steps), the learning rate on
    a cosine over that time.

    With `snapshot_at` (seconds of training in all, e.g. the peer's), a copy of the weights
    is kept in `trained.snapshot` before the first step that starts at or after it. With
    `validate`, it is called every `validate_every` seconds and at the end; the points
    (training seconds and steps so far, its score) are returned as `valid_bleu_curve`, and
    the time they took, which counts as training time, as `validation_seconds`.
    A step that raises ends the training; the figures then hold its `error` and what the
    steps before it did (also added to `trained`).
    """
    optimizer = trained.setup.optimizer
    peak = trained.setup.config.train.learning_rate
    start_seconds, start_steps = trained.seconds, trained.steps
    curve: list[dict[str, float]] = []
    validation: dict[str, Any] = {"seconds": 0.0, "next": validate_every}

    def check(probe: Callable[[], float], steps: int, elapsed: float) -> None:
        if "error" in validation:
            return
        began = time.perf_counter()
        try:
            score = probe()
        except Exception as error:  # a failed validation must not cost the training run
            validation["error"] = f"{type(error).__name__}: {error}"
            return
        finally:
            validation["seconds"] += time.perf_counter() - began
        curve.append({"seconds": round(elapsed, 1), "steps": steps, "valid_bleu": score})

    def set_rate(step: int, fraction: float) -> None:
        now = start_seconds + fraction * seconds
        if snapshot_at is not None and now >= snapshot_at and trained.snapshot is None:
            trained.keep_snapshot(now, start_steps + step)
        if (
            validate is not None
            and validate_every > 0
            and now - start_seconds >= validation["next"]
        ):
            check(validate, start_steps + step, now)
            elapsed = now - start_seconds  # the next multiple of validate_every after it
            validation["next"] = (elapsed // validate_every + 1) * validate_every
        warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        cosine = 0.5 * (1 + math.cos(math.pi * fraction))  # 1 -> 0 over the time budget
        cosine = final_lr_fraction + (1 - final_lr_fraction) * cosine
        for group in optimizer.param_groups:
            group["lr"] = peak * warm * cosine

    stats, error = tt.RunStats(), None
    with GpuSampler(trained.setup.device) as sampler:
        try:
            tt.run_steps(
                trained.setup,
                trained.forward,
                trained.batches,
                seconds=seconds,
                before_step=set_rate,
                stats=stats,
                min_steps=min_steps,
            )
        except Exception as failure:  # the steps taken so far still count
            error = f"{type(failure).__name__}: {failure}"
    trained.steps += stats.steps
    trained.seconds += stats.seconds
    trained.tokens += stats.src_tokens + stats.tgt_tokens
    figures = {
        **stats.summary(),
        "gpu_busy_percent": sampler.mean,
        "final_learning_rate": optimizer.param_groups[0]["lr"],
        "losses_every_50_steps": stats.losses,
    }
    if error is not None:
        figures["error"] = error
    if validate is not None:  # the final weights too (not counted as training time)
        figures["validation_seconds"] = round(validation["seconds"], 1)
        stepping = max(stats.seconds - validation["seconds"], 1e-9)  # compilation included
        tokens = stats.src_tokens + stats.tgt_tokens
        figures["tokens_per_second_excl_validation"] = round(tokens / stepping, 1)
        check(validate, trained.steps, trained.seconds)
        figures["valid_bleu_curve"] = curve
        if "error" in validation:
            figures["validation_error"] = validation["error"]
    return figures


def save_trained(
    trained: Trained,
    directory: Path,
    extra: dict[str, Any],
    state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write the model (or `state`, e.g. its snapshot) as an inference bundle (fp16
    weights, no optimizer state)."""
    setup = trained.setup
    manifest = load_manifest(setup.data_dir)
    src, tgt = setup.src_tok, setup.tgt_tok
    tokenizers = (
        {"spm.model": src.model_bytes}
        if src is tgt
        else {"spm.src.model": src.model_bytes, "spm.tgt.model": tgt.model_bytes}
    )
    metadata = {
        "name": f"{setup.config.name}-gpu",
        "step": trained.steps,
        "src_lang": manifest["languages"]["src"],
        "tgt_lang": manifest["languages"]["tgt"],
        "seed": setup.config.train.seed,
        "data_manifest_hash": manifest_hash(setup.data_dir),
        "data_source_sha256": manifest["source"]["sha256"],
        "tokenizer_sha256": {"src": src.sha256, "tgt": tgt.sha256},
        "scores": {},
        "train_seconds": round(trained.seconds, 2),
        "device": str(setup.device),
        "weights_dtype": "float16",
        **extra,
    }
    if state is None:
        state = {k: v.detach() for k, v in setup.model.state_dict().items()}
    return save_bundle(
        directory, state, setup.config, metadata, tokenizers, weights_dtype=torch.float16
    )


def evaluate(
    bundle_dir: Path,
    data_dir: Path,
    device: str,
    beams: tuple[int, ...],
    batch_size: int,
    limit: int | None,
    hyps_dir: Path,
    timed: bool = True,
) -> dict[str, Any]:
    """Translate the test lines per beam (timed unless not `timed`), score them;
    hypotheses to hyps_dir."""
    translator = build_translator(load_bundle(bundle_dir), device)
    sources, targets = read_split_text(data_dir, "test")
    sources, targets = sources[:limit], targets[:limit]
    groups = build_groups(sources, targets)
    base = decode_speed.search_options(translator.info)
    results: dict[str, Any] = {"test_lines": len(sources), "unique_sources": len(groups)}
    results["weights"] = "float32"
    # 0: the whole vocabulary (the kit's bundles record no shortlist, like OpenNMT-py's models)
    results["output_vocabulary"] = translator.description.output_vocabulary
    hyps_dir.mkdir(parents=True, exist_ok=True)
    model_only = decode_speed.ModelOnly(translator)
    results["graph_search"] = translator.device.type == "cuda"  # search's choice there
    for beam in beams:
        options = dataclasses.replace(base, beam_size=beam, n_best=1)
        timings = (
            _decode_timings(translator, model_only, sources, options, batch_size) if timed else {}
        )
        translations, record = decode_speed.timed_translations(
            translator, sources, options, batch_size
        )
        hypotheses = [t.text for t in translations]
        (hyps_dir / f"test.beam{beam}.fr").write_text(
            "".join(h + "\n" for h in hypotheses), encoding="utf-8"
        )
        multi = score_corpus(
            [hypotheses[g.pair_indices[0]] for g in groups], [g.references for g in groups]
        )
        single = score_corpus(hypotheses, [[t] for t in targets])
        results[f"beam{beam}"] = {
            **timings,
            "text_boundary_sentences_per_second": round(record["sentences_per_second"], 1),
            "text_boundary_seconds": round(record["seconds"], 3),
            "target_tokens_per_second": round(record["target_tokens_per_second"], 1),
            "multi_ref": {"bleu": round(multi.bleu, 2), "chrf": round(multi.chrf, 2)},
            "single_ref": {"bleu": round(single.bleu, 2), "chrf": round(single.chrf, 2)},
            "bleu_signature": multi.bleu_signature,
            "settings": record["settings"],
        }
    return results


def _decode_timings(
    translator: Any,
    model_only: decode_speed.ModelOnly,
    sources: list[str],
    options: Any,
    batch_size: int,
) -> dict[str, Any]:
    """The model path timed: graphed (the default on CUDA) twice, the first pass with its
    graph captures (the headline) and the second steady; then eager, graphs turned off;
    and how many lines the two paths translate differently: the same search on other
    batch shapes, so only near ties may flip (cuBLAS picks kernels by shape); more is a bug."""
    graphed, first = decode_speed.timed_translations(model_only, sources, options, batch_size)
    steady = decode_speed.timed_translations(model_only, sources, options, batch_size)[1]
    status = graph_status(translator.model)  # broken: a capture failed and eager ran
    set_cuda_graphs(translator.model, False)
    try:
        eager, plain = decode_speed.timed_translations(model_only, sources, options, batch_size)
    finally:
        set_cuda_graphs(translator.model, True)
    return {
        "sentences_per_second": round(first["sentences_per_second"], 1),
        "seconds": round(first["seconds"], 3),
        "steady_sentences_per_second": round(steady["sentences_per_second"], 1),
        "eager_sentences_per_second": round(plain["sentences_per_second"], 1),
        "cuda_graphs": status,
        "graphed_vs_eager_lines_differing": sum(
            a.text != b.text for a, b in zip(graphed, eager, strict=True)
        ),
    }
