"""The training loop: batches in, checkpoint bundles out; resumable, interruptible, logged.

Read `train` top to bottom, then `_train_epoch`. The parts live next door:

    setup.py       setup_run: data, model, DDP/compile wrapping, optimizer, RUN_DIR -> TrainingRun
    resume.py      restore_latest: the newest intact bundle back into the run; training_state
    step.py        forward_backward of one micro-batch, optimizer_update
    validation.py  validate: loss, perplexity, BLEU, chrF (a function of model and data)
    run_dir.py     RunDirectory: bundles, last/best links, pruning, metadata, metrics, curves
    event_log.py   EventLog: the metrics as TensorBoard scalars (RUN_DIR/tensorboard)
    progress.py    Progress (step, epoch, best BLEU, ...: saved with every bundle), Meter
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from nmt.config import Config
from nmt.data.batching import batch_indices
from nmt.errors import NmtError
from nmt.training.distributed import close_distributed, rank_schedule
from nmt.training.optim import teacher_forcing_ratio
from nmt.training.progress import Meter, Progress
from nmt.training.resume import restore_latest, training_state
from nmt.training.setup import TrainingRun, setup_run
from nmt.training.step import MicroBatchLoss, device_batch, forward_backward, optimizer_update
from nmt.training.validation import validate

logger = logging.getLogger(__name__)

_STOP_REASONS = ("", "interrupted", "max_steps", "max_time")


@dataclass
class TrainResult:
    """Where the run ended and why; `step` counts optimizer updates, `best_bleu` is 0-100."""

    run_dir: Path
    best: Path
    last: Path
    step: int
    best_bleu: float
    stopped_because: str  # max_steps | max_epochs | max_time | early_stopping | interrupted


def train(
    config: Config, data_dir: Path, run_dir: Path, resume: bool = False, progress_bar: bool = True
) -> TrainResult:
    """Train until max_steps / max_epochs / max_time_s / early stopping / SIGINT or SIGTERM.

    The public entry point behind `nmt train`. RUN_DIR/best and RUN_DIR/last are complete
    bundles (nmt.checkpoint). Raises NmtError (bad config, RUN_DIR in use, no intact bundle
    to resume, divergence, a checkpoint that cannot be written) and DataError (bad data).
    """
    # set-up: data, model, optimizer, device, DDP; the saved state when resuming
    run = setup_run(config, data_dir, run_dir, resume)
    progress = restore_latest(run) if resume else Progress()
    if run.dist.enabled:  # one dropout stream per rank
        torch.manual_seed(config.train.seed + 1_000_003 * run.dist.rank + progress.step)
    if run.dist.is_main:
        run.run_dir.write_config()
        run.run_dir.open_event_log(first_step=progress.step + 1 if resume else 0)

    try:
        # the loop: epochs until a stop reason; a signal only raises a flag the loop checks
        with StopSignals() as signals:
            reason = _train_epochs(run, progress, signals, progress_bar and run.dist.is_main)

        # the end: validate and save the steps since the last bundle (unless interrupted)
        if reason != "interrupted" and _saved_step(run) != progress.step:
            _validate_and_save(run, progress)
        if run.dist.is_main:
            run.run_dir.write_curves()
    finally:  # the TensorBoard log keeps the steps that led to an error too
        run.run_dir.close()
    close_distributed(run.dist)
    directory = run.run_dir
    return TrainResult(
        directory.path, directory.best, directory.last, progress.step, progress.best_bleu, reason
    )


def _train_epochs(
    run: TrainingRun, progress: Progress, signals: StopSignals, progress_bar: bool
) -> str:
    """Run epochs from where `progress` stands; return why they stopped.

    With `progress_bar`, a terminal gets a live bar; a log or CI (stderr not a terminal)
    gets one line per `log_every` updates instead of carriage returns.
    """
    cfg = run.config.train
    on_terminal = progress_bar and sys.stderr.isatty()
    log_lines = progress_bar and not on_terminal
    with tqdm(  # a time budget makes the step count unknown: no misleading ETA
        total=None if cfg.max_time_s else cfg.max_steps,
        initial=progress.step,
        disable=not on_terminal,
        unit="step",
        dynamic_ncols=True,
    ) as bar:
        while progress.epoch < cfg.max_epochs:
            reason = _train_epoch(run, progress, signals, bar, log_lines)
            if reason:
                return reason
            progress.next_epoch()
    return "max_epochs"


def _train_epoch(
    run: TrainingRun, progress: Progress, signals: StopSignals, bar: tqdm, log_lines: bool
) -> str:
    """Run the rest of the current epoch; return a stop reason, or '' to go on."""
    cfg = run.config.train
    batches = _epoch_batches(run, progress.epoch)
    meter = Meter()
    micro_batches = back_propagated = 0  # in the current accumulation window
    dist = run.dist
    for index, after, weight in rank_schedule(
        len(batches), progress.batch_in_epoch, dist.rank, dist.world_size
    ):
        tick = time.perf_counter()
        # forward and backward one micro-batch (gradients accumulate); skip a non-finite loss
        batch = device_batch(run.train_ids, batches[index], run.tgt_tok, run.device)
        ratio = teacher_forcing_ratio(progress.step, cfg)
        loss = forward_backward(run, batch, ratio, weight)
        _count_non_finite(run, progress, loss)
        if loss is not None:
            meter.add(loss.nll_sum, loss.tgt_tokens, loss.src_tokens)
            back_propagated += 1
        micro_batches += 1
        progress.batch_in_epoch = after

        # update the weights when the window is full or the epoch ends
        window_full = micro_batches >= cfg.accumulation_steps or after >= len(batches)
        updated = window_full and back_propagated > 0
        if updated:
            meter.add_grad_norm(optimizer_update(run, progress))
        elif window_full:  # every micro-batch of the window was non-finite
            run.optimizer.zero_grad(set_to_none=True)
        if window_full:
            micro_batches = back_propagated = 0
        progress.train_seconds += time.perf_counter() - tick
        if not updated:
            continue
        bar.update(1)

        # log the training loss and throughput
        if progress.step % cfg.log_every == 0:
            _log_train(run, progress, meter, bar, log_lines)
        # validate and checkpoint; stop early when BLEU has not improved for `patience`
        if progress.step % cfg.valid_every == 0 and _validate_and_save(run, progress):
            return "early_stopping"
        # stop at max_steps or max_time_s, or on a signal
        reason = _stop_reason(run, progress, signals)
        if reason:
            return reason
    return ""


def _epoch_batches(run: TrainingRun, epoch: int) -> list[Any]:
    """The epoch's length-bucketed batches (index arrays); the same list on every rank."""
    cfg = run.config
    return batch_indices(
        run.train_ids.src_lengths,
        run.train_ids.tgt_lengths,
        cfg.data.max_tokens,
        shuffle=True,
        seed=cfg.train.seed,
        epoch=epoch,
        max_length=cfg.data.max_length,
    )


