"""Beam search on a GPU with each step replayed from a captured CUDA graph.

`static_beam_search` (nmt.decoding.static_beam) runs a step as the same ops on the same
buffers whatever the batch does; here that step (decoder step and search bookkeeping
together) is captured once per padded batch shape and replayed, so a step costs one graph
launch instead of ~170 kernel launches from Python (docs/RESULTS.md, the H200 diagnosis).
Batches are padded to a bucket (sentences to a power of two, source length to a multiple
of 8; padding sentences start finished) so a few graphs serve a whole test set, and the
stopping test is read one step late from pinned memory, so the host never waits for
the step it just launched. A failure to capture or replay falls back to `beam_search`
(or `greedy_search`) for that batch and turns the graphs off for the model (logged once);
running out of GPU memory only drops the captured graphs.
Follows PyTorch's CUDA graph recipe (torch.cuda.graphs: warm-up on a side stream,
capture, then refill the static inputs and replay).
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from nmt.decoding.beam import _first_step, beam_search
from nmt.decoding.constraints import max_lengths
from nmt.decoding.greedy import greedy_search
from nmt.decoding.protocol import Decodable
from nmt.decoding.static_beam import (
    SearchBuffers,
    StaticStep,
    copy_fields,
    hypotheses,
    start,
    supports,
)
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.model.ensemble import Ensemble

logger = logging.getLogger(__name__)

SOURCE_MULTIPLE = 8  # source lengths are padded up to a multiple of this
MIN_SENTENCES = 8  # batches are padded to a power of two sentences, at least this many
MAX_GRAPHS = 24  # captured graphs kept per model, least recently used dropped first


def bucket(sentences: int, source_length: int) -> tuple[int, int]:
    """The padded (sentences, source length) a batch of this shape runs as."""
    rows = max(MIN_SENTENCES, 1 << (sentences - 1).bit_length())
    return rows, -(-source_length // SOURCE_MULTIPLE) * SOURCE_MULTIPLE


def pad_batch(src: Tensor, src_lengths: Tensor, shape: tuple[int, int], pad_id: int, eos_id: int):
    """src (n, S) to `shape`: columns of pad_id; extra sentences are one eos token each.

    Returns (src, lengths, alive): alive (rows,) bool is False on the extra sentences.
    """
    rows, columns = shape
    n, width = src.shape
    padded = torch.full((rows, columns), pad_id, dtype=src.dtype, device=src.device)
    padded[:n, :width] = src
    padded[n:, 0] = eos_id
    lengths = torch.ones(rows, dtype=src_lengths.dtype, device=src_lengths.device)
    lengths[:n] = src_lengths
    alive = torch.zeros(rows, dtype=torch.bool, device=src.device)
    alive[:n] = True
    return padded, lengths, alive


class _Key(NamedTuple):
    """What a captured step depends on besides the buffers' contents."""

    shape: tuple[int, int]  # the bucket: (sentences, source length)
    options: SearchOptions
    bos_id: int
    eos_id: int
    keep_attention: bool
    weights: tuple[int, ...]  # `_weights`


@dataclass
class _Graph:
    """One captured step (`replay`) and the buffers it reads and writes."""

    replay: Callable[[], object]
    step: StaticStep
    buffers: SearchBuffers


