"""LibreTranslate-compatible API: `/translate`, `/detect`, `/languages`, `/frontend/settings`,
and the answers of a LibreTranslate server with suggestions and file translation turned off
(`/suggest`, `/translate_file`).

`/translate` and `/detect` accept JSON, URL-encoded or multipart forms, and query-string
parameters (body values win), as LibreTranslate does; a form's or query's `q` has its line
breaks made LF, as there. Errors are `{"error": "..."}` with LibreTranslate's status codes
and texts (400 bad parameters, limits, language pairs and a missing key when keys are
required; 403 a wrong key and disabled features). Behaviour follows LibreTranslate's server
(libretranslate/app.py, v1.9), checked against its Python clients in the tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from nmt import MAX_BEAM_SIZE, ModelDescription
from service.deps import (
    BearerKeyDep,
    ServingDep,
    SettingsDep,
    TranslatorDep,
    check_form_limits,
    form_key_check,
)
from service.errors import ServiceError
from service.langdetect import LANGUAGE_NAMES, detect_language
from service.pipeline import DocumentTranslation, invalid_unicode, translate_documents
from service.schemas import (
    DetectedLanguage,
    DetectRequest,
    ErrorResponse,
    FrontendLanguages,
    FrontendSettingsResponse,
    LanguageOut,
    LanguageRef,
    LibreTranslateRequest,
    LibreTranslateResponse,
    SuggestResponse,
    TranslateFileResponse,
)

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
    """Query parameters, overridden by a JSON object or form body.

    A `q` from the query or a form has CRLF and CR line breaks made LF (LibreTranslate
    does so for both); a JSON `q` is taken as sent.
    """
    query = request.query_params
    params: dict[str, Any] = {key: _single(query.getlist(key)) for key in query}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()
        for key in form:
            values = [v for v in form.getlist(key) if not isinstance(v, UploadFile)]
            if values:
                params[key] = _single(values)
    if "q" in params:
        params["q"] = _unify_newlines(params["q"])
    if content_type == "application/json" or _is_json_subtype(content_type):
        try:
            body = await request.json()
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise ServiceError(400, "Invalid request: malformed JSON") from error
        if not isinstance(body, dict):
            raise ServiceError(400, "Invalid JSON format")
        params.update(body)
    return params


def _is_json_subtype(content_type: str) -> bool:
    """application/<something>+json (e.g. application/vnd.api+json): JSON, as Werkzeug's
    `is_json`, which LibreTranslate relies on, counts it."""
    return content_type.startswith("application/") and content_type.endswith("+json")


def _unify_newlines(value: Any) -> Any:
    """A string (or each of a list of strings) with CRLF and CR made LF."""
    if isinstance(value, list):
        return [_unify_newlines(item) for item in value]
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


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
        if first["loc"][:1] == ("q",):  # not pydantic's "q.str: Input should be a valid string"
            message = "Invalid request: q must be a string or a list of strings"
            raise ServiceError(400, message) from error
        where = ".".join(str(p) for p in first["loc"])
        raise ServiceError(400, f"Invalid request: {where}: {first['msg']}") from error


def _check_languages(params: LibreTranslateRequest, model: ModelDescription) -> None:
    """400 unless the format is known and source and target are the model's languages
    (source may be auto); the direction is `_check_direction`'s."""
    if params.format not in ("text", "html"):
        raise ServiceError(400, f"{params.format} format is not supported")
    for code in (params.source, params.target):
        if code != "auto" and code not in (model.src_lang, model.tgt_lang):
            raise ServiceError(400, f"{code} is not supported")


def _check_direction(source: str, target: str, model: ModelDescription) -> None:
    """400 unless source -> target is the model's direction or a language to itself (its
    text comes back as it is: LibreTranslate lists every language among its own targets)."""
    if source != target and (source, target) != (model.src_lang, model.tgt_lang):
        raise ServiceError(
            400, f"{_named(target)} is not available as a target language from {_named(source)}"
        )


def _named(code: str) -> str:
    """LibreTranslate's way of naming a language in messages: "English (en)"."""
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})"


def _check_alternatives(params: dict[str, Any]) -> None:
    """LibreTranslate's checks of `alternatives`: a number, at most the limit (< 0 is 0)."""
    raw = params.get("alternatives")
    if raw is None or raw == "":
        return
    try:
        count = int(raw)
    except (TypeError, ValueError):
        raise ServiceError(400, "Invalid request: alternatives parameter is not a number") from None
    if count > MAX_BEAM_SIZE - 1:
        message = f"Invalid request: alternatives parameter must be <= {MAX_BEAM_SIZE - 1}"
        raise ServiceError(400, message)
    params["alternatives"] = max(0, count)


