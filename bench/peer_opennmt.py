"""CPU training throughput, ours against OpenNMT-py 3.5.1's, in one run (issue 12).

    python bench/peer_opennmt.py [--data data/prepared/fra-eng] [--steps 100 | --seconds S]
        [--warmup 20] [--threads N] [--max-tokens N] [--peer-batch-tokens N] [--smoke]

Both systems train the same shape (our preset `lstm`, the peer's configuration in
../shared/peers/opennmt_rnn.sh) on the same training pairs and sentencepiece pieces, on the
CPU, one after the other, each in its own process: `warmup` untimed steps, then `steps`
timed steps (or `seconds` of them). Ours is bench/train_throughput.py unchanged; the peer
is timed from its own per-step reports (bench/peer_train.py). Prints one JSON object.

Same batch: ours keeps the config's data.max_tokens (8,192 padded source + target in
`lstm`); the peer's batch_size (tokens) is the one whose mean real tokens per batch,
simulated on the training data with each batcher's rule, equals ours (bench/peer_data.py;
--peer-batch-tokens fixes it instead). The measured real tokens per batch of both runs are
in the JSON.

Same counting: tokens/s is source + target non-pad tokens per second in OpenNMT-py's
counting (pieces, plus one eos per target). bench/train_throughput.py also counts the eos
every source of ours ends with; that figure is kept as `tokens_per_second_as_reported`,
and `ratio` uses the common counting (`ratio_as_reported` the other).

Payload, all under the git-ignored --payload (.peer/): venv/ (OpenNMT-py, bench/peer_env.py),
data/<hash>/ (the peer's pack and its vocabularies), runs/<time>/ (configs and logs).
--smoke: 1 warm-up and 2 timed steps each, 1,024-token batches, a small peer bucket: checks
the whole path; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import peer_data
import peer_env
import peer_train

from nmt.config import load_config
from nmt.data.dataset import load_manifest, load_token_ids, manifest_hash
from nmt.errors import NmtError

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
COUNTING = (
    "source + target non-pad tokens in OpenNMT-py's counting: source pieces + target pieces "
    "+ one eos per target (our source eos left out)"
)
BATCH_RULE = (
    "ours: data.max_tokens, B * (max source incl. eos + max target + 1) <= max_tokens; the "
    "peer: batch_type tokens, B * max(max source pieces, max target pieces + 2) <= batch_size, "
    "batch_size chosen so that its simulated mean real tokens per batch on the training data "
    "equals ours"
)
SMOKE = {"warmup": 1, "steps": 2, "max_tokens": 1024, "bucket_size": 4096}


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; --smoke replaces warmup, steps, seconds and max_tokens by SMOKE's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "prepared" / "fra-eng")
    parser.add_argument("--config", default="lstm", help="our preset (the peer's shape: lstm)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive(int), default=100, help="timed steps each")
    budget.add_argument("--seconds", type=_positive(float), help="timed seconds each instead")
    parser.add_argument("--warmup", type=_positive(int), default=20, help="untimed steps first")
    parser.add_argument("--threads", type=_positive(int), help="OMP/MKL threads for both")
    parser.add_argument("--max-tokens", type=_positive(int), help="our data.max_tokens")
    parser.add_argument(
        "--set",
        dest="ours_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for ours only, e.g. train.cpu_amp=true (repeatable)",
    )
    parser.add_argument("--peer-batch-tokens", type=_positive(int), help="skip calibration")
    parser.add_argument("--payload", type=Path, default=REPO / ".peer", help="git-ignored")
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peers")
    parser.add_argument("--timeout", type=_positive(float), default=3600.0, help="per system")
    parser.add_argument("--smoke", action="store_true", help="tiny step counts: a path check")
    args = parser.parse_args(argv)
    args.bucket_size = None
    if args.smoke:
        args.warmup, args.steps, args.seconds = SMOKE["warmup"], SMOKE["steps"], None
        args.max_tokens = args.max_tokens or SMOKE["max_tokens"]
        args.bucket_size = SMOKE["bucket_size"]
    return args


def say(message: str) -> None:
    """Progress on stderr (stdout carries the JSON only)."""
    print(f"[peer_opennmt {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def budget_options(args: argparse.Namespace) -> list[str]:
    """--warmup and --steps or --seconds, as bench/train_throughput.py takes them."""
    budget = ["--seconds", str(args.seconds)] if args.seconds else ["--steps", str(args.steps)]
    return ["--warmup", str(args.warmup), *budget]


def ours_command(args: argparse.Namespace) -> list[str]:
    """bench/train_throughput.py on the CPU with this run's data, budget and batch."""
    command = [sys.executable, str(BENCH / "train_throughput.py"), "--config", args.config]
    command += ["--data", str(args.data), "--device", "cpu", *budget_options(args)]
    if args.max_tokens:
        command += ["--set", f"data.max_tokens={args.max_tokens}"]
    for override in args.ours_overrides:
        command += ["--set", override]
    return command


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    """bench/train_throughput.py's JSON (its progress goes to our stderr)."""
    env = {**os.environ, **peer_env.thread_variables(args.threads)}
    result = subprocess.run(
        ours_command(args), cwd=REPO, env=env, stdout=subprocess.PIPE, text=True,
        timeout=args.timeout,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"bench/train_throughput.py exited with {result.returncode}")
    return json.loads(result.stdout)


