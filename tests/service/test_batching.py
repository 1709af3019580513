"""Dynamic batching: fewer model calls than requests, identical results, one model thread."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import httpx
import pytest

from nmt.decoding.types import SearchOptions
from service.app import create_app
from service.batching import DynamicBatcher
from service.settings import ServiceSettings
from tests.service.conftest import POISON, FakeTranslator, PoisonedTranslator

SENTENCES = [f"Hello world number {i}." for i in range(12)]


async def _translate_all(batcher: DynamicBatcher, options: list[SearchOptions]) -> list:
    jobs = [batcher.translate([s], o) for s, o in zip(SENTENCES, options, strict=True)]
    return await asyncio.gather(*jobs)


def test_concurrent_jobs_share_model_calls_and_match_unbatched() -> None:
    fake = FakeTranslator(delay=0.02)
    batcher = DynamicBatcher(fake, max_batch=64, max_wait_ms=50.0)
    batcher.start()
    try:
        results = asyncio.run(_translate_all(batcher, [SearchOptions()] * len(SENTENCES)))
    finally:
        batcher.stop()
    assert len(fake.calls) < len(SENTENCES)
    assert [r[0] for r in results] == FakeTranslator().translate(SENTENCES)


def test_jobs_are_grouped_by_options() -> None:
    fake = FakeTranslator(delay=0.02)
    batcher = DynamicBatcher(fake, max_batch=64, max_wait_ms=50.0)
    greedy, beam = SearchOptions(), SearchOptions(beam_size=4, n_best=2)
    batcher.start()
    try:
        results = asyncio.run(_translate_all(batcher, [greedy, beam] * 6))
    finally:
        batcher.stop()
    assert len(fake.calls) < len(SENTENCES)
    assert {options for _, options in fake.calls} == {greedy, beam}
    assert sum(n for n, _ in fake.calls) == len(SENTENCES)
    assert [len(r[0].alternatives) for r in results] == [0, 1] * 6


def test_disabled_batching_calls_once_per_job_and_a_big_job_in_one_call() -> None:
    fake = FakeTranslator(delay=0.01)
    batcher = DynamicBatcher(fake, max_batch=5, max_wait_ms=50.0, enabled=False)
    batcher.start()
    try:
        asyncio.run(_translate_all(batcher, [SearchOptions()] * len(SENTENCES)))
        big = batcher.submit(SENTENCES, SearchOptions()).result(timeout=10)
    finally:
        batcher.stop()
    # the batcher only merges; the translator cuts a call into model batches (test_real_model)
    assert [n for n, _ in fake.calls] == [1] * len(SENTENCES) + [len(SENTENCES)]
    assert [t.source for t in big] == SENTENCES


def test_model_errors_reach_the_caller_and_empty_jobs_skip_the_model() -> None:
    class Broken(FakeTranslator):
        def translate(self, texts, options=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    batcher = DynamicBatcher(Broken(), max_wait_ms=0.0)
    assert batcher.submit([], SearchOptions()).result(timeout=1) == []
    with pytest.raises(RuntimeError, match="not running"):
        batcher.submit(["x"], SearchOptions()).result(timeout=1)
    batcher.start()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            batcher.submit(["x"], SearchOptions()).result(timeout=5)
        assert batcher.alive
    finally:
        batcher.stop()


def test_cancelled_jobs_are_skipped() -> None:
    gate = threading.Event()
    fake = FakeTranslator(gate=gate)
    batcher = DynamicBatcher(fake, max_wait_ms=0.0)
    batcher.start()
    try:
        first = batcher.submit(["one"], SearchOptions())
        deadline = time.monotonic() + 5
        while not fake.calls and time.monotonic() < deadline:  # the worker holds "one"
            time.sleep(0.005)
        gone = batcher.submit(["two"], SearchOptions())
        assert gone.cancel()
        gate.set()
        assert [t.source for t in first.result(timeout=5)] == ["one"]
        third = batcher.submit(["three"], SearchOptions()).result(timeout=5)
    finally:
        gate.set()
        batcher.stop()
    assert third[0].source == "three"
    assert [n for n, _ in fake.calls] == [1, 1]


async def _concurrent_requests(app, count: int) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        bodies = [{"text": SENTENCES[i % len(SENTENCES)]} for i in range(count)]
        return await asyncio.gather(*(client.post("/v1/translate", json=b) for b in bodies))


def test_concurrent_http_requests_are_merged() -> None:
    fake = FakeTranslator(delay=0.03)
    settings = ServiceSettings(max_wait_ms=30.0, default_beam_size=1)
    app = create_app(settings, translator=fake)

    async def scenario() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            return await _concurrent_requests(app, 16)

    responses = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert 1 <= fake.model_calls < 16
    expected = [t.text for t in FakeTranslator().translate(SENTENCES)]
    got = [r.json()["translations"][0]["text"] for r in responses]
    assert got == [expected[i % len(SENTENCES)] for i in range(16)]


def test_a_failing_job_fails_alone_and_merged_jobs_still_get_their_results() -> None:
    fake = PoisonedTranslator(delay=0.02)
    batcher = DynamicBatcher(fake, max_batch=64, max_wait_ms=100.0)
    texts = [f"Hello world number {i}." for i in range(7)]
    texts.insert(3, f"Hello {POISON} world.")
    batcher.start()
    try:
        futures = [batcher.submit([text], SearchOptions()) for text in texts]
        outcomes = [_outcome(future) for future in futures]
    finally:
        batcher.stop()
    assert fake.calls[0][0] == len(texts), "the jobs were not merged into one model call"
    assert [n for n, _ in fake.calls[1:]] == [1] * len(texts)  # then each job alone
    assert isinstance(outcomes[3], ValueError)
    good = [outcome for i, outcome in enumerate(outcomes) if i != 3]
    expected = FakeTranslator().translate([t for i, t in enumerate(texts) if i != 3])
    assert good == [[translation] for translation in expected]


def test_a_lone_failing_job_is_not_retried() -> None:
    fake = PoisonedTranslator()
    batcher = DynamicBatcher(fake, max_wait_ms=0.0)
    batcher.start()
    try:
        with pytest.raises(ValueError):
            batcher.submit([POISON, "Hello."], SearchOptions()).result(timeout=5)
        assert batcher.submit(["Hello."], SearchOptions()).result(timeout=5)[0].text == "bonjour."
    finally:
        batcher.stop()
    assert [n for n, _ in fake.calls] == [2, 1]


def _outcome(future: Future) -> object:
    """The future's result, or the exception it ended with."""
    try:
        return future.result(timeout=10)
    except Exception as error:  # noqa: BLE001 - the test compares it
        return error


def test_a_gap_without_jobs_ends_the_wait_before_max_wait() -> None:
    """Two jobs 300 ms apart: one model call each with a 20 ms gap, one call without."""

    def calls(max_gap_ms: float | None) -> list[int]:
        fake = FakeTranslator()
        batcher = DynamicBatcher(fake, max_batch=64, max_wait_ms=2000.0, max_gap_ms=max_gap_ms)
        batcher.start()
        try:
            first = batcher.submit(["Hello."], SearchOptions())
            time.sleep(0.3)
            second = batcher.submit(["The cat."], SearchOptions())
            first.result(timeout=10), second.result(timeout=10)
        finally:
            batcher.stop()
        return [n for n, _ in fake.calls]

    assert calls(max_gap_ms=20.0) == [1, 1]
    assert calls(max_gap_ms=None) == [2]