@router.post(
    "/translate",
    response_model=LibreTranslateResponse,
    response_model_exclude_none=True,
    responses=_ERRORS,
    openapi_extra=_multi_format(LibreTranslateRequest),
)
async def translate(
    request: Request, serving: ServingDep, bearer: BearerKeyDep
) -> LibreTranslateResponse:
    """Translate `q` (a string or a list) from `source` (or `auto`) to `target`."""
    settings, batcher = serving.settings, serving.batcher
    raw = await _read_params(request)
    form_key_check(settings, raw.get("api_key"), bearer)
    _check_alternatives(raw)
    params: LibreTranslateRequest = _validate(LibreTranslateRequest, raw)
    model = serving.translator.description
    _check_languages(params, model)
    texts = [params.q] if isinstance(params.q, str) else params.q
    check_form_limits(texts, settings)
    detected = await asyncio.to_thread(_detect, texts, model) if params.source == "auto" else None
    sources = [d.language for d in detected] if detected else [params.source] * len(texts)
    for source in dict.fromkeys(sources):
        _check_direction(source, params.target, model)
    todo = [i for i, source in enumerate(sources) if source != params.target]
    # the one place this API's parameters become SearchOptions (SearchOptions.merged)
    beam = min(MAX_BEAM_SIZE, max(settings.default_beam_size, params.alternatives + 1))
    options = model.search_defaults.merged(beam_size=beam, n_best=params.alternatives + 1)
    fmt = "html" if params.format == "html" else "text"
    done = await translate_documents(
        batcher, [texts[i] for i in todo], fmt, options, invalid_status=400
    )
    results: dict[int, DocumentTranslation] = dict(zip(todo, done, strict=True))
    translated = [results[i].text if i in results else texts[i] for i in range(len(texts))]
    problem = invalid_unicode(translated)  # a text given back as it came (another language)
    if problem is not None:
        raise ServiceError(400, problem)
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


def _detect(texts: list[str], model: ModelDescription) -> list[DetectedLanguage]:
    """The more likely of the model's two languages for each text (ties: the source)."""
    best = [detect_language(text, (model.src_lang, model.tgt_lang))[0] for text in texts]
    return [DetectedLanguage(confidence=confidence, language=code) for code, confidence in best]


@router.post(
    "/detect",
    response_model=list[DetectedLanguage],
    responses=_ERRORS,
    openapi_extra=_multi_format(DetectRequest),
)
async def detect(
    request: Request, settings: SettingsDep, translator: TranslatorDep, bearer: BearerKeyDep
) -> list[DetectedLanguage]:
    """Detect the language of `q` among the model's languages; for a list of texts, each
    language's mean confidence over them (as LibreTranslate)."""
    raw = await _read_params(request)
    form_key_check(settings, raw.get("api_key"), bearer)
    params: DetectRequest = _validate(DetectRequest, raw)
    texts = [params.q] if isinstance(params.q, str) else params.q
    check_form_limits(texts, settings)
    model = translator.description
    candidates = (model.src_lang, model.tgt_lang)
    ranked = await asyncio.to_thread(lambda: [detect_language(t, candidates) for t in texts])
    mean = {code: sum(dict(r)[code] for r in ranked) / len(texts) for code in candidates}
    order = sorted(candidates, key=lambda code: -mean[code])  # stable: ties keep the source
    return [DetectedLanguage(confidence=round(mean[code], 1), language=code) for code in order]


@router.get("/languages", response_model=list[LanguageOut], responses={503: _ERRORS[503]})
async def languages(translator: TranslatorDep) -> list[LanguageOut]:
    """The model's languages: the source's targets are the target and itself, the
    target's itself (a text in the language asked for comes back as it is)."""
    src, tgt = translator.description.src_lang, translator.description.tgt_lang
    return [
        LanguageOut(code=src, name=LANGUAGE_NAMES.get(src, src), targets=sorted({src, tgt})),
        LanguageOut(code=tgt, name=LANGUAGE_NAMES.get(tgt, tgt), targets=[tgt]),
    ]


@router.get(
    "/frontend/settings", response_model=FrontendSettingsResponse, responses={503: _ERRORS[503]}
)
async def frontend_settings(
    settings: SettingsDep, translator: TranslatorDep
) -> FrontendSettingsResponse:
    """LibreTranslate's frontend settings."""
    src, tgt = translator.description.src_lang, translator.description.tgt_lang
    return FrontendSettingsResponse(
        charLimit=settings.max_chars,
        frontendTimeout=settings.frontend_timeout_ms,
        apiKeys=bool(settings.api_keys),
        keyRequired=bool(settings.api_keys) and settings.require_api_key,
        suggestions=False,
        filesTranslation=False,
        supportedFilesFormat=[],
        language=FrontendLanguages(
            source=LanguageRef(code=src, name=LANGUAGE_NAMES.get(src, src)),
            target=LanguageRef(code=tgt, name=LANGUAGE_NAMES.get(tgt, tgt)),
        ),
    )


@router.post(
    "/suggest",
    response_model=SuggestResponse,
    responses={403: {"model": ErrorResponse, "description": "Suggestions are disabled"}},
)
async def suggest() -> SuggestResponse:
    """Suggestions are not collected: LibreTranslate's 403 for a server with them off."""
    raise ServiceError(403, "Suggestions are disabled on this server.")


@router.post(
    "/translate_file",
    response_model=TranslateFileResponse,
    responses={
        400: _ERRORS[400],
        403: {"model": ErrorResponse, "description": "Invalid API key, or files are disabled"},
    },
)
async def translate_file(
    request: Request, settings: SettingsDep, bearer: BearerKeyDep
) -> TranslateFileResponse:
    """Files are not translated: LibreTranslate's 403 for a server with file translation
    off, after the same key check as `/translate`."""
    raw = await _read_params(request)
    form_key_check(settings, raw.get("api_key"), bearer)
    raise ServiceError(403, "Files translation are disabled on this server.")
