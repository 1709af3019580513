"""`nmt serve`: settings from flags over `NMT_*` variables, then the HTTP service."""

from __future__ import annotations

import argparse

from nmt.cli.common import (
    CHECKPOINT_HELP,
    EXIT_OK,
    NO_SHORTLIST_HELP,
    QUANTIZE_HELP,
    Subparsers,
    UsageError,
)
from nmt.config import QUANTIZATIONS


def run_serve(args: argparse.Namespace) -> int:
    """Serve until stopped; bad settings are a usage error, a bad bundle exits 1."""
    from pydantic import ValidationError

    from nmt.translator import resolve_checkpoint
    from service.app import run
    from service.settings import ServiceSettings

    flags = {
        "checkpoint": args.checkpoint,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "max_gap_ms": args.max_gap_ms,
        "device": args.device,
        "api_keys": args.api_key,
        "require_api_key": False if args.api_key_optional else None,
        "cors_origins": args.cors_origin,
        "model_card": args.model_card,
        "max_chars": args.max_chars,
        "batching": False if args.no_batching else None,
        "quantize": args.quantize,
        "shortlist": False if args.no_shortlist else None,
    }
    try:
        settings = ServiceSettings.from_env(
            overrides={k: v for k, v in flags.items() if v is not None}
        )
    except ValidationError as err:
        raise UsageError(
            f"invalid service settings: {err.errors()[0]['loc']} {err.errors()[0]['msg']}"
        ) from None
    if settings.checkpoint is None:
        settings = settings.model_copy(update={"checkpoint": resolve_checkpoint(None)})
    run(settings)
    return EXIT_OK


def add_parser(sub: Subparsers) -> None:
    """`nmt serve`."""
    p = sub.add_parser(
        "serve",
        help="serve a checkpoint over HTTP (REST + LibreTranslate API)",
        description="FastAPI + uvicorn. Every option can also come from an NMT_<NAME> "
        "environment variable (e.g. NMT_CHECKPOINT, NMT_API_KEYS); flags win.",
    )
    p.add_argument("--checkpoint", help=f"{CHECKPOINT_HELP} (env NMT_CHECKPOINT)")
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
    p.add_argument(
        "--max-gap-ms",
        type=float,
        help="dynamic batching: stop waiting when no request came for this long (1 ms)",
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
    p.add_argument(
        "--no-shortlist", action="store_true", help=f"{NO_SHORTLIST_HELP} (env NMT_SHORTLIST)"
    )
    p.add_argument(
        "--quantize", choices=QUANTIZATIONS, help=QUANTIZE_HELP.replace("%(default)s", "auto")
    )
    p.set_defaults(handler=run_serve)
