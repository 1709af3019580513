"""The decoding fast paths on the shipped model (models/en-fr-base).

The default path (first step once per sentence, chunked candidate selection, in-place
constraints, the scratch tanh) must find exactly the hypotheses of a textbook beam search
that scores every prefix with a fresh teacher-forced forward pass; the int8 path must
translate like fp32. With the target shortlist the search must find the textbook beams of
the distribution renormalised over the shortlist, and translate like the whole vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import pytest
import torch

from nmt.decoding import beam_search
from nmt.decoding.types import SearchOptions
from nmt.model.ensemble import Ensemble
from nmt.translator import NeuralTranslator, load_translator, shipped_model_dir

from .fakes import BOS, pad_batch
from .test_beam import reference_beam

SENTENCES = [
    "Where is the station?",
    "I love you.",
    "Tom is my friend.",
    "Do you speak French?",
    "It's raining today.",
    "We will leave tomorrow morning.",
    "She doesn't want to eat fish.",
    "How much does this cost?",
]


@pytest.fixture(scope="module")
def translator() -> NeuralTranslator:
    return load_translator(shipped_model_dir(), device="cpu", shortlist=False)


@pytest.fixture(scope="module")
def shortlisted() -> NeuralTranslator:
    return load_translator(shipped_model_dir(), device="cpu")


def _teacher_forced(
    model: torch.nn.Module, keep: torch.Tensor | None = None
) -> Callable[[tuple[int, ...], tuple[int, ...]], list[float]]:
    """next_log_probs(prefix, source): each model's distribution from a full forward pass
    over bos + prefix, renormalised over the vocabulary ids `keep` when given; for an
    ensemble (the shipped bundle is one), the log of the mean of its members' probabilities."""
    members = list(model.members) if isinstance(model, Ensemble) else [model]

    @cache
    def next_log_probs(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
        src = torch.tensor([source])
        tgt_in = torch.tensor([(BOS, *prefix)])
        each = []
        with torch.inference_mode():
            for member in members:
                log_probs = member(src, torch.tensor([len(source)]), tgt_in).log_probs[0, -1]
                if keep is not None:
                    log_probs = log_probs[keep] - log_probs[keep].logsumexp(0)
                each.append(log_probs)
        return (torch.stack(each).logsumexp(0) - math.log(len(members))).tolist()

    return next_log_probs


def test_beam_search_finds_the_textbook_beams(translator: NeuralTranslator) -> None:
    tokenizer = translator.src_tokenizer
    sources = [tokenizer.encode(text) + [tokenizer.eos_id] for text in SENTENCES[:4]]
    options = SearchOptions(beam_size=4, n_best=2, max_length_a=3.0, max_length_b=1.0)
    src, lengths = pad_batch(sources)
    results = beam_search(translator.model, src, lengths, options)
    next_log_probs = _teacher_forced(translator.model)
    for source, hypotheses in zip(sources, results, strict=True):
        reference = reference_beam(next_log_probs, source, options)
        assert [h.tokens for h in hypotheses] == [tokens for tokens, _ in reference]
        expected = [score for _, score in reference]
        assert [h.log_prob for h in hypotheses] == pytest.approx(expected, abs=1e-3)


def test_int8_translates_like_fp32(translator: NeuralTranslator) -> None:
    quantized = load_translator(shipped_model_dir(), device="cpu", quantize="int8")
    options = translator.default_options  # beam 5, length penalty 0.6
    exact = translator.translate_segments(SENTENCES, options)
    approx = quantized.translate_segments(SENTENCES, options)
    same = sum(a.text == e.text for a, e in zip(approx, exact, strict=True))
    assert same >= len(SENTENCES) - 1, [
        (a.text, e.text) for a, e in zip(approx, exact, strict=True)
    ]
    for a, e in zip(approx, exact, strict=True):
        if a.text == e.text:
            # whole test split, same translation: median 0.016, 99th percentile 0.13
            assert a.score == pytest.approx(e.score, abs=0.2)


def test_the_shipped_model_scores_its_target_shortlist(
    translator: NeuralTranslator, shortlisted: NeuralTranslator
) -> None:
    ids = shortlisted.model.output_ids
    assert ids is not None and translator.model.output_ids is None
    assert (
        shortlisted.description.output_vocabulary == ids.numel() == shortlisted.model.tgt_vocab_size
    )
    assert ids.numel() < translator.model.tgt_vocab_size and ids.numel() % 64 == 0


def test_beam_search_over_the_shortlist_finds_the_textbook_beams(
    translator: NeuralTranslator, shortlisted: NeuralTranslator
) -> None:
    ids = shortlisted.model.output_ids
    assert ids is not None
    full = _teacher_forced(translator.model, keep=ids)

    def next_log_probs(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
        """The full model's next-token distribution, renormalised over the shortlist."""
        return full(tuple(int(ids[p]) for p in prefix), source)

    tokenizer = translator.src_tokenizer
    sources = [tokenizer.encode(text) + [tokenizer.eos_id] for text in SENTENCES[:3]]
    options = SearchOptions(beam_size=4, n_best=2, max_length_a=3.0, max_length_b=1.0)
    src, lengths = pad_batch(sources)
    results = beam_search(shortlisted.model, src, lengths, options)
    for source, hypotheses in zip(sources, results, strict=True):
        reference = reference_beam(next_log_probs, source, options)
        assert [h.tokens for h in hypotheses] == [tokens for tokens, _ in reference]
        expected = [score for _, score in reference]
        assert [h.log_prob for h in hypotheses] == pytest.approx(expected, abs=1e-3)


def test_the_shortlist_translates_like_the_whole_vocabulary(
    translator: NeuralTranslator, shortlisted: NeuralTranslator
) -> None:
    options = translator.default_options
    whole = translator.translate(SENTENCES, options)
    short = shortlisted.translate(SENTENCES, options)
    assert [t.text for t in short] == [t.text for t in whole]
    assert [t.target_pieces for t in short] == [t.target_pieces for t in whole]
    # the kept pieces gain the mass the others had (label smoothing spread some on them):
    # every token's log-probability rises a little, none falls
    for s, w in zip(short, whole, strict=True):
        gains = [a - b for a, b in zip(s.token_log_probs, w.token_log_probs, strict=True)]
        assert all(-1e-5 <= gain < 0.05 for gain in gains), gains
