"""`nmt evaluate`: BLEU and chrF of bundles or hypothesis files, and paired tests between them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nmt.cli.common import (
    CHECKPOINT_HELP,
    DEFAULT_DATA_DIR,
    EXIT_OK,
    Subparsers,
    UsageError,
    add_search_arguments,
    non_negative_int,
    search_options,
)
from nmt.config import MAX_BEAM_SIZE

if TYPE_CHECKING:  # `nmt --help` loads neither sacreBLEU nor torch
    from nmt.evaluation.significance import PairedComparison


SIGNIFICANCE_TESTS = ("ar", "bs")  # the keys of nmt.evaluation.significance.METHOD_NAMES


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


def _systems(args: argparse.Namespace) -> list[str]:
    """What to score, the baseline first: --hyps or --checkpoint (or the shipped model),
    then each of --compare (a bundle directory or a hypothesis file)."""
    from nmt.translator import resolve_checkpoint

    first = args.hyps or str(resolve_checkpoint(args.checkpoint))
    for system in args.compare or []:  # checked before the first one is translated
        if not Path(system).exists():
            raise UsageError(f"--compare {system}: no such bundle directory or hypothesis file")
    return [first, *(args.compare or [])]


def _evaluate(
    args: argparse.Namespace, systems: list[str], beams: list[int]
) -> list[dict[str, Any]]:
    """One report per system; hypothesis files scored as they are, bundles translated."""
    from nmt.evaluation import evaluate as ev
    from nmt.translator import load_translator

    keep = args.significance is not None
    reports = []
    for index, system in enumerate(systems):
        if (index == 0 and args.hyps) or Path(system).is_file():
            reports.append(
                ev.score_hypotheses_file(Path(system), Path(args.data), args.split, keep)
            )
            continue
        translator = load_translator(
            Path(system),
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
                checkpoint=system,
                plots=args.plots,
                plot_dir=Path(args.plot_dir) if args.plot_dir else Path(system) / "plots",
                keep_hypotheses=keep,
            )
        )
    return reports


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the score table (Markdown); with --report, write it as JSON and Markdown."""
    from nmt.evaluation import evaluate as ev
    from nmt.evaluation.report import by_length_table, compare_table, markdown_table, write_report
    from nmt.evaluation.significance import significance_table
    from nmt.fileio import write_text_atomic

    beams = parse_beams(args.beam)  # usage errors before any model loads
    if args.significance and not args.compare:
        raise UsageError("--significance compares systems: name at least one with --compare")
    reports = _evaluate(args, _systems(args), beams)
    report = reports[0]
    table = compare_table(reports) if len(reports) > 1 else markdown_table(report)
    if len(reports) == 1 and report["results"][0].get("by_length"):
        table += "\n\nBLEU (multi-reference) by source length in words:\n\n" + by_length_table(
            report
        )
    written: dict[str, Any] = report if len(reports) == 1 else {"reports": reports}
    if args.significance:
        tests = ev.paired_tests(
            reports, Path(args.data), args.split, args.significance, args.significance_samples
        )
        table += "\n" + significance_table(tests)
        reports = [ev.without_hypotheses(r) for r in reports]
        written = {"reports": reports, "significance": [_test_entry(*test) for test in tests]}
    print(table)
    if args.report:
        write_report(written, Path(args.report))
        write_text_atomic(Path(args.report).with_suffix(".md"), table + "\n")
    return EXIT_OK


def _test_entry(label: str, comparison: PairedComparison) -> dict[str, Any]:
    return {"label": label, **comparison.as_dict()}


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
        "--compare",
        nargs="+",
        metavar="BUNDLE_OR_FILE",
        help="more systems to put side by side: bundle directories or hypothesis files",
    )
    p.add_argument(
        "--significance",
        choices=SIGNIFICANCE_TESTS,
        help="paired test of each --compare system against the first, per beam: bs (paired "
        "bootstrap resampling, Koehn 2004) or ar (approximate randomization); sacreBLEU's",
    )
    p.add_argument(
        "--significance-samples",
        type=non_negative_int,
        default=0,
        help="resamples (bs) or trials (ar); 0: sacreBLEU's default, 1,000 or 10,000",
    )
    p.add_argument("--plots", type=int, default=0, help="write attention heatmaps for N sentences")
    p.add_argument("--plot-dir", help="where heatmaps go (default: BUNDLE/plots)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_search_arguments(p, quantize_default="none")
    p.set_defaults(handler=run_evaluate)
