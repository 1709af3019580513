"""Assemble a bundle's MODEL_CARD.md from measured results (nothing here is typed in by hand).

    python bench/model_card.py --bundle models/en-fr-base --eval eval-test.json \
        --latency latency.json --serve serve-c1.json --training runs/base \
        --notes notes.md --machine "2-core AMD EPYC, torch 2.13.0+cpu" > MODEL_CARD.md

Inputs: the bundle (metadata.json, config.json), an `nmt evaluate --report` JSON (test split,
beams 1 and 5), `bench/latency.py` and `bench/serve_load.py` JSON, and the training run
directory (metrics.jsonl: time and tokens/s). The twenty report sentences are translated
here with the bundle at its default beam. Prose that is a choice, not a measurement (why
the recipe looks as it does, known limits), comes from `--notes`, a Markdown file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nmt.evaluation.report import by_length_table, markdown_table
from nmt.translator import load_translator

REPORT_SENTENCES = (
    "Where is the station?",
    "I love you.",
    "Tom is my friend.",
    "I don't know what to do.",
    "Can you help me, please?",
    "It's raining today.",
    "My name is Sarah and I live in Boston.",
    "The meeting starts at 9:30 tomorrow.",
    "She bought 3 apples and 12 oranges.",
    "Please send the report to john.smith@example.com.",
    "HELLO, HOW ARE YOU?",
    "This is not what I ordered.",
    "We have been waiting for two hours.",
    "Visit https://example.org for details.",
    "Do you speak French?",
    'He said: "I\'ll be back."',
    "The cat is sleeping on the sofa.",
    "I can't believe it's already December!",
    "Mary gave the book to Peter yesterday.",
    "How much does this cost?",
)


def _read_json(path: Path | None) -> Any:
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))


def training_summary(run_dir: Path) -> dict[str, float]:
    """Steps, epochs and mean tokens/s from a run's metrics.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "tokens_per_s" in r]
    return {
        "steps": max(r["step"] for r in train),
        "epochs": max(r.get("epoch", 0) for r in train) + 1,
        "tokens_per_s": sum(r["tokens_per_s"] for r in train) / len(train),
    }


def sentences_table(bundle: Path) -> str:
    """The twenty report sentences and the bundle's translations (default beam)."""
    translator = load_translator(bundle, "cpu")
    translations = translator.translate(list(REPORT_SENTENCES))
    rows = ["| English | `nmt` (beam 5) |", "| --- | --- |"]
    rows += [
        f"| {_cell(source)} | {_cell(t.text)} |"
        for source, t in zip(REPORT_SENTENCES, translations, strict=True)
    ]
    return "\n".join(rows) + "\n"


def _provenance(metadata: dict[str, Any]) -> str:
    members = metadata.get("ensemble")
    if members:
        described = [
            f"{m.get('name') or Path(m['path']).name} "
            f"(update {m.get('step')}, seed {m.get('seed')})"
            for m in members
        ]
        return f"an ensemble of {len(members)} models ({'; '.join(described)})"
    steps = [str(source.get("step")) for source in metadata.get("exported_from", [])]
    if len(steps) > 1:
        return f"the mean of the checkpoints at updates {', '.join(steps)}"
    return f"the checkpoint at update {steps[0] if steps else metadata.get('step')}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def latency_lines(latency: dict[str, Any] | None, serve: dict[str, Any] | None) -> list[str]:
    lines = []
    for cell in (latency or {}).get("cells", []):
        ms = cell["latency_ms"]
        lines.append(
            f"- in process, beam {cell['beam']}: p50 {ms['p50']} ms, p95 {ms['p95']} ms "
            f"({cell['calls']} calls, {latency['threads']} threads)"
        )
    for server in (serve or {}).get("runs", []):
        for cell in server.get("cells", []):
            if cell["concurrency"] == 1:
                ms = cell["latency_ms"]
                lines.append(
                    f"- through the service (HTTP, batching {server.get('batching')}), "
                    f"beam {cell['beam']}, concurrency 1: p50 {ms['p50']} ms, p95 {ms['p95']} ms"
                )
    return lines


def build_card(args: argparse.Namespace) -> str:
    bundle = Path(args.bundle)
    metadata = json.loads((bundle / "metadata.json").read_text())
    config = json.loads((bundle / "config.json").read_text())
    report = _read_json(args.eval)
    size_mb = sum(f.stat().st_size for f in bundle.iterdir() if f.is_file()) / 1e6
    headline = next(r for r in report["results"] if r.get("beam") == 5)
    parts = [
        f"# Model card: {metadata.get('name', bundle.name)}",
        "",
        f"English→French, test BLEU {headline['multi_reference']['bleu']:.2f} "
        f"(multi-reference, beam 5; chrF {headline['multi_reference']['chrf']:.2f}).",
        "",
        f"- Bundle: `{bundle}`, {size_mb:.1f} MB, weights in {metadata.get('weights_dtype')}, "
        f"parameters: {report.get('model', {}).get('parameters', '?'):,}",
        f"- Trained with: `{args.command}` on {args.machine}",
        f"- Weights: {_provenance(metadata)}"
        + ("" if metadata.get("ensemble") else f", seed {config['train']['seed']}")
        + f", data manifest `{metadata.get('data_manifest_hash')}`",
        f"- Date: {args.date}",
    ]
    if args.training:
        summary = training_summary(Path(args.training))
        parts.append(
            f"- Training log: {summary['epochs']} epochs, last logged update "
            f"{summary['steps']:,}, mean {summary['tokens_per_s']:,.0f} source+target pieces/s"
        )
    if args.notes:
        parts += ["", Path(args.notes).read_text(encoding="utf-8").rstrip()]
    parts += [
        "",
        "## Scores on the test split",
        "",
        markdown_table(report).rstrip(),
        "",
        "By source length (multi-reference BLEU):",
        "",
        by_length_table(report).rstrip(),
        "",
        "## Speed",
        "",
        *latency_lines(_read_json(args.latency), _read_json(args.serve)),
        "",
        "## Twenty everyday sentences",
        "",
        sentences_table(bundle).rstrip(),
        "",
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--eval", type=Path, required=True, help="nmt evaluate --report JSON")
    parser.add_argument("--latency", type=Path, help="bench/latency.py JSON")
    parser.add_argument("--serve", type=Path, help="bench/serve_load.py JSON")
    parser.add_argument("--training", help="training run directory (metrics.jsonl)")
    parser.add_argument("--notes", help="Markdown: recipe rationale, licence, limits")
    parser.add_argument("--command", default="nmt train --config base", help="how it was trained")
    parser.add_argument("--machine", default="?", help="the training machine, in words")
    parser.add_argument("--date", default="?", help="date of the measurements")
    sys.stdout.write(build_card(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
