"""`nmt` command line: parse arguments, call library functions, map errors to exit codes.

Exit codes: 0 success; 1 runtime failure (one line on stderr); 2 usage error.
A user mistake never prints a traceback unless `--debug` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nmt import __version__
from nmt.decoding.types import SearchOptions
from nmt.errors import NmtError

DEFAULT_DATA_DIR = "data/prepared/fra-eng"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_CHECKPOINT_HELP = "checkpoint bundle directory (default: the shipped model, models/en-fr-base)"

Handler = Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a usage error, exit 2, otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# ---------------------------------------------------------------------------- data
def _cmd_data_prepare(args: argparse.Namespace) -> int:
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


def _add_data(sub: argparse._SubParsersAction) -> None:
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
        type=_positive_int,
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
    p.set_defaults(handler=_cmd_data_prepare)


# ---------------------------------------------------------------------------- train
def _launch_torchrun(args: argparse.Namespace) -> int:
    """`nmt train --nproc N`: re-run this command under torchrun with N processes."""
    import os
    import subprocess

    argv = [a for a in args.argv if not a.startswith("--nproc")]
    if "--nproc" in args.argv:  # drop the value that followed a bare --nproc
        position = args.argv.index("--nproc")
        argv = args.argv[:position] + args.argv[position + 2 :]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        "-m",
        "nmt",
        *argv,
    ]
    return subprocess.call(command, env=os.environ.copy())


def _cmd_train(args: argparse.Namespace) -> int:
    import os

    from nmt.config import load_config
    from nmt.training.trainer import train

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args)

    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.dir={args.data}")
    config = load_config(args.config, overrides)
    run_dir = Path(args.out or f"runs/{config.name}")
    result = train(
        config, Path(config.data.dir), run_dir, resume=args.resume, progress_bar=not args.quiet
    )
    print(
        f"stopped after {result.step} steps ({result.stopped_because}); "
        f"best valid BLEU {result.best_bleu:.2f}",
        file=sys.stderr,
    )
    print(f"best: {result.best}  last: {result.last}", file=sys.stderr)
    if result.stopped_because == "interrupted":
        print(
            f"interrupted: resume with `nmt train --config {args.config} --out {run_dir} --resume`",
            file=sys.stderr,
        )
    return EXIT_OK


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a preset or a YAML config",
        description="Train; RUN_DIR/best and RUN_DIR/last are complete bundles.",
    )
    p.add_argument(
        "--config",
        required=True,
        help="a shipped preset (tiny, gru, lstm, ...) or a path to a YAML file",
    )
    p.add_argument(
        "--data", help=f"prepared-data directory (default: config data.dir, {DEFAULT_DATA_DIR})"
    )
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last exactly")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.max_steps=100 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--nproc",
        type=_positive_int,
        default=1,
        help="data-parallel processes on this machine (runs torchrun; default: 1)",
    )
    p.set_defaults(handler=_cmd_train)


# ---------------------------------------------------------------------------- translate
def _search_options(args: argparse.Namespace, base: SearchOptions, **fixed: Any) -> SearchOptions:
    """The model's default search (its `decode` config) with the flags given on top."""
    flags = {
        "beam_size": getattr(args, "beam", None),
        "n_best": getattr(args, "n_best", None),
        "length_penalty": args.length_penalty,
        "coverage_penalty": args.coverage_penalty,
        "max_length_a": args.max_length_a,
        "max_length_b": args.max_length_b,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    return dataclasses.replace(base, **{**given, **fixed})


def _cmd_translate(args: argparse.Namespace) -> int:
    from nmt.evaluation.evaluate import translate_all
    from nmt.text.lines import read_lines, write_lines
    from nmt.translator import load_translator, resolve_checkpoint

    translator = load_translator(resolve_checkpoint(args.checkpoint), args.device, args.quantize)
    translator.batch_size = args.batch_size
    options = _search_options(args, translator.default_options)
    if options.n_best > options.beam_size:
        raise _UsageError("--n-best cannot exceed the beam size")
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


def _add_search_arguments(p: argparse.ArgumentParser) -> None:
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
        "--batch-size", type=_positive_int, default=64, help="sentences per batch (default: 64)"
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where to run (default: auto)",
    )
    p.add_argument(
        "--quantize",
        default="none",
        choices=["none", "int8"],
        help="dynamic int8 quantization of the linear layers, CPU only (default: none)",
    )