class GraphedBeamSearch:
    """`beam_search` for one model on CUDA, its steps replayed from captured graphs.

    use_graphs=False replays the same step eagerly instead, with the same buckets, buffers
    and refills (any device): how the CPU tests check everything but the capture.
    """

    def __init__(self, model: Decodable, use_graphs: bool = True) -> None:
        # a proxy: the runner (kept in a WeakKeyDictionary by model) must not keep it alive
        self.model: Decodable = weakref.proxy(model)
        self.use_graphs = use_graphs
        self.graphs: OrderedDict[_Key, _Graph] = OrderedDict()
        self.broken = False
        self.stop_flags: StopFlags | None = None  # made on the first replay, on its device

    def __call__(
        self,
        src: Tensor,
        src_lengths: Tensor,
        options: SearchOptions,
        bos_id: int,
        eos_id: int,
        keep_attention: bool,
    ) -> list[list[Hypothesis]]:
        """Hypotheses of a padded batch src (n, S) on CUDA, as `beam_search` returns them."""
        if not self.broken:
            device = torch.cuda.device(src.device) if self.use_graphs else nullcontext()
            try:
                with device:
                    return self._search(src, src_lengths, options, bos_id, eos_id, keep_attention)
            except torch.cuda.OutOfMemoryError:  # one large bucket: free the graphs, go on
                logger.warning("out of GPU memory capturing a beam step; graphs dropped")
                self.graphs.clear()
            except Exception:  # a driver or capture failure must not fail a translation
                logger.exception("CUDA graph beam search failed; eager search from now on")
                self.broken = True
                self.graphs.clear()
        fallback = greedy_search if options.beam_size == options.n_best == 1 else beam_search
        return fallback(self.model, src, src_lengths, options, bos_id, eos_id, keep_attention)

    def _search(
        self,
        src: Tensor,
        src_lengths: Tensor,
        options: SearchOptions,
        bos_id: int,
        eos_id: int,
        keep_attention: bool,
    ) -> list[list[Hypothesis]]:
        shape = bucket(*src.shape)
        padded, lengths, alive = pad_batch(src, src_lengths, shape, self.model.pad_id, eos_id)
        key = _Key(shape, options, bos_id, eos_id, keep_attention, _weights(self.model))
        entry = self.graphs.get(key)
        if entry is None:
            entry = self._capture(key, padded, lengths, alive)
        self.graphs.move_to_end(key)
        self._begin(entry, padded, lengths, alive, options, bos_id)
        steps = self._replay(entry)
        return hypotheses(entry.buffers, steps, src.size(0), src_lengths.tolist(), options, eos_id)

    @torch.inference_mode()
    def _capture(self, key: _Key, padded: Tensor, lengths: Tensor, alive: Tensor) -> _Graph:
        """Buffers for the key's bucket and its step, warmed up and captured."""
        options, bos_id = key.options, key.bos_id
        # the bucket's longest limit, so every batch fits; at least 2: the warm-up writes step 1
        steps = max(2, options.max_length(padded.size(1)))
        out, state, buffers = start(
            self.model, padded, lengths, options, bos_id, key.keep_attention, alive, steps
        )
        step = StaticStep(self.model, options, bos_id, key.eos_id, padded.device)
        step.buffers = buffers
        step.advance(out, state)
        replay: Callable[[], object] = step
        if not self.use_graphs:
            step()  # what the warm-up leaves in the buffers must not matter: `_begin` refills
        else:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step()  # warm-up: lazy initialisation outside the capture
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            replay = graph.replay
        entry = _Graph(replay, step, buffers)
        self.graphs[key] = entry
        while len(self.graphs) > MAX_GRAPHS:
            self.graphs.popitem(last=False)
        return entry

    @torch.inference_mode()
    def _begin(
        self,
        entry: _Graph,
        padded: Tensor,
        lengths: Tensor,
        alive: Tensor,
        options: SearchOptions,
        bos_id: int,
    ) -> None:
        """Refill the graph's buffers with this batch and take its first step eagerly."""
        k = max(options.beam_size, options.n_best)
        out, state, memory = _first_step(self.model, padded, lengths, k, bos_id)
        buffers = entry.buffers
        copy_fields(buffers.memory, memory)
        copy_fields(buffers.state, state)
        buffers.limits.copy_(max_lengths(lengths, options, padded.device))
        buffers.alive.copy_(alive)
        buffers.step.zero_()
        buffers.total.fill_(float("-inf"))
        buffers.total[:, 0] = 0.0
        buffers.kept.fill_(float("-inf"))
        buffers.finished.zero_()
        entry.step.advance(out, buffers.state)

    @torch.inference_mode()
    def _replay(self, entry: _Graph) -> int:
        """Replay steps until every sentence is done; the number of steps taken (at most
        one more than needed: the stop test reads the flag of two steps back)."""
        buffers = entry.buffers
        if self.stop_flags is None:
            self.stop_flags = StopFlags(on_cuda=self.use_graphs)
        flags = self.stop_flags
        flags.record(0, buffers.alive)
        steps = 1
        while steps < buffers.parents.size(1):
            if steps >= 2 and not flags.any_alive(steps - 2):
                break
            entry.replay()
            flags.record(steps, buffers.alive)
            steps += 1
        if self.use_graphs:
            torch.cuda.current_stream().synchronize()
        return steps


