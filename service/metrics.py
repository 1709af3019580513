"""Prometheus metrics on a per-app registry, and the ASGI middleware that records requests."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """The service's metrics, registered on their own registry (apps never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nmt_http_requests_total",
            "HTTP requests by route, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nmt_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "nmt_batch_size_sentences",
            "Sentences per translator call (merged requests).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.model_calls = Counter(
            "nmt_model_calls_total", "Translator calls.", registry=self.registry
        )
        self.sentences = Counter(
            "nmt_sentences_translated_total", "Sentences translated.", registry=self.registry
        )
        self.queue_depth = Gauge(
            "nmt_batch_queue_depth", "Jobs waiting for the model thread.", registry=self.registry
        )
        self.heap_trims = Counter(
            "nmt_heap_trims_total",
            "Times freed C-heap memory was handed back to the OS (service.heap).",
            registry=self.registry,
        )
        self.ready = Gauge("nmt_model_ready", "1 once the model is warm.", registry=self.registry)

    def observe_batch(self, size: int) -> None:
        """Record one model call of `size` sentences."""
        self.model_calls.inc()
        self.sentences.inc(size)
        self.batch_size.observe(size)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts requests and times them, labelled by route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(label, scope["method"], str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - start)