def our_figures(ours: dict[str, Any]) -> dict[str, Any]:
    """bench/train_throughput.py's figures, tokens/s also in the common counting."""
    steps, seconds = ours["steps"], ours["seconds"]
    sentences_per_second = ours["sentences_per_batch"] * steps / seconds if seconds else 0.0
    src = ours["src_tokens_per_second"] - sentences_per_second
    tgt = ours["tgt_tokens_per_second"]
    tokens_per_step = ours["tokens_per_second"] * seconds / steps if steps else 0.0
    keep = ("steps", "seconds", "warmup_steps", "warmup_seconds", "sentences_per_batch")
    keep += ("parameters", "threads", "torch", "forward_path", "peak_memory_mb", "last_loss")
    return {
        "tokens_per_second": round(src + tgt, 1),
        "src_tokens_per_second": round(src, 1),
        "tgt_tokens_per_second": round(tgt, 1),
        "tokens_per_second_as_reported": ours["tokens_per_second"],
        "real_tokens_per_batch": round(tokens_per_step - ours["sentences_per_batch"], 1),
        **{key: ours.get(key) for key in keep},
    }


def assemble(
    ours: dict[str, Any] | None, peer: dict[str, Any] | None, context: dict[str, Any]
) -> dict[str, Any]:
    """The one JSON object: headline figures and ratios, then both sides and the context."""
    mine = our_figures(ours) if ours else None
    theirs_rate = (peer or {}).get("tokens_per_second") or 0.0

    def ratio(figure: str) -> float | None:
        return round(mine[figure] / theirs_rate, 3) if mine and theirs_rate > 0 else None

    return {
        "benchmark": "peer_opennmt",
        "ours_tokens_per_second": mine["tokens_per_second"] if mine else None,
        "peer_tokens_per_second": theirs_rate or None,
        "ratio": ratio("tokens_per_second"),
        "ratio_as_reported": ratio("tokens_per_second_as_reported"),
        "counting": COUNTING,
        "ours": mine,
        "peer": peer,
        **context,
    }


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """HEAD of this checkout (None outside git)."""
    result = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() if result.returncode == 0 else None


