"""LibreTranslate-compatible API: `/translate`, `/detect`, `/languages`, `/frontend/settings`.

`/translate` and `/detect` accept JSON, URL-encoded or multipart forms, and query-string
parameters (body values win), as LibreTranslate does; errors are `{"error": "..."}` with
LibreTranslate's status codes (400 bad parameters, limits and language pairs; 403 keys).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from service.deps import BatcherDep, SettingsDep, TranslatorDep, key_is_valid
from service.errors import ServiceError
from service.langdetect import LANGUAGE_NAMES, detect_language
from service.pipeline import DocumentTranslation, model_defaults, translate_documents
from service.routes.v1 import check_limits
from service.schemas import (
    MAX_BEAM,
    DetectedLanguage,
    DetectRequest,
    ErrorResponse,
    FrontendLanguages,
    FrontendSettingsResponse,
    LanguageOut,
    LanguageRef,
    LibreTranslateRequest,
    LibreTranslateResponse,
)
from service.settings import ServiceSettings

router = APIRouter(tags=["libretranslate"])

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request"},
    403: {"model": ErrorResponse, "description": "Invalid API key"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    503: {"model": ErrorResponse, "description": "Model not loaded yet"},
}


def _multi_format(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body given as JSON or a form, its fields also allowed in the query."""
    schema = model.model_json_schema()
    content = {ctype: {"schema": schema} for ctype in ("application/json", *_FORM_TYPES)}
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]
    return {"requestBody": {"content": content, "required": False}, "parameters": parameters}


async def _read_params(request: Request) -> dict[str, Any]:
    """Query parameters, overridden by a JSON object or form body."""
    query = request.query_params
    params: dict[str, Any] = {key: _single(query.getlist(key)) for key in query}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = await request.json()
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise ServiceError(400, "Invalid request: malformed JSON") from error
        if not isinstance(body, dict):
            raise ServiceError(400, "Invalid request: the JSON body must be an object")
        params.update(body)
    elif content_type in _FORM_TYPES:
        form = await request.form()
        for key in form:
            values = [v for v in form.getlist(key) if not isinstance(v, UploadFile)]
            if values:
                params[key] = _single(values)
    return params


def _single(values: list[Any]) -> Any:
    """One value as itself, several as a list (how a form sends `q` as a list)."""
    return values[0] if len(values) == 1 else values


def _validate(model: type[BaseModel], params: dict[str, Any]) -> Any:
    """The parameters as a model, or LibreTranslate's 400 naming what is wrong."""
    for name in ("q", "source", "target"):
        field = model.model_fields.get(name)
        if field is not None and field.is_required() and params.get(name) in (None, "", []):
            raise ServiceError(400, f"Invalid request: missing {name} parameter")
    try:
        return model.model_validate(params)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ServiceError(400, f"Invalid request: {where}: {first['msg']}") from error


def _check_key(request: Request, settings: ServiceSettings, api_key: Any) -> None:
    """LibreTranslate's 403 when keys are configured and none valid was given."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    key = (api_key if isinstance(api_key, str) else None) or bearer
    if not key_is_valid(settings, key):
        raise ServiceError(403, "Invalid API key")


def _pair(info: dict[str, Any]) -> tuple[str, str]:
    """The model's source and target language codes."""
    return str(info.get("src_lang", "en")), str(info.get("tgt_lang", "fr"))


def _check_pair(params: LibreTranslateRequest, info: dict[str, Any]) -> None:
    """400 unless source/target is the model's pair (source may be auto)."""
    src, tgt = _pair(info)
    if params.format not in ("text", "html"):
        raise ServiceError(400, f"{params.format} format is not supported")
    for code in (params.source, params.target):
        if code != "auto" and code not in (src, tgt):
            raise ServiceError(400, f"{code} is not supported")
    if params.target != tgt or params.source not in ("auto", src):
        raise ServiceError(
            400, f"{params.target} is not available as a target language from {params.source}"
        )


