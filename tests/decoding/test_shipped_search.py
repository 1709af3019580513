"""The decoding fast paths on the shipped model (models/en-fr-base).

The default path (first step once per sentence, chunked candidate selection, in-place
constraints, the scratch tanh) must find exactly the hypotheses of a textbook beam search
that scores every prefix with a fresh teacher-forced forward pass; the int8 path must
translate like fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
import torch

from nmt.decoding import beam_search
from nmt.decoding.types import SearchOptions
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
    return load_translator(shipped_model_dir(), device="cpu")


def _teacher_forced(
    model: torch.nn.Module,
) -> Callable[[tuple[int, ...], tuple[int, ...]], list[float]]:
    """next_log_probs(prefix, source) from a full forward pass over bos + prefix."""

    @cache
    def next_log_probs(prefix: tuple[int, ...], source: tuple[int, ...]) -> list[float]:
        src = torch.tensor([source])
        tgt_in = torch.tensor([(BOS, *prefix)])
        with torch.inference_mode():
            output = model(src, torch.tensor([len(source)]), tgt_in)
        return output.log_probs[0, -1].tolist()

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
