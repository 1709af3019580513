"""Errors the service raises on purpose, and the handlers that shape every error as JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.schemas import ErrorResponse

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the service refuses, with its status code and the limit it went over."""

    def __init__(self, status_code: int, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.limit = limit


def error_response(status_code: int, message: str, limit: str | None = None) -> JSONResponse:
    """LibreTranslate's error shape: {"error": "..."} (plus the limit's name, if any)."""
    body = ErrorResponse(error=message, limit=limit).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    """JSON for service errors, HTTP errors and genuine bugs (logged, 500)."""

    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status_code, exc.message, exc.limit)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            ErrorResponse(error=str(exc.detail), limit=getattr(exc, "limit", None)).model_dump(
                exclude_none=True
            ),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error")

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_bug)


def validation_message(exc: RequestValidationError) -> str:
    """A one-line summary of a validation error, for LibreTranslate-style 400s."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "Invalid request: " + "; ".join(parts)
