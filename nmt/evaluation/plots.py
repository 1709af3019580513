"""PNG figures: attention heatmaps and training curves.

Uses matplotlib's object-oriented API with the Agg canvas, so nothing here touches
pyplot's global backend state (safe in servers, tests and headless machines).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nmt.errors import NmtError
from nmt.translation import EOS_PIECE


def _labels(pieces: list[str], size: int, axis: str) -> list[str]:
    """Tick labels for `size` rows/columns: the pieces, plus eos when the weights include it.

    Pieces may already end with the eos label (as the translator gives them) even when a
    hypothesis stopped at the length limit without emitting eos; the weights decide.
    """
    if pieces and pieces[-1] == EOS_PIECE:
        pieces = pieces[:-1]
    if size == len(pieces):
        return list(pieces)
    if size == len(pieces) + 1:
        return [*pieces, EOS_PIECE]
    raise ValueError(f"attention has {size} {axis} positions for {len(pieces)} pieces")


def plot_attention(
    source_pieces: list[str],
    target_pieces: list[str],
    weights: list[list[float]],
    path: Path,
    title: str = "",
) -> None:
    """Write a heatmap of attention weights (rows: target pieces, columns: source pieces)."""
    if not weights or not weights[0]:
        raise ValueError("no attention weights to plot")
    y_labels = _labels(target_pieces, len(weights), "target")
    x_labels = _labels(source_pieces, len(weights[0]), "source")
    width = max(4.0, 0.45 * len(x_labels) + 2.0)
    height = max(3.0, 0.4 * len(y_labels) + 1.5)
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(x_labels)), x_labels, rotation=60, ha="right")
    axes.set_yticks(range(len(y_labels)), y_labels)
    axes.set_xlabel("source")
    axes.set_ylabel("target")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.05)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)


def read_metrics(metrics_jsonl: Path) -> list[dict[str, Any]]:
    """Read training records (one JSON object per line; blank lines skipped)."""
    try:
        lines = Path(metrics_jsonl).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise NmtError(f"cannot read training metrics {metrics_jsonl}: {error}") from error
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise NmtError(f"{metrics_jsonl}:{number}: not valid JSON ({error})") from error
        if not isinstance(record, dict) or "step" not in record:
            raise NmtError(f"{metrics_jsonl}:{number}: expected an object with a 'step'")
        records.append(record)
    return records


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the records that carry `key`."""
    points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_training_curves(metrics_jsonl: Path, path: Path) -> None:
    """Write a PNG with the loss curves, validation BLEU and (if logged) the learning rate."""
    records = read_metrics(metrics_jsonl)
    panels = [("loss", ("train_loss", "valid_loss")), ("BLEU", ("valid_bleu",))]
    if any(r.get("lr") is not None for r in records):
        panels.append(("learning rate", ("lr",)))
    if not any(_series(records, key)[0] for _, keys in panels for key in keys):
        raise NmtError(f"{metrics_jsonl} has no train_loss, valid_loss or valid_bleu to plot")
    figure = Figure(figsize=(6.0, 2.6 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (label, keys) in zip(grid, panels, strict=True):
        for key in keys:
            steps, values = _series(records, key)
            if steps:
                axes.plot(steps, values, marker="." if len(steps) < 50 else None, label=key)
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=8)
    axes.set_xlabel("step")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
