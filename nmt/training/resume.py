"""Resume: what `training_state.pt` holds, and restoring a run from its newest intact bundle.

A resumed run continues exactly where the saved one stood: same weights, optimizer moments,
LR schedule, RNG streams and position in the epoch's batch list (batch order is seeded by
seed and epoch, so it needs no state). Settings that would change the model or that batch
list must therefore stay as they were; others (e.g. train.max_steps) may change.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from nmt import checkpoint as ckpt
from nmt.config import RUN_FIELDS, Config, config_differences, differ_phrase
from nmt.errors import CheckpointError, NmtError
from nmt.runtime import rng_state, set_rng_state
from nmt.training.progress import Progress
from nmt.training.setup import TrainingRun

logger = logging.getLogger(__name__)


def training_state(run: TrainingRun, progress: Progress) -> dict[str, Any]:
    """The resume-only part of a bundle: optimizer, LR schedule, RNGs and progress (JSON)."""
    return {
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "rng": rng_state(),
        "progress": progress.to_json(),
    }


def restore_latest(run: TrainingRun) -> Progress:
    """Load the newest intact bundle of the run directory into `run`; return its progress.

    Tries RUN_DIR/last, then the step bundles newest first, skipping (with a warning) any that
    fails verification. Raises NmtError when none is intact, when it was trained on other
    data or with a different model or batch plan, and CheckpointError when its weights or
    optimizer state do not fit the model. Rank 0 points RUN_DIR/last at the bundle used.
    """
    bundle, saved = _newest_intact(run)
    if bundle.meta.data_manifest_hash != run.run_dir.identity.data_manifest_hash:
        raise NmtError(f"--resume: {bundle.path} was trained on different data than {run.data_dir}")
    check_resumable(bundle.config, run.config, bundle.path)
    try:
        run.model.load_state_dict(bundle.state_dict)
        run.optimizer.load_state_dict(saved["optimizer"])
        run.scheduler.load_state_dict(saved["scheduler"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(f"--resume: {bundle.path} does not fit this model ({err})") from None
    set_rng_state(saved["rng"])
    run.run_dir.identity = replace(run.run_dir.identity, init_from=bundle.metadata.get("init_from"))
    progress = Progress.from_json(saved["progress"])
    if run.dist.is_main:
        run.run_dir.point_last(bundle.path)
    logger.info("resumed from %s at step %d", bundle.path, progress.step)
    return progress


def _newest_intact(run: TrainingRun) -> tuple[ckpt.Bundle, dict[str, Any]]:
    for path in run.run_dir.resume_candidates():
        try:
            return ckpt.load_bundle(path.resolve()), ckpt.load_training_state(path)
        except CheckpointError as err:
            logger.warning("cannot resume from %s: %s", path, err)
    raise NmtError(f"--resume: no intact checkpoint in {run.run_dir.path}; start without --resume")


def check_resumable(saved: Config, current: Config, path: Path) -> None:
    """Refuse (NmtError) a config that changes the model or the batch sequence of `saved`
    (`nmt.config.RUN_FIELDS`). Other changed settings are allowed and logged as a warning.
    """
    fixed = config_differences(saved, current, within=RUN_FIELDS)
    if fixed:
        raise NmtError(
            f"--resume: {differ_phrase(fixed)} from the checkpoint {path}; resume with the "
            "same settings (others, e.g. train.max_steps, may change)"
        )
    if differ := config_differences(saved, current):
        logger.warning("resuming with changed settings: %s", ", ".join(differ))
