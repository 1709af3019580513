"""The architecture and hyper-parameter ablation: one fixed CPU budget per row, one table.

    python bench/ablation.py run [--rows gru,lstm,...] [--data DIR] [--runs runs/ablation] \
        [--results bench/results/ablation] [--set key=value ...]
    python bench/ablation.py report [--results bench/results/ablation] [--out docs/ABLATION.md]
    python bench/ablation.py list

`run` trains each row with `nmt train` for the recipe's budget (bench/ablation/recipe.yaml:
15 minutes of training time, seed 1234, the whole training split), evaluates RUN/last on the
test split with `nmt evaluate --beam 5` (multi- and single-reference BLEU and chrF), and
writes one JSON per row into --results (committed; a row with a result is skipped, so the
study resumes where it stopped, in this session or a later one). A row interrupted by
SIGTERM saves its checkpoint and is resumed exactly (`nmt train --resume`) on the next `run`.
While the file RUNS/PAUSE exists, `run` waits before starting the next row (for quiet
benchmarks between rows). `report` turns the results into docs/ABLATION.md and a PNG of
validation perplexity against training time.

Validation perplexity is the true one (exp of the token NLL without label smoothing, over the
whole valid split), measured every 250 updates and once more when the budget ends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECIPE = "bench/ablation/recipe.yaml"  # as the docs show it; run from the repository root
RECIPE_PATH = Path(__file__).resolve().parent / "ablation" / "recipe.yaml"
FINDINGS = RECIPE_PATH.with_name("findings.md")  # the hand-written reading of the table
REFERENCE_ROW = "gru"
SECOND_SEED_ROW = "best-seed2"
SECOND_SEED = 4321


@dataclass(frozen=True)
class Row:
    """One run of the study: `overrides` applied to the recipe with `nmt train --set`."""

    name: str
    overrides: tuple[str, ...]
    question: str
    reference: str = REFERENCE_ROW  # the row this one is compared with


_COVERAGE = "model.coverage.enabled=true"
_COPY = "model.copy.enabled=true"
_LSTM = "model.rnn_type=lstm"
_CPU_BF16 = "train.cpu_amp=true"

# In the order they run: the questions with the largest expected effect first.
ROWS: tuple[Row, ...] = (
    Row("gru", (), "reference: GRU, hidden 512, additive attention, input feeding", ""),
    Row("lstm", (_LSTM,), "LSTM instead of GRU"),
    Row("gru-h256", ("model.hidden_dim=256",), "hidden size 256 instead of 512"),
    Row("gru-lr1e-3", ("train.learning_rate=0.001",), "learning rate 1e-3 instead of 2e-3"),
    Row("gru-rdrop0.2", ("model.recurrent_dropout=0.2",), "recurrent (variational) dropout 0.2"),
    Row(
        "gru-bahdanau",
        ("model.attention_placement=bahdanau",),
        "Bahdanau et al.'s placement: attend with s_{t-1}, context into the RNN",
    ),
    Row("gru-cpu-bf16", (_CPU_BF16,), "bf16 autocast in training (native AVX512-BF16)"),
    Row("lstm-cpu-bf16", (_LSTM, _CPU_BF16), "LSTM, bf16 autocast in training", "lstm"),
    Row("gru-coverage", (_COVERAGE,), "coverage (Tu et al. 2016; See et al. 2017)"),
    Row("gru-copy", (_COPY,), "copy: pointer-generator (See et al. 2017)"),
    Row("gru-coverage-copy", (_COVERAGE, _COPY), "coverage and copy"),
    Row("lstm-coverage", (_LSTM, _COVERAGE), "LSTM with coverage", "lstm"),
    Row("lstm-copy", (_LSTM, _COPY), "LSTM with copy", "lstm"),
    Row("lstm-coverage-copy", (_LSTM, _COVERAGE, _COPY), "LSTM with coverage and copy", "lstm"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options: a sub-command (run, report, list) and its paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report", "list"])
    parser.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    parser.add_argument("--data", default="data/prepared/fra-eng", help="prepared-data directory")
    parser.add_argument("--runs", default="runs/ablation", help="run directories (git-ignored)")
    parser.add_argument("--results", default="bench/results/ablation", help="one JSON per row")
    parser.add_argument("--out", default="docs/ABLATION.md", help="report: the Markdown page")
    parser.add_argument(
        "--set",
        dest="extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override for every row (e.g. a shorter budget for a smoke test)",
    )
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------- run


def selected_rows(names: str, results: Path) -> list[Row]:
    """The rows asked for, in study order, with the second-seed row once its choice is known."""
    rows = list(ROWS)
    best = best_row(results)
    if best is not None:
        rows.append(
            Row(
                SECOND_SEED_ROW,
                (*best.overrides, f"train.seed={SECOND_SEED}"),
                f"the best row ({best.name}) again with seed {SECOND_SEED}",
                best.name,
            )
        )
    if not names:
        return rows
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = {row.name for row in rows}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f"unknown row(s): {', '.join(unknown)} (see `ablation.py list`)")
    return [row for row in rows if row.name in wanted]


def best_row(results: Path) -> Row | None:
    """The finished main row (not the second seed) with the highest test BLEU, once all ran."""
    scores = {name: record["test"]["bleu_multi"] for name, record in read_results(results).items()}
    if not all(row.name in scores for row in ROWS):
        return None
    return max(ROWS, key=lambda row: scores[row.name])


def train_command(row: Row, args: argparse.Namespace, resume: bool) -> list[str]:
    """The `nmt train` command line of `row`."""
    command = [sys.executable, "-m", "nmt", "train", "--config", str(RECIPE_PATH)]
    command += ["--data", args.data, "--out", str(Path(args.runs) / row.name), "--quiet"]
    for override in (*row.overrides, *args.extra):
        command += ["--set", override]
    return command + (["--resume"] if resume else [])


def evaluate_command(row: Row, args: argparse.Namespace) -> list[str]:
    """The `nmt evaluate` command line of `row` (beam 5, test split, JSON report)."""
    run_dir = Path(args.runs) / row.name
    return [
        *(sys.executable, "-m", "nmt", "evaluate", "--checkpoint", str(run_dir / "last")),
        *("--data", args.data, "--split", "test", "--beam", "5", "--quiet"),
        *("--report", str(run_dir / "test.json")),
    ]


class Child:
    """The one subprocess running now; SIGTERM/SIGINT to us is passed on to it."""

    process: subprocess.Popen[bytes] | None = None
    stopping = False

    @classmethod
    def run(cls, command: list[str], log: Path) -> int:
        """Run `command` with stdout and stderr appended to `log`; its exit status."""
        with log.open("ab") as sink:
            sink.write(f"\n$ {shlex.join(command)}\n".encode())
            sink.flush()
            cls.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
            status = cls.process.wait()
        cls.process = None
        return status

    @classmethod
    def forward_signal(cls, signum: int, _frame: Any) -> None:
        cls.stopping = True
        if cls.process is not None:
            cls.process.send_signal(signum)


def run_row(row: Row, args: argparse.Namespace) -> dict[str, Any] | None:
    """Train and evaluate one row; its result record, or None when stopped by a signal."""
    run_dir = Path(args.runs) / row.name
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "ablation.log"
    started = time.time()
    resume = (run_dir / "last").exists()
    train = train_command(row, args, resume)
    if Child.run(train, log) != 0 or Child.stopping:
        if Child.stopping:
            return None
        raise SystemExit(f"row {row.name}: training failed; see {log}")
    evaluate = evaluate_command(row, args)
    if Child.run(evaluate, log) != 0 or Child.stopping:
        if Child.stopping:
            return None
        raise SystemExit(f"row {row.name}: evaluation failed; see {log}")
    return row_record(row, run_dir, train_command(row, args, False), evaluate, started)


def row_record(
    row: Row, run_dir: Path, train: list[str], evaluate: list[str], started: float
) -> dict[str, Any]:
    """What `report` needs of one finished row, read from its run directory."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "train_loss" in r]
    validations = [r for r in records if "valid_ppl" in r]
    report = json.loads((run_dir / "test.json").read_text())
    beam5 = next(result for result in report["results"] if result["beam"] == 5)
    steady = logged[1:] or logged  # the first interval includes start-up
    norms = [r["grad_norm_mean"] for r in logged if "grad_norm_mean" in r]
    metadata = json.loads((run_dir / "last" / "metadata.json").read_text())
    return {
        "row": row.name,
        "question": row.question,
        "reference": row.reference,
        "overrides": list(row.overrides),
        "train_command": shlex.join(["nmt", *train[3:]]).replace(str(RECIPE_PATH), RECIPE),
        "evaluate_command": shlex.join(["nmt", *evaluate[3:]]),
        "parameters": report["model"]["parameters"],
        "steps": validations[-1]["step"],
        "epochs": logged[-1]["epoch"] if logged else 0,
        "train_seconds": validations[-1].get("train_seconds", metadata.get("train_seconds")),
        "tokens_per_s": sum(r["tokens_per_s"] for r in steady) / max(len(steady), 1),
        "valid_ppl": validations[-1]["valid_ppl"],
        "valid_bleu_greedy_500": validations[-1]["valid_bleu"],
        "curve": [
            {k: r.get(k) for k in ("step", "train_seconds", "valid_ppl", "valid_bleu")}
            for r in validations
        ],
        "grad_norm": {
            "mean": sum(norms) / len(norms) if norms else None,
            "max": max((r["grad_norm_max"] for r in logged if "grad_norm_max" in r), default=None),
            "last_interval_mean": norms[-1] if norms else None,
        },
        "test": {
            "beam": 5,
            "sentences": report["sentences"],
            "bleu_multi": beam5["multi_reference"]["bleu"],
            "chrf_multi": beam5["multi_reference"]["chrf"],
            "bleu_single": beam5["single_reference"]["bleu"],
            "chrf_single": beam5["single_reference"]["chrf"],
            "signature": beam5["multi_reference"]["signature"],
            "decode_sentences_per_s": beam5["sentences_per_second"],
        },
        "seed": metadata["seed"],
        "data_manifest_hash": metadata["data_manifest_hash"],
        "machine": machine(),
        "git_commit": git_commit(),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds_this_session": round(time.time() - started, 1),
    }