def batch_plan(args: argparse.Namespace) -> dict[str, Any]:
    """Our max_tokens and the peer's batch_size, with the simulated real tokens per batch."""
    overrides = [f"data.dir={args.data}"]
    overrides += [f"data.max_tokens={args.max_tokens}"] if args.max_tokens else []
    config = load_config(args.config, overrides)
    ids = load_token_ids(args.data, "train")
    target = peer_data.our_real_tokens_per_batch(
        ids, config.data.max_tokens, config.data.max_length
    )
    if args.peer_batch_tokens:
        src, tgt = ids.src_lengths - 1, ids.tgt_lengths
        keys = [ids.source(i).tobytes() for i in range(len(ids))]
        size = args.peer_batch_tokens
        simulated = peer_data.peer_real_tokens_per_batch(src, tgt, keys, size)
    else:
        size, simulated = peer_data.calibrate_peer_batch(ids, target)
    return {
        "rule": BATCH_RULE if not args.peer_batch_tokens else "peer batch_size given",
        "ours_max_tokens": config.data.max_tokens,
        "ours_max_length": config.data.max_length,
        "peer_batch_size_tokens": size,
        "simulated_real_tokens_per_batch": {"ours": round(target, 1), "peer": round(simulated, 1)},
    }


def build_vocab(env: peer_env.PeerEnv, data: peer_data.PeerData) -> tuple[tuple[Path, Path], str]:
    """The peer's vocabularies of the training pieces (made once per data folder)."""
    vocab = (data.folder / "vocab.src", data.folder / "vocab.tgt")
    config = peer_train.write_config(
        {
            "save_data": str(data.folder / "onmt"),
            "src_vocab": str(vocab[0]),
            "tgt_vocab": str(vocab[1]),
            "overwrite": True,
            "data": {
                "corpus_1": {"path_src": str(data.train_src), "path_tgt": str(data.train_tgt)}
            },
        },
        data.folder / "vocab.yaml",
    )
    tail = ["-m", "onmt.bin.build_vocab", "-config", str(config), "-n_sample", "-1"]
    if not all(path.is_file() for path in vocab):
        result = subprocess.run(
            [str(env.python), *tail], env=env.environ(), capture_output=True, text=True
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise peer_env.PeerError(f"OpenNMT-py build_vocab failed: {last}")
    return vocab, f"{env.shell_prefix()} {' '.join(tail)}"


def run_peer(
    args: argparse.Namespace,
    env: peer_env.PeerEnv,
    data: peer_data.PeerData,
    vocab: tuple[Path, Path],
    batch_size: int,
) -> dict[str, Any]:
    """Train the peer until the budget is spent; its steady-state figures."""
    run_dir = args.payload / "runs" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    steps = peer_train.NEVER if args.seconds else args.warmup + args.steps
    options: dict[str, Any] = {"batch_size": batch_size, "train_steps": steps}
    options |= {"bucket_size": args.bucket_size} if args.bucket_size else {}
    config = peer_train.train_config(data.train_src, data.train_tgt, vocab, run_dir, options)
    path = peer_train.write_config(config, run_dir / "config.yaml")
    tail = ["-m", "onmt.bin.train", "-config", str(path)]
    budget = None if args.seconds else args.steps
    stop = peer_train.Stop(args.warmup, budget, args.seconds, args.timeout)
    run = peer_train.stream_training(
        [str(env.python), *tail], env.environ(), run_dir / "console.log", stop, say
    )
    for checkpoint in run_dir.glob("model*.pt"):
        checkpoint.unlink()  # a save begun as the process was stopped
    figures = peer_train.steady_state(run.reports, args.warmup)
    figures |= {
        "ended": run.ended,
        "returncode": run.returncode,
        "wall_seconds_timed_check": round(run.wall_seconds_timed or 0.0, 3),
        "parameters": peer_train.parse_parameters(run.log_text),
        "batch_size_tokens": batch_size,
        "options": {k: v for k, v in options.items() if k != "batch_size"},
        "vocabulary": peer_train.parse_vocab_sizes(run.log_text),
        "log": str(run_dir / "console.log"),
        "command": f"{env.shell_prefix()} {' '.join(tail)}",
    }
    if run.ended != "target reached":
        figures["error"] = f"the peer {run.ended} early: {run.log_text[-1500:]}"
    return figures


def payload_is_ignored(payload: Path) -> bool:
    """Whether git ignores `payload` (True outside this repository)."""
    try:
        payload.resolve().relative_to(REPO)
    except ValueError:
        return True
    probe = payload / "probe"
    check = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(probe)])
    return check.returncode == 0


