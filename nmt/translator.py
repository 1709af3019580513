"""The narrow interface between the library and its users (CLI, evaluation, service).

`Translator` is a Protocol so the service's tests can pass a fake; `load_translator`
returns the one real implementation, built from a self-describing checkpoint bundle.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import torch

from nmt.checkpoint import Bundle, load_bundle
from nmt.config import config_to_dict
from nmt.data.corpus import normalize
from nmt.data.tokenizer import Tokenizer
from nmt.decoding.search import search
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.errors import CheckpointError, NmtError
from nmt.model import Seq2Seq, build_model
from nmt.model.ensemble import Ensemble
from nmt.model.quantize import quantize_int8, resolve_quantization
from nmt.runtime import resolve_device
from nmt.text.pipeline import translate_texts
from nmt.translation import EOS_PIECE, Alternative, Link, Translation

__all__ = [
    "MAX_SOURCE_PIECES",
    "Alternative",
    "Link",
    "ModelDescription",
    "NeuralTranslator",
    "Translation",
    "Translator",
    "load_translator",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDescription:
    """What a translator says about its model: set when it is built, never changed.

    `search_defaults` is the model's own default search (its config's `decode` section);
    callers put their choices on top with `search_defaults.merged(...)`. `config` is the
    resolved config tree as plain data and `scores` the bundle's validation scores; both
    are read-only mappings.
    """

    name: str
    src_lang: str = "en"
    tgt_lang: str = "fr"
    search_defaults: SearchOptions = field(default_factory=SearchOptions)
    config: Mapping[str, Any] = field(default_factory=dict)
    parameters: int = 0
    data_manifest_hash: str = ""  # of the prepared data it was trained on; "" when unknown
    checkpoint: str | None = None  # the bundle directory it was loaded from
    step: int = 0  # training updates
    scores: Mapping[str, float] = field(default_factory=dict)
    coverage: bool = False  # coverage attention: the service can flag under-translation
    copy: bool = False  # copy mechanism: translations carry copy probabilities
    quantize: str = "none"  # as resolved: "none" or "int8" (dynamic int8 matrix products)
    output_vocabulary: int = 0  # pieces the output layer scores (a target shortlist); 0: all
    ensemble: int = 1  # models whose probabilities are averaged (nmt.model.ensemble)
    data_derived_from: str | None = None  # distilled data: the hash of the data it came from

    def __post_init__(self) -> None:
        for name in ("config", "scores"):  # frozen all the way down to the first level
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (reports, scripts): every field, search defaults as a dict."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["search_defaults"] = dataclasses.asdict(self.search_defaults)
        data["config"], data["scores"] = dict(self.config), dict(self.scores)
        return data


class Translator(Protocol):
    """Anything that turns texts into translations."""

    @property
    def description(self) -> ModelDescription:
        """Name, languages, default search, config, size, data hash and scores of the model."""
        ...

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        """Translate each text (one sentence per text); empty texts give empty translations.

        `options` None means the model's `description.search_defaults`.
        """
        ...


# Longest model input, in source pieces (eos excluded), bounding memory and time. Longer
# texts are split into parts at clause punctuation, then whitespace, each translated on
# its own and joined (`nmt.text.chunks`); nothing is cut off. About 1,000 characters of
# ordinary English.
MAX_SOURCE_PIECES = 250


class NeuralTranslator:
    """The one real Translator: a Seq2Seq model (or an Ensemble of them), its tokenizers and
    a device.

    It alone decides how texts are grouped for the model: `translate_segments` sorts the
    inputs by length in pieces and runs batches of at most `batch_size` (NmtError if < 1).
    `source_word_counts` (the bundle's `source_words`; None: not recorded) lets the text
    boundary keep names the training source holds at most once (`nmt.text.names`).
    """

    def __init__(
        self,
        model: Seq2Seq | Ensemble,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        device: torch.device,
        description: ModelDescription,
        batch_size: int = 64,
        source_word_counts: Mapping[str, int] | None = None,
    ) -> None:
        if batch_size < 1:
            raise NmtError(f"batch size must be at least 1, got {batch_size}")
        self.model = model.to(device).eval()
        self.source_word_counts = source_word_counts  # rare names kept (nmt.text.names)
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.device = device
        self.batch_size = batch_size
        self._description = description
        self._output_ids = None if model.output_ids is None else model.output_ids.tolist()

    @property
    def description(self) -> ModelDescription:
        """Name, languages, default search, config, size, data hash and scores of the model."""
        return self._description

    @property
    def default_options(self) -> SearchOptions:
        """The model's default search: `description.search_defaults`."""
        return self._description.search_defaults

    @property
    def info(self) -> Mapping[str, Any]:
        """`description.as_dict()`, read-only: for scripts written before ModelDescription."""
        return MappingProxyType(self._description.as_dict())

    @property
    def max_source_pieces(self) -> int:
        """Longest model input in pieces (eos excluded); the text boundary splits longer ones."""
        return MAX_SOURCE_PIECES

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        """Translate any strings, one Translation per string, never raising on content.

        The text boundary (`nmt.text.pipeline`) cleans each text, keeps texts with nothing
        to translate as they are, carries numbers, URLs, e-mails... over verbatim, handles
        ALL-CAPS/Title-Case and splits over-long texts; empty texts give empty translations.
        """
        return translate_texts(self, texts, options or self._description.search_defaults)

    def piece_surfaces(self, text: str) -> list[tuple[str, bool]]:
        """(surface, is unknown) of each source piece of a normalised text (eos excluded)."""
        return self.src_tokenizer.surfaces(text)

    def translate_segments(self, texts: Sequence[str], options: SearchOptions) -> list[Translation]:
        """The model alone: translate normalised texts in length-sorted batches.

        Every translation carries its attention (the text boundary aligns with it).
        """
        encoded = [self._encode_source(text) for text in texts]
        results: list[Translation | None] = [None] * len(texts)
        order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            hypotheses = self._search([encoded[i] for i in chunk], options)
            for i, nbest in zip(chunk, hypotheses, strict=True):
                results[i] = self._to_translation(texts[i], encoded[i], nbest)
        return [
            r if r is not None else _empty_translation(t)
            for r, t in zip(results, texts, strict=True)
        ]

    def _encode_source(self, text: str) -> list[int]:
        text = normalize(text)
        if not text:
            return []
        ids = self.src_tokenizer.encode(text)
        if len(ids) > MAX_SOURCE_PIECES:  # the text boundary splits such texts before this
            logger.warning("input of %d pieces truncated to %d", len(ids), MAX_SOURCE_PIECES)
            ids = ids[:MAX_SOURCE_PIECES]
        return ids + [self.src_tokenizer.eos_id]

    def _search(self, batch: list[list[int]], options: SearchOptions) -> list[list[Hypothesis]]:
        lengths = torch.tensor([len(ids) for ids in batch], dtype=torch.long)
        src = torch.full((len(batch), int(lengths.max())), self.model.pad_id, dtype=torch.long)
        for row, ids in enumerate(batch):
            src[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        hypotheses = search(
            self.model,
            src.to(self.device),
            lengths.to(self.device),
            options,
            bos_id=self.tgt_tokenizer.bos_id,
            eos_id=self.tgt_tokenizer.eos_id,
            keep_attention=True,
        )
        if (ids := self._output_ids) is not None:  # shortlist positions -> vocabulary ids
            for hypothesis in (h for nbest in hypotheses for h in nbest):
                hypothesis.tokens = [ids[t] for t in hypothesis.tokens]
        return hypotheses

    def _to_translation(
        self, source: str, src_ids: list[int], nbest: list[Hypothesis]
    ) -> Translation:
        best = nbest[0]
        decode = self.tgt_tokenizer.decode
        attention = None if best.attention is None else best.attention.float().tolist()
        copy_probability = None if best.p_gen is None else [1.0 - p for p in best.p_gen]
        # a hypothesis cut at the length limit has no eos (nor an eos attention row)
        eos = [EOS_PIECE] if len(best.token_log_probs) > len(best.tokens) else []
        return Translation(
            source=source,
            text=decode(best.tokens),
            score=best.score,
            token_log_probs=best.token_log_probs,
            source_pieces=self.src_tokenizer.id_to_piece(src_ids[:-1]) + [EOS_PIECE],
            target_pieces=self.tgt_tokenizer.id_to_piece(best.tokens) + eos,
            alternatives=[Alternative(decode(h.tokens), h.score) for h in nbest[1:]],
            attention=attention,
            copy_probability=copy_probability,
        )


def _empty_translation(source: str) -> Translation:
    return Translation(
        source=source, text="", score=0.0, token_log_probs=[], source_pieces=[], target_pieces=[]
    )


def build_translator(
    bundle: Bundle,
    device: str = "auto",
    batch_size: int | None = None,
    quantize: str = "none",
    shortlist: bool = True,
) -> NeuralTranslator:
    """Wire a loaded bundle into a NeuralTranslator; CheckpointError on tokenizer/weights mismatch.

    `batch_size` (sentences per model call) defaults to the config's `decode.batch_size`;
    `quantize` ("auto", "none", "int8") and `shortlist`: see `load_translator`.
    """
    config = bundle.config
    meta = bundle.meta
    target = resolve_device(device)
    quantize = resolve_quantization(quantize, target)
    src_tok, tgt_tok = _bundle_tokenizers(bundle)
    actual = {"src": src_tok.sha256, "tgt": tgt_tok.sha256}
    if meta.tokenizer_sha256 and dict(meta.tokenizer_sha256) != actual:
        raise CheckpointError(
            f"{bundle.path}: the tokenizer does not match the one the model was trained with"
        )
    try:
        members = [
            build_model(
                config.model,
                src_tok.vocab_size,
                tgt_tok.vocab_size,
                tgt_tok.pad_id,
                src_tok is tgt_tok,
            )
            for _ in meta.ensemble or [None]
        ]
    except ValueError as err:
        raise CheckpointError(f"{bundle.path}: {err}") from None
    model: Seq2Seq | Ensemble = Ensemble(members) if meta.ensemble else members[0]
    try:
        model.load_state_dict({k: v.float() for k, v in bundle.state_dict.items()})
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = " ".join(lines[1:2] or lines[:1])  # torch's first mismatch, not its heading
        raise CheckpointError(
            f"{bundle.path}: weights do not fit the config/vocabulary ({detail[:300]})"
        ) from None
    description = ModelDescription(
        name=config.name if meta.name is None else meta.name,
        src_lang=meta.src_lang,
        tgt_lang=meta.tgt_lang,
        search_defaults=SearchOptions.from_decode(config.decode),
        config=config_to_dict(config),
        parameters=sum(p.numel() for p in model.parameters()),
        data_manifest_hash=meta.data_manifest_hash,
        data_derived_from=meta.data_derived_from,
        checkpoint=str(bundle.path),
        step=meta.step,
        scores=meta.scores,
        coverage=config.model.coverage.enabled,
        copy=config.model.copy.enabled,
        quantize=quantize,
        ensemble=len(members),
    )
    output_size = _restrict_output(model, bundle, tgt_tok) if shortlist else 0
    description = dataclasses.replace(description, output_vocabulary=output_size)
    if quantize == "int8":
        model = quantize_int8(model.eval(), target)
    size = config.decode.batch_size if batch_size is None else batch_size
    words = meta.source_words
    return NeuralTranslator(model, src_tok, tgt_tok, target, description, size, words)


def _restrict_output(model: Seq2Seq | Ensemble, bundle: Bundle, tgt_tok: Tokenizer) -> int:
    """Restrict the model's output to the bundle's target shortlist (nmt.model.shortlist);
    the shortlist's size, or 0 when the bundle has none or the model copies."""
    ids = bundle.meta.target_shortlist
    if not ids or model.copy is not None:
        return 0
    try:
        model.restrict_output(ids, (model.pad_id, tgt_tok.unk_id, tgt_tok.bos_id, tgt_tok.eos_id))
    except ValueError as err:
        raise CheckpointError(f"{bundle.path}: target_shortlist: {err}") from None
    return len(ids)


def _bundle_tokenizers(bundle: Bundle) -> tuple[Tokenizer, Tokenizer]:
    files = bundle.tokenizer_files
    if bundle.joint_tokenizer:
        joint = Tokenizer.from_bytes(files["spm.model"])
        return joint, joint
    return Tokenizer.from_bytes(files["spm.src.model"]), Tokenizer.from_bytes(
        files["spm.tgt.model"]
    )


SHIPPED_MODEL = "en-fr-base"


def shipped_model_dir() -> Path:
    """Where the trained bundle shipped with the repository lives: `models/en-fr-base`."""
    return Path(__file__).resolve().parent.parent / "models" / SHIPPED_MODEL


def resolve_checkpoint(checkpoint: Path | str | None) -> Path:
    """The given checkpoint, or the shipped model when none is given.

    Raises CheckpointError when none is given and the shipped bundle is not there (an
    installation without the repository's `models/` folder).
    """
    if checkpoint:
        return Path(checkpoint)
    shipped = shipped_model_dir()
    if not (shipped / "metadata.json").is_file():
        raise CheckpointError(
            f"no checkpoint given and the shipped model is missing ({shipped}); "
            "pass --checkpoint BUNDLE or run from a clone of the repository"
        )
    return shipped


def load_translator(
    checkpoint: Path | str,
    device: str = "auto",
    quantize: str = "none",
    batch_size: int | None = None,
    shortlist: bool = True,
) -> NeuralTranslator:
    """Load a checkpoint bundle (directory) into a ready-to-use translator.

    quantize="int8" runs every matrix product in dynamic int8, the recurrent cells
    included (CPU only; nmt.model.quantize says what it costs and gains); "auto" picks
    int8 on a CPU with a quantized engine and "none" elsewhere (`resolve_quantization`);
    the library's default is the float weights, the CLI's `translate` and `serve` use
    "auto". `batch_size` is the most sentences per model call (default: the config's
    `decode.batch_size`). `shortlist` scores only the pieces the training targets used
    when the bundle records them (`target_shortlist`, nmt.model.shortlist); False scores
    the whole vocabulary. Raises CheckpointError for a missing or corrupt bundle and
    NmtError for an unknown or unavailable device or quantization (int8 off a CPU).
    """
    bundle = load_bundle(Path(checkpoint))
    return build_translator(bundle, device, batch_size, quantize, shortlist)