def _count_non_finite(run: TrainingRun, progress: Progress, loss: MicroBatchLoss | None) -> None:
    """Track consecutive non-finite losses (`loss` None); NmtError after `max_bad_steps`."""
    if loss is not None:
        progress.bad_steps = 0
        return
    progress.bad_steps += 1
    logger.warning("non-finite loss at step %d; skipping the batch", progress.step)
    if progress.bad_steps >= run.config.train.max_bad_steps:
        raise NmtError(
            f"training diverged: {progress.bad_steps} non-finite losses in a row; "
            f"the last good checkpoint is {run.run_dir.last} (try a lower learning rate)"
        )


def _stop_reason(run: TrainingRun, progress: Progress, signals: StopSignals) -> str:
    """A stop reason or ''; rank 0 decides for everyone (clocks and signals differ)."""
    cfg = run.config.train
    reason = ""
    if signals.received is not None:
        reason = "interrupted"
    elif progress.step >= cfg.max_steps:
        reason = "max_steps"
    elif cfg.max_time_s is not None and progress.train_seconds >= cfg.max_time_s:
        reason = "max_time"
    reason = _STOP_REASONS[int(run.dist.from_main(_STOP_REASONS.index(reason), run.device))]
    # a signal that arrived during validation: that step's bundle is already written
    if reason == "interrupted" and _saved_step(run) != progress.step:
        _save(run, progress, validated=False)
    return reason


