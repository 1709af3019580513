"""What every command shares: exit codes, argument types, the search flags and their rule."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from nmt.config import MAX_BEAM_SIZE, QUANTIZATIONS, Quantization
from nmt.errors import SearchOptionsError

if TYPE_CHECKING:  # annotations only: `nmt --help` does not import torch
    from nmt.decoding.types import SearchOptions

DEFAULT_DATA_DIR = "data/prepared/fra-eng"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
CHECKPOINT_HELP = "checkpoint bundle directory (default: the shipped model, models/en-fr-base)"

Subparsers = argparse._SubParsersAction  # what `add_subparsers` returns


class UsageError(Exception):
    """A bad combination of arguments (exit 2)."""


QUANTIZE_HELP = (
    "int8: dynamic int8 matrix products (CPU only); none: the float weights; auto: int8 on "
    "a CPU with a quantized engine, none elsewhere (default: %(default)s)"
)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a usage error, exit 2, otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0, such as a 0-based index (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def beam_size(text: str) -> int:
    """argparse type: a beam size, 1..MAX_BEAM_SIZE (a usage error, exit 2, otherwise)."""
    value = positive_int(text)
    if value > MAX_BEAM_SIZE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_BEAM_SIZE}, got {value}")
    return value


def search_options(args: argparse.Namespace, base: SearchOptions, **fixed: Any) -> SearchOptions:
    """The model's default search (`base`) with the flags given on top, then `fixed`.

    `SearchOptions.merged` is the rule (flags left out keep the model's value); its
    SearchOptionsError (e.g. --n-best over the beam) becomes a usage error.
    """
    flags = {
        "beam_size": getattr(args, "beam", None),
        "n_best": getattr(args, "n_best", None),
        "length_penalty": args.length_penalty,
        "coverage_penalty": args.coverage_penalty,
        "max_length_a": args.max_length_a,
        "max_length_b": args.max_length_b,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
    }
    try:
        return base.merged(**{**flags, **fixed})
    except SearchOptionsError as err:
        raise UsageError(str(err)) from None


NO_SHORTLIST_HELP = (
    "score the whole vocabulary; by default only the checkpoint's target shortlist is "
    "scored (the pieces its training targets use), when it records one"
)


def add_search_arguments(p: argparse.ArgumentParser, quantize_default: Quantization) -> None:
    """The search, batch, device and quantization flags of `translate` and `evaluate`."""
    note = "default: the checkpoint's decode config"
    p.add_argument("--length-penalty", type=float, help=f"GNMT alpha ({note}, 0.6 in presets)")
    p.add_argument("--coverage-penalty", type=float, help=f"GNMT beta ({note}, 0 in presets)")
    p.add_argument(
        "--max-length-a", type=float, help=f"max output length = a + b * source length ({note})"
    )
    p.add_argument("--max-length-b", type=float, help="see --max-length-a")
    p.add_argument(
        "--no-repeat-ngram-size", type=int, help=f"forbid repeating n-grams of this size ({note})"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=64, help="sentences per batch (default: 64)"
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where to run (default: auto)",
    )
    p.add_argument(
        "--quantize", default=quantize_default, choices=QUANTIZATIONS, help=QUANTIZE_HELP
    )
    p.add_argument("--no-shortlist", action="store_true", help=NO_SHORTLIST_HELP)
