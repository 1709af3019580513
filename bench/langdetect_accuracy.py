#!/usr/bin/env python3
"""Language detection (`source=auto`, `/detect`): how often it names the right language of
a split's sentences, by length, and how long it takes. JSON on stdout.

    python bench/langdetect_accuracy.py [--data data/prepared/fra-eng] [--split valid]

Every source line of the split (English) and every reference line (French) is given to
`service.langdetect.detect_language` with the model's two languages as candidates; a
sentence counts as right when the first candidate is its language. "short" is under 20
characters, where LibreTranslate switches detectors. Time is the mean per text, one
thread, after the detector is loaded (load time reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SHORT = 20  # characters


def accuracy(texts: list[str], language: str, candidates: tuple[str, str]) -> dict[str, Any]:
    """Right answers over all texts and over the short ones."""
    from service.langdetect import detect_language

    right = [detect_language(text, candidates)[0][0] == language for text in texts]
    short = [ok for text, ok in zip(texts, right, strict=True) if len(text) < SHORT]
    return {
        "texts": len(texts),
        "right": sum(right),
        "short_texts": len(short),
        "short_right": sum(short),
    }


def measure(data: Path, split: str, src: str = "en", tgt: str = "fr") -> dict[str, Any]:
    """The report for `data`/`split`.{src,tgt} (one sentence a line)."""
    from service.langdetect import load_detector

    candidates = (src, tgt)
    started = time.perf_counter()
    load_detector(candidates)
    load_s = time.perf_counter() - started
    lines = {
        lang: (data / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
        for lang in candidates
    }
    started = time.perf_counter()
    results = {lang: accuracy(lines[lang], lang, candidates) for lang in candidates}
    elapsed = time.perf_counter() - started
    count = sum(len(texts) for texts in lines.values())
    return {
        "data": str(data),
        "split": split,
        "detector": "py3langid",
        "load_seconds": round(load_s, 2),
        "ms_per_text": round(1000 * elapsed / max(count, 1), 3),
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/prepared/fra-eng"))
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        report = measure(args.data, args.split)
    except FileNotFoundError as error:
        print(f"langdetect_accuracy: {error}; run `nmt data prepare` first", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
