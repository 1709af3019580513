"""The native JSON API: `POST /v1/translate` and `GET /v1/model`."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from nmt import ModelDescription
from service.deps import ApiKeyDep, ServingDep, StateDep, TranslatorDep, check_limits
from service.errors import ServiceError
from service.model_card import find_bleu
from service.pipeline import search_options, to_output, translate_documents
from service.schemas import (
    ErrorResponse,
    ModelInfoResponse,
    ModelSummary,
    TranslateRequest,
    TranslateResponse,
)

router = APIRouter(prefix="/v1", tags=["v1"])
MODEL_CARD_URL = "/v1/model/card"

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API key missing"},
    403: {"model": ErrorResponse, "description": "API key invalid"},
    413: {"model": ErrorResponse, "description": "A size limit was exceeded"},
    422: {"description": "Invalid request, or a text that is not valid Unicode"},
    503: {"model": ErrorResponse, "description": "Model not loaded yet"},
}


def model_summary(model: ModelDescription) -> ModelSummary:
    """Name, languages and step of the loaded model."""
    return ModelSummary(
        name=model.name, src_lang=model.src_lang, tgt_lang=model.tgt_lang, step=model.step
    )


@router.post(
    "/translate",
    response_model=TranslateResponse,
    responses=_ERRORS,
    dependencies=[ApiKeyDep],
)
async def translate(body: TranslateRequest, serving: ServingDep) -> TranslateResponse:
    """Translate one text or a list; paragraphs are split into sentences and reassembled."""
    start = time.perf_counter()
    settings = serving.settings
    texts = [body.text] if isinstance(body.text, str) else body.text
    check_limits(texts, settings)
    model = serving.translator.description
    options = search_options(body, settings, model.search_defaults, need_attention=model.coverage)
    documents = await translate_documents(serving.batcher, texts, body.format, options)
    outputs = [to_output(doc, settings, model.coverage, body.return_attention) for doc in documents]
    return TranslateResponse(
        translations=outputs,
        model=model_summary(model),
        timing_ms=(time.perf_counter() - start) * 1000.0,
    )


@router.get("/model", response_model=ModelInfoResponse, responses={503: _ERRORS[503]})
async def model_info(state: StateDep, translator: TranslatorDep) -> ModelInfoResponse:
    """Name, config, data manifest hash, parameters and BLEU of the loaded model."""
    model = translator.description
    scores = dict(model.scores)
    card = state.model_card
    return ModelInfoResponse(
        name=model.name,
        src_lang=model.src_lang,
        tgt_lang=model.tgt_lang,
        config=dict(model.config),
        parameters=model.parameters,
        data_manifest_hash=model.data_manifest_hash,
        checkpoint=model.checkpoint,
        step=model.step,
        scores=scores,
        bleu=find_bleu(card, scores),
        model_card=card,
        model_card_url=None if state.model_card_path is None else MODEL_CARD_URL,
        coverage=model.coverage,
        copy=model.copy,
        quantize=model.quantize,
        output_vocabulary=model.output_vocabulary,
        ensemble=model.ensemble,
    )


@router.get(
    "/model/card",
    response_class=PlainTextResponse,
    responses={404: {"model": ErrorResponse, "description": "The model has no card"}},
)
async def model_card(state: StateDep) -> PlainTextResponse:
    """The loaded model's card (Markdown): data, recipe, scores with signatures, limits."""
    path = state.model_card_path
    if path is None:
        raise ServiceError(404, "this model has no model card")
    return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/markdown")
