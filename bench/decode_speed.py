"""Decoding speed of a checkpoint on a prepared split, printed as JSON.

    python bench/decode_speed.py --checkpoint runs/gru/best [--data DIR] [--split test]
        [--device cpu|cuda|auto] [--beams 1,5] [--batch-size 64] [--limit N]
        [--quantize none|int8] [--model-only] [--threads N]

Each unique source sentence of the split is translated once per beam size, in
length-sorted batches as `nmt evaluate` does. Model loading and one warm-up batch per
beam size are excluded from the timings. By default each text goes through the text
boundary (`Translator.translate`, as `nmt translate` and the service do); --model-only
times the model path alone (`translate_segments`: tokenize, search, detokenize), as the
figures measured before the text boundary landed were.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nmt.data.dataset import read_split_text
from nmt.decoding.types import SearchOptions
from nmt.errors import NmtError
from nmt.evaluation.evaluate import translate_all
from nmt.translator import NeuralTranslator, Translation, Translator, load_translator

DEFAULT_DATA = Path("data/prepared/fra-eng")
WARMUP_SENTENCES = 16
EOS_PIECE = "</s>"  # the translator ends target_pieces with it; not counted as a token


def device_name(device: str) -> str:
    """A human-readable name of the CPU or GPU that `device` resolves to."""
    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class ModelOnly:
    """A Translator view of a NeuralTranslator's model path alone (no text boundary)."""

    def __init__(self, translator: NeuralTranslator) -> None:
        self.translator = translator

    @property
    def info(self) -> dict[str, Any]:
        """The wrapped translator's info."""
        return self.translator.info

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        """`translate_segments` of the texts with these options (or the model's defaults)."""
        return self.translator.translate_segments(texts, options or self.translator.default_options)


def search_options(info: dict[str, Any]) -> SearchOptions:
    """The checkpoint's default search settings (its config's decode section), if any."""
    decode = (info.get("config") or {}).get("decode") or {}
    fields = {f.name for f in dataclasses.fields(SearchOptions)}
    return SearchOptions(**{k: v for k, v in decode.items() if k in fields and k != "n_best"})


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _without_eos(pieces: list[str]) -> list[str]:
    return pieces[:-1] if pieces and pieces[-1] == EOS_PIECE else pieces


def time_beam(
    translator: Translator, texts: Sequence[str], options: SearchOptions, batch_size: int
) -> dict[str, Any]:
    """Warm up on a few sentences, then time translating all texts with these options."""
    return timed_translations(translator, texts, options, batch_size)[1]


def timed_translations(
    translator: Translator, texts: Sequence[str], options: SearchOptions, batch_size: int
) -> tuple[list[Translation], dict[str, Any]]:
    """The translations of all texts and the timing record of `time_beam`."""
    translate_all(translator, texts[:WARMUP_SENTENCES], options, batch_size)
    _synchronize()
    started = time.perf_counter()
    translations = translate_all(translator, texts, options, batch_size)
    _synchronize()
    seconds = max(time.perf_counter() - started, 1e-9)
    tokens = sum(len(_without_eos(translation.target_pieces)) for translation in translations)
    return translations, {
        "beam": options.beam_size,
        "sentences": len(texts),
        "target_tokens": tokens,
        "seconds": seconds,
        "sentences_per_second": len(texts) / seconds,
        "target_tokens_per_second": tokens / seconds,
        "settings": dataclasses.asdict(options),
    }


def benchmark(
    translator: Translator,
    texts: Sequence[str],
    beams: Sequence[int],
    batch_size: int,
    base_options: SearchOptions | None = None,
) -> list[dict[str, Any]]:
    """One timing record per beam size."""
    base = base_options or search_options(translator.info)
    return [
        time_beam(translator, texts, dataclasses.replace(base, beam_size=beam), batch_size)
        for beam in beams
    ]


def unique_sources(data_dir: Path, split: str, limit: int | None) -> list[str]:
    """The split's unique source sentences in order of first appearance, optionally capped."""
    sources = list(dict.fromkeys(read_split_text(data_dir, split)[0]))
    return sources[:limit] if limit else sources


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint bundle")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="prepared-data dir")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--beams", default="1,5", help="comma-separated beam sizes")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="first N unique sources only")
    parser.add_argument(
        "--quantize", default="none", choices=["none", "int8"], help="int8 matrix products (CPU)"
    )
    parser.add_argument(
        "--model-only", action="store_true", help="time the model path without the text boundary"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch)")
    parser.add_argument(
        "--no-shortlist", action="store_true", help="score the whole vocabulary (model.shortlist)"
    )
    args = parser.parse_args(argv)
    try:
        args.beams = [int(beam) for beam in args.beams.split(",")]
    except ValueError:
        parser.error(f"--beams must be comma-separated integers, got {args.beams!r}")
    if any(beam < 1 for beam in args.beams) or args.batch_size < 1:
        parser.error("beam sizes and --batch-size must be positive")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Load the checkpoint, time each beam size and print the JSON record."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        texts = unique_sources(args.data, args.split, args.limit)
        translator = load_translator(
            args.checkpoint,
            device=args.device,
            quantize=args.quantize,
            shortlist=not args.no_shortlist,
        )
        device = str(translator.device)
        timed: Translator = ModelOnly(translator) if args.model_only else translator
        results = benchmark(timed, texts, args.beams, args.batch_size)
    except NmtError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    record = {
        "checkpoint": str(args.checkpoint),
        "model": translator.info.get("name"),
        "parameters": translator.info.get("parameters"),
        "split": args.split,
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "quantize": args.quantize,
        "output_vocabulary": translator.description.output_vocabulary or None,
        "path": "model only" if args.model_only else "text boundary",
        "results": results,
    }
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
