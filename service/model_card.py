"""Reading a model card (JSON or Markdown) for the scores `GET /v1/model` reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_BLEU = re.compile(r"BLEU[^0-9\n]{0,40}?(\d+(?:\.\d+)?)", re.IGNORECASE)


CARD_FILE = "MODEL_CARD.md"  # a bundle's own card, beside its weights


def model_card_path(configured: Path | None, checkpoint: Path | None) -> Path | None:
    """The configured card, else the bundle's own MODEL_CARD.md; None when neither exists."""
    for candidate in (configured, None if checkpoint is None else checkpoint / CARD_FILE):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def load_model_card(path: Path | None) -> dict[str, Any] | None:
    """The card as a dict ({"text": ...} for Markdown); None when there is none."""
    if path is None or not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        return data if isinstance(data, dict) else {"card": data}
    return {"text": text}


def find_bleu(card: dict[str, Any] | None, scores: dict[str, Any]) -> float | None:
    """The first BLEU score in the card, else in the checkpoint's scores."""
    for source in (card or {}, scores):
        found = _search(source)
        if found is not None:
            return found
    return None


def _search(value: Any) -> float | None:
    """Depth-first search for a key containing "bleu" with a number, or "BLEU <n>" text."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "bleu" in str(key).lower() and isinstance(item, int | float):
                return float(item)
        for item in value.values():
            found = _search(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _search(item)
            if found is not None:
                return found
    elif isinstance(value, str):
        match = _BLEU.search(value)
        return float(match.group(1)) if match else None
    return None
