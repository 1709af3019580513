"""TensorBoard event log of a run: the records of metrics.jsonl as scalars, the config as text.

`RunDirectory` owns one `EventLog` (rank 0 only) under RUN_DIR/tensorboard. Every record
appended to metrics.jsonl goes here too, one scalar per numeric field, at the record's step:

    train_loss, train_ppl -> train/loss, train/ppl      valid_loss, ... -> valid/loss, ...
    lr, tokens_per_s, epoch (any other field)       -> train/lr, train/tokens_per_s, ...

A resumed run appends to the same directory (a new event file): it opens the writer with
`purge_step` set to its first step, so TensorBoard hides what an earlier process logged at
that step or later, i.e. the steps a crash made it replay; see
`torch.utils.tensorboard.SummaryWriter`. Writing uses `torch.utils.tensorboard`, which needs
the `tensorboard` package (the `tensorboard` extra); without it `open_event_log` returns None
and training says nothing about it (metrics.jsonl and curves.png are written as always).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from nmt.config import Config, config_to_dict

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

logger = logging.getLogger(__name__)

# The metrics the hparams dashboard lists beside each run's hyper-parameters.
HPARAM_METRICS = ("valid/bleu", "valid/chrf", "valid/ppl", "valid/loss")


def scalar_tags(record: dict[str, Any]) -> dict[str, float]:
    """TensorBoard tag -> value for every numeric field of a metrics.jsonl record but `step`.

    `valid_x` becomes `valid/x`, `train_x` becomes `train/x`, and any other field `x`
    (lr, tokens_per_s, epoch, ...) `train/x`. Booleans, strings and None are left out.
    """
    tags: dict[str, float] = {}
    for key, value in record.items():
        if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        group, _, name = key.partition("_")
        if group in ("train", "valid") and name:
            tags[f"{group}/{name}"] = float(value)
        else:
            tags[f"train/{key}"] = float(value)
    return tags


def flat_hparams(config: Config) -> dict[str, float | int | str | bool]:
    """The config as `section.field` -> value, as the hparams dashboard takes them.

    Nested sections are joined with dots (`model.coverage.enabled`); lists and tuples
    become their string form; None fields are left out.
    """
    flat: dict[str, float | int | str | bool] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            elif isinstance(value, (bool, int, float, str)):
                flat[name] = value
            elif value is not None:
                flat[name] = str(value)

    walk("", config_to_dict(config))
    return flat


class EventLog:
    """An open TensorBoard writer for one process's share of a run (rank 0 of it)."""

    def __init__(self, writer: SummaryWriter) -> None:
        self._writer = writer
        self._last_step: dict[str, int] = {}  # tag -> the step it was last logged at

    @property
    def directory(self) -> Path:
        """The folder the event files are written to."""
        return Path(self._writer.get_logdir())

    def add_config(self, config: Config, step: int) -> None:
        """Log the resolved config at `step`: as YAML text and as hparams (scalars/strings)."""
        from torch.utils.tensorboard.summary import hparams

        text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
        code_block = "\n".join("    " + line for line in text.splitlines())
        self._writer.add_text("config", code_block, step)
        experiment, session_start, _ = hparams(
            flat_hparams(config), dict.fromkeys(HPARAM_METRICS, 0.0)
        )
        file_writer = self._writer.file_writer
        assert file_writer is not None  # set by SummaryWriter.__init__
        file_writer.add_summary(experiment, step)
        file_writer.add_summary(session_start, step)

    def add_record(self, record: dict[str, Any]) -> None:
        """Log every numeric field of a metrics.jsonl record at `record["step"]`.

        A tag gets one value per step: a field that the step's log record and its validation
        record both carry (`train_seconds`) is logged once, from the first.
        """
        step = int(record["step"])
        for tag, value in scalar_tags(record).items():
            if self._last_step.get(tag) == step:
                continue
            self._last_step[tag] = step
            self._writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        """Write what is queued to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()


def open_event_log(directory: Path, first_step: int) -> EventLog | None:
    """A writer on `directory` that hides earlier events at `first_step` or later.

    `first_step` is the first step this process logs: 0 for a new run, the restored step
    + 1 for a resumed one. Returns None when `torch.utils.tensorboard` cannot be imported:
    silently when the `tensorboard` package is not installed (the extra is optional), after
    one warning when it is installed but broken (e.g. a protobuf mismatch). Training then
    goes on with metrics.jsonl alone.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # the extra is not installed: nothing to say
        logger.debug("TensorBoard logging is off: %s", err)
        return None
    except Exception as err:  # installed but broken
        logger.warning(
            "TensorBoard logging is off: %s (pip install tensorboard, or set "
            "train.tensorboard=false to silence this)",
            err,
        )
        return None
    writer = SummaryWriter(log_dir=str(directory), purge_step=first_step)
    logger.info(
        "TensorBoard logs in %s; view them with: tensorboard --logdir %s",
        directory,
        directory.parent,
    )
    return EventLog(writer)
