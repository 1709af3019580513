"""Run the peer (OpenNMT-py 3.5.1, ../shared/peers/opennmt_rnn.sh, unchanged) and read its logs.

The recipe trains for a number of steps (not seconds), validates once, translates the test
set at beam 5 and 1 (batch 64 sentences) and scores it with its own score.py. Read here:
- training tokens/s: OpenNMT-py's report lines ("Step N/M; ... src/tgt tok/s; T sec"),
  every 50 steps, each over its own 50 steps; the first report (start-up, cuDNN set-up) is
  left out of the mean;
- decoding sentences/s: the test lines over its "Total translation time (s)" (-report_time:
  the translation loop only, model loading excluded), per beam;
- test BLEU/chrF, multi- and single-reference, per beam, from score.py's JSON;
- GPU busy %: the recipe's nvidia-smi samples (every 15 s) during training.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

RECIPE = "opennmt_rnn.sh"
WORK_ROOT = Path("/tmp/onmt_run")  # fixed inside the recipe: W=/tmp/onmt_run/$TAG
_STEP = re.compile(
    r"Step\s+(\d+)(?:/\s*\d+)?;.*?bsz:\s*(\d+)/\s*(\d+)/\s*(\d+);"
    r"\s*(\d+)/\s*(\d+) tok/s;\s*(\d+) sec"
)
_TOTAL_TIME = re.compile(r"Total translation time \(s\):\s*([\d.]+)")
_VERSION = re.compile(r"\| onmt (\S+)")


def peer_available(python: str, site: Path | None, stubs: Path) -> tuple[bool, str]:
    """Whether `python` imports onmt with the recipe's PYTHONPATH; (ok, reason)."""
    paths = [str(p) for p in (site, stubs) if p is not None]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run(
        [python, "-c", "import onmt, pyonmttok"], env=env, capture_output=True, text=True
    )
    if probe.returncode == 0:
        return True, ""
    last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"OpenNMT-py is not importable here ({last})"


def parse_train_log(text: str) -> dict[str, Any]:
    """Throughput from the report lines; the first report is warm-up and left out."""
    reports = [tuple(int(x) for x in match.groups()) for match in _STEP.finditer(text)]
    result: dict[str, Any] = {"reports": len(reports), "last_step": None}
    if not reports:
        return result
    result["last_step"] = reports[-1][0]
    steady = reports[1:] or reports
    src = [r[4] for r in steady]
    tgt = [r[5] for r in steady]
    result.update(
        src_tokens_per_s=round(statistics.fmean(src), 1),
        tgt_tokens_per_s=round(statistics.fmean(tgt), 1),
        tokens_per_s=round(statistics.fmean(s + t for s, t in zip(src, tgt, strict=True)), 1),
        sentences_per_batch=round(statistics.fmean(r[3] for r in steady), 1),
        src_tokens_per_batch=round(statistics.fmean(r[1] for r in steady), 1),
        tgt_tokens_per_batch=round(statistics.fmean(r[2] for r in steady), 1),
        seconds_at_last_report=reports[-1][6],
        per_report_tokens_per_s=[r[4] + r[5] for r in reports],
    )
    return result


