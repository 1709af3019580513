"""Evaluation reports: atomic JSON files and Markdown tables for docs and the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nmt.errors import NmtError
from nmt.fileio import write_text_atomic

_HEADER = "| beam | BLEU multi | chrF multi | BLEU single | chrF single | sent/s |"
_ALIGN = "| ---: | ---: | ---: | ---: | ---: | ---: |"


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the report as JSON; readers see the old file or the new one, never half of one."""
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"  # fails before touching disk
    write_text_atomic(Path(path), text)


def read_report(path: Path) -> dict[str, Any]:
    """Read a report written by `write_report`; NmtError when unreadable or not a report."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise NmtError(f"cannot read evaluation report {path}: {error}") from error
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise NmtError(f"{path} is not an evaluation report (no 'results' list)")
    return report


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _beam_label(result: dict[str, Any]) -> str:
    beam = result.get("beam")
    return "file" if beam is None else str(beam)


def _row(result: dict[str, Any]) -> str:
    multi, single = result["multi_reference"], result["single_reference"]
    cells = [
        _beam_label(result),
        _number(multi["bleu"], 2),
        _number(multi["chrf"], 2),
        _number(single["bleu"], 2),
        _number(single["chrf"], 2),
        _number(result.get("sentences_per_second"), 1),
    ]
    return "| " + " | ".join(cells) + " |"


def _signatures(results: list[dict[str, Any]]) -> list[str]:
    """The distinct signatures, in order of first appearance, as Markdown list items."""
    lines: list[str] = []
    for kind, label in (("multi_reference", "multi-reference"), ("single_reference", "single")):
        for key, metric in (("signature", "BLEU"), ("chrf_signature", "chrF")):
            seen = dict.fromkeys(r[kind].get(key) for r in results if r[kind].get(key))
            lines += [f"- {metric} {label}: `{signature}`" for signature in seen]
    return lines


def _title(report: dict[str, Any]) -> str:
    name = report.get("checkpoint") or report.get("hypotheses") or "?"
    counts = f"{report.get('sentences', '?')} sources, {report.get('pairs', '?')} pairs"
    return f"**{name}** on `{report.get('split', '?')}` ({counts})"


def markdown_table(report: dict[str, Any]) -> str:
    """A Markdown table of the report's results (one row per beam), then the signatures."""
    results = report["results"]
    lines = [_title(report), "", _HEADER, _ALIGN, *(_row(r) for r in results), ""]
    lines += ["Signatures:", *_signatures(results)]
    return "\n".join(lines) + "\n"


def by_length_table(report: dict[str, Any]) -> str:
    """Multi-reference BLEU per source-length bucket, one column per beam."""
    results = [r for r in report["results"] if r.get("by_length")]
    if not results:
        return ""
    buckets = list(dict.fromkeys(b["bucket"] for r in results for b in r["by_length"]))
    header = "| source words | sentences | " + " | ".join(
        f"BLEU beam {_beam_label(r)}" for r in results
    )
    lines = [header + " |", "| --- | ---: |" + " ---: |" * len(results)]
    for bucket in buckets:
        rows = [{b["bucket"]: b for b in r["by_length"]}.get(bucket) for r in results]
        count = next(row["sentences"] for row in rows if row is not None)
        scores = [_number(row["bleu"] if row else None, 2) for row in rows]
        lines.append(f"| {bucket} | {count} | " + " | ".join(scores) + " |")
    return "\n".join(lines) + "\n"


def compare_table(reports: list[dict[str, Any]]) -> str:
    """Several checkpoints side by side: one row per checkpoint and beam, then signatures."""
    header = "| checkpoint | " + _HEADER[2:]
    align = "| --- | " + _ALIGN[2:]
    lines = [header, align]
    for report in reports:
        name = report.get("checkpoint") or report.get("hypotheses")
        name = name or report.get("model", {}).get("name") or "?"
        lines += [f"| {name} " + _row(result) for result in report["results"]]
    split = dict.fromkeys(str(report.get("split", "?")) for report in reports)
    lines += ["", f"Split: {', '.join(split)}. Signatures:"]
    lines += _signatures([result for report in reports for result in report["results"]])
    return "\n".join(lines) + "\n"
