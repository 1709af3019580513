"""Dynamic batching: merge concurrent requests into few translator calls on one thread.

Requests put a job (sentences + decoding options) on a queue and await a future. One
consumer thread takes the first job and waits up to `max_wait_ms` for more, stopping early
when `max_batch` sentences are queued or when no job has come for `max_gap_ms` (a lone
request at low load then waits about 1 ms, not the whole 5). It groups the jobs by their
`SearchOptions` (a frozen, hashable dataclass), hands each group to the translator in one
call, and gives each job its own slice of the results. The batcher only merges: the
translator sorts a call's sentences by length and cuts them into model batches (the
service loads it with `batch_size = max_batch`). If a merged call raises, each job of it
is retried alone, so an error reaches only the request that causes it. The model is only
ever called from that thread, so it never sees concurrent calls. `after_batch` runs on
that thread after each batch's results are handed out (the service trims the C heap
there: service.heap).

The model is best loaded on that thread too (`load`): torch's OpenMP runtime (libgomp)
gives each thread that starts parallel work its own team of workers, and once it manages
more threads than there are cores it stops letting idle workers spin. A model loaded on
the main thread and run on this one made two teams, and beam-5 batches ran 33 % slower
on 2 cores (348 against 521 sentences/s, docs/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from nmt import SearchOptions, Translation, Translator

log = logging.getLogger(__name__)

BatchObserver = Callable[[int], None]  # called with the number of sentences of each model call


@dataclass
class _Job:
    """Sentences of one request, and where their translations go."""

    sentences: list[str]
    options: SearchOptions
    future: Future[list[Translation]] = field(default_factory=Future)


@dataclass
class _Call:
    """A function to run on the worker thread between batches (loading the model there)."""

    function: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self.future.set_result(self.function())
        except BaseException as error:  # handed to the caller, who decides
            self.future.set_exception(error)


class DynamicBatcher:
    """Runs every translation on one worker thread, merging concurrent requests."""

    def __init__(
        self,
        translator: Translator | None,
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
        enabled: bool = True,
        max_gap_ms: float | None = None,  # None: max_wait_ms
        on_batch: BatchObserver | None = None,
        after_batch: Callable[[], object] | None = None,
    ) -> None:
        self._translator = translator
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0 if enabled else 0.0
        self._max_gap = self._max_wait if max_gap_ms is None else max_gap_ms / 1000.0
        self._merge = enabled and max_batch > 1
        self._on_batch = on_batch
        self._after_batch = after_batch
        self._queue: queue.Queue[_Job | _Call | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for the worker thread."""
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread."""
        if self.alive:
            return
        self._thread = threading.Thread(target=self._run, name="nmt-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish queued jobs, then stop the worker thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def load(self, loader: Callable[[], Translator]) -> Future[Translator]:
        """Run `loader` on the worker thread and translate with what it returns from then on.

        The future gets the translator, or the loader's exception (the batcher keeps the
        translator it had, if any). Jobs submitted meanwhile wait behind it.
        """

        def load_here() -> Translator:
            translator = loader()
            self._translator = translator
            return translator

        call = _Call(load_here)
        if not self.alive:
            call.future.set_exception(RuntimeError("the batcher is not running"))
        else:
            self._queue.put(call)
        return call.future

    def submit(self, sentences: Sequence[str], options: SearchOptions) -> Future[list[Translation]]:
        """Queue sentences for translation; the future gets one Translation per sentence."""
        job = _Job(list(sentences), options)
        if not job.sentences:
            job.future.set_result([])
        elif not self.alive:
            job.future.set_exception(RuntimeError("the batcher is not running"))
        else:
            self._queue.put(job)
        return job.future

    async def translate(
        self, sentences: Sequence[str], options: SearchOptions
    ) -> list[Translation]:
        """Translate from the event loop without blocking it."""
        return await asyncio.wrap_future(self.submit(sentences, options))

    def _run(self) -> None:
        """Worker loop: collect a batch of jobs, translate it, repeat until stopped."""
        while True:
            first = self._queue.get()
            if first is None:
                return
            if isinstance(first, _Call):
                first.run()
                continue
            jobs, stop, call = self._collect(first)
            for options, group in _group_by_options(jobs).items():
                self._translate_group(group, options)
            if self._after_batch is not None:
                self._after_batch()
            if call is not None:
                call.run()
            if stop:
                return

    def _collect(self, first: _Job) -> tuple[list[_Job], bool, _Call | None]:
        """The first job plus those arriving within max_wait; True if asked to stop; a
        call that arrived meanwhile (it ends the batch and runs after it)."""
        jobs = [first]
        queued = len(first.sentences)
        deadline = time.monotonic() + self._max_wait
        while self._merge and queued < self._max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self._queue.empty():
                break
            try:
                job = self._queue.get(timeout=max(min(remaining, self._max_gap), 1e-6))
            except queue.Empty:
                break
            if job is None:
                return jobs, True, None
            if isinstance(job, _Call):
                return jobs, False, job
            jobs.append(job)
            queued += len(job.sentences)
        return jobs, False, None

    def _translate_group(self, jobs: list[_Job], options: SearchOptions) -> None:
        """Translate all sentences of jobs sharing options; isolate jobs if the call fails.

        A failed merged call is retried job by job, so one request's bad input (or any
        error it alone triggers) fails that request only, never the others merged with it.
        """
        jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # skip gone
        if not jobs:
            return
        try:
            results = self._translate_sentences([s for job in jobs for s in job.sentences], options)
        except Exception as error:
            if len(jobs) == 1:
                self._fail(jobs[0], error)
                return
            log.warning("a merged model call of %d jobs failed; retrying each alone", len(jobs))
            for job in jobs:
                self._translate_alone(job, options)
            return
        offset = 0
        for job in jobs:
            job.future.set_result(results[offset : offset + len(job.sentences)])
            offset += len(job.sentences)

    def _translate_alone(self, job: _Job, options: SearchOptions) -> None:
        """One job's own model calls; its failure goes to its future only."""
        try:
            job.future.set_result(self._translate_sentences(job.sentences, options))
        except Exception as error:
            self._fail(job, error)

    def _translate_sentences(
        self, sentences: list[str], options: SearchOptions
    ) -> list[Translation]:
        """One translator call; exactly one Translation per sentence."""
        if self._translator is None:
            raise RuntimeError("the batcher has no translator yet (see load)")
        if self._on_batch is not None:
            self._on_batch(len(sentences))
        results = self._translator.translate(sentences, options)
        if len(results) != len(sentences):
            raise RuntimeError(f"{len(results)} translations for {len(sentences)} sentences")
        return results

    @staticmethod
    def _fail(job: _Job, error: Exception) -> None:
        """Hand the error to the waiting request; logged by type only (its text may quote input)."""
        log.warning("a job of %d sentences failed: %s", len(job.sentences), type(error).__name__)
        job.future.set_exception(error)


def _group_by_options(jobs: list[_Job]) -> dict[SearchOptions, list[_Job]]:
    """Jobs grouped by their decoding options, in arrival order."""
    groups: dict[SearchOptions, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(job.options, []).append(job)
    return groups
