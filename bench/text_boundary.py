#!/usr/bin/env python3
"""What the text boundary costs per sentence, the model left out: JSON on stdout.

    python bench/text_boundary.py [--data data/prepared/fra-eng] [--split test] [--repeats 5]

`NeuralTranslator.translate` = `nmt.text.pipeline.prepare` per text (cleaning, verbatim
spans, case, piece counts) + the model (`translate_segments`) + `finish_part` per part
(alignment, spans and case restored). The model's outputs are computed once, untimed; then
`sanitize`, `prepare` and `finish_part` over every source of the split are timed, best of
`--repeats`, in microseconds per sentence; `prepare_without_names` is `prepare` with the
model's source word counts hidden (no rare-name spans, `nmt.text.names`). On the H200 the
boundary added 35 % to the model path's time (docs/RESULTS.md), so it is worth watching
where decoding is fast.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

from nmt.data.dataset import read_split_text
from nmt.text.clean import sanitize
from nmt.text.pipeline import finish_part, prepare
from nmt.translator import load_translator, shipped_model_dir


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` runs of `action`, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def measure(data: str, split: str, repeats: int) -> dict[str, Any]:
    """Microseconds per sentence of each step of the text boundary (module docstring)."""
    translator = load_translator(shipped_model_dir(), device="cpu")
    sources, _ = read_split_text(data, split)
    prepared = [prepare(translator, text) for text in sources]
    parts = [(item, part) for item in prepared for part in item.parts]
    options = translator.default_options.merged(beam_size=1)
    outputs = translator.translate_segments([part.edited.text for _, part in parts], options)

    def finish_all() -> None:
        for (item, part), output in zip(parts, outputs, strict=True):
            finish_part(translator, item, part, output)

    def prepare_without_names() -> None:
        counts, translator.source_word_counts = translator.source_word_counts, None
        try:
            for text in sources:
                prepare(translator, text)
        finally:
            translator.source_word_counts = counts

    per_sentence = 1e6 / len(sources)
    timings = {
        "sanitize": best_seconds(lambda: [sanitize(text) for text in sources], repeats),
        "prepare": best_seconds(lambda: [prepare(translator, text) for text in sources], repeats),
        "prepare_without_names": best_seconds(prepare_without_names, repeats),
        "finish_part": best_seconds(finish_all, repeats),
    }
    return {
        "benchmark": "text_boundary",
        "split": split,
        "sentences": len(sources),
        "parts": len(parts),
        "repeats": repeats,
        "us_per_sentence": {name: round(s * per_sentence, 1) for name, s in timings.items()},
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }


def main() -> None:
    """Parse the options, measure, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/prepared/fra-eng")
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the untimed model pass: as a service worker runs it
    print(json.dumps(measure(args.data, args.split, args.repeats), indent=1))


if __name__ == "__main__":
    main()
