"""`nmt data prepare`: the corpus split, sentencepiece and token ids."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import DEFAULT_DATA_DIR, EXIT_OK, Subparsers, positive_int


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


def add_parser(sub: Subparsers) -> None:
    """`nmt data` and its one subcommand, `prepare`."""
    data = sub.add_parser("data", help="prepare the Tatoeba corpus (split, sentencepiece, ids)")
    data_sub = data.add_subparsers(dest="data_command", metavar="{prepare}", required=True)
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