class StopFlags:
    """Whether any sentence is alive after each step, for the host to read two steps later.

    On CUDA the flags are copied to pinned memory behind the step and an event marks each
    copy, so reading step t's flag waits for step t only, while step t + 1 runs: the host
    never waits for the step it has just launched. On a CPU they are plain copies.
    """

    def __init__(self, on_cuda: bool) -> None:
        self.flags = torch.zeros(2, dtype=torch.bool)
        self.events: list[torch.cuda.Event] = []
        if on_cuda:
            self.flags = self.flags.pin_memory()
            self.events = [torch.cuda.Event(), torch.cuda.Event()]

    def record(self, step: int, alive: Tensor) -> None:
        """Note whether any of alive (n,) is set after `step`."""
        self.flags[step % 2].copy_(alive.any(), non_blocking=bool(self.events))
        if self.events:
            self.events[step % 2].record()

    def any_alive(self, step: int) -> bool:
        """The note of `step` (recorded at most two steps ago)."""
        if self.events:
            self.events[step % 2].synchronize()
        return bool(self.flags[step % 2])


def _weights(model: Decodable) -> tuple[int, ...]:
    """Where the model's tensors live: a graph reads them by address, so new or moved
    weights (a shortlist restricted later, a dtype change) need a new capture."""
    tensors = getattr(model, "state_dict", dict)().values()
    return tuple(tensor.data_ptr() for tensor in tensors)


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DISABLED: weakref.WeakSet = weakref.WeakSet()


def set_cuda_graphs(model: Decodable, enabled: bool) -> None:
    """Turn graph-replayed beam search on (the default on CUDA) or off for this model."""
    if enabled:
        _DISABLED.discard(model)
    else:
        _DISABLED.add(model)
        _RUNNERS.pop(model, None)


def graph_status(model: Decodable) -> dict[str, object]:
    """Whether graphs are turned off, in use (how many captured) or broken for a model."""
    runner = _RUNNERS.get(model)
    return {
        "disabled": model in _DISABLED,
        "captured": 0 if runner is None else len(runner.graphs),
        "broken": runner is not None and runner.broken,
    }


def uses_cuda_graphs(model: Decodable, src: Tensor, options: SearchOptions) -> bool:
    """Whether `search` runs this batch as `graphed_beam_search`: on CUDA, with options
    the static search supports, unless turned off for the model or broken on it."""
    if src.device.type != "cuda" or not supports(options) or model in _DISABLED:
        return False
    if isinstance(model, Ensemble):  # its static buffers are built for one model's state
        return False
    runner = _RUNNERS.get(model)
    return runner is None or not runner.broken


def graphed_beam_search(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int = 2,
    eos_id: int = 3,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """`beam_search` on CUDA with graph-replayed steps (one runner per model, kept while the
    model lives). Raises ValueError off CUDA or for options `supports` refuses."""
    if src.device.type != "cuda":
        raise ValueError("graphed beam search runs on CUDA only")
    if not supports(options):
        raise ValueError("the static beam search has no coverage penalty or n-gram blocking")
    if src.size(0) == 0:
        return []
    runner = _RUNNERS.get(model)
    if runner is None:
        runner = _RUNNERS[model] = GraphedBeamSearch(model)
    return runner(src, src_lengths, options, bos_id, eos_id, keep_attention)
