"""`nmt` command line: parse arguments, call library functions, map errors to exit codes.

Exit codes: 0 success; 1 runtime failure (one line on stderr); 2 usage error.
A user mistake never prints a traceback unless `--debug` is given.

One module per command group (`data`, `train` with `average`/`export`, `translate` with
`attention`, `evaluate`, `serve`); each adds its parser and sets the handler it runs.
Library modules are imported inside the handlers, so `nmt --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from nmt import __version__
from nmt.cli import data, evaluate, serve, train, translate
from nmt.cli.common import EXIT_FAILURE, UsageError
from nmt.errors import NmtError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full `nmt` argument parser."""
    parser = argparse.ArgumentParser(prog="nmt", description="English-French RNN NMT toolkit.")
    parser.add_argument("--version", action="version", version=f"nmt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        data.add_parser,
        train.add_train_parser,
        translate.add_translate_parser,
        evaluate.add_parser,
        serve.add_parser,
        train.add_average_parser,
        train.add_export_parser,
        translate.add_attention_parser,
    ):
        add(sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (stdout replaced in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nmt` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except UsageError as err:
        parser.error(str(err))  # exits 2
    except NmtError as err:
        if args.debug:
            raise
        print(f"nmt: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("nmt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`nmt translate | head -1`): stop quietly
        _silence_stdout()
        return EXIT_FAILURE
    except OSError as err:
        if args.debug:
            raise
        print(
            f"nmt: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return EXIT_FAILURE
    return EXIT_FAILURE