def context(args: argparse.Namespace, argv: list[str], found: dict[str, Any]) -> dict[str, Any]:
    """Everything but the figures: budget, batch, versions, machine, data, commands."""
    ours, peer_versions = found.get("ours") or {}, found.get("peer_versions") or {}
    return {
        "smoke": args.smoke,
        "budget": {"warmup": args.warmup, "steps": None if args.seconds else args.steps,
                   "seconds": args.seconds},
        "batch": found.get("batch"),
        "versions": {
            "python": platform.python_version(),
            "torch_ours": ours.get("torch"),
            "torch_peer": peer_versions.get("torch"),
            "onmt": peer_versions.get("onmt"),
            "pyonmttok": peer_versions.get("pyonmttok"),
            "nmt_commit": git_commit(),
        },
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": {"ours": ours.get("threads"), "peer": peer_versions.get("threads"),
                    "omp_num_threads": args.threads},
        "data": {"dir": str(args.data), "manifest_hash": manifest_hash(args.data),
                 "peer_pack": found.get("peer_pack"),
                 "ours_vocabulary": load_manifest(args.data)["tokenizer"].get("actual_vocab_size")},
        "commands": {
            "this": " ".join([sys.executable, *sys.argv[:1], *argv]),
            "ours": " ".join(ours_command(args)),
            "peer_vocab": found.get("vocab_command"),
            "peer_train": (found.get("peer") or {}).get("command"),
        },
        "errors": found.get("errors", []),
    }  # fmt: skip


def prepare(args: argparse.Namespace, env: peer_env.PeerEnv, found: dict[str, Any]) -> Any:
    """Batch plan, the peer's data, venv and vocabularies (recorded in `found`)."""
    say("simulating both batchers on the training data")
    found["batch"] = batch_plan(args)
    say(f"batch: {found['batch']['simulated_real_tokens_per_batch']} real tokens per batch")
    data = peer_data.build_peer_data(args.data, args.payload / "data")
    found["peer_pack"] = str(data.folder)
    found["peer_versions"] = peer_env.ensure_installed(env, say)
    say(f"peer: {found['peer_versions']}")
    vocab, found["vocab_command"] = build_vocab(env, data)
    return data, vocab


def main(argv: list[str] | None = None) -> int:
    """Measure both systems; print the JSON. 1 when a side failed, 2 on bad options."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(f"no prepared data at {args.data}: run `nmt data prepare` first", file=sys.stderr)
        return 1
    if not (args.peers / "stubs" / "spacy").is_dir() or not payload_is_ignored(args.payload):
        print(f"need {args.peers}/stubs/spacy and a git-ignored {args.payload}", file=sys.stderr)
        return 1
    env = peer_env.PeerEnv(args.payload / "venv", args.peers / "stubs", args.threads)
    found: dict[str, Any] = {"errors": []}
    try:
        data, vocab = prepare(args, env, found)
    except (NmtError, peer_env.PeerError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for side in ("ours", "peer"):
        say(f"{side}: {args.warmup} warm-up steps, then {args.seconds or args.steps} "
            f"{'seconds' if args.seconds else 'steps'}")  # fmt: skip
        try:
            found[side] = (
                run_ours(args) if side == "ours"
                else run_peer(args, env, data, vocab, found["batch"]["peer_batch_size_tokens"])
            )  # fmt: skip
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
            found["errors"].append(f"{side}: {error}")
        if "error" in (found.get(side) or {}):
            found["errors"].append(f"{side}: {found[side]['error'][:200]}")
    record = assemble(found.get("ours"), found.get("peer"), context(args, argv, found))
    print(json.dumps(record, indent=2))
    return 1 if found["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
