"""What route handlers depend on: the app's state, and the checks every request passes.

Named `Annotated` dependencies give a handler the settings and the translator; the
translation routes take the settings, the translator and the batcher, checked ready, from
one (`ServingDep`). The API-key rule (`key_problem`) and the request-size limits
(`limit_problem`) are defined here once; each API words their failures its own way: the
v1 API with 401/403 and 413, the LibreTranslate API with its 400/403 and its messages.

The dependencies are `async def` although none of them awaits: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop per dependency per request, which cost the
batched service at concurrency 32 measurable throughput (docs/RESULTS.md). For a related
reason each reads the app's state from the request itself rather than through another
dependency: FastAPI walks every dependency and sub-dependency of a route on every request,
and on the batched service that walk is part of the time the model waits between batches.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nmt import Translator
from service.batching import DynamicBatcher
from service.errors import ServiceError
from service.metrics import ServiceMetrics
from service.settings import ServiceSettings


@dataclass
class ServiceState:
    """What one app instance holds: settings, metrics and (once loaded) the model."""

    settings: ServiceSettings
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    translator: Translator | None = None
    batcher: DynamicBatcher | None = None
    ready: bool = False
    model_card: dict[str, Any] | None = None
    model_card_path: Path | None = None


@dataclass(frozen=True)
class Serving:
    """What a translation route works with: the settings, the warm translator, its batcher."""

    settings: ServiceSettings
    translator: Translator
    batcher: DynamicBatcher


def service_state(request: Request) -> ServiceState:
    """The state of the app serving `request`."""
    state: ServiceState = request.app.state.service
    return state


def _not_loaded() -> ServiceError:
    return ServiceError(503, "the model is not loaded yet")


async def get_state(request: Request) -> ServiceState:
    """The app's state object."""
    return service_state(request)


async def get_settings(request: Request) -> ServiceSettings:
    """The service settings."""
    return service_state(request).settings


async def get_translator(request: Request) -> Translator:
    """The loaded translator; 503 until the model is warm."""
    state = service_state(request)
    if not state.ready or state.translator is None:
        raise _not_loaded()
    return state.translator


async def get_serving(request: Request) -> Serving:
    """Settings, translator and batcher; 503 until the model is warm and the batcher runs."""
    state = service_state(request)
    translator, batcher = state.translator, state.batcher
    if not state.ready or translator is None or batcher is None or not batcher.alive:
        raise _not_loaded()
    return Serving(state.settings, translator, batcher)


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
TranslatorDep = Annotated[Translator, Depends(get_translator)]
ServingDep = Annotated[Serving, Depends(get_serving)]

_bearer = HTTPBearer(auto_error=False, description="Needed when the server has API keys.")


KeyProblem = Literal["missing", "invalid"]


def key_problem(settings: ServiceSettings, key: str | None) -> KeyProblem | None:
    """Why a key does not open the API, or None when it does (LibreTranslate's rules).

    Without configured keys every request is open and a key given is ignored. With keys, a
    key given must be one of them ("invalid"); no key, or an empty one, is "missing" only
    when `require_api_key` is set.
    """
    if not settings.api_keys:
        return None
    if not key:
        return "missing" if settings.require_api_key else None
    given = _key_bytes(key)
    if any(secrets.compare_digest(given, _key_bytes(allowed)) for allowed in settings.api_keys):
        return None
    return "invalid"


def _key_bytes(key: str) -> bytes:
    """Bytes to compare in constant time (any str, even one with lone surrogates)."""
    return key.encode("utf-8", "surrogatepass")


async def bearer_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The key of an `Authorization: Bearer KEY` header, if any."""
    return credentials.credentials if credentials else None


BearerKeyDep = Annotated[str | None, Depends(bearer_key)]


async def require_api_key(request: Request, key: BearerKeyDep) -> None:
    """401 without a key when one is required, 403 with a wrong one (see `key_problem`)."""
    problem = key_problem(service_state(request).settings, key)
    if problem == "missing":
        raise ServiceError(401, "an API key is required: Authorization: Bearer KEY")
    if problem == "invalid":
        raise ServiceError(403, "Invalid API key")


ApiKeyDep = Depends(require_api_key)


def form_key_check(settings: ServiceSettings, api_key: Any, bearer: str | None) -> None:
    """LibreTranslate's key check: 403 for a wrong key; 400 saying how to get one when a
    key is required and none (or an empty one, as its web page sends) was given.

    The key comes from the `api_key` parameter or, as an extension, an
    `Authorization: Bearer` header (`bearer`, from `BearerKeyDep`).
    """
    key = api_key if isinstance(api_key, str) else None if api_key is None else str(api_key)
    problem = key_problem(settings, key or bearer)
    if problem == "missing":
        raise ServiceError(400, "Please contact the server operator to get an API key")
    if problem == "invalid":
        raise ServiceError(403, "Invalid API key")


@dataclass(frozen=True)
class LimitProblem:
    """The first size limit a request goes over: the setting, what came and what is allowed."""

    limit: Literal["max_texts", "max_chars"]
    given: int  # texts in the request, or characters in text `index`
    allowed: int
    index: int | None = None  # the text over max_chars


def limit_problem(texts: Sequence[str], settings: ServiceSettings) -> LimitProblem | None:
    """Too many texts, or the first text over max_chars; None when the request fits."""
    if len(texts) > settings.max_texts:
        return LimitProblem("max_texts", len(texts), settings.max_texts)
    for index, text in enumerate(texts):
        if len(text) > settings.max_chars:
            return LimitProblem("max_chars", len(text), settings.max_chars, index)
    return None


def check_limits(texts: Sequence[str], settings: ServiceSettings) -> None:
    """The v1 API's 413 naming the limit a request goes over."""
    problem = limit_problem(texts, settings)
    if problem is None:
        return
    if problem.limit == "max_texts":
        message = f"too many texts: {problem.given} > max_texts={problem.allowed}"
    else:
        message = (
            f"text {problem.index} has {problem.given} characters > max_chars={problem.allowed}"
        )
    raise ServiceError(413, message, problem.limit)


def check_form_limits(texts: Sequence[str], settings: ServiceSettings) -> None:
    """LibreTranslate's 400 for too many texts or a text too long (`limit` names ours)."""
    problem = limit_problem(texts, settings)
    if problem is not None:
        message = f"request ({problem.given}) exceeds text limit ({problem.allowed})"
        raise ServiceError(400, f"Invalid request: {message}", problem.limit)