def _add_translate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate lines (stdin -> stdout by default)",
        description="One line in, one line out; empty lines give empty lines.",
    )
    p.add_argument("--checkpoint", help=_CHECKPOINT_HELP)
    p.add_argument(
        "--beam", type=_positive_int, help="beam size; 1 is greedy (default: the checkpoint's, 5)"
    )
    p.add_argument(
        "--n-best",
        type=_positive_int,
        help="print this many hypotheses per line, tab-separated with scores",
    )
    p.add_argument("--input", help="input file (default: stdin)")
    p.add_argument("--output", help="output file (default: stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress bar for file input")
    _add_search_arguments(p)
    p.set_defaults(handler=_cmd_translate)


# ---------------------------------------------------------------------------- evaluate
def _parse_beams(text: str) -> list[int]:
    try:
        beams = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise _UsageError(
            f"--beam must be a comma-separated list of integers, got {text!r}"
        ) from None
    if not beams or min(beams) < 1:
        raise _UsageError("--beam values must be positive integers")
    return beams


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from nmt.evaluation import evaluate as ev
    from nmt.evaluation.report import by_length_table, compare_table, markdown_table, write_report
    from nmt.fileio import write_text_atomic
    from nmt.translator import load_translator, resolve_checkpoint

    data_dir = Path(args.data)
    beams = _parse_beams(args.beam)  # a usage error before any model loads
    if args.hyps:
        report = ev.score_hypotheses_file(Path(args.hyps), data_dir, args.split)
        reports = [report]
    else:
        args.checkpoint = str(resolve_checkpoint(args.checkpoint))
        reports = []
        for checkpoint in [args.checkpoint, *(args.compare or [])]:
            translator = load_translator(Path(checkpoint), args.device, args.quantize)
            reports.append(
                ev.evaluate_translator(
                    translator,
                    data_dir,
                    split=args.split,
                    beams=beams,
                    base_options=_search_options(
                        args, translator.default_options, beam_size=1, n_best=1
                    ),
                    batch_size=args.batch_size,
                    progress=not args.quiet,
                    checkpoint=str(checkpoint),
                    plots=args.plots,
                    plot_dir=Path(args.plot_dir) if args.plot_dir else Path(checkpoint) / "plots",
                )
            )
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


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="sacreBLEU and chrF on the prepared test/valid split",
        description="Multi- and single-reference BLEU/chrF, greedy and beam.",
    )
    p.add_argument("--checkpoint", help=_CHECKPOINT_HELP)
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
    _add_search_arguments(p)
    p.set_defaults(handler=_cmd_evaluate)


# ---------------------------------------------------------------------------- serve
def _cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from service.app import run
    from service.settings import ServiceSettings

    flags = {
        "checkpoint": args.checkpoint,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "device": args.device,
        "api_keys": args.api_key,
        "require_api_key": False if args.api_key_optional else None,
        "cors_origins": args.cors_origin,
        "model_card": args.model_card,
        "max_chars": args.max_chars,
        "batching": False if args.no_batching else None,
        "quantize": args.quantize,
    }
    try:
        settings = ServiceSettings.from_env(
            overrides={k: v for k, v in flags.items() if v is not None}
        )
    except ValidationError as err:
        raise _UsageError(
            f"invalid service settings: {err.errors()[0]['loc']} {err.errors()[0]['msg']}"
        ) from None
    if settings.checkpoint is None:
        from nmt.translator import resolve_checkpoint

        settings = settings.model_copy(update={"checkpoint": resolve_checkpoint(None)})
    run(settings)
    return EXIT_OK


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a checkpoint over HTTP (REST + LibreTranslate API)",
        description="FastAPI + uvicorn. Every option can also come from an NMT_<NAME> "
        "environment variable (e.g. NMT_CHECKPOINT, NMT_API_KEYS); flags win.",
    )
    p.add_argument("--checkpoint", help=f"{_CHECKPOINT_HELP} (env NMT_CHECKPOINT)")
    p.add_argument("--host", help="bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: 8000)")
    p.add_argument(
        "--workers", type=int, help="worker processes, each loads the model (default: 1)"
    )
    p.add_argument(
        "--max-batch", type=int, help="dynamic batching: max sentences per model call (64)"
    )
    p.add_argument(
        "--max-wait-ms", type=float, help="dynamic batching: max wait for company (5 ms)"
    )
    p.add_argument("--no-batching", action="store_true", help="one model call per request")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="(default: auto)")
    p.add_argument("--api-key", action="append", help="require this API key (repeatable)")
    p.add_argument(
        "--api-key-optional",
        action="store_true",
        help="with --api-key: serve requests without a key too (a wrong key is still refused)",
    )
    p.add_argument("--cors-origin", action="append", help="allow this CORS origin (repeatable)")
    p.add_argument("--model-card", help="JSON/Markdown model card with BLEU to show in /v1/model")
    p.add_argument("--max-chars", type=int, help="max characters per text (default: 5000)")
    p.add_argument("--quantize", choices=["none", "int8"], help="int8 linear layers, CPU only")
    p.set_defaults(handler=_cmd_serve)


