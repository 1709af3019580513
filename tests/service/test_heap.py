"""The heaps: the C heap's freed pages go back to the OS, on a timer, from the batcher; the
Python heap's start-up objects are frozen out of garbage collection once the model is warm."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import platform
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import service.app as app_module
from nmt import SearchOptions
from service.app import create_app
from service.batching import DynamicBatcher
from service.heap import HeapTrimmer, freeze_startup_objects, glibc_malloc_trim
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator

ON_GLIBC = platform.libc_ver()[0] == "glibc"
glibc_only = pytest.mark.skipif(not ON_GLIBC, reason="malloc_trim is glibc's")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_trimmer_trims_at_most_once_per_interval() -> None:
    clock, calls = FakeClock(), []
    trimmer = HeapTrimmer(10.0, trim=lambda: calls.append(clock.now) or True, clock=clock)
    assert not trimmer.maybe_trim()  # the interval counts from construction
    clock.now += 9.9
    assert not trimmer.maybe_trim()
    clock.now += 0.2
    assert trimmer.maybe_trim()
    clock.now += 5.0
    assert not trimmer.maybe_trim()
    clock.now += 5.0
    assert trimmer.maybe_trim()
    assert calls == pytest.approx([110.1, 120.1]) and trimmer.trims == 2


def test_a_trimmer_without_malloc_trim_never_trims() -> None:
    clock = FakeClock()
    trimmer = HeapTrimmer(1.0, trim=None, clock=clock)
    clock.now += 100
    assert not trimmer.active and not trimmer.maybe_trim() and trimmer.trims == 0


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        HeapTrimmer(interval, trim=lambda: True)


def _resident_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@glibc_only
def test_malloc_trim_gives_freed_heap_pages_back() -> None:
    """128 MiB freed below a live block stays resident until malloc_trim returns it."""
    trim = glibc_malloc_trim()
    assert trim is not None
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 64 * 1024  # under the mmap threshold: from the heap
    blocks = [libc.malloc(block) for _ in range(2048)]
    for address in blocks:
        ctypes.memset(address, 1, block)  # make the pages resident
    pin = libc.malloc(block)  # a live block above them: the heap's top cannot shrink
    try:
        for address in blocks:
            libc.free(address)
        before = _resident_mib()
        trim()
        after = _resident_mib()
    finally:
        libc.free(pin)
    assert before - after > 64, (before, after)


def test_the_batcher_runs_after_batch_once_per_batch_on_its_thread() -> None:
    threads: list[str] = []
    fake = FakeTranslator(delay=0.01)
    batcher = DynamicBatcher(
        fake, max_wait_ms=0.0, after_batch=lambda: threads.append(threading.current_thread().name)
    )
    batcher.start()
    try:
        for text in ("Hello.", "The cat.", "Good morning."):
            asyncio.run(batcher.translate([text], SearchOptions()))
    finally:
        batcher.stop()
    assert threads == ["nmt-batcher"] * len(fake.calls) == ["nmt-batcher"] * 3


@glibc_only
def test_the_service_trims_and_counts_it_in_metrics() -> None:
    settings = ServiceSettings(heap_trim_interval_s=1e-9)
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        client.post("/v1/translate", json={"text": "Hello."})
        text = client.get("/metrics").text
    trims = _metric(text, "nmt_heap_trims_total")
    assert trims >= 1  # the warm-up call and the request, each followed by a trim


def test_an_interval_of_zero_turns_trimming_off() -> None:
    settings = ServiceSettings(heap_trim_interval_s=0)
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        client.post("/v1/translate", json={"text": "Hello."})
        assert _metric(client.get("/metrics").text, "nmt_heap_trims_total") == 0


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# --- the Python heap: start-up objects frozen out of garbage collection ------------------


@pytest.fixture
def unfreeze() -> Iterator[None]:
    """Nothing frozen before the test or after it: an earlier test's app (the shipped
    model's service test) may have frozen the heap, and frozen objects freed since then
    shrink the count, so a count taken over a frozen heap says nothing."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freezing_exempts_what_is_alive_and_still_collects_later_garbage(unfreeze) -> None:
    alive = _Cycle()
    assert freeze_startup_objects() >= 1
    assert not any(obj is alive for obj in gc.get_objects())  # no longer walked
    later = _Cycle()
    del later
    assert gc.collect() >= 1  # a cycle made after the freeze is still found


def test_the_service_freezes_after_loading_its_own_model(
    unfreeze, shipped_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(app_module, "freeze_startup_objects", lambda: frozen.append(1) or 1)
    settings = ServiceSettings(checkpoint=shipped_model_dir, device="cpu")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        assert frozen == [1]  # once, before the first request is served
        client.post("/v1/translate", json={"text": "Hello."})
    assert frozen == [1]
    settings = ServiceSettings(checkpoint=shipped_model_dir, device="cpu", gc_freeze=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
    assert frozen == [1]


def test_an_app_given_a_translator_leaves_the_collector_alone(unfreeze) -> None:
    before = gc.get_freeze_count()
    with TestClient(create_app(ServiceSettings(), translator=FakeTranslator())) as client:
        assert client.get("/ready").status_code == 200
    assert gc.get_freeze_count() == before
