"""The narrow interface between the library and its users (CLI, evaluation, service).

`Translator` is a Protocol so the service's tests can pass a fake; `load_translator`
returns the one real implementation, built from a self-describing checkpoint bundle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from nmt.checkpoint import Bundle, load_bundle
from nmt.config import DecodeConfig, config_to_dict
from nmt.data.corpus import normalize
from nmt.data.tokenizer import Tokenizer
from nmt.decoding.search import search
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.errors import CheckpointError, NmtError
from nmt.model import Seq2Seq, build_model
from nmt.model.quantize import quantize_dynamic_int8
from nmt.runtime import resolve_device
from nmt.text.pipeline import translate_texts
from nmt.translation import Alternative, Link, Translation

__all__ = [
    "MAX_SOURCE_PIECES",
    "Alternative",
    "Link",
    "NeuralTranslator",
    "Translation",
    "Translator",
    "load_translator",
]

logger = logging.getLogger(__name__)


class Translator(Protocol):
    """Anything that turns texts into translations."""

    @property
    def info(self) -> dict[str, Any]:
        """Name, languages, config, parameters, data manifest hash, scores."""
        ...

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        """Translate each text (one sentence per text); empty texts give empty translations."""
        ...


# Longest model input, in source pieces (eos excluded), bounding memory and time. Longer
# texts are split into parts at clause punctuation, then whitespace, each translated on
# its own and joined (`nmt.text.chunks`); nothing is cut off. About 1,000 characters of
# ordinary English.
MAX_SOURCE_PIECES = 250


class NeuralTranslator:
    """The one real Translator: a Seq2Seq model, its tokenizers and a device."""

    def __init__(
        self,
        model: Seq2Seq,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        device: torch.device,
        info: dict[str, Any],
        batch_size: int = 64,
    ) -> None:
        self.model = model.to(device).eval()
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.device = device
        self.batch_size = batch_size
        self._info = info
        self.default_options = SearchOptions(**info.get("search_defaults", {}))

    @property
    def info(self) -> dict[str, Any]:
        """Name, languages, config, parameters, data manifest hash, scores."""
        return self._info

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
        return translate_texts(self, texts, options or self.default_options)

    def piece_surfaces(self, text: str) -> list[tuple[str, bool]]:
        """(surface, is unknown) of each source piece of a normalised text (eos excluded)."""
        return self.src_tokenizer.surfaces(text)

    def translate_segments(self, texts: Sequence[str], options: SearchOptions) -> list[Translation]:
        """The model alone: translate normalised texts in length-sorted batches."""
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
        return search(
            self.model,
            src.to(self.device),
            lengths.to(self.device),
            options,
            bos_id=self.tgt_tokenizer.bos_id,
            eos_id=self.tgt_tokenizer.eos_id,
        )

    def _to_translation(
        self, source: str, src_ids: list[int], nbest: list[Hypothesis]
    ) -> Translation:
        best = nbest[0]
        decode = self.tgt_tokenizer.decode
        attention = None if best.attention is None else best.attention.float().tolist()
        copy_probability = None if best.p_gen is None else [1.0 - p for p in best.p_gen]
        # a hypothesis cut at the length limit has no eos (nor an eos attention row)
        eos = ["</s>"] if len(best.token_log_probs) > len(best.tokens) else []
        return Translation(
            source=source,
            text=decode(best.tokens),
            score=best.score,
            token_log_probs=best.token_log_probs,
            source_pieces=self.src_tokenizer.id_to_piece(src_ids[:-1]) + ["</s>"],
            target_pieces=self.tgt_tokenizer.id_to_piece(best.tokens) + eos,
            alternatives=[Alternative(decode(h.tokens), h.score) for h in nbest[1:]],
            attention=attention,
            copy_probability=copy_probability,
        )


def _empty_translation(source: str) -> Translation:
    return Translation(
        source=source, text="", score=0.0, token_log_probs=[], source_pieces=[], target_pieces=[]
    )


def build_translator(bundle: Bundle, device: str = "auto") -> NeuralTranslator:
    """Wire a loaded bundle into a NeuralTranslator, refusing mismatched tokenizers."""
    config = bundle.config
    src_tok, tgt_tok = _bundle_tokenizers(bundle)
    expected = bundle.metadata.get("tokenizer_sha256", {})
    actual = {"src": src_tok.sha256, "tgt": tgt_tok.sha256}
    if expected and expected != actual:
        raise CheckpointError(
            f"{bundle.path}: the tokenizer does not match the one the model was trained with"
        )
    try:
        model = build_model(
            config.model, src_tok.vocab_size, tgt_tok.vocab_size, tgt_tok.pad_id, src_tok is tgt_tok
        )
    except ValueError as err:
        raise CheckpointError(f"{bundle.path}: {err}") from None
    try:
        model.load_state_dict({k: v.float() for k, v in bundle.state_dict.items()})
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(
            f"{bundle.path}: weights do not fit the config/vocabulary ({first})"
        ) from None
    info = {
        "name": bundle.metadata.get("name", config.name),
        "src_lang": bundle.metadata.get("src_lang", "en"),
        "tgt_lang": bundle.metadata.get("tgt_lang", "fr"),
        "config": config_to_dict(config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data_manifest_hash": bundle.metadata.get("data_manifest_hash", ""),
        "checkpoint": str(bundle.path),
        "step": bundle.metadata.get("step", 0),
        "scores": bundle.metadata.get("scores", {}),
        "coverage": config.model.coverage.enabled,
        "copy": config.model.copy.enabled,
        "search_defaults": search_defaults(config.decode),
    }
    return NeuralTranslator(
        model, src_tok, tgt_tok, resolve_device(device), info, config.decode.batch_size
    )


def search_defaults(decode: DecodeConfig) -> dict[str, Any]:
    """The SearchOptions fields a model's `decode` config sets (its default search)."""
    return {
        "beam_size": decode.beam_size,
        "length_penalty": decode.length_penalty,
        "coverage_penalty": decode.coverage_penalty,
        "max_length_a": decode.max_length_a,
        "max_length_b": decode.max_length_b,
        "min_length": decode.min_length,
        "no_repeat_ngram_size": decode.no_repeat_ngram_size,
    }


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
    checkpoint: Path | str, device: str = "auto", quantize: str = "none"
) -> NeuralTranslator:
    """Load a checkpoint bundle (directory) into a ready-to-use translator.

    quantize="int8" runs every matrix product in dynamic int8, the recurrent cells
    included (CPU only; nmt.model.quantize says what it costs and gains).
    """
    translator = build_translator(load_bundle(Path(checkpoint)), device)
    if quantize == "int8":
        translator.model = quantize_int8(translator.model, translator.device)
    elif quantize != "none":
        raise NmtError(f"unknown quantization {quantize!r}; choose none or int8")
    translator.info["quantize"] = quantize
    return translator


def quantize_int8(model: Seq2Seq, device: torch.device) -> Seq2Seq:
    """Dynamic int8 quantization of every matrix product (nmt.model.quantize), CPU only."""
    if device.type != "cpu":
        raise NmtError("int8 quantization runs on CPU only (use --device cpu)")
    try:
        return quantize_dynamic_int8(model)
    except RuntimeError as err:
        raise NmtError(f"int8 quantization is not available: {err}") from None