def machine() -> dict[str, Any]:
    """CPU model, usable cores and torch version: what a tokens/s figure depends on."""
    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def git_commit() -> str:
    """The commit the code ran from ('' outside a git checkout)."""
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def wait_while_paused(runs: Path) -> None:
    """Block while RUNS/PAUSE exists (checked every 10 s), unless a signal asks us to stop."""
    pause = runs / "PAUSE"
    announced = False
    while pause.exists() and not Child.stopping:
        if not announced:
            print(f"paused: remove {pause} to go on", flush=True)
            announced = True
        time.sleep(10)


def run_study(args: argparse.Namespace) -> int:
    """Run every selected row that has no result yet; 0, or 143 when stopped by a signal."""
    previous = {
        signum: signal.signal(signum, Child.forward_signal)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    Child.stopping = False
    try:
        return _run_pending(args)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_pending(args: argparse.Namespace) -> int:
    results, runs = Path(args.results), Path(args.runs)
    results.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    while True:
        done = read_results(results)
        pending = [row for row in selected_rows(args.rows, results) if row.name not in done]
        if not pending:
            print("every selected row has a result", flush=True)
            return 0
        wait_while_paused(runs)
        if Child.stopping:
            return 143
        row = pending[0]
        print(f"{time.strftime('%H:%M:%S')} row {row.name}: {row.question}", flush=True)
        record = run_row(row, args)
        if record is None:
            print(f"row {row.name} stopped; `run` again resumes it", flush=True)
            return 143
        write_json(results / f"{row.name}.json", record)
        bleu = record["test"]["bleu_multi"]
        print(
            f"{time.strftime('%H:%M:%S')} row {row.name}: test BLEU {bleu:.2f}, "
            f"valid ppl {record['valid_ppl']:.3f}, {record['tokens_per_s']:.0f} tok/s",
            flush=True,
        )


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a result."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, path)


def read_results(results: Path) -> dict[str, dict[str, Any]]:
    """Every finished row's record, by row name."""
    if not results.is_dir():
        return {}
    records = (json.loads(path.read_text()) for path in sorted(results.glob("*.json")))
    return {record["row"]: record for record in records}


# ------------------------------------------------------------------------------------- report


def report(args: argparse.Namespace) -> int:
    """Write the Markdown page and the perplexity plot from the results; 1 if there are none."""
    records = read_results(Path(args.results))
    if not records:
        print(f"no results in {args.results}", file=sys.stderr)
        return 1
    order = [row.name for row in ROWS] + [SECOND_SEED_ROW]
    ordered = [records[name] for name in order if name in records]
    out = Path(args.out)
    plot = out.with_name("ablation-valid-ppl.png")
    plot_curves(ordered, plot)
    out.write_text(markdown(ordered, plot.name, [row.name for row in ROWS]))
    print(f"wrote {out} and {plot}")
    return 0


def markdown(records: list[dict[str, Any]], plot_name: str, all_rows: list[str]) -> str:
    """The page: how the study ran, the table, the plot, each row's command."""
    by_name = {record["row"]: record for record in records}
    missing = [name for name in all_rows if name not in by_name]
    first = records[0]
    lines = [
        "# Ablation: what each switch is worth on Tatoeba en→fr (CPU, 15 minutes a row)",
        "",
        "Generated by `python bench/ablation.py report` from `bench/results/ablation/*.json`;",
        "re-run the study with `python bench/ablation.py run` (it skips rows that have a",
        "result and resumes an interrupted one). Every row trains the recipe",
        "`bench/ablation/recipe.yaml` (the compact GRU of the shipped `base` preset: 1-layer",
        "bidirectional encoder, 1-layer decoder, embeddings 256 shared and tied, additive",
        "attention 256, dropout 0.2, Adam 2e-3 constant after 300 warm-up updates, label",
        "smoothing 0.1, 4,096-token batches, seed 1234) for **900 s of training time** on the",
        "whole training split, changed only as the row says, and is scored at the end of its",
        "budget (RUN/last, no averaging).",
        "",
        f"Machine: {first['machine']['cpu']}, {first['machine']['cores']} cores, torch "
        f"{first['machine']['torch']}; data manifest `{first['data_manifest_hash'][:16]}…`.",
        "The study ran in the background at real-time priority (`chrt -r 1`, real-time share",
        "90 %) while other work used the rest of the machine, so every row saw the same share",
        "of the CPU; tokens/s are ~15 % below an idle machine's.",
        "",
        "- **valid ppl**: true perplexity (no label smoothing) on the whole valid split at the",
        "  end of the budget. **test BLEU / chrF**: sacreBLEU on the test split at beam 5,",
        "  multi-reference (single-reference in brackets); signature "
        f"`{first['test']['signature']}`.",
        "- **Δ BLEU**: against the row it changes (the reference `gru`, or `lstm` for the LSTM",
        "  rows). **tok/s**: source + target non-pad pieces per second of training.",
        "  **epoch**: the epoch the budget ended in (1: still in the first pass).",
        "  **grad norm**: mean L2 norm of the gradient before clipping (clip 5) over the run.",
        "",
        "| row | change | params | tok/s | updates | epoch | valid ppl | test BLEU (single) "
        "| test chrF | Δ BLEU | grad norm |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for record in records:
        test = record["test"]
        reference = by_name.get(record["reference"])
        delta = f"{test['bleu_multi'] - reference['test']['bleu_multi']:+.2f}" if reference else "—"
        norm = record["grad_norm"]["mean"]
        lines.append(
            f"| `{record['row']}` | {record['question']} | {record['parameters'] / 1e6:.2f} M "
            f"| {record['tokens_per_s']:,.0f} | {record['steps']:,} | {record['epochs'] + 1} "
            f"| {record['valid_ppl']:.3f} | {test['bleu_multi']:.2f} ({test['bleu_single']:.2f}) "
            f"| {test['chrf_multi']:.2f} | {delta} | {'—' if norm is None else f'{norm:.2f}'} |"
        )
    lines += ["", f"![validation perplexity against training time]({plot_name})", ""]
    if FINDINGS.exists():
        lines += ["## What the table says", "", FINDINGS.read_text().strip(), ""]
    if missing:
        lines += [
            f"**Not run yet**: {', '.join(f'`{name}`' for name in missing)}"
            + (f", `{SECOND_SEED_ROW}`" if SECOND_SEED_ROW not in by_name else "")
            + ". `python bench/ablation.py run` continues the study.",
            "",
        ]
    lines += ["## Commands", ""]
    for record in records:
        lines += [
            f"- `{record['row']}` ({record['finished'][:10]}, commit "
            f"`{record['git_commit'][:9]}`):",
            f"  `{record['train_command']}` then `{record['evaluate_command']}`",
        ]
    return "\n".join(lines) + "\n"


def plot_curves(records: list[dict[str, Any]], path: Path) -> None:
    """One line per row: validation perplexity against minutes of training."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    figure = Figure(figsize=(8.0, 5.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    palette = matplotlib.colormaps["tab20"].colors  # 20 distinct colours: one per row
    for index, record in enumerate(records):
        points = [p for p in record["curve"] if p.get("train_seconds") is not None]
        style = "--" if record["row"].startswith("lstm") else "-"
        axes.plot(
            [p["train_seconds"] / 60 for p in points],
            [p["valid_ppl"] for p in points],
            style,
            color=palette[index % len(palette)],
            marker="os^vD"[index % 5],
            markersize=3,
            label=record["row"],
        )
    axes.set_xlabel("minutes of training (2 CPU cores)")
    axes.set_ylabel("validation perplexity (true)")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.yaxis.set_minor_formatter(ScalarFormatter())
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "list":
        for row in selected_rows("", Path(args.results)):
            print(f"{row.name:20} {' '.join(row.overrides) or '(recipe)':60} {row.question}")
        return 0
    if args.command == "report":
        return report(args)
    return run_study(args)


if __name__ == "__main__":
    sys.exit(main())
