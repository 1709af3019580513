"""From request texts to response items: split, translate as one batch, reassemble, diagnose."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from nmt import (
    EOS_PIECE,
    Alternative,
    MarkupTemplate,
    SearchOptions,
    Template,
    Translation,
    split_html,
    split_sentences,
)
from service.batching import DynamicBatcher
from service.diagnostics import finite, has_repetition, untranslated_pieces
from service.errors import ServiceError
from service.schemas import (
    AlternativeOut,
    AttentionOut,
    DiagnosticsOut,
    TranslateRequest,
    TranslationOut,
)
from service.settings import ServiceSettings

TextFormat = Literal["text", "html"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a str from JSON keeps pairs joined


@dataclass
class DocumentTranslation:
    """One input text: its template and the translation of each of its sentences."""

    template: Template | MarkupTemplate
    sentences: list[Translation]

    @property
    def text(self) -> str:
        """The reassembled translation."""
        return self.template.fill(self.sentences)

    def alternative_texts(self) -> list[tuple[str, float]]:
        """The text's alternatives, best first, each with its score (summed over sentences).

        The k-th alternative takes every sentence's k-th alternative (its best where it has
        fewer). An alternative whose text equals the translation or an earlier alternative
        is left out (different pieces can decode to the same text), as LibreTranslate does.
        So `n_best` N gives at most N - 1 alternatives, fewer only when the search found
        fewer distinct texts; the v1 API, the LibreTranslate API and the page all use this.
        """
        count = max((len(t.alternatives) for t in self.sentences), default=0)
        seen, out = {self.text}, []
        for k in range(count):
            picked = [
                t.alternatives[k] if k < len(t.alternatives) else Alternative(t.text, t.score)
                for t in self.sentences
            ]
            text = self.template.fill([a.text for a in picked])
            if text not in seen:
                seen.add(text)
                out.append((text, sum(a.score for a in picked)))
        return out


def search_options(
    request: TranslateRequest,
    settings: ServiceSettings,
    defaults: SearchOptions,
    need_attention: bool,
) -> SearchOptions:
    """The decoding options of a v1 request: its fields over the model's `defaults`.

    The one place a request's fields become `SearchOptions` (`SearchOptions.merged`); the
    object made here reaches the search function unchanged. Fields the request leaves
    out keep the model's value, except the beam size, which defaults to the server's
    `default_beam_size` (widened to `n_best`).
    """
    return defaults.merged(
        beam_size=request.beam_size or max(settings.default_beam_size, request.n_best),
        n_best=request.n_best,
        return_attention=request.return_attention or need_attention,
        max_length_b=request.max_length_ratio,
        length_penalty=request.length_penalty,
        coverage_penalty=request.coverage_penalty,
        no_repeat_ngram_size=request.no_repeat_ngram_size,
    )


async def translate_documents(
    batcher: DynamicBatcher,
    texts: list[str],
    text_format: TextFormat,
    options: SearchOptions,
    invalid_status: int = 422,
) -> list[DocumentTranslation]:
    """Translate texts, each split into sentences, all sentences in one batcher job.

    If the model fails on this request's text and the text is not valid Unicode (a lone
    surrogate, which JSON's escapes can carry), the failure is a ServiceError with
    `invalid_status` naming the text and the character; any other failure propagates.
    So is a lone surrogate the model never saw (in markup kept as written, e.g. inside
    <script>) that would come back in the translation, which JSON cannot carry.
    """
    split = split_html if text_format == "html" else split_sentences
    templates = [split(text) for text in texts]
    sentences = [sentence for template in templates for sentence in template.sentences]
    try:
        results = await batcher.translate(sentences, options)
    except Exception as error:
        problem = invalid_unicode(texts)
        if problem is None:
            raise
        raise ServiceError(invalid_status, problem) from error
    documents, offset = [], 0
    for template in templates:
        count = len(template.sentences)
        documents.append(DocumentTranslation(template, results[offset : offset + count]))
        offset += count
    if any(_LONE_SURROGATE.search(document.text) for document in documents):
        raise ServiceError(invalid_status, invalid_unicode(texts) or "invalid Unicode")
    return documents


def invalid_unicode(texts: list[str]) -> str | None:
    """What makes the first invalid text not Unicode (a lone surrogate), or None if all are."""
    for index, text in enumerate(texts):
        match = _LONE_SURROGATE.search(text)
        if match is not None:
            code = f"U+{ord(match.group()):04X}"
            return (
                f"text {index} is not valid Unicode: a lone surrogate ({code}) at character "
                f"{match.start()}; send UTF-8 text, or escape a character outside the basic "
                "plane as a surrogate pair"
            )
    return None


def _attention(sentences: list[Translation]) -> AttentionOut | None:
    """Block-diagonal attention of all sentences, labelled ("</s>" for eos rows/columns)."""
    if not sentences or any(t.attention is None for t in sentences):
        return None
    blocks = []
    for t in sentences:
        rows = t.attention or []
        width = len(rows[0]) if rows else len(t.source_pieces) + 1
        blocks.append((_label(t.source_pieces, width), _label(t.target_pieces, len(rows)), rows))
    source = [piece for src, _, _ in blocks for piece in src]
    weights: list[list[float]] = []
    column = 0
    for src, _, rows in blocks:
        for row in rows:
            padded = [0.0] * len(source)
            padded[column : column + len(src)] = [finite(w) for w in row[: len(src)]]
            weights.append(padded)
        column += len(src)
    target = [piece for _, tgt, _ in blocks for piece in tgt]
    return AttentionOut(source_pieces=source, target_pieces=target, weights=weights)


def _label(pieces: list[str], size: int) -> list[str]:
    """Exactly `size` labels: the pieces, "</s>" for a row/column they leave out (eos)."""
    return pieces[:size] + [EOS_PIECE] * (size - len(pieces))


def _diagnostics(sentences: list[Translation], coverage: bool, threshold: float) -> DiagnosticsOut:
    """Mean log-probability, under-translation (coverage models) and repetition flags."""
    log_probs = [lp for t in sentences for lp in t.token_log_probs]
    mean = finite(sum(log_probs) / len(log_probs)) if log_probs else 0.0
    missing: list[str] | None = None
    if coverage and sentences and all(t.attention is not None for t in sentences):
        missing = [
            piece
            for t in sentences
            for piece in untranslated_pieces(t.attention or [], t.source_pieces, threshold)
        ]
    return DiagnosticsOut(
        mean_log_prob=mean,
        under_translated=None if missing is None else bool(missing),
        untranslated_source_pieces=missing,
        repetition=any(has_repetition(t.target_pieces) for t in sentences),
    )


def to_output(
    document: DocumentTranslation,
    settings: ServiceSettings,
    coverage: bool,
    with_attention: bool,
) -> TranslationOut:
    """The response item of one translated text: every hypothesis carries its score."""
    sentences = document.sentences
    copy = [finite(p) for t in sentences for p in (t.copy_probability or [])]
    has_copy = bool(sentences) and all(t.copy_probability is not None for t in sentences)
    return TranslationOut(
        text=document.text,
        score=finite(sum(t.score for t in sentences)),
        alternatives=[
            AlternativeOut(text=text, score=finite(score))
            for text, score in document.alternative_texts()
        ],
        attention=_attention(sentences) if with_attention else None,
        copy_probability=copy if has_copy else None,
        diagnostics=_diagnostics(sentences, coverage, settings.under_translation_threshold),
        sentences=len(sentences),
    )
