"""Dependencies route handlers declare, as named `Annotated` types."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nmt.translator import Translator
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


def get_state(request: Request) -> ServiceState:
    """The app's state object."""
    return request.app.state.service


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_settings(state: StateDep) -> ServiceSettings:
    """The service settings."""
    return state.settings


def get_translator(state: StateDep) -> Translator:
    """The loaded translator; 503 until the model is warm."""
    if not state.ready or state.translator is None:
        raise ServiceError(503, "the model is not loaded yet")
    return state.translator


def get_batcher(state: StateDep) -> DynamicBatcher:
    """The batcher in front of the translator; 503 until the model is warm."""
    if not state.ready or state.batcher is None or not state.batcher.alive:
        raise ServiceError(503, "the model is not loaded yet")
    return state.batcher


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
TranslatorDep = Annotated[Translator, Depends(get_translator)]
BatcherDep = Annotated[DynamicBatcher, Depends(get_batcher)]

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


def bearer_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The key of an `Authorization: Bearer KEY` header, if any."""
    return credentials.credentials if credentials else None


BearerKeyDep = Annotated[str | None, Depends(bearer_key)]


def require_api_key(settings: SettingsDep, key: BearerKeyDep) -> None:
    """401 without a key when one is required, 403 with a wrong one (see `key_problem`)."""
    problem = key_problem(settings, key)
    if problem == "missing":
        raise ServiceError(401, "an API key is required: Authorization: Bearer KEY")
    if problem == "invalid":
        raise ServiceError(403, "Invalid API key")


ApiKeyDep = Depends(require_api_key)
