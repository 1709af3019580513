"""`nmt evaluate`: BLEU and chrF of one or more bundles (or a hypothesis file)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nmt.cli.common import (
    CHECKPOINT_HELP,
    DEFAULT_DATA_DIR,
    EXIT_OK,
    Subparsers,
    UsageError,
    add_search_arguments,
    search_options,
)
from nmt.config import MAX_BEAM_SIZE


def parse_beams(text: str) -> list[int]:
    """`--beam 1,5` as [1, 5]; a usage error for anything but beam sizes in 1..MAX_BEAM_SIZE."""
    try:
        beams = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"--beam must be a comma-separated list of integers, got {text!r}"
        ) from None
    if not beams or min(beams) < 1:
        raise UsageError("--beam values must be positive integers")
    if max(beams) > MAX_BEAM_SIZE:
        raise UsageError(f"--beam values must be at most {MAX_BEAM_SIZE}")
    return beams


def _evaluate_bundles(args: argparse.Namespace, beams: list[int]) -> list[dict[str, Any]]:
    """One report per bundle: --checkpoint (or the shipped model), then each of --compare."""
    from nmt.evaluation import evaluate as ev
    from nmt.translator import load_translator, resolve_checkpoint

    reports = []
    for checkpoint in [str(resolve_checkpoint(args.checkpoint)), *(args.compare or [])]:
        translator = load_translator(
            Path(checkpoint),
            args.device,
            args.quantize,
            args.batch_size,
            shortlist=not args.no_shortlist,
        )
        reports.append(
            ev.evaluate_translator(
                translator,
                Path(args.data),
                split=args.split,
                beams=beams,
                base_options=search_options(
                    args, translator.description.search_defaults, beam_size=1, n_best=1
                ),
                batch_size=args.batch_size,
                progress=not args.quiet,
                checkpoint=str(checkpoint),
                plots=args.plots,
                plot_dir=Path(args.plot_dir) if args.plot_dir else Path(checkpoint) / "plots",
            )
        )
    return reports


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the score table (Markdown); with --report, write it as JSON and Markdown."""
    from nmt.evaluation import evaluate as ev
    from nmt.evaluation.report import by_length_table, compare_table, markdown_table, write_report
    from nmt.fileio import write_text_atomic

    beams = parse_beams(args.beam)  # a usage error before any model loads
    if args.hyps:
        reports = [ev.score_hypotheses_file(Path(args.hyps), Path(args.data), args.split)]
    else:
        reports = _evaluate_bundles(args, beams)
    report = reports[0]
    table = compare_table(reports) if len(reports) > 1 else markdown_table(report)
    if len(reports) == 1 and report["results"][0].get("by_length"):
        table += "\n\nBLEU (multi-reference) by source length in words:\n\n" + by_length_table(
            report
        )
    print(table)
    if args.report:
        write_report(report if len(reports) == 1 else {"reports": reports}, Path(args.report))
        write_text_atomic(Path(args.report).with_suffix(".md"), table + "\n")
    return EXIT_OK


def add_parser(sub: Subparsers) -> None:
    """`nmt evaluate`."""
    p = sub.add_parser(
        "evaluate",
        help="sacreBLEU and chrF on the prepared test/valid split",
        description="Multi- and single-reference BLEU/chrF, greedy and beam.",
    )
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="prepared-data directory (default: %(default)s)"
    )
    p.add_argument("--split", choices=["test", "valid"], default="test", help="(default: test)")
    p.add_argument("--beam", default="1,5", help="comma-separated beam sizes (default: 1,5)")
    p.add_argument("--report", help="write the JSON report here")
    p.add_argument("--hyps", help="score this hypothesis file instead of translating")
    p.add_argument(
        "--compare", nargs="+", metavar="BUNDLE", help="more checkpoints to put side by side"
    )
    p.add_argument("--plots", type=int, default=0, help="write attention heatmaps for N sentences")
    p.add_argument("--plot-dir", help="where heatmaps go (default: BUNDLE/plots)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_search_arguments(p, quantize_default="none")
    p.set_defaults(handler=run_evaluate)
