"""`nmt translate` (lines in, lines out) and `nmt attention` (one sentence, its heatmap)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import (
    CHECKPOINT_HELP,
    EXIT_OK,
    Subparsers,
    add_search_arguments,
    beam_size,
    positive_int,
    search_options,
)
from nmt.errors import NmtError


def run_translate(args: argparse.Namespace) -> int:
    """Translate lines (file or stdin) into lines; with --n-best, hypotheses and scores."""
    from nmt.evaluation.evaluate import translate_all
    from nmt.text.lines import read_lines, write_lines
    from nmt.translator import load_translator, resolve_checkpoint

    translator = load_translator(
        resolve_checkpoint(args.checkpoint),
        args.device,
        args.quantize,
        args.batch_size,
        shortlist=not args.no_shortlist,
    )
    options = search_options(args, translator.description.search_defaults)
    lines = read_lines(args.input)
    show_progress = args.input not in (None, "-") and not args.quiet
    translations = translate_all(
        translator, lines, options, args.batch_size, progress=show_progress, label="translate"
    )
    rows = []
    for t in translations:
        if options.n_best == 1:
            rows.append(t.text)
        else:
            best = [(t.text, t.score), *((a.text, a.score) for a in t.alternatives)]
            rows.append("\t".join(f"{text}\t{score:.4f}" for text, score in best))
    write_lines(args.output, rows)
    return EXIT_OK


def add_translate_parser(sub: Subparsers) -> None:
    """`nmt translate`."""
    p = sub.add_parser(
        "translate",
        help="translate lines (stdin -> stdout by default)",
        description="One line in, one line out; empty lines give empty lines.",
    )
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument(
        "--beam", type=beam_size, help="beam size; 1 is greedy (default: the checkpoint's, 5)"
    )
    p.add_argument(
        "--n-best",
        type=positive_int,
        help="print this many hypotheses per line, tab-separated with scores",
    )
    p.add_argument("--input", help="input file (default: stdin)")
    p.add_argument("--output", help="output file (default: stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress bar for file input")
    add_search_arguments(p, quantize_default="auto")
    p.set_defaults(handler=run_translate)


def run_attention(args: argparse.Namespace) -> int:
    """Translate one sentence, print it, and draw its attention as a PNG."""
    from nmt.evaluation.plots import plot_attention
    from nmt.translator import load_translator, resolve_checkpoint

    translator = load_translator(resolve_checkpoint(args.checkpoint), device=args.device)
    options = translator.description.search_defaults.merged(
        beam_size=args.beam, n_best=1, return_attention=True
    )
    translation = translator.translate([args.sentence], options)[0]
    if translation.attention is None:
        raise NmtError("empty input: nothing to plot")
    plot_attention(
        translation.source_pieces,
        translation.target_pieces,
        translation.attention,
        Path(args.output),
        title=translation.text,
    )
    print(translation.text)
    members = translator.description.ensemble
    mean = f" (the mean of its {members} models' attention)" if members > 1 else ""
    print(f"wrote {args.output}{mean}", file=sys.stderr)
    return EXIT_OK


def add_attention_parser(sub: Subparsers) -> None:
    """`nmt attention`."""
    p = sub.add_parser("attention", help="translate one sentence and plot its attention as a PNG")
    p.add_argument("sentence", help="the source sentence")
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("--output", default="attention.png", help="PNG path (default: %(default)s)")
    p.add_argument("--beam", type=beam_size, default=5, help="beam size (default: 5)")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="(default: auto)"
    )
    p.set_defaults(handler=run_attention)
