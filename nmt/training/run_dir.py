"""RUN_DIR on disk: checkpoint bundles, the `last`/`best` links, metadata, metrics and curves.

Layout (`nmt train --out RUN_DIR`):

    config.yaml                  the resolved config of the (latest) run
    metrics.jsonl                one JSON record per log line and per validation
    tensorboard/                 the same records as TensorBoard scalars (train.tensorboard)
    curves.png                   training curves, drawn when the run ends
    checkpoints/step-NNNNNNN/    bundles (see nmt.checkpoint), the newest `keep_last` kept
    last -> checkpoints/...      the newest bundle; `--resume` starts from it
    best -> checkpoints/...      the bundle with the best validation BLEU

Only rank 0 of a distributed run writes here; the loop makes the other ranks wait.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from nmt import checkpoint as ckpt
from nmt.config import Config, config_to_dict
from nmt.errors import NmtError
from nmt.fileio import write_text_atomic
from nmt.training.event_log import EventLog, open_event_log
from nmt.training.progress import Progress


@dataclass(frozen=True)
class BundleIdentity:
    """What every bundle of a run records about its origin (fields of metadata.json)."""

    name: str
    src_lang: str
    tgt_lang: str
    seed: int
    data_manifest_hash: str
    data_source_sha256: str
    tokenizer_sha256: dict[str, str]  # {"src": ..., "tgt": ...}
    device: str
    target_shortlist: tuple[int, ...] = ()  # ids the training targets use (model.shortlist)
    source_words: dict[str, int] | None = None  # training-source word counts (text.names)
    init_from: dict[str, Any] | None = None  # the warm start's bundle (training.warm_start)
    data_derived_from: str | None = None  # distilled data: its source data's manifest hash


class RunDirectory:
    """Owns everything a run writes under RUN_DIR; see the module docstring for the layout."""

    def __init__(
        self,
        path: Path,
        config: Config,
        identity: BundleIdentity,
        tokenizer_files: dict[str, bytes],
    ) -> None:
        self.path = Path(path)
        self.config = config
        self.identity = identity
        self.tokenizer_files = tokenizer_files  # bundle file name -> sentencepiece model bytes
        self._events: EventLog | None = None  # rank 0's TensorBoard writer, once opened

    @property
    def last(self) -> Path:
        """RUN_DIR/last, the link to the newest bundle."""
        return self.path / "last"

    @property
    def best(self) -> Path:
        """RUN_DIR/best, the link to the bundle with the best validation BLEU."""
        return self.path / "best"

    @property
    def tensorboard(self) -> Path:
        """RUN_DIR/tensorboard, where the TensorBoard event files go."""
        return self.path / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        """RUN_DIR/checkpoints, where the step bundles live."""
        return self.path / "checkpoints"

    def open(self, resume: bool, is_main: bool) -> None:
        """Create RUN_DIR; refuse one that holds a run unless resuming (NmtError).

        Rank 0 also deletes staging/retired bundles a killed process left behind.
        """
        if not resume and self.last.exists():
            raise NmtError(
                f"{self.path} already holds a run; add --resume to continue it "
                "or choose another --out"
            )
        if resume and not self.path.is_dir():  # refused before anything is created
            raise NmtError(f"--resume: there is no run in {self.path}; start without --resume")
        self.path.mkdir(parents=True, exist_ok=True)
        if is_main:
            ckpt.remove_leftovers(self.checkpoints)

    def write_config(self) -> None:
        """Write RUN_DIR/config.yaml (atomically)."""
        text = yaml.safe_dump(config_to_dict(self.config), sort_keys=False)
        write_text_atomic(self.path / "config.yaml", text)

    # ---------------------------------------------------------------- bundles
    def save(
        self,
        progress: Progress,
        state_dict: dict[str, torch.Tensor],
        training_state: dict[str, Any],
        validated: bool,
        is_best: bool = False,
    ) -> Path:
        """Write checkpoints/step-NNNNNNN, point `last` (and `best`) at it, prune old ones.

        `validated` says whether the newest history record scores this step. A failed write
        (e.g. a full disk) raises NmtError and leaves the earlier bundles and links intact.
        """
        step_dir = self.checkpoints / f"step-{progress.step:07d}"
        try:
            ckpt.save_bundle(
                step_dir,
                state_dict,
                self.config,
                self._metadata(progress, validated),
                self.tokenizer_files,
                training_state=training_state,
            )
            ckpt.point_link(self.last, step_dir)
            if is_best or not self.best.exists():
                ckpt.point_link(self.best, step_dir)
            self._prune()
            if self._events is not None:  # what the bundle's step logged is on disk with it
                self._events.flush()
        except OSError as err:
            raise NmtError(
                f"cannot write checkpoint {step_dir}: {err.strerror or err}; "
                "the previous checkpoints are intact"
            ) from err
        return step_dir

    def last_step(self) -> int:
        """The step RUN_DIR/last points at, -1 when there is none."""
        if not self.last.exists():
            return -1
        return int(self.last.resolve().name.split("-")[-1])

    def resume_candidates(self) -> list[Path]:
        """Bundles to resume from, in order of preference: `last`, then step-* newest first."""
        candidates = [self.last] if self.last.exists() else []
        return candidates + sorted(self.checkpoints.glob("step-*"), reverse=True)

    def point_last(self, bundle: Path) -> None:
        """Make RUN_DIR/last point at `bundle` (e.g. the one a resume started from)."""
        ckpt.point_link(self.last, bundle)

    def _prune(self) -> None:
        """Delete step bundles beyond the newest `keep_last`, never `best` or `last`."""
        keep = {self.best.resolve(), self.last.resolve()}
        bundles = sorted(self.checkpoints.glob("step-*"))
        for old in bundles[: -self.config.train.keep_last]:
            if old.resolve() not in keep:
                ckpt.remove_bundle(old)

    def _metadata(self, progress: Progress, validated: bool) -> dict[str, Any]:
        """metadata.json fields of a bundle at `progress` (nmt.checkpoint adds file hashes)."""
        last_record = progress.history[-1] if validated and progress.history else {}
        identity = self.identity
        return {
            "name": identity.name,
            "step": progress.step,
            "epoch": progress.epoch,
            "src_lang": identity.src_lang,
            "tgt_lang": identity.tgt_lang,
            "seed": identity.seed,
            "data_manifest_hash": identity.data_manifest_hash,
            "data_derived_from": identity.data_derived_from,
            "data_source_sha256": identity.data_source_sha256,
            "tokenizer_sha256": dict(identity.tokenizer_sha256),
            "scores": {k: v for k, v in last_record.items() if k != "step"},
            "best": {"valid_bleu": progress.best_bleu, "step": progress.best_step},
            "train_seconds": round(progress.train_seconds, 2),
            "device": identity.device,
            "target_shortlist": list(identity.target_shortlist) or None,
            "source_words": identity.source_words,
            "init_from": identity.init_from,
        }

    # ---------------------------------------------------------------- metrics
    def open_event_log(self, first_step: int) -> None:
        """Start the TensorBoard log (rank 0 only), unless `train.tensorboard` is off.

        `first_step` is the first step this process logs: 0 for a new run, the restored
        step + 1 for a resumed one. Events an earlier process logged at `first_step` or
        later (steps a crash makes the run replay) are hidden, so no step shows twice.
        The config is logged as text and hparams at `first_step`. Without the
        `tensorboard` package this warns once and the run goes on without it.
        """
        if not self.config.train.tensorboard or self._events is not None:
            return
        self._events = open_event_log(self.tensorboard, first_step)
        if self._events is not None:
            self._events.add_config(self.config, first_step)

    def close(self) -> None:
        """Flush and close the TensorBoard log (nothing when none is open)."""
        if self._events is not None:
            self._events.close()
            self._events = None

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to RUN_DIR/metrics.jsonl, and its scalars to the event log."""
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._events is not None:
            self._events.add_record(record)

    def write_curves(self) -> None:
        """Draw RUN_DIR/curves.png from metrics.jsonl (nothing when there are no metrics)."""
        from nmt.evaluation.plots import plot_training_curves

        metrics = self.path / "metrics.jsonl"
        if metrics.exists():
            plot_training_curves(metrics, self.path / "curves.png")