def parse_gpu_monitor(path: Path) -> float | None:
    """Mean utilization.gpu % of the recipe's nvidia-smi samples, or None."""
    if not path.is_file():
        return None
    values = []
    for row in csv.reader(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        if len(row) >= 2 and row[1].strip().endswith("%"):
            try:
                values.append(float(row[1].strip().rstrip("%").strip()))
            except ValueError:
                continue
    return round(statistics.fmean(values), 1) if values else None


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def collect(work: Path, test_lines: int) -> dict[str, Any]:
    """Everything the recipe left in its work folder, as figures."""
    result: dict[str, Any] = {"train": parse_train_log(_read(work / "train.log"))}
    result["gpu_busy_percent"] = parse_gpu_monitor(work / "gpu_monitor.csv")
    for beam in (5, 1):
        entry: dict[str, Any] = {}
        total = _TOTAL_TIME.search(_read(work / f"translate.b{beam}.log"))
        if total and float(total.group(1)) > 0:
            entry["seconds"] = float(total.group(1))
            entry["sentences_per_second"] = round(test_lines / float(total.group(1)), 1)
        scores = work / f"hyp.b{beam}.json"
        if scores.is_file():
            data = json.loads(scores.read_text(encoding="utf-8"))
            entry["multi_ref"] = {k: data["multi_ref"][k] for k in ("bleu", "chrf")}
            entry["single_ref"] = {k: data["single_ref"][k] for k in ("bleu", "chrf")}
            entry["bleu_signature"] = data["multi_ref"].get("bleu_sig")
        result[f"beam{beam}"] = entry
    return result


def _count_lines(pack: Path, name: str, limit: int) -> int:
    with tarfile.open(pack) as archive:
        member = archive.extractfile(name)
        lines = sum(1 for _ in member) if member is not None else 0
    return min(lines, limit) if limit > 0 else lines


def _bundle_outputs(recipe_tarball: Path, console_log: Path, dest: Path) -> None:
    """dest: the recipe's own result tarball plus its console output (console.log)."""
    with tarfile.open(dest, "w:gz") as bundle:
        bundle.add(console_log, arcname="console.log")
        if recipe_tarball.is_file():
            with tarfile.open(recipe_tarball) as original:
                for member in original.getmembers():
                    bundle.addfile(member, original.extractfile(member))


def run_peer(
    kit: Path,
    steps: int,
    timeout: float,
    python: str,
    site: Path | None,
    out_dir: Path,
    tag: str = "lstm",
    cpu: bool = False,
    batch_tokens: int | None = None,
    test_limit: int = 0,
) -> dict[str, Any]:
    """Run the recipe on the kit's pack and return its figures.

    Returns {"skipped": why} when OpenNMT-py cannot be imported, and the figures read so
    far plus "error" when the recipe fails or runs past `timeout` seconds (then its process
    group is killed). out_dir/peer-TAG.tgz gets the recipe's result tarball (log,
    hypotheses, scores) and its console output.
    """
    recipe = kit / "peers" / RECIPE
    pack = kit / "peer-pack.tar.gz"
    ok, reason = peer_available(python, site, kit / "peers" / "stubs")
    if not ok:
        return {"skipped": reason}
    for needed in (recipe, pack):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} is missing: run bench/gpu/build_kit.sh")
    work = WORK_ROOT / tag
    shutil.rmtree(work, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix="peer-out-"))
    env = {**os.environ, "OUT": str(scratch), "WHEELS": str(kit / "wheels"), "PY": python}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site) if site else "", os.environ.get("PYTHONPATH", "")) if p
    )
    env.update({"CPU": "1"} if cpu else {})
    env.update({"BATCH": str(batch_tokens)} if batch_tokens else {})
    command = ["bash", str(recipe), str(pack), "LSTM", str(steps), tag, str(test_limit)]
    console = scratch / "console.log"
    started = time.perf_counter()
    with open(console, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, process_group=0
        )
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the recipe's own process group
            process.wait()
            code = None
    output = _read(console)
    result: dict[str, Any] = {
        "command": " ".join(command),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "log_tail": output[-2000:],
    }
    version = _VERSION.search(output)
    result["onmt_version"] = version.group(1) if version else None
    result.update(collect(work, _count_lines(pack, "test.sp.en", test_limit)))
    _bundle_outputs(scratch / f"{tag}.tgz", console, out_dir / f"peer-{tag}.tgz")
    shutil.rmtree(scratch, ignore_errors=True)
    if code is None:
        result["error"] = f"the peer recipe ran past {timeout:.0f} s and was stopped"
    elif code != 0:
        result["error"] = f"the peer recipe exited with {code} (console log in peer-{tag}.tgz)"
    return result
