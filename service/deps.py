"""Dependencies route handlers declare, as named `Annotated` types."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

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


def key_is_valid(settings: ServiceSettings, key: str | None) -> bool:
    """Whether a key opens the API (always, when no keys are configured)."""
    if not settings.api_keys:
        return True
    if not key:
        return False
    return any(secrets.compare_digest(key, allowed) for allowed in settings.api_keys)


def bearer_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The key of an `Authorization: Bearer KEY` header, if any."""
    return credentials.credentials if credentials else None


BearerKeyDep = Annotated[str | None, Depends(bearer_key)]


def require_api_key(settings: SettingsDep, key: BearerKeyDep) -> None:
    """401 without a key, 403 with a wrong one (only when the server has keys)."""
    if key_is_valid(settings, key):
        return
    if not key:
        raise ServiceError(401, "an API key is required: Authorization: Bearer KEY")
    raise ServiceError(403, "Invalid API key")


ApiKeyDep = Depends(require_api_key)
