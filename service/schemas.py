"""Request and response bodies, named by direction (…Request in, …Response / …Out out)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nmt import MAX_BEAM_SIZE


class TranslateRequest(BaseModel):
    """`POST /v1/translate`: one text or a list, with per-request decoding options.

    Lengths count sentencepiece pieces: each sentence's output stops at a + b * its source
    pieces (eos included), b = `max_length_ratio`, a = the model's `max_length_a`.
    n_best over beam_size is refused (422).
    """

    model_config = ConfigDict(extra="forbid")

    text: str | list[str] = Field(description="A text (may hold several sentences) or a list.")
    format: Literal["text", "html"] = "text"
    beam_size: int | None = Field(
        None, ge=1, le=MAX_BEAM_SIZE, description="Default: the server's."
    )
    n_best: int = Field(
        1,
        ge=1,
        le=MAX_BEAM_SIZE,
        description="Hypotheses per text (<= beam): the translation and up to n_best - 1 "
        "distinct alternatives, every one with its score.",
    )
    max_length_ratio: float | None = Field(
        None,
        gt=0.0,
        le=10.0,
        description="b in the output length limit a + b * source pieces (eos included; a is "
        "the model's max_length_a). Default: the model's.",
    )
    length_penalty: float | None = Field(None, ge=0.0, le=5.0, description="Default: the model's.")
    coverage_penalty: float | None = Field(
        None, ge=0.0, le=5.0, description="Default: the model's."
    )
    no_repeat_ngram_size: int | None = Field(None, ge=0, le=10, description="Default: the model's.")
    return_attention: bool = False
    return_scores: bool = Field(False, description="Kept for old clients: scores are always given.")

    @model_validator(mode="after")
    def _n_best_within_beam(self) -> TranslateRequest:
        if self.beam_size is not None and self.n_best > self.beam_size:
            raise ValueError(f"n_best ({self.n_best}) must not exceed beam_size ({self.beam_size})")
        return self


class AlternativeOut(BaseModel):
    """A lower-ranked translation."""

    text: str
    score: float


class AttentionOut(BaseModel):
    """Attention weights: one row per target piece, one column per source piece ("</s>" incl.)."""

    source_pieces: list[str]
    target_pieces: list[str]
    weights: list[list[float]]


class DiagnosticsOut(BaseModel):
    """Cheap signals that a translation may be bad (log-probabilities: natural log)."""

    mean_log_prob: float = Field(description="Mean target-token log-probability.")
    under_translated: bool | None = Field(
        description="Coverage models: a source piece got too little attention; else null."
    )
    untranslated_source_pieces: list[str] | None = None
    repetition: bool = Field(description="A target 3-gram repeats, or a piece 3+ times in a row.")


class TranslationOut(BaseModel):
    """The translation of one input text.

    Scores are search scores: natural-log probabilities after any GNMT length and coverage
    penalty (Wu et al., 2016), summed over the text's sentences.
    """

    text: str
    score: float = Field(description="Sum of the sentences' search scores (higher is better).")
    alternatives: list[AlternativeOut] = Field(
        default_factory=list,
        description="Up to n_best - 1 distinct lower-ranked translations, best first.",
    )
    attention: AttentionOut | None = None
    copy_probability: list[float] | None = Field(None, description="Copy models, per token.")
    diagnostics: DiagnosticsOut
    sentences: int = Field(description="Sentences the text was split into.")


class ModelSummary(BaseModel):
    """Which model answered."""

    name: str
    src_lang: str
    tgt_lang: str
    step: int | None = None


class TranslateResponse(BaseModel):
    """`POST /v1/translate` answer: translations in request order.

    `timing_ms`: the request's wall-clock time in the handler, in milliseconds.
    """

    translations: list[TranslationOut]
    model: ModelSummary
    timing_ms: float


class ModelInfoResponse(BaseModel):
    """`GET /v1/model`."""

    name: str
    src_lang: str
    tgt_lang: str
    config: dict[str, Any]
    parameters: int
    data_manifest_hash: str | None = None
    checkpoint: str | None = None
    step: int | None = None
    scores: dict[str, Any] = Field(default_factory=dict)
    bleu: float | None = Field(None, description="From the model card, else the checkpoint.")
    model_card: dict[str, Any] | None = None
    model_card_url: str | None = Field(None, description="The card as Markdown, when there is one.")
    coverage: bool = False
    copy_mechanism: bool = Field(False, alias="copy")
    quantize: str = Field("none", description="Matrix products as run: none or int8.")
    output_vocabulary: int = Field(
        0, description="Pieces the output layer scores (a target shortlist); 0: all of them."
    )
    ensemble: int = Field(
        1, description="Models whose probabilities are averaged at each step; 1: one model."
    )

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())


class ErrorResponse(BaseModel):
    """Every error this service produces itself (LibreTranslate's shape)."""

    error: str
    limit: str | None = Field(None, description="The setting a request went over, if any.")


class HealthResponse(BaseModel):
    """`GET /health`."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """`GET /ready`."""

    ready: bool


class LibreTranslateRequest(BaseModel):
    """LibreTranslate's `/translate` parameters (JSON, form, multipart or query string)."""

    q: str | list[str]
    source: str = Field(description='Language code, or "auto" (any case).')
    target: str = Field(description="Language code (any case).")
    format: str = Field(
        "text", description='"text" (also when null or empty) or "html", in any case.'
    )
    alternatives: int = Field(0, ge=0, le=MAX_BEAM_SIZE - 1)
    api_key: str | None = None

    @field_validator("source", "target")
    @classmethod
    def _lower_case(cls, code: str) -> str:
        return code.lower()  # LibreTranslate reads "EN" as "en"

    @field_validator("format", mode="before")
    @classmethod
    def _text_when_unset(cls, value: object) -> object:
        value = value or "text"  # as LibreTranslate: null and "" mean text
        return value.lower() if isinstance(value, str) else value


class DetectRequest(BaseModel):
    """LibreTranslate's `/detect` parameters (a list of texts gets one answer for them all)."""

    q: str | list[str]
    api_key: str | None = None


class DetectedLanguage(BaseModel):
    """A detected language, confidence in percent as LibreTranslate gives it."""

    confidence: float
    language: str


class LibreTranslateResponse(BaseModel):
    """LibreTranslate's `/translate` answer (lists when `q` is a list)."""

    translatedText: str | list[str]  # noqa: N815 - LibreTranslate's field name
    alternatives: list[str] | list[list[str]] | None = None
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = None  # noqa: N815


class LanguageOut(BaseModel):
    """An entry of `GET /languages`."""

    code: str
    name: str
    targets: list[str]


class LanguageRef(BaseModel):
    """A language in the frontend settings."""

    code: str
    name: str


class FrontendLanguages(BaseModel):
    """Default source and target of the frontend."""

    source: LanguageRef
    target: LanguageRef


class FrontendSettingsResponse(BaseModel):
    """LibreTranslate's `GET /frontend/settings`."""

    charLimit: int  # noqa: N815
    frontendTimeout: int  # noqa: N815
    apiKeys: bool  # noqa: N815
    keyRequired: bool  # noqa: N815
    suggestions: bool
    filesTranslation: bool  # noqa: N815
    supportedFilesFormat: list[str]  # noqa: N815
    language: FrontendLanguages


class SuggestResponse(BaseModel):
    """LibreTranslate's `POST /suggest` answer (this server always refuses: 403)."""

    success: bool


class TranslateFileResponse(BaseModel):
    """LibreTranslate's `POST /translate_file` answer (this server always refuses: 403)."""

    translatedFileUrl: str  # noqa: N815
