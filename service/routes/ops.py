"""Operations: liveness, readiness, Prometheus metrics, and the demo page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, JSONResponse

from service.deps import StateDep
from service.schemas import HealthResponse, ReadyResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """The process is alive (the model may still be loading)."""
    return HealthResponse()


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def ready(state: StateDep) -> JSONResponse:
    """200 once the model is loaded and warm, 503 before (and while shutting down)."""
    is_ready = state.ready and state.batcher is not None and state.batcher.alive
    body = ReadyResponse(ready=is_ready).model_dump()
    return JSONResponse(body, status_code=200 if is_ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus text exposition of this app's registry."""
    payload, content_type = state.metrics.render()
    return Response(payload, media_type=content_type)


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The demo page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
