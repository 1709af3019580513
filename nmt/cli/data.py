"""`nmt data prepare` (the corpus split, sentencepiece and token ids) and `nmt data distill`
(a teacher's translations as training data)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_OK,
    NO_SHORTLIST_HELP,
    QUANTIZATIONS,
    QUANTIZE_HELP,
    Subparsers,
    beam_size,
    positive_int,
)


def run_prepare(args: argparse.Namespace) -> int:
    """Build a prepared-data directory; its summary goes to stderr."""
    from nmt.data.prepare import PrepareOptions, prepare_data

    options = PrepareOptions(
        source=args.source,
        out=Path(args.out),
        src_lang=args.src,
        tgt_lang=args.tgt,
        vocab_size=args.vocab_size,
        spm_type=args.spm_type,
        joint=not args.separate_vocab,
        force=args.force,
    )
    result = prepare_data(options, progress=not args.quiet)
    print(result.summary, file=sys.stderr)
    return EXIT_OK


def run_distill(args: argparse.Namespace) -> int:
    """Build a distilled prepared-data directory; its summary goes to stderr."""
    from nmt.data.distill import DistillOptions, distill_data

    options = DistillOptions(
        teacher=Path(args.teacher),
        data=Path(args.data),
        out=Path(args.out),
        beam_size=args.beam,
        batch_size=args.batch_size,
        keep_references=not args.no_references,
        quantize=args.quantize,
        shortlist=not args.no_shortlist,
        device=args.device,
        limit=args.limit,
    )
    result = distill_data(options, progress=not args.quiet)
    print(result.summary, file=sys.stderr)
    return EXIT_OK


def add_parser(sub: Subparsers) -> None:
    """`nmt data` and its subcommands, `prepare` and `distill`."""
    data = sub.add_parser(
        "data", help="prepare the Tatoeba corpus (split, sentencepiece, ids); distil a teacher"
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="{prepare,distill}", required=True)
    _add_prepare(data_sub)
    _add_distill(data_sub)


def _add_prepare(data_sub: Subparsers) -> None:
    p = data_sub.add_parser(
        "prepare",
        help="normalise, de-duplicate and split the corpus; train sentencepiece; cache ids",
        description="Build a prepared-data directory with the canonical leak-free split.",
    )
    p.add_argument(
        "--source",
        help="a .zip/.txt path or an http(s) URL (default: $NMT_DATA, "
        "then the manythings.org release)",
    )
    p.add_argument(
        "--out", default=DEFAULT_DATA_DIR, help="output directory (default: %(default)s)"
    )
    p.add_argument("--src", default="en", help="source language code (default: %(default)s)")
    p.add_argument("--tgt", default="fr", help="target language code (default: %(default)s)")
    p.add_argument(
        "--vocab-size",
        type=positive_int,
        default=8000,
        help="sentencepiece pieces (default: 8000)",
    )
    p.add_argument(
        "--spm-type",
        choices=["unigram", "bpe"],
        default="unigram",
        help="sentencepiece model type (default: %(default)s)",
    )
    p.add_argument(
        "--separate-vocab",
        action="store_true",
        help="train separate source and target sentencepiece models (default: joint)",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if the output is up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_prepare)


def _add_distill(data_sub: Subparsers) -> None:
    p = data_sub.add_parser(
        "distill",
        help="a teacher model's translations of the training sources as new training data",
        description="Sequence-level knowledge distillation (Kim & Rush, 2016): the teacher "
        "translates every unique training source with beam search; the output is a "
        "prepared-data directory whose train split holds its translations (and the human "
        "references), with the same tokenizer and valid/test splits. Train a student on it "
        "with `nmt train --data OUT`.",
    )
    p.add_argument("--teacher", required=True, help="the teacher bundle (an ensemble is best)")
    p.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="prepared data to distil (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="output directory (a new prepared-data dir)")
    p.add_argument("--beam", type=beam_size, default=5, help="beam size (default: 5)")
    p.add_argument(
        "--batch-size", type=positive_int, default=64, help="sentences per model call (default: 64)"
    )
    p.add_argument(
        "--no-references",
        action="store_true",
        help="train on the teacher's translations alone (default: with the human references)",
    )
    p.add_argument("--quantize", default="auto", choices=QUANTIZATIONS, help=QUANTIZE_HELP)
    p.add_argument("--no-shortlist", action="store_true", help=NO_SHORTLIST_HELP)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument(
        "--limit", type=positive_int, help="translate only the first N unique sources (a trial)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run_distill)
