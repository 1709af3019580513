"""OpenNMT-py 3.5.1 training on CPU, timed from its own per-step reports.

The configuration is ../shared/peers/opennmt_rnn.sh's (our preset `lstm`'s shape): 2-layer
bidirectional LSTM encoder, 2-layer LSTM decoder with input feeding, hidden and embeddings
512, "mlp" (Bahdanau) attention, dropout 0.3, Adam 1e-3, label smoothing 0.1, seed 1234,
tokens batches; on CPU in fp32, without validation data, reporting every step.

With report_every 1 each report line ("[date time,ms INFO] Step N/M; ... bsz: S/T/B; s/t
tok/s; X sec") covers exactly one step: S and T are that step's real source and target
tokens (OpenNMT-py counts `srclen` and the non-pad `tgt[1:]`: pieces + one eos per
target). The timed steps' wall time (data loading included) is the difference of the time
stamps of the last warm-up report and the last report; s and t, the same tokens over the
step's time rounded to whole tokens/s, give a cross-check (`seconds_from_rates`). The
process is stopped (its process group, DataLoader workers included) as soon as the last
wanted step is reported, before any checkpoint is written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

_STEP = re.compile(
    r"Step\s+(\d+)(?:/\s*\d+)?;.*?bsz:\s*(\d+)/\s*(\d+)/\s*(\d+);\s*(\d+)/\s*(\d+) tok/s;"
)
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
_PARAMETERS = re.compile(r"\* number of parameters:\s*(\d+)")
_VOCAB = re.compile(r"\* (src|tgt) vocab size = (\d+)")
NEVER = 10**9  # a step count never reached: no periodic checkpoint or validation


@dataclass(frozen=True)
class StepReport:
    """One report line of OpenNMT-py with report_every 1."""

    step: int
    src_tokens: int
    tgt_tokens: int
    sentences: int
    src_per_second: int
    tgt_per_second: int
    logged_at: float | None = None  # the line's time stamp, seconds (its clock, ms precision)

    @property
    def seconds(self) -> float:
        """Wall time of the step from its tokens over its (rounded) tokens/s; 0 without."""
        rate = self.src_per_second + self.tgt_per_second
        return (self.src_tokens + self.tgt_tokens) / rate if rate > 0 else 0.0


def parse_step(line: str) -> StepReport | None:
    """The StepReport of a report line, None for any other line."""
    match = _STEP.search(line)
    if match is None:
        return None
    stamp = _STAMP.match(line)
    logged_at = None
    if stamp is not None:
        moment = dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")
        logged_at = moment.timestamp() + int(stamp.group(2)) / 1000
    return StepReport(*(int(x) for x in match.groups()), logged_at=logged_at)


def parse_parameters(text: str) -> int | None:
    """The model's parameter count from OpenNMT-py's start-up log, None if absent."""
    match = _PARAMETERS.search(text)
    return int(match.group(1)) if match else None


def parse_vocab_sizes(text: str) -> dict[str, int]:
    """{"src": n, "tgt": n}: the vocabulary sizes the model was built with (specials in)."""
    return {side: int(size) for side, size in _VOCAB.findall(text)}


def train_config(
    train_src: Path, train_tgt: Path, vocab: tuple[Path, Path], run_dir: Path, options: dict
) -> dict[str, Any]:
    """The training configuration; options: batch_size, train_steps, and optional overrides
    (e.g. bucket_size, num_workers) put in last."""
    return {
        "save_data": str(run_dir / "onmt"),
        "src_vocab": str(vocab[0]),
        "tgt_vocab": str(vocab[1]),
        "overwrite": True,
        "data": {"corpus_1": {"path_src": str(train_src), "path_tgt": str(train_tgt)}},
        "save_model": str(run_dir / "model"),
        "save_checkpoint_steps": NEVER,
        "keep_checkpoint": 1,
        "seed": 1234,
        "encoder_type": "brnn",
        "decoder_type": "rnn",
        "rnn_type": "LSTM",
        "layers": 2,
        "hidden_size": 512,
        "word_vec_size": 512,
        "global_attention": "mlp",
        "input_feed": 1,
        "dropout": [0.3],
        "model_dtype": "fp32",
        "optim": "adam",
        "learning_rate": 0.001,
        "batch_type": "tokens",
        "label_smoothing": 0.1,
        "valid_steps": NEVER,
        "report_every": 1,
        "log_file": str(run_dir / "train.log"),
        **options,
    }


def write_config(config: dict[str, Any], path: Path) -> Path:
    """config as YAML at path (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Stop:
    """When to stop the peer: after `warmup` untimed steps, `steps` timed steps or
    `seconds` of timed wall time, whichever comes first (None: no such limit)."""

    warmup: int
    steps: int | None = None
    seconds: float | None = None
    timeout: float = 3600.0  # the whole process, start-up included

    def reached(self, report: StepReport, timed_started: float | None) -> bool:
        """Whether the run has all it needs once `report` is in."""
        timed = report.step - self.warmup
        if self.steps is not None and timed >= self.steps:
            return True
        if self.seconds is not None and timed_started is not None and timed > 0:
            return time.perf_counter() - timed_started >= self.seconds
        return False


@dataclass
class PeerRun:
    """What a streamed training process left: its reports, exit and why it ended."""

    reports: list[StepReport]
    returncode: int | None
    ended: str  # "target reached", "exited" or "timeout"
    wall_seconds_timed: float | None  # between the warm-up's last report and the last one
    log_text: str


def stream_training(
    command: list[str], env: dict[str, str], log: Path, stop: Stop, say: Callable[[str], None]
) -> PeerRun:
    """Run `command`, tee its output to `log`, and stop its process group at `stop` (or
    when stop.timeout seconds have passed, output or not)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: the DataLoader workers go with it
    )  # fmt: skip
    expired = threading.Event()
    timer = threading.Timer(stop.timeout, lambda: (expired.set(), _stop_group(process)))
    timer.start()
    reports: list[StepReport] = []
    lines: list[str] = []
    marks: dict[str, float] = {}
    try:
        with open(log, "w", encoding="utf-8", buffering=1) as sink:
            ended = _follow(process, sink, lines, reports, marks, stop, say)
    finally:
        timer.cancel()
    if ended != "exited":
        _stop_group(process)
    returncode = process.wait()
    timed = marks["last"] - marks["start"] if "start" in marks else None
    return PeerRun(reports, returncode, "timeout" if expired.is_set() else ended, timed,
                   "".join(lines))  # fmt: skip


def _follow(
    process: subprocess.Popen,
    sink: TextIO,
    lines: list[str],
    reports: list[StepReport],
    marks: dict[str, float],
    stop: Stop,
    say: Callable[[str], None],
) -> str:
    """Read the process's output line by line until it ends or reaches `stop`."""
    assert process.stdout is not None
    for line in process.stdout:
        sink.write(line)
        lines.append(line)
        report = parse_step(line)
        if report is None:
            continue
        reports.append(report)
        marks["last"] = time.perf_counter()
        if report.step == stop.warmup:
            marks["start"] = marks["last"]
        if report.step == 1 or report.step % 10 == 0:
            say(f"peer step {report.step}: {report.seconds:.2f} s")
        if stop.reached(report, marks.get("start")):
            return "target reached"
    return "exited"


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process's own group (its id is the process's), SIGKILL after 20 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def timed_seconds(reports: list[StepReport], warmup: int) -> float:
    """Wall time of the steps after `warmup`: between the time stamps of report `warmup`
    and the last report when both have one, else the sum of `StepReport.seconds`."""
    by_step = {r.step: r for r in reports}
    first, last = by_step.get(warmup), reports[-1] if reports else None
    if first and last and first.logged_at is not None and last.logged_at is not None:
        return last.logged_at - first.logged_at
    return sum(r.seconds for r in reports if r.step > warmup)


def steady_state(reports: list[StepReport], warmup: int) -> dict[str, Any]:
    """Throughput over the reports after step `warmup` (source + target real tokens/s)."""
    timed = [r for r in reports if r.step > warmup]
    seconds = timed_seconds(reports, warmup) if timed else 0.0
    src = sum(r.src_tokens for r in timed)
    tgt = sum(r.tgt_tokens for r in timed)
    count = max(len(timed), 1)
    rate = (lambda n: round(n / seconds, 1)) if seconds > 0 else (lambda n: 0.0)
    return {
        "steps": len(timed),
        "first_timed_step": timed[0].step if timed else None,
        "last_step": reports[-1].step if reports else None,
        "seconds": round(seconds, 3),
        "seconds_from_rates": round(sum(r.seconds for r in timed), 3),
        "tokens_per_second": rate(src + tgt),
        "src_tokens_per_second": rate(src),
        "tgt_tokens_per_second": rate(tgt),
        "real_tokens_per_batch": round((src + tgt) / count, 1),
        "sentences_per_batch": round(sum(r.sentences for r in timed) / count, 1),
        "warmup_steps": warmup,
        "warmup_seconds": round(sum(r.seconds for r in reports if r.step <= warmup), 3),
    }