def _validate_and_save(run: TrainingRun, progress: Progress) -> bool:
    """Validate (rank 0), checkpoint, and return True when early stopping should trigger.

    Every rank updates its progress and LR schedule with rank 0's BLEU, so they agree.
    """
    record: dict[str, float] = {
        "step": progress.step,
        "train_seconds": progress.train_seconds,
        "valid_bleu": 0.0,
    }
    if run.dist.is_main:
        record.update(
            validate(run.model, run.valid, run.src_tok, run.tgt_tok, run.config, run.device)
        )
        run.run_dir.append_metrics(record)
        logger.info(
            "validation step %d: %s",
            progress.step,
            ", ".join(f"{k}={v:.3f}" for k, v in record.items() if k != "step"),
        )
    record["valid_bleu"] = run.dist.from_main(record["valid_bleu"], run.device)
    if run.lr_follows_validation:
        run.scheduler.step(record["valid_bleu"])
    improved = progress.record_validation(record)
    _save(run, progress, validated=True, is_best=improved)
    patience = run.config.train.patience
    return patience is not None and progress.validations_without_gain >= patience


def _save(run: TrainingRun, progress: Progress, validated: bool, is_best: bool = False) -> None:
    """Rank 0 writes the step's bundle (weights + training state); every rank waits for it."""
    if run.dist.is_main:
        state = training_state(run, progress)
        run.run_dir.save(progress, run.model.state_dict(), state, validated, is_best)
    run.dist.barrier()


def _saved_step(run: TrainingRun) -> int:
    """Step of RUN_DIR/last as rank 0 sees it (every rank gets the same answer)."""
    step = run.run_dir.last_step() if run.dist.is_main else -1
    return int(run.dist.from_main(step, run.device))


def _log_train(
    run: TrainingRun, progress: Progress, meter: Meter, bar: tqdm, log_lines: bool
) -> None:
    """Flush the meter into metrics.jsonl and the progress bar or a log line (throughput
    summed over ranks)."""
    stats = meter.flush()
    stats["tokens_per_s"] = run.dist.total(stats["tokens_per_s"], run.device)
    if not run.dist.is_main:
        return
    lr = run.optimizer.param_groups[0]["lr"]
    bar.set_postfix(
        loss=f"{stats['train_loss']:.3f}", lr=f"{lr:.2e}", tok_s=f"{stats['tokens_per_s']:.0f}"
    )
    if log_lines:
        logger.info(
            "step %d  epoch %d  loss %.3f  ppl %.2f  lr %.2e  %.0f tok/s  %.0f s",
            progress.step,
            progress.epoch + 1,
            stats["train_loss"],
            stats["train_ppl"],
            lr,
            stats["tokens_per_s"],
            progress.train_seconds,
        )
    run.run_dir.append_metrics(
        {
            "step": progress.step,
            "epoch": progress.epoch,
            "train_seconds": progress.train_seconds,
            "lr": lr,
            **stats,
        }
    )


class StopSignals:
    """Turns SIGINT/SIGTERM into a flag (`received`) the loop checks, so it saves before stopping.

    Outside the main thread signals cannot be caught; they are then left alone.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        logger.warning("signal %d received: saving a checkpoint and stopping", signum)
        self.received = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
