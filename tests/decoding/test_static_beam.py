"""The fixed-shape beam search (nmt.decoding.static_beam) and its graph runner
(nmt.decoding.graphs) must find exactly what `beam_search` / `greedy_search` find.

The runner is driven here with use_graphs=False: the same buckets, padding, buffer refills
and replays, with the step run eagerly; capturing and replaying a CUDA graph needs a GPU
(bench/gpu/run.py measures it there).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import weakref
from functools import cache
from types import SimpleNamespace

import pytest
import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensorMode,
)

from nmt.decoding import beam_search, greedy_search
from nmt.decoding.graphs import (
    _RUNNERS,
    GraphedBeamSearch,
    bucket,
    graph_status,
    graphed_beam_search,
    pad_batch,
    set_cuda_graphs,
    uses_cuda_graphs,
)
from nmt.decoding.static_beam import StaticStep, start, static_beam_search, supports
from nmt.decoding.types import Hypothesis, SearchOptions
from nmt.model import Seq2Seq
from nmt.model.ensemble import Ensemble
from nmt.translator import NeuralTranslator, load_translator, shipped_model_dir

from . import fakes
from .test_real_model import SOURCES, VARIANTS, _model
from .test_shipped_search import SENTENCES as SHIPPED_SENTENCES

OPTIONS = SearchOptions(
    beam_size=3, max_length_a=3.0, max_length_b=1.0, length_penalty=0.6, return_attention=True
)
OPTION_SETS = [
    OPTIONS,
    dataclasses.replace(OPTIONS, beam_size=4, n_best=3),
    dataclasses.replace(OPTIONS, beam_size=2, min_length=2),
    dataclasses.replace(OPTIONS, length_penalty=0.0),
]
SENTENCES = [
    *SHIPPED_SENTENCES,
    "I didn't know that you were a teacher.",
    "Hi.",
    "The children are playing in the garden behind the old house.",
    "Please call me when you get home.",
]


def assert_same(expected: list[list[Hypothesis]], found: list[list[Hypothesis]]) -> None:
    """Same hypotheses, in the same order; floats to rounding (the batch shapes differ)."""
    assert len(expected) == len(found)
    for want_all, got_all in zip(expected, found, strict=True):
        assert [h.tokens for h in got_all] == [h.tokens for h in want_all]
        for want, got in zip(want_all, got_all, strict=True):
            assert got.score == pytest.approx(want.score, abs=1e-5)
            assert got.log_prob == pytest.approx(want.log_prob, abs=1e-5)
            assert got.token_log_probs == pytest.approx(want.token_log_probs, abs=1e-5)
            assert (got.p_gen is None) == (want.p_gen is None)
            if want.p_gen is not None:
                assert got.p_gen == pytest.approx(want.p_gen, abs=1e-6)
            assert (got.attention is None) == (want.attention is None)
            if want.attention is not None:
                assert got.attention.shape == want.attention.shape
                torch.testing.assert_close(got.attention, want.attention, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("options", OPTION_SETS)
def test_static_search_finds_what_beam_search_finds(
    rnn_type: str, coverage: bool, copy: bool, options: SearchOptions
) -> None:
    model = _model(rnn_type, coverage, copy)  # random weights: many force-ended hypotheses
    src, lengths = fakes.pad_batch(SOURCES)
    assert_same(
        beam_search(model, src, lengths, options), static_beam_search(model, src, lengths, options)
    )


@cache
def _shipped(shortlist: bool) -> NeuralTranslator:
    return load_translator(shipped_model_dir(), device="cpu", shortlist=shortlist)


def _network(translator: NeuralTranslator) -> Seq2Seq:
    """The shipped bundle's (first) model: the static search serves single models; an
    ensemble decodes with the dynamic searches (`nmt.decoding.graphs.uses_cuda_graphs`)."""
    model = translator.model
    return model.members[0] if isinstance(model, Ensemble) else model  # type: ignore[return-value]


def _encoded(translator: NeuralTranslator, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    return fakes.pad_batch([translator._encode_source(text) for text in texts])


@pytest.mark.parametrize("shortlist", [False, True])
@pytest.mark.parametrize(("beam", "n_best"), [(5, 1), (5, 3), (1, 1)])
def test_runner_finds_what_the_searches_find_on_the_shipped_model(
    shortlist: bool, beam: int, n_best: int
) -> None:
    translator = _shipped(shortlist)
    model = _network(translator)
    options = dataclasses.replace(translator.default_options, beam_size=beam, n_best=n_best)
    runner = GraphedBeamSearch(model, use_graphs=False)
    plain = greedy_search if beam == 1 else beam_search
    shapes = []  # the last batch has the second one's bucket: its buffers are reused
    for texts in (SENTENCES, SENTENCES[:3], SENTENCES[3:8], SENTENCES[2::-1]):
        src, lengths = _encoded(translator, texts)
        shapes.append(bucket(*src.shape))
        expected = plain(model, src, lengths, options, keep_attention=True)
        assert_same(expected, runner(src, lengths, options, 2, 3, True))
    assert shapes[1] == shapes[3]
    assert sorted(key[0] for key in runner.graphs) == sorted(set(shapes))
    assert not runner.broken


def test_static_search_without_attention_returns_none() -> None:
    translator = _shipped(True)
    src, lengths = _encoded(translator, SENTENCES[:4])
    options = dataclasses.replace(translator.default_options, beam_size=4)
    found = static_beam_search(_network(translator), src, lengths, options)
    assert all(h.attention is None for hyps in found for h in hyps)
    assert_same(beam_search(_network(translator), src, lengths, options), found)


def test_buckets_pad_sentences_to_powers_of_two_and_sources_to_eights() -> None:
    assert bucket(1, 1) == (8, 8)
    assert bucket(5, 9) == (8, 16)
    assert bucket(64, 16) == (64, 16)
    assert bucket(65, 17) == (128, 24)
    src, lengths = fakes.pad_batch([[5, 6, 3], [7, 3]])
    padded, padded_lengths, alive = pad_batch(src, lengths, (8, 8), pad_id=0, eos_id=3)
    assert padded.shape == (8, 8) and padded[:2, :3].tolist() == src.tolist()
    assert padded[2:, 0].tolist() == [3] * 6 and int(padded[:, 3:].abs().sum()) == 0
    assert padded_lengths.tolist() == [3, 2] + [1] * 6
    assert alive.tolist() == [True, True] + [False] * 6


def test_unsupported_options_are_refused() -> None:
    model = _model("gru", False, False)
    src, lengths = fakes.pad_batch(SOURCES)
    for options in (
        dataclasses.replace(OPTIONS, coverage_penalty=0.2),
        dataclasses.replace(OPTIONS, no_repeat_ngram_size=2),
    ):
        assert not supports(options)
        with pytest.raises(ValueError, match="coverage penalty or n-gram"):
            static_beam_search(model, src, lengths, options)
    with pytest.raises(ValueError, match="CUDA only"):
        graphed_beam_search(model, src, lengths, OPTIONS)


def test_search_leaves_the_graphs_to_cuda() -> None:
    model = _model("gru", False, False)
    src, _ = fakes.pad_batch(SOURCES)
    assert not uses_cuda_graphs(model, src, OPTIONS)  # a CPU batch: the dynamic searches
    assert graph_status(model) == {"disabled": False, "captured": 0, "broken": False}
    set_cuda_graphs(model, False)
    assert not uses_cuda_graphs(model, src, OPTIONS)
    assert graph_status(model)["disabled"]
    set_cuda_graphs(model, True)
    assert not graph_status(model)["disabled"]


def test_a_failing_step_falls_back_to_beam_search_for_good(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = _model("lstm", True, False)
    src, lengths = fakes.pad_batch(SOURCES)
    runner = GraphedBeamSearch(model, use_graphs=False)

    def broken_step(self: StaticStep) -> None:
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(StaticStep, "__call__", broken_step)
    with caplog.at_level(logging.ERROR, logger="nmt.decoding.graphs"):
        found = runner(src, lengths, OPTIONS, 2, 3, False)
    assert runner.broken and not runner.graphs
    assert "eager search from now on" in caplog.text
    assert_same(beam_search(model, src, lengths, OPTIONS), found)
    caplog.clear()
    again = runner(src, lengths, OPTIONS, 2, 3, False)
    assert_same(beam_search(model, src, lengths, OPTIONS), again)
    assert caplog.text == ""  # not retried


RUNNER_OPTIONS = [
    dataclasses.replace(OPTIONS, max_length_a=0.0, max_length_b=0.25),  # every limit is 1
    dataclasses.replace(OPTIONS, max_length_a=0.0, max_length_b=0.1),  # buckets of one step
    dataclasses.replace(OPTIONS, max_length_a=1.0, max_length_b=0.5, n_best=2),
    dataclasses.replace(OPTIONS, beam_size=1, length_penalty=0.0),
    dataclasses.replace(OPTIONS, beam_size=1, min_length=2),
]


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("options", RUNNER_OPTIONS)
def test_runner_matches_from_the_capturing_call_on_through_reused_buckets(
    rnn_type: str, coverage: bool, copy: bool, options: SearchOptions
) -> None:
    """Every call compared, the first (which captures, and warms up on the buffers) too;
    the bucket of 8 sentences is then reused by 2 and by 3 real sentences."""
    model = _model(rnn_type, coverage, copy)
    runner = GraphedBeamSearch(model, use_graphs=False)
    plain = greedy_search if options.beam_size == options.n_best == 1 else beam_search
    for sources in (SOURCES, SOURCES[:2], SOURCES[1:]):
        src, lengths = fakes.pad_batch(sources)
        expected = plain(model, src, lengths, options)
        assert_same(expected, runner(src, lengths, options, fakes.BOS, fakes.EOS, False))
    assert len(runner.graphs) == 1 and not runner.broken


def test_a_runner_does_not_keep_its_model_alive() -> None:
    model = _model("gru", False, False)
    src, lengths = fakes.pad_batch(SOURCES)
    _RUNNERS[model] = runner = GraphedBeamSearch(model, use_graphs=False)
    runner(src, lengths, OPTIONS, fakes.BOS, fakes.EOS, True)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None and len(_RUNNERS) == 0


def test_the_runner_stops_at_most_one_step_after_beam_search_does() -> None:
    translator = _shipped(True)
    model = _network(translator)
    src, lengths = _encoded(translator, SENTENCES)
    options = dataclasses.replace(translator.default_options, beam_size=5)
    steps: list[int] = []
    plain_step = model.decode_step
    model.decode_step = lambda *args: steps.append(1) or plain_step(*args)
    try:
        beam_search(model, src, lengths, options)
    finally:
        del model.decode_step
    runner = GraphedBeamSearch(model, use_graphs=False)
    runner(src, lengths, options, 2, 3, False)
    [entry] = runner.graphs.values()
    taken = int(entry.buffers.step)  # steps the last batch ran (the stop flag lags one)
    assert len(steps) <= taken <= len(steps) + 1
    assert taken < entry.buffers.parents.size(1)  # it stopped before its buffers' limit


def _fake_fields(mode: FakeTensorMode, record: object) -> None:
    """Every tensor field of a (possibly frozen, nested) dataclass replaced by a fake one."""
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        if isinstance(value, torch.Tensor):
            object.__setattr__(record, field.name, mode.from_tensor(value))
        elif dataclasses.is_dataclass(value):
            _fake_fields(mode, value)


def _step_on_fake_buffers(model: torch.nn.Module, src: torch.Tensor, lengths, options) -> None:
    """One `StaticStep` (what a graph captures) run on fake tensors: an op that needs a
    value on the host (`.item()`, `bool()`, `.tolist()`) or has a data-dependent shape
    (`nonzero`, boolean-mask indexing) raises, as it would break a CUDA graph capture."""
    with torch.inference_mode():
        out, state, buffers = start(model, src, lengths, options, 2, True, None, 12)
        step = StaticStep(model, options, 2, 3, src.device)
        step.buffers = buffers
        step.advance(out, state)
    mode = FakeTensorMode(allow_non_fake_inputs=True)  # the weights stay real
    _fake_fields(mode, buffers)
    with mode, torch.inference_mode():
        step()
        step()


@pytest.mark.parametrize(("rnn_type", "coverage", "copy"), VARIANTS)
@pytest.mark.parametrize("options", OPTION_SETS)
def test_the_captured_step_needs_no_value_on_the_host(
    rnn_type: str, coverage: bool, copy: bool, options: SearchOptions
) -> None:
    src, lengths = fakes.pad_batch(SOURCES)
    _step_on_fake_buffers(_model(rnn_type, coverage, copy), src, lengths, options)


@pytest.mark.parametrize("shortlist", [False, True])
def test_the_shipped_models_captured_step_needs_no_value_on_the_host(shortlist: bool) -> None:
    translator = _shipped(shortlist)
    src, lengths = _encoded(translator, SENTENCES[:5])
    options = dataclasses.replace(translator.default_options, beam_size=5, n_best=2)
    _step_on_fake_buffers(_network(translator), src, lengths, options)


@pytest.mark.parametrize(
    "host_read",
    [
        lambda b: bool(b.alive.any()),
        lambda b: b.step.item(),
        lambda b: b.total[b.alive],
        lambda b: b.ended.nonzero(),
    ],
    ids=["bool", "item", "mask-index", "nonzero"],
)
def test_the_fake_step_check_catches_a_host_read(host_read) -> None:
    """The check above is not vacuous: a step that reads a value on the host fails it."""
    model = _model("gru", False, False)
    src, lengths = fakes.pad_batch(SOURCES)
    plain_advance = StaticStep.advance

    def advance(self: StaticStep, out, state) -> None:
        plain_advance(self, out, state)
        host_read(self.buffers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StaticStep, "advance", advance)
        with pytest.raises((DataDependentOutputException, DynamicOutputShapeException)):
            _step_on_fake_buffers(model, src, lengths, OPTIONS)


def test_an_ensemble_is_left_to_the_dynamic_searches() -> None:
    translator = _shipped(True)
    on_cuda = SimpleNamespace(device=torch.device("cuda"))  # a batch as the check sees it
    options = translator.default_options
    assert isinstance(translator.model, Ensemble)  # the shipped bundle is an ensemble
    assert not uses_cuda_graphs(translator.model, on_cuda, options)  # type: ignore[arg-type]
    assert uses_cuda_graphs(_network(translator), on_cuda, options)  # type: ignore[arg-type]
