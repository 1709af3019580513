"""The batcher loads the model on its own thread, the one that runs it (service.batching)."""

from __future__ import annotations

import threading

import pytest

from nmt import SearchOptions
from service.batching import DynamicBatcher
from tests.service.conftest import FakeTranslator


def test_load_runs_on_the_batcher_thread_and_the_batcher_then_translates() -> None:
    loaded_on: list[str] = []
    fake = FakeTranslator()

    def loader() -> FakeTranslator:
        loaded_on.append(threading.current_thread().name)
        return fake

    batcher = DynamicBatcher(None, max_wait_ms=0.0)
    batcher.start()
    try:
        early = batcher.submit(["Hello."], SearchOptions())  # before load: fails alone
        assert batcher.load(loader).result(timeout=10) is fake
        result = batcher.submit(["Hello world."], SearchOptions()).result(timeout=10)
    finally:
        batcher.stop()
    assert loaded_on == ["nmt-batcher"]
    with pytest.raises(RuntimeError, match="no translator"):
        early.result(timeout=10)
    assert result[0].text == "bonjour monde."


def test_a_failing_loader_reaches_the_caller_and_the_batcher_keeps_running() -> None:
    def broken() -> FakeTranslator:
        raise OSError("no such bundle")

    fake = FakeTranslator()
    batcher = DynamicBatcher(fake, max_wait_ms=0.0)
    batcher.start()
    try:
        with pytest.raises(OSError, match="no such bundle"):
            batcher.load(broken).result(timeout=10)
        assert batcher.alive
        assert batcher.submit(["Hello."], SearchOptions()).result(timeout=10)[0].text == "bonjour."
    finally:
        batcher.stop()


def test_load_on_a_stopped_batcher_fails_at_once() -> None:
    future = DynamicBatcher(None).load(FakeTranslator)
    with pytest.raises(RuntimeError, match="not running"):
        future.result(timeout=1)
