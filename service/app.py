"""The FastAPI application: `create_app` for tests and embedding, `run` for `nmt serve`."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nmt import (
    CheckpointError,
    NmtError,
    SearchOptions,
    Translator,
    load_translator,
    verify_bundle,
)
from service.access_log import install_access_log_redaction
from service.batching import DynamicBatcher
from service.deps import ServiceState
from service.errors import error_response, install_error_handlers
from service.heap import HeapTrimmer, freeze_startup_objects
from service.langdetect import load_detector
from service.metrics import MetricsMiddleware, ServiceMetrics
from service.model_card import load_model_card, model_card_path
from service.routes import libretranslate, ops, v1
from service.routes.ops import STATIC_DIR
from service.settings import ServiceSettings

log = logging.getLogger(__name__)

WARMUP_TEXT = "Hello."


def load_model(settings: ServiceSettings) -> Translator:
    """The translator of the configured checkpoint; CheckpointError when it cannot be used.

    Its model batches hold at most `max_batch` sentences (the batcher merges requests into
    one translator call; the translator cuts it by length).
    """
    if settings.checkpoint is None:
        raise CheckpointError("no checkpoint given: pass --checkpoint or set NMT_CHECKPOINT")
    if not settings.checkpoint.exists():
        raise CheckpointError(f"checkpoint not found: {settings.checkpoint}")
    return load_translator(
        settings.checkpoint,
        settings.device,
        settings.quantize,
        batch_size=settings.max_batch,
        shortlist=settings.shortlist,
    )


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _heap_trim_hook(
    settings: ServiceSettings, metrics: ServiceMetrics
) -> Callable[[], None] | None:
    """What the batcher runs after each batch: a heap trim every `heap_trim_interval_s`.

    None when the interval is 0 or this C library has no malloc_trim (service.heap).
    """
    if settings.heap_trim_interval_s <= 0:
        return None
    trimmer = HeapTrimmer.for_this_process(settings.heap_trim_interval_s)
    if not trimmer.active:
        return None

    def after_batch() -> None:
        if trimmer.maybe_trim():
            metrics.heap_trims.inc()

    return after_batch


def _lifespan(injected: Translator | None) -> Lifespan:
    """Start the batcher, load the model on its thread (unless injected), warm up, freeze the
    start-up objects out of garbage collection (`gc_freeze`; not with an injected translator:
    an embedding process, or a test, keeps its collector as it is), then mark ready; undo on
    exit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: ServiceState = app.state.service
        settings, metrics = state.settings, state.metrics
        batcher = DynamicBatcher(
            injected,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            max_gap_ms=settings.max_gap_ms,
            enabled=settings.batching,
            on_batch=metrics.observe_batch,
            after_batch=_heap_trim_hook(settings, metrics),
        )
        batcher.start()
        try:
            # loaded on the batcher's thread, where it runs (service.batching explains why)
            translator = (
                injected
                if injected is not None
                else await asyncio.wrap_future(batcher.load(lambda: load_model(settings)))
            )
            # the first model call (slow: allocations, kernels) happens before /ready says yes
            await batcher.translate([WARMUP_TEXT], SearchOptions())
            model = translator.description  # and source=auto's detector (~1.6 s) is loaded
            await asyncio.to_thread(load_detector, (model.src_lang, model.tgt_lang))
            state.model_card_path = model_card_path(settings.model_card, settings.checkpoint)
            state.model_card = load_model_card(state.model_card_path)
            if settings.gc_freeze and injected is None:  # the process is ours (service.heap)
                frozen = freeze_startup_objects()
                log.info("%d start-up objects exempted from garbage collection", frozen)
        except BaseException:
            batcher.stop()
            raise
        metrics.queue_depth.set_function(lambda: batcher.queue_depth)
        state.translator, state.batcher, state.ready = translator, batcher, True
        metrics.ready.set(1)
        log.info("model ready: %s", translator.description.name)
        try:
            yield
        finally:
            state.ready = False
            metrics.ready.set(0)
            batcher.stop()

    return lifespan


class BodyLimitMiddleware:
    """413 for a request body over max_body_bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body over max_body_bytes={self.max_bytes}"
        await error_response(413, message, "max_body_bytes")(scope, receive, send)


class _BodyTooLarge(StarletteHTTPException):
    """A streamed body went over the limit.

    An HTTPException, because FastAPI turns any other error raised while it reads a body
    into a 400; this one it passes through to the JSON handler as a 413.
    """

    limit = "max_body_bytes"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over max_body_bytes={max_bytes}")


def create_app(
    settings: ServiceSettings | None = None, translator: Translator | None = None
) -> FastAPI:
    """A new app; it loads `settings.checkpoint` on start-up unless given a translator."""
    settings = settings or ServiceSettings()
    # /docs and /redoc with their scripts and styles served from the fastapi-offline
    # package (under /static-offline-docs), not a CDN: they work without internet.
    app = FastAPIOffline(
        title="nmt translation service",
        version="0.1.0",
        description="English→French RNN translation: JSON API and LibreTranslate-compatible API.",
        lifespan=_lifespan(translator),
    )
    install_access_log_redaction()
    state = ServiceState(settings=settings)
    app.state.service = state
    install_error_handlers(app)
    app.include_router(v1.router)
    app.include_router(libretranslate.router)
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn (one per worker process): settings from `NMT_*` variables."""
    return create_app(ServiceSettings.from_env())


class ServiceStartError(NmtError):
    """The server cannot start (its address is taken, or uvicorn gave up): exit 1."""


def check_address_free(host: str, port: int) -> None:
    """ServiceStartError naming the port when (host, port) cannot be bound right now.

    Binds a throw-away socket the way uvicorn will (SO_REUSEADDR), so a port left in
    TIME_WAIT counts as free and one with a listener does not.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ServiceStartError(
                    f"port {port} is already in use on {host}: stop what holds it or pass --port"
                ) from None
            reason = err.strerror or str(err)
            raise ServiceStartError(f"cannot listen on {host} port {port}: {reason}") from None


def run(settings: ServiceSettings) -> None:
    """Serve with uvicorn; CheckpointError or ServiceStartError (exit 1) when it cannot start.

    The bundle is verified and the address tried here, in the parent, before any model
    is loaded: uvicorn's multi-worker supervisor does not turn a worker's failed start-up
    into a non-zero exit, and its own start-up failures exit 3, which `nmt` does not use.
    """
    if settings.checkpoint is None or not settings.checkpoint.exists():
        raise CheckpointError(f"checkpoint not found: {settings.checkpoint}")
    verify_bundle(settings.checkpoint)
    check_address_free(settings.host, settings.port)
    os.environ.update(settings.to_env())
    try:
        _run_uvicorn(settings)
    except SystemExit as stop:
        if stop.code not in (None, 0):  # uvicorn logged why (e.g. the port taken meanwhile)
            raise ServiceStartError("the server did not start (see the log above)") from None
        raise


def _run_uvicorn(settings: ServiceSettings) -> None:
    """uvicorn with the app factory, one or more worker processes."""
    uvicorn.run(
        "service.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        lifespan="on",
        timeout_keep_alive=settings.keep_alive_s,
    )
