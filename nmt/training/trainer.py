"""The training loop: batches in, checkpoints out; resumable, interruptible, logged.

Read `Trainer.run` top to bottom: set-up, then per epoch the length-bucketed batches,
per batch a teacher-forced step, and every `valid_every` updates a validation that
writes a checkpoint bundle and moves RUN_DIR/last (and RUN_DIR/best on improvement).
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from nmt import checkpoint as ckpt
from nmt.config import Config, config_to_dict
from nmt.data.batching import Batch, batch_indices, collate
from nmt.data.dataset import ParallelIds, load_manifest, load_token_ids, manifest_hash, read_groups
from nmt.data.tokenizer import load_tokenizers
from nmt.decoding.types import SearchOptions
from nmt.errors import CheckpointError, NmtError
from nmt.evaluation.metrics import score_corpus
from nmt.fileio import write_text_atomic
from nmt.model import Seq2Seq, build_model
from nmt.runtime import resolve_device, rng_state, seed_everything, set_rng_state
from nmt.training.distributed import close_distributed, init_distributed, rank_schedule
from nmt.training.loss import coverage_penalty_loss, sequence_loss
from nmt.training.optim import build_optimizer, build_scheduler, teacher_forcing_ratio
from nmt.translator import NeuralTranslator, search_defaults

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    """Everything about where training stands; saved in the training state."""

    step: int = 0  # optimizer updates done
    epoch: int = 0
    batch_in_epoch: int = 0  # next batch index of `epoch`
    best_bleu: float = -1.0
    best_step: int = 0
    validations_without_gain: int = 0
    bad_steps: int = 0  # consecutive non-finite losses
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class TrainResult:
    """Where the run ended and why."""

    run_dir: Path
    best: Path
    last: Path
    step: int
    best_bleu: float
    stopped_because: str


class Trainer:
    """Trains one model described by a Config on one prepared-data directory."""

    def __init__(
        self,
        config: Config,
        data_dir: Path,
        run_dir: Path,
        resume: bool = False,
        progress_bar: bool = True,
    ) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress_bar = progress_bar
        self.device = resolve_device(config.train.device)
        self.dist = init_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.progress_bar = progress_bar and self.dist.is_main
        self._stop_signal: int | None = None
        self._window_backwards = 0  # micro-batches back-propagated since the last update

    # ---------------------------------------------------------------- set-up
    def _setup(self) -> None:
        cfg = self.config
        seed_everything(cfg.train.seed)
        self.manifest = load_manifest(self.data_dir)
        self.manifest_sha = manifest_hash(self.data_dir)
        self.src_tok, self.tgt_tok = load_tokenizers(self.data_dir)
        try:
            self.model: Seq2Seq = build_model(
                cfg.model,
                self.src_tok.vocab_size,
                self.tgt_tok.vocab_size,
                pad_id=self.tgt_tok.pad_id,
                joint_vocab=self.src_tok is self.tgt_tok,
            ).to(self.device)
        except ValueError as err:
            raise NmtError(f"cannot build the model: {err}") from None
        self.forward: torch.nn.Module = self.model
        if self.dist.enabled:  # DDP broadcasts rank 0's initial weights
            self.forward = DistributedDataParallel(self.model)
        if cfg.train.compile:
            self.forward = torch.compile(self.forward)
        self.optimizer = build_optimizer(self.model, cfg.train)
        self.scheduler = build_scheduler(self.optimizer, cfg.train)
        self.train_ids = load_token_ids(self.data_dir, "train")
        self.valid_ids = load_token_ids(self.data_dir, "valid")
        groups = _spread_sample(read_groups(self.data_dir, "valid"), cfg.train.valid_max_sentences)
        self.valid_sources = [g.source for g in groups]
        self.valid_references = [g.references for g in groups]
        self.state = Progress()
        if not self.resume and (self.run_dir / "last").exists():
            raise NmtError(
                f"{self.run_dir} already holds a run; add --resume to continue it "
                "or choose another --out"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            ckpt.remove_leftovers(self.run_dir / "checkpoints")
        if self.resume:
            self._restore()
        if self.dist.enabled:  # one dropout stream per rank
            torch.manual_seed(cfg.train.seed + 1_000_003 * self.dist.rank + self.state.step)
        if self.dist.is_main:
            write_text_atomic(
                self.run_dir / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
            )

    def _restore(self) -> None:
        """Load the newest intact checkpoint: RUN_DIR/last, else older ones, newest first."""
        bundle, saved = self._newest_intact_checkpoint()
        if bundle.metadata.get("data_manifest_hash") != self.manifest_sha:
            raise NmtError(
                f"--resume: {bundle.path} was trained on different data than {self.data_dir}"
            )
        _check_resumable(bundle.config, self.config, bundle.path)
        try:
            self.model.load_state_dict(bundle.state_dict)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"--resume: {bundle.path} does not fit this model ({err})"
            ) from None
        set_rng_state(saved["rng"])
        self.state = Progress(**json.loads(saved["progress"]))
        if self.dist.is_main:
            ckpt.point_link(self.run_dir / "last", bundle.path)
        logger.info("resumed from %s at step %d", bundle.path, self.state.step)

    def _newest_intact_checkpoint(self) -> tuple[ckpt.Bundle, dict[str, Any]]:
        last = self.run_dir / "last"
        candidates = [last] if last.exists() else []
        candidates += sorted((self.run_dir / "checkpoints").glob("step-*"), reverse=True)
        for path in candidates:
            try:
                return ckpt.load_bundle(path.resolve()), ckpt.load_training_state(path)
            except CheckpointError as err:
                logger.warning("cannot resume from %s: %s", path, err)
        raise NmtError(f"--resume: no intact checkpoint in {self.run_dir}; start without --resume")

    # ---------------------------------------------------------------- loop
    def run(self) -> TrainResult:
        """Train until max_steps / max_epochs / max_time_s / early stop / signal."""
        self._setup()
        cfg = self.config.train
        reason = "max_epochs"
        with self._signals():
            bar = tqdm(  # a time budget makes the step count unknown: no misleading ETA
                total=None if cfg.max_time_s else cfg.max_steps,
                initial=self.state.step,
                disable=not self.progress_bar,
                unit="step",
                dynamic_ncols=True,
            )
            while self.state.epoch < cfg.max_epochs:
                reason = self._run_epoch(bar)
                if reason:
                    break
                self.state.epoch += 1
                self.state.batch_in_epoch = 0
            else:
                reason = "max_epochs"
            bar.close()
        unsaved = self._saved_step() != self.state.step
        if reason != "interrupted" and unsaved:
            self._validate_and_save()
        if self.dist.is_main:
            self._write_curves()
        close_distributed(self.dist)
        return TrainResult(
            self.run_dir,
            self.run_dir / "best",
            self.run_dir / "last",
            self.state.step,
            self.state.best_bleu,
            reason,
        )

    def _run_epoch(self, bar: tqdm) -> str:
        """Run the rest of the current epoch; return a stop reason or '' to go on."""
        cfg = self.config
        batches = batch_indices(
            self.train_ids.src_lengths,
            self.train_ids.tgt_lengths,
            cfg.data.max_tokens,
            shuffle=True,
            seed=cfg.train.seed,
            epoch=self.state.epoch,
            max_length=cfg.data.max_length,
        )
        meter = _Meter()
        accumulated = 0
        rank, world = self.dist.rank, self.dist.world_size
        for index, after, weight in rank_schedule(
            len(batches), self.state.batch_in_epoch, rank, world
        ):
            tick = time.perf_counter()
            batch = self._collate(self.train_ids, batches[index])
            meter.add(self._forward_backward(batch, weight))
            accumulated += 1
            self.state.batch_in_epoch = after
            if accumulated < cfg.train.accumulation_steps and after < len(batches):
                self.state.train_seconds += time.perf_counter() - tick
                continue
            accumulated = 0
            if self._window_backwards == 0:  # every micro-batch of the window was non-finite
                self.optimizer.zero_grad(set_to_none=True)
                self.state.train_seconds += time.perf_counter() - tick
                continue
            self._update()
            self.state.train_seconds += time.perf_counter() - tick
            bar.update(1)
            if self.state.step % cfg.train.log_every == 0:
                self._log_train(meter, bar)
            if self.state.step % cfg.train.valid_every == 0 and self._validate_and_save():
                return "early_stopping"
            reason = self._should_stop()
            if reason:
                return reason
        return ""

    def _collate(self, ids: ParallelIds, indices: Any) -> Batch:
        tok = self.tgt_tok
        batch = collate(ids, indices, tok.pad_id, tok.bos_id, tok.eos_id)
        return batch.to(self.device, non_blocking=True)

    def _autocast(self) -> Any:
        if self.device.type == "cuda" and self.config.train.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _forward_backward(self, batch: Batch, weight: float = 1.0) -> tuple[float, int, float]:
        """One teacher-forced forward/backward; returns (nll sum, target tokens, source tokens).

        `weight` 0 is a distributed padding step: it joins the gradient all-reduce but adds
        nothing to it.
        """
        cfg = self.config
        self.model.train()
        ratio = teacher_forcing_ratio(self.state.step, cfg.train)
        with self._autocast():
            out = self.forward(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=ratio)
            loss = sequence_loss(
                out.scores, batch.tgt_out, self.tgt_tok.pad_id, cfg.train.label_smoothing
            )
            total = loss.loss
            if out.coverage_loss is not None:
                cov = coverage_penalty_loss(out.coverage_loss, batch.tgt_mask)
                total = total + cfg.model.coverage.loss_weight * cov
        if not self.dist.all_true(bool(torch.isfinite(total).item()), self.device):
            self.state.bad_steps += 1
            logger.warning("non-finite loss at step %d; skipping the batch", self.state.step)
            if self.state.bad_steps >= cfg.train.max_bad_steps:
                raise NmtError(
                    f"training diverged: {self.state.bad_steps} non-finite losses in a row; "
                    f"the last good checkpoint is {self.run_dir / 'last'} "
                    "(try a lower learning rate)"
                )
            return 0.0, 0, 0.0
        self.state.bad_steps = 0
        (total * (weight / cfg.train.accumulation_steps)).backward()
        self._window_backwards += 1
        if weight == 0.0:
            return 0.0, 0, 0.0
        return float(loss.nll_sum), loss.n_tokens, float(batch.n_src_tokens)

    def _update(self) -> None:
        self._window_backwards = 0
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step()
        self.state.step += 1

    def _should_stop(self) -> str:
        """A stop reason or ''; rank 0 decides for everyone (clocks and signals differ)."""
        cfg = self.config.train
        reason = ""
        if self._stop_signal is not None:
            reason = "interrupted"
        elif self.state.step >= cfg.max_steps:
            reason = "max_steps"
        elif cfg.max_time_s is not None and self.state.train_seconds >= cfg.max_time_s:
            reason = "max_time"
        reason = _STOP_REASONS[int(self.dist.from_main(_STOP_REASONS.index(reason), self.device))]
        # a signal that arrived during validation: that step's bundle is already written
        if reason == "interrupted" and self._saved_step() != self.state.step:
            self._save(validated=False)
        return reason

    # ---------------------------------------------------------------- validation
    def _validate_and_save(self) -> bool:
        """Validate (rank 0), checkpoint, and return True when early stopping should trigger.

        Every rank updates its progress and LR schedule with rank 0's BLEU, so they agree.
        """
        record: dict[str, float] = {"step": self.state.step, "valid_bleu": 0.0}
        if self.dist.is_main:
            record.update(self._validation_loss())
            record.update(self._validation_bleu())
            self._append_metrics(record)
            logger.info(
                "validation step %d: %s",
                self.state.step,
                ", ".join(f"{k}={v:.3f}" for k, v in record.items() if k != "step"),
            )
        record["valid_bleu"] = self.dist.from_main(record["valid_bleu"], self.device)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(record["valid_bleu"])
        improved = record["valid_bleu"] > self.state.best_bleu
        if improved:
            self.state.best_bleu = record["valid_bleu"]
            self.state.best_step = self.state.step
            self.state.validations_without_gain = 0
        else:
            self.state.validations_without_gain += 1
        self.state.history.append(record)
        self._save(validated=True, is_best=improved)
        patience = self.config.train.patience
        return patience is not None and self.state.validations_without_gain >= patience

    @torch.no_grad()
    def _validation_loss(self) -> dict[str, float]:
        self.model.eval()
        nll, tokens = 0.0, 0
        batches = batch_indices(
            self.valid_ids.src_lengths,
            self.valid_ids.tgt_lengths,
            self.config.data.max_tokens,
            shuffle=False,
            seed=0,
            epoch=0,
        )
        for indices in batches:
            batch = self._collate(self.valid_ids, indices)
            with self._autocast():
                out = self.model(batch.src, batch.src_lengths, batch.tgt_in)
            loss = sequence_loss(out.scores, batch.tgt_out, self.tgt_tok.pad_id)
            nll += float(loss.nll_sum)
            tokens += loss.n_tokens
        mean = nll / max(tokens, 1)
        return {"valid_loss": mean, "valid_ppl": math.exp(min(mean, 50.0))}

    def _validation_bleu(self) -> dict[str, float]:
        cfg = self.config
        translator = NeuralTranslator(
            self.model,
            self.src_tok,
            self.tgt_tok,
            self.device,
            {},
            batch_size=cfg.decode.batch_size,
        )
        # the model's own default search (as translate/serve use it), at the validation beam
        options = SearchOptions(
            **{**search_defaults(cfg.decode), "beam_size": cfg.train.valid_beam_size}
        )
        with self._autocast():
            hypotheses = [t.text for t in translator.translate(self.valid_sources, options)]
        score = score_corpus(hypotheses, self.valid_references)
        self.model.train()
        return {"valid_bleu": score.bleu, "valid_chrf": score.chrf}

    # ---------------------------------------------------------------- checkpoints
    def _save(self, validated: bool, is_best: bool = False) -> Path:
        step_dir = self.run_dir / "checkpoints" / f"step-{self.state.step:07d}"
        try:
            if self.dist.is_main:
                self._write_checkpoint(step_dir, validated, is_best)
            self.dist.barrier()
            return step_dir
        except OSError as err:
            raise NmtError(
                f"cannot write checkpoint {step_dir}: {err.strerror or err}; "
                "the previous checkpoints are intact"
            ) from err

    def _write_checkpoint(self, step_dir: Path, validated: bool, is_best: bool) -> Path:
        ckpt.save_bundle(
            step_dir,
            self.model.state_dict(),
            self.config,
            self._metadata(validated),
            self._tokenizer_files(),
            training_state=self._training_state(),
        )
        ckpt.point_link(self.run_dir / "last", step_dir)
        if is_best or not (self.run_dir / "best").exists():
            ckpt.point_link(self.run_dir / "best", step_dir)
        self._prune()
        return step_dir

    def _saved_step(self) -> int:
        """Step of RUN_DIR/last as rank 0 sees it (every rank gets the same answer)."""
        last = self.run_dir / "last"
        step = (
            int(last.resolve().name.split("-")[-1]) if last.exists() and self.dist.is_main else -1
        )
        return int(self.dist.from_main(step, self.device))

    def _prune(self) -> None:
        keep = {(self.run_dir / name).resolve() for name in ("best", "last")}
        bundles = sorted((self.run_dir / "checkpoints").glob("step-*"))
        for old in bundles[: -self.config.train.keep_last]:
            if old.resolve() not in keep:
                ckpt.remove_bundle(old)

    def _metadata(self, validated: bool) -> dict[str, Any]:
        last_record = self.state.history[-1] if validated and self.state.history else {}
        return {
            "name": self.config.name,
            "step": self.state.step,
            "epoch": self.state.epoch,
            "src_lang": self.manifest["languages"]["src"],
            "tgt_lang": self.manifest["languages"]["tgt"],
            "seed": self.config.train.seed,
            "data_manifest_hash": self.manifest_sha,
            "data_source_sha256": self.manifest["source"]["sha256"],
            "tokenizer_sha256": {"src": self.src_tok.sha256, "tgt": self.tgt_tok.sha256},
            "scores": {k: v for k, v in last_record.items() if k != "step"},
            "best": {"valid_bleu": self.state.best_bleu, "step": self.state.best_step},
            "train_seconds": round(self.state.train_seconds, 2),
            "device": str(self.device),
        }

    def _tokenizer_files(self) -> dict[str, bytes]:
        if self.src_tok is self.tgt_tok:
            return {"spm.model": self.src_tok.model_bytes}
        return {
            "spm.src.model": self.src_tok.model_bytes,
            "spm.tgt.model": self.tgt_tok.model_bytes,
        }

    def _training_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(),
            "progress": json.dumps(self.state.__dict__),
        }

    # ---------------------------------------------------------------- logging
    def _log_train(self, meter: _Meter, bar: tqdm) -> None:
        stats = meter.flush()
        stats["tokens_per_s"] = self.dist.total(stats["tokens_per_s"], self.device)
        if not self.dist.is_main:
            return
        lr = self.optimizer.param_groups[0]["lr"]
        bar.set_postfix(
            loss=f"{stats['train_loss']:.3f}", lr=f"{lr:.2e}", tok_s=f"{stats['tokens_per_s']:.0f}"
        )
        self._append_metrics(
            {"step": self.state.step, "epoch": self.state.epoch, "lr": lr, **stats}
        )

    def _append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _write_curves(self) -> None:
        from nmt.evaluation.plots import plot_training_curves

        metrics = self.run_dir / "metrics.jsonl"
        if metrics.exists():
            plot_training_curves(metrics, self.run_dir / "curves.png")

    def _signals(self) -> _SignalGuard:
        return _SignalGuard(self)


# Settings that define the model or the exact batch sequence: a resumed run must keep them.
_RESUME_FIXED = ("model", "data.max_tokens", "data.max_length", "train.seed")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return flat


def _check_resumable(saved: Config, current: Config, path: Path) -> None:
    """Refuse to resume with a config that changes the model or the batch sequence."""
    before, after = _flatten(config_to_dict(saved)), _flatten(config_to_dict(current))
    differ = [key for key in before if before[key] != after.get(key)]
    fixed = [k for k in differ if any(k == f or k.startswith(f + ".") for f in _RESUME_FIXED)]
    if fixed:
        raise NmtError(
            f"--resume: {', '.join(fixed)} differ from the checkpoint {path}; resume with the "
            "same settings (others, e.g. train.max_steps, may change)"
        )
    if differ:
        logger.warning("resuming with changed settings: %s", ", ".join(differ))


def _spread_sample(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items evenly spread over the list (Tatoeba is sorted by length)."""
    if limit is None or len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


