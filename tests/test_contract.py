"""The library's contract: one rule for search options, a frozen model description, typed
bundle metadata, and old bundles described as they were."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import nmt.translator
from nmt import MAX_BEAM_SIZE, ModelDescription, SearchOptions, SearchOptionsError, load_translator
from nmt.checkpoint import BundleMetadata
from nmt.config import ConfigError, DecodeConfig, load_config

OLD_BUNDLE = Path(__file__).resolve().parent / "fixtures" / "bundle-v1" / "step-0000002"


def test_merged_puts_given_values_over_the_defaults_and_skips_none() -> None:
    base = SearchOptions(beam_size=5, length_penalty=0.6, max_length_a=3.0)
    merged = base.merged(beam_size=2, n_best=2, length_penalty=None, max_length_b=1.5)
    assert merged == SearchOptions(
        beam_size=2, n_best=2, length_penalty=0.6, max_length_a=3.0, max_length_b=1.5
    )
    assert base.beam_size == 5  # a new object; the defaults are untouched
    assert base.merged() == base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"beam_size": MAX_BEAM_SIZE + 1}, f"between 1 and {MAX_BEAM_SIZE}, got 17"),
        ({"beam_size": 0}, "beam size must be between 1"),
        ({"beam_size": 2, "n_best": 3}, "n_best must be between 1 and the beam size"),
        ({"n_best": 0}, "n_best must be between 1"),
        ({"beam": 5}, "unknown search option"),
    ],
)
def test_merged_refuses_what_no_search_accepts(overrides: dict, message: str) -> None:
    with pytest.raises(SearchOptionsError, match=message):
        SearchOptions(beam_size=5).merged(**overrides)
    assert issubclass(SearchOptionsError, ValueError)


def test_one_beam_limit_for_configs_too() -> None:
    DecodeConfig(beam_size=MAX_BEAM_SIZE)
    with pytest.raises(ConfigError, match="beam_size"):
        load_config("tiny", [f"decode.beam_size={MAX_BEAM_SIZE + 1}"])
    with pytest.raises(ConfigError, match="valid_beam_size"):
        load_config("tiny", [f"train.valid_beam_size={MAX_BEAM_SIZE + 1}"])


def test_a_models_default_search_is_its_decode_config() -> None:
    decode = DecodeConfig(beam_size=4, length_penalty=0.2, max_length_a=7.0, n_best=3)
    options = SearchOptions.from_decode(decode)
    assert (options.beam_size, options.length_penalty, options.max_length_a) == (4, 0.2, 7.0)
    assert options.n_best == 1 and not options.return_attention  # per call, not per model


def test_a_description_cannot_change() -> None:
    config = {"model": {"hidden": 8}}
    description = ModelDescription("m", config=config, scores={"valid_bleu": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        description.step = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        description.scores["valid_bleu"] = 99.0  # type: ignore[index]
    config["model"] = {}  # the caller's dict is copied, not shared
    assert description.config["model"] == {"hidden": 8}
    data = description.as_dict()
    assert data["search_defaults"] == dataclasses.asdict(SearchOptions())
    assert data["scores"] == {"valid_bleu": 1.0} and data["name"] == "m"


def test_bundle_metadata_gives_old_bundles_the_old_defaults() -> None:
    empty = BundleMetadata.from_dict({"files": {}, "tied_weights": {}})
    assert empty == BundleMetadata(None, "en", "fr", 0, {}, "", {})
    meta = BundleMetadata.from_dict({"name": "x", "step": 7, "src_lang": "de", "extra": 1})
    assert (meta.name, meta.step, meta.src_lang, meta.tgt_lang) == ("x", 7, "de", "fr")


def test_an_old_bundle_is_described_from_its_metadata_and_config() -> None:
    translator = load_translator(OLD_BUNDLE, "cpu", batch_size=3)
    description = translator.description
    assert (description.name, description.step, description.src_lang) == ("tiny", 2, "en")
    assert description.data_manifest_hash.startswith("f867c0ee")
    assert description.checkpoint == str(OLD_BUNDLE) and description.quantize == "none"
    assert description.search_defaults.beam_size == 5 and description.parameters > 0
    assert description.scores["valid_chrf"] == pytest.approx(8.154437639400882)
    assert translator.batch_size == 3


def test_the_translator_alone_cuts_a_call_into_length_sorted_model_batches(
    shipped_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 texts at batch size 5: model batches of 5, 5 and 2 sources, shortest first."""
    translator = load_translator(shipped_model_dir, "cpu", batch_size=5)
    batches: list[list[int]] = []
    real_search = nmt.translator.search

    def recording(*args: Any, **kwargs: Any) -> Any:
        batches.append(args[2].tolist())  # the source lengths of one model batch
        return real_search(*args, **kwargs)

    monkeypatch.setattr(nmt.translator, "search", recording)
    words = [
        "Tom",
        "saw",
        "the",
        "big",
        "black",
        "cat",
        "near",
        "the",
        "old",
        "red",
        "house",
        "today",
    ]
    texts = [" ".join(words[:n]) + "." for n in (6, 1, 11, 3, 9, 2, 12, 5, 8, 4, 10, 7)]
    greedy = translator.description.search_defaults.merged(beam_size=1)
    translations = translator.translate(texts, greedy)
    assert [t.source for t in translations] == texts  # answers in the callers' order
    assert [len(batch) for batch in batches] == [5, 5, 2]
    lengths = [length for batch in batches for length in batch]
    assert lengths == sorted(lengths)