# ---------------------------------------------------------------------------- average / attention
def _cmd_average(args: argparse.Namespace) -> int:
    from nmt.training.average import average_checkpoints

    out = average_checkpoints([Path(p) for p in args.checkpoints], Path(args.out))
    print(f"averaged {len(args.checkpoints)} checkpoints into {out}", file=sys.stderr)
    return EXIT_OK


def _add_average(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("average", help="average the weights of several checkpoints into one bundle")
    p.add_argument("checkpoints", nargs="+", help="bundle directories (same config and tokenizer)")
    p.add_argument("--out", required=True, help="output bundle directory")
    p.set_defaults(handler=_cmd_average)


def _cmd_export(args: argparse.Namespace) -> int:
    from nmt.training.average import export_bundle

    out = export_bundle([Path(p) for p in args.checkpoints], Path(args.out), args.dtype, args.name)
    megabytes = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1e6
    print(
        f"exported {len(args.checkpoints)} checkpoint(s) to {out} ({megabytes:.1f} MB)",
        file=sys.stderr,
    )
    return EXIT_OK


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write an inference-only bundle (averaged, half-precision weights, no optimizer)",
        description="The bundle to ship or serve: weights averaged over the given checkpoints "
        "(one is fine), stored in --dtype, without training state; hashes checked on load.",
    )
    p.add_argument("checkpoints", nargs="+", help="bundle directories (same config and tokenizer)")
    p.add_argument("--out", required=True, help="output bundle directory")
    p.add_argument(
        "--dtype",
        default="float16",
        choices=["float32", "float16", "bfloat16"],
        help="storage type of the weights (default: %(default)s; they run in float32)",
    )
    p.add_argument("--name", help="model name recorded in metadata.json (shown by the service)")
    p.set_defaults(handler=_cmd_export)


def _cmd_attention(args: argparse.Namespace) -> int:
    from nmt.evaluation.plots import plot_attention
    from nmt.translator import load_translator, resolve_checkpoint

    translator = load_translator(resolve_checkpoint(args.checkpoint), device=args.device)
    options = dataclasses.replace(
        translator.default_options, beam_size=args.beam, n_best=1, return_attention=True
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
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _add_attention(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attention", help="translate one sentence and plot its attention as a PNG")
    p.add_argument("sentence", help="the source sentence")
    p.add_argument("--checkpoint", help=_CHECKPOINT_HELP)
    p.add_argument("--output", default="attention.png", help="PNG path (default: %(default)s)")
    p.add_argument("--beam", type=_positive_int, default=5, help="beam size (default: 5)")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="(default: auto)"
    )
    p.set_defaults(handler=_cmd_attention)


# ---------------------------------------------------------------------------- main
def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (stdout replaced in tests)
        pass


class _UsageError(Exception):
    """A bad combination of arguments (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The full `nmt` argument parser."""
    parser = argparse.ArgumentParser(prog="nmt", description="English-French RNN NMT toolkit.")
    parser.add_argument("--version", action="version", version=f"nmt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_data,
        _add_train,
        _add_translate,
        _add_evaluate,
        _add_serve,
        _add_average,
        _add_export,
        _add_attention,
    ):
        add(sub)
    return parser


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
    except _UsageError as err:
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


if __name__ == "__main__":
    sys.exit(main())