_STOP_REASONS = ("", "interrupted", "max_steps", "max_time")


class _Meter:
    """Running token-weighted loss and throughput between two log lines."""

    def __init__(self) -> None:
        self.nll = 0.0
        self.tgt_tokens = 0
        self.src_tokens = 0.0
        self.started = time.perf_counter()

    def add(self, item: tuple[float, int, float]) -> None:
        self.nll += item[0]
        self.tgt_tokens += item[1]
        self.src_tokens += item[2]

    def flush(self) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        mean = self.nll / max(self.tgt_tokens, 1)
        stats = {
            "train_loss": mean,
            "train_ppl": math.exp(min(mean, 50.0)),
            "tokens_per_s": (self.src_tokens + self.tgt_tokens) / elapsed,
        }
        self.__init__()
        return stats


class _SignalGuard:
    """Turns SIGINT/SIGTERM into a flag the loop checks, so a checkpoint is saved first."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _SignalGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # outside the main thread signals cannot be caught: leave them alone
            with suppress(ValueError):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        logger.warning("signal %d received: saving a checkpoint and stopping", signum)
        self.trainer._stop_signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def train(
    config: Config, data_dir: Path, run_dir: Path, resume: bool = False, progress_bar: bool = True
) -> TrainResult:
    """Train a model; the public entry point behind `nmt train`."""
    return Trainer(config, data_dir, run_dir, resume=resume, progress_bar=progress_bar).run()
