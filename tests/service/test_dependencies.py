"""Every route dependency runs on the event loop, none in FastAPI's thread pool.

FastAPI runs a plain `def` dependency through anyio's worker threads: a thread hop per
dependency per request. The service's dependencies do no blocking work, so they are
`async def` (or objects with an async `__call__`, like `HTTPBearer`); this keeps it so.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.app import create_app
from service.settings import ServiceSettings

from .conftest import FakeTranslator


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for child in dependant.dependencies:
        yield child
        yield from _dependencies(child)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The API routes, also inside included routers (newer FastAPI wraps those)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from _api_routes(inner.routes)


def _runs_on_the_loop(call: object) -> bool:
    if inspect.iscoroutinefunction(call):
        return True
    return inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


def test_no_route_dependency_goes_through_the_thread_pool() -> None:
    app = create_app(ServiceSettings(api_keys=["k"]), translator=FakeTranslator())
    routes = list(_api_routes(app.routes))
    checked = 0
    for route in routes:
        for dependency in _dependencies(route.dependant):
            assert _runs_on_the_loop(dependency.call), (route.path, dependency.call)
            checked += 1
    assert {"/v1/translate", "/translate"} <= {route.path for route in routes}
    assert checked >= 5  # the state, settings, batcher and key dependencies at least
