"""A deterministic fake translator and helpers to run the service with it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmt import Alternative, ModelDescription, SearchOptions, Translation
from service.app import create_app
from service.settings import ServiceSettings

LEXICON = {
    "hello": "bonjour",
    "world": "monde",
    "the": "le",
    "cat": "chat",
    "is": "est",
    "black": "noir",
    "how": "comment",
    "are": "allez",
    "you": "vous",
    "good": "bon",
    "morning": "matin",
}


def fake_sentence(text: str) -> str:
    """What FakeTranslator makes of one sentence: lexicon words, others upper-cased."""
    return " ".join(_piece(word) for word in text.split())


def _piece(word: str) -> str:
    core = word.strip(".!?,;:\"'")
    mapped = LEXICON.get(core.lower(), core.upper())
    return word.replace(core, mapped, 1) if core else word


@dataclass
class FakeTranslator:
    """Implements the Translator protocol deterministically; counts (and may slow) calls."""

    delay: float = 0.0
    gate: threading.Event | None = None  # when set, each call waits for it (ordering in tests)
    coverage: bool = False
    copy: bool = False
    drop_last_source: bool = False  # attention never reaches the last source piece
    eos_in_pieces: bool = False  # end both piece lists with "</s>", as NeuralTranslator does
    search_defaults: dict[str, Any] = field(default_factory=dict)  # the model's decode config
    calls: list[tuple[int, SearchOptions]] = field(default_factory=list)
    _busy: threading.Lock = field(default_factory=threading.Lock)

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            name="fake-en-fr",
            src_lang="en",
            tgt_lang="fr",
            config={"model": {"hidden": 8}},
            parameters=1234,
            data_manifest_hash="abc123",
            checkpoint="/models/fake",
            step=42,
            scores={"valid_bleu": 12.5},
            coverage=self.coverage,
            copy=self.copy,
            search_defaults=SearchOptions(**self.search_defaults),
        )

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        options = options or SearchOptions()
        if not self._busy.acquire(blocking=False):
            raise AssertionError("concurrent calls into the model")
        try:
            self.calls.append((len(texts), options))
            if self.gate is not None:
                self.gate.wait(timeout=5)
            if self.delay:
                time.sleep(self.delay)
            return [self._one(text, options) for text in texts]
        finally:
            self._busy.release()

    def _one(self, text: str, options: SearchOptions) -> Translation:
        source = text.split()
        target = fake_sentence(text).split()
        score = -0.1 * len(target)
        alternatives = [
            Alternative(f"{' '.join(target)} [{k}]", score - k) for k in range(1, options.n_best)
        ]
        return Translation(
            source=text,
            text=" ".join(target),
            score=score,
            token_log_probs=[-0.1] * (len(target) + 1) if text else [],
            source_pieces=source + ["</s>"] * (self.eos_in_pieces and bool(text)),
            target_pieces=target + ["</s>"] * (self.eos_in_pieces and bool(text)),
            alternatives=alternatives,
            attention=self._attention(len(target), len(source))
            if options.return_attention
            else None,
            copy_probability=[0.25] * (len(target) + 1) if self.copy else None,
        )

    def _attention(self, rows: int, cols: int) -> list[list[float]]:
        """(T + 1, S + 1): target i looks at source i (clipped), eos at eos."""
        weights = []
        reachable = cols - 1 if self.drop_last_source and cols else cols
        for i in range(rows + 1):
            row = [0.0] * (cols + 1)
            row[cols if i == rows else min(i, max(reachable - 1, 0))] = 1.0
            weights.append(row)
        return weights

    @property
    def model_calls(self) -> int:
        """Calls after the warm-up call."""
        return len(self.calls) - 1


POISON = "POISON"  # PoisonedTranslator fails any model call holding a text with this marker


@dataclass
class PoisonedTranslator(FakeTranslator):
    """A FakeTranslator whose model call fails as a real one would on bad input.

    A call fails with ValueError when a text holds POISON, and with sentencepiece's
    UnicodeEncodeError when a text is not encodable as UTF-8 (a lone surrogate); the
    whole call fails, as a batched model call does, so merged requests would share it.
    """

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        results = super().translate(texts, options)  # records the call
        for text in texts:
            text.encode("utf-8")
            if POISON in text:
                raise ValueError("the model cannot take this text")
        return results


@pytest.fixture
def fake() -> FakeTranslator:
    return FakeTranslator()


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(default_beam_size=2, max_chars=200, max_texts=4, max_body_bytes=4000)


@pytest.fixture
def client(settings: ServiceSettings, fake: FakeTranslator) -> Iterator[TestClient]:
    with TestClient(create_app(settings, translator=fake)) as test_client:
        yield test_client


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app: FastAPI, log_level: str = "warning") -> Iterator[str]:
    """Serve the app with uvicorn on 127.0.0.1 in a thread; yields its base URL.

    log_level "info" turns uvicorn's access log on.
    """
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
