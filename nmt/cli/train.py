"""`nmt train` (one process, or several under torchrun) and the bundle tools
`nmt average` and `nmt export`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from nmt.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_OK,
    Subparsers,
    UsageError,
    non_negative_int,
    positive_int,
)
from nmt.config import EXPORT_DTYPES


def _launch_torchrun(args: argparse.Namespace) -> int:
    """`nmt train --nproc N`: re-run this command under torchrun with N processes."""
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


def run_train(args: argparse.Namespace) -> int:
    """Train from a preset or YAML; how it stopped and where the bundles are go to stderr."""
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


def add_train_parser(sub: Subparsers) -> None:
    """`nmt train`."""
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
        type=positive_int,
        default=1,
        help="data-parallel processes on this machine (runs torchrun; default: 1)",
    )
    p.set_defaults(handler=run_train)


def run_average(args: argparse.Namespace) -> int:
    """Average the weights of several bundles into one."""
    from nmt.training.average import average_checkpoints

    out = average_checkpoints([Path(p) for p in args.checkpoints], Path(args.out))
    print(f"averaged {len(args.checkpoints)} checkpoints into {out}", file=sys.stderr)
    return EXIT_OK


def add_average_parser(sub: Subparsers) -> None:
    """`nmt average`."""
    p = sub.add_parser("average", help="average the weights of several checkpoints into one bundle")
    p.add_argument("checkpoints", nargs="+", help="bundle directories (same config and tokenizer)")
    p.add_argument("--out", required=True, help="output bundle directory")
    p.set_defaults(handler=run_average)


def run_export(args: argparse.Namespace) -> int:
    """Write an inference-only bundle; its size goes to stderr."""
    from nmt.training.average import export_bundle, export_ensemble, extract_member

    count = len(args.checkpoints)
    if args.member is not None:
        if args.ensemble:
            raise UsageError("--member reads an ensemble; it does not build one (drop --ensemble)")
        if count != 1:
            raise UsageError(f"--member takes exactly one ensemble bundle, not {count}")
        out = extract_member(
            Path(args.checkpoints[0]), args.member, Path(args.out), args.dtype, args.name
        )
    else:
        write = export_ensemble if args.ensemble else export_bundle
        out = write([Path(p) for p in args.checkpoints], Path(args.out), args.dtype, args.name)
    megabytes = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1e6
    if args.member is not None:
        what = f"member {args.member} of {args.checkpoints[0]}"
    elif args.ensemble:
        what = f"an ensemble of {count} models"
    else:
        what = f"the mean of {count} checkpoints" if count > 1 else f"{args.checkpoints[0]}"
    print(f"exported {what} to {out} ({megabytes:.1f} MB)", file=sys.stderr)
    return EXIT_OK


def add_export_parser(sub: Subparsers) -> None:
    """`nmt export`."""
    p = sub.add_parser(
        "export",
        help="write an inference-only bundle (averaged, half-precision weights, no optimizer)",
        description="The bundle to ship or serve: weights averaged over the given checkpoints "
        "(one is fine), or kept side by side as an ensemble (--ensemble), stored in --dtype, "
        "without training state; hashes checked on load.",
    )
    p.add_argument("checkpoints", nargs="+", help="bundle directories (same config and tokenizer)")
    p.add_argument("--out", required=True, help="output bundle directory")
    p.add_argument(
        "--dtype",
        default="float16",
        choices=EXPORT_DTYPES,
        help="storage type of the weights, whatever the inputs' (default: %(default)s; they "
        "run in float32): int8 keeps every matrix as per-row int8 with its scales and the "
        "vectors in float16, about half float16's size; the rounding stays in later exports",
    )
    p.add_argument("--name", help="model name recorded in metadata.json (shown by the service)")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="keep each bundle as one member of an ensemble, decoded by the mean of the "
        "members' probabilities, instead of averaging their weights (bundles of independent "
        "runs, or a student beside its teachers: same model shape and tokenizer; at least two)",
    )
    p.add_argument(
        "--member",
        type=non_negative_int,
        metavar="I",
        help="write member I (0-based, as metadata.json lists them) of the one ensemble "
        "bundle given, as a model of its own (to serve alone or start a run from)",
    )
    p.set_defaults(handler=run_export)
