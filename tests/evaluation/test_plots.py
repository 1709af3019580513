"""Tests for nmt.evaluation.plots: PNG heatmaps and training curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nmt.errors import NmtError
from nmt.evaluation.plots import plot_attention, plot_training_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_attention_heatmap_is_a_png(tmp_path: Path) -> None:
    source, target = ["▁I", "▁am", "▁cold", "."], ["▁J", "'", "ai", "▁froid", "."]
    weights = [[(i + j) % 3 / 3 for j in range(len(source) + 1)] for i in range(len(target) + 1)]
    path = tmp_path / "plots" / "attention.png"
    plot_attention(source, target, weights, path, title="I am cold. → J'ai froid.")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


@pytest.mark.parametrize("rows", [3, 2], ids=["with-eos-row", "stopped-at-max-length"])
def test_attention_pieces_may_already_end_with_eos(tmp_path: Path, rows: int) -> None:
    source, target = ["▁Run", "!", "</s>"], ["▁Cours", "▁!", "</s>"]
    weights = [[0.2, 0.5, 0.3]] * rows
    plot_attention(source, target, weights, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_MAGIC


def test_attention_shape_must_match_the_pieces(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source"):
        plot_attention(["a", "b"], ["x"], [[0.5, 0.5, 0.0, 0.0]], tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_training_curves_from_records_with_optional_keys(tmp_path: Path) -> None:
    records = [
        {"step": 10, "train_loss": 5.0, "lr": 0.001},
        {"step": 20, "train_loss": 4.0, "lr": 0.001},
        {"step": 20, "valid_loss": 4.5, "valid_bleu": 3.2},
        {"step": 30, "train_loss": 3.5},
        {"step": 40, "valid_loss": 4.0, "valid_bleu": 7.9},
    ]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    path = tmp_path / "curves.png"
    plot_training_curves(metrics, path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_training_curves_reject_bad_jsonl(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 1, "train_loss": 2.0}\nnot json\n', encoding="utf-8")
    with pytest.raises(NmtError, match=":2:"):
        plot_training_curves(metrics, tmp_path / "c.png")
    metrics.write_text('{"step": 1}\n', encoding="utf-8")
    with pytest.raises(NmtError, match="nothing|no train_loss"):
        plot_training_curves(metrics, tmp_path / "c.png")