@router.post(
    "/translate",
    response_model=LibreTranslateResponse,
    response_model_exclude_none=True,
    responses=_ERRORS,
    openapi_extra=_multi_format(LibreTranslateRequest),
)
async def translate(
    request: Request, settings: SettingsDep, translator: TranslatorDep, batcher: BatcherDep
) -> LibreTranslateResponse:
    """Translate `q` (a string or a list) from `source` (or `auto`) to `target`."""
    raw = await _read_params(request)
    _check_key(request, settings, raw.get("api_key"))
    params: LibreTranslateRequest = _validate(LibreTranslateRequest, raw)
    info = translator.info
    _check_pair(params, info)
    texts = [params.q] if isinstance(params.q, str) else params.q
    check_limits(texts, settings, status_code=400)
    src = str(info.get("src_lang", "en"))
    auto = params.source == "auto"
    detected = [_detect(text, src, params.target) for text in texts] if auto else None
    todo = [i for i, text in enumerate(texts) if detected is None or detected[i].language == src]
    beam = min(MAX_BEAM, max(settings.default_beam_size, params.alternatives + 1))
    options = dataclasses.replace(
        model_defaults(info), beam_size=beam, n_best=params.alternatives + 1
    )
    fmt = "html" if params.format == "html" else "text"
    done = await translate_documents(batcher, [texts[i] for i in todo], fmt, options)
    results: dict[int, DocumentTranslation] = dict(zip(todo, done, strict=True))
    translated = [results[i].text if i in results else texts[i] for i in range(len(texts))]
    alternatives = [
        [text for text, _ in results[i].alternative_texts()] if i in results else []
        for i in range(len(texts))
    ]
    single = isinstance(params.q, str)
    return LibreTranslateResponse(
        translatedText=translated[0] if single else translated,
        alternatives=(alternatives[0] if single else alternatives) if params.alternatives else None,
        detectedLanguage=(detected[0] if single else detected) if detected else None,
    )


def _detect(text: str, src: str, tgt: str) -> DetectedLanguage:
    """The more likely of the model's two languages (ties: the source)."""
    language, confidence = detect_language(text, (src, tgt))[0]
    return DetectedLanguage(confidence=confidence, language=language)


@router.post(
    "/detect",
    response_model=list[DetectedLanguage],
    responses=_ERRORS,
    openapi_extra=_multi_format(DetectRequest),
)
async def detect(
    request: Request, settings: SettingsDep, translator: TranslatorDep
) -> list[DetectedLanguage]:
    """Detect the language of `q` among the model's languages."""
    raw = await _read_params(request)
    _check_key(request, settings, raw.get("api_key"))
    params: DetectRequest = _validate(DetectRequest, raw)
    info = translator.info
    candidates = _pair(info)
    return [
        DetectedLanguage(confidence=confidence, language=language)
        for language, confidence in detect_language(params.q, candidates)
    ]


@router.get("/languages", response_model=list[LanguageOut], responses={503: _ERRORS[503]})
async def languages(translator: TranslatorDep) -> list[LanguageOut]:
    """The model's languages; only its source has a target."""
    src, tgt = _pair(translator.info)
    return [
        LanguageOut(code=src, name=LANGUAGE_NAMES.get(src, src), targets=[tgt]),
        LanguageOut(code=tgt, name=LANGUAGE_NAMES.get(tgt, tgt), targets=[]),
    ]


@router.get(
    "/frontend/settings", response_model=FrontendSettingsResponse, responses={503: _ERRORS[503]}
)
async def frontend_settings(
    settings: SettingsDep, translator: TranslatorDep
) -> FrontendSettingsResponse:
    """LibreTranslate's frontend settings."""
    src, tgt = _pair(translator.info)
    return FrontendSettingsResponse(
        charLimit=settings.max_chars,
        frontendTimeout=settings.frontend_timeout_ms,
        apiKeys=bool(settings.api_keys),
        keyRequired=bool(settings.api_keys),
        suggestions=False,
        supportedFilesFormat=[],
        language=FrontendLanguages(
            source=LanguageRef(code=src, name=LANGUAGE_NAMES.get(src, src)),
            target=LanguageRef(code=tgt, name=LANGUAGE_NAMES.get(tgt, tgt)),
        ),
    )
